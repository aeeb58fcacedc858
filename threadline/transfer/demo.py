"""A generated but lifelike service business for trying Threadline out.

The demo is built in two steps. `build_plan` draws everything from one seeded
random generator into plain data, with times as day offsets from today, so
the same seed always plans the same people, jobs and counts. `apply_plan`
writes that plan through the services, one party per transaction, each row
keyed by source "demo", so a run that was interrupted resumes without
doubling anything.
"""

import datetime as dt
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import phonenumbers
from babel.numbers import get_territory_currencies
from django.db import transaction
from django.utils import timezone

from threadline.accounts.models import Role, User
from threadline.accounts.services import create_user, deactivate_user, hand_over
from threadline.errors import InvalidInput
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.followups.services import complete_follow_up, create_follow_up
from threadline.parties.models import (
    Channel,
    Consent,
    ContactKind,
    FactCategory,
    Party,
    PartyKind,
    RelationshipKind,
    Stage,
)
from threadline.parties.services import (
    add_contact_point,
    add_relationship,
    create_party,
    pin_fact,
)
from threadline.threads.models import Thread, ThreadKind, ThreadStatus
from threadline.threads.services import open_thread, update_thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import record_event

logger = logging.getLogger(__name__)

SOURCE = "demo"
SEED = 20240611
DEFAULT_CUSTOMERS = 300
HISTORY_DAYS = 730
# Background stories end before this day so that the recent, warning-worthy
# stories of the last weeks are not answered by an older one by accident.
RECENT_DAYS = 50
BUSINESS = "Brightwater Heating & Plumbing"
STAFF_DOMAIN = "brightwater.example"
CUSTOMER_DOMAINS = ("example.com", "example.net", "example.org")
INBOX = "inbox"

_GIVEN = (
    "Aisha Alan Amelia Andrew Anna Arjun Barbara Ben Bilal Carla Carlos Chloe "
    "Chris Claire Daniel Deborah Diego Dominika Edward Elena Emeka Emily Fatima "
    "Fiona Frank George Grace Hannah Harriet Hassan Ian Imogen Isaac Ivan Jack "
    "James Jasmine Jin Joanna John Jorge Joseph Julia Karen Kasia Kenji Kevin "
    "Laura Leah Liam Lucy Magda Malik Margaret Maria Mark Martin Maya Michael "
    "Mohammed Nadia Naomi Nathan Niamh Nikhil Olga Oscar Patrick Paul Pedro "
    "Peter Rachel Rebecca Richard Rosa Ruth Samira Sarah Sean Simon Sofia "
    "Stephen Susan Tariq Teresa Thomas Tomasz Valerie Victor Wei Yusuf Zainab"
)
_FAMILY = (
    "Abbott Adeyemi Ahmed Alvarez Anderson Baker Banerjee Bennett Brooks "
    "Campbell Carter Chen Clarke Coleman Cooper Costa Dawson Delgado Dixon "
    "Doyle Edwards Ellison Evans Fernandes Fischer Fletcher Foster Garcia "
    "Gibson Gordon Gray Greene Hall Hamilton Harper Hayes Hill Hughes Ibrahim "
    "Jackson Jensen Kaur Kelly Khan Kowalczyk Lambert Lee Lopez Marshall Martin "
    "Mason Mendes Mitchell Moreno Murphy Nakamura Nguyen Novak Nowak O'Brien "
    "Okafor Olsen Owens Palmer Parker Patel Pearson Perez Quinn Reid Reyes "
    "Richards Rivera Robinson Rossi Russell Santos Schmidt Shaw Silva Singh "
    "Sullivan Taylor Thompson Turner Walsh Ward Watson Wright Young Zielinski"
)
# Kept as running text so the lists read like the hand-written lists they are.
GIVEN_NAMES = tuple(_GIVEN.split())
FAMILY_NAMES = tuple(_FAMILY.split())
STREETS = (
    "Maple Street",
    "Oak Avenue",
    "Mill Lane",
    "Church Road",
    "Station Road",
    "Willow Close",
    "Orchard Way",
    "Park Drive",
    "Riverside Walk",
    "Highfield Road",
    "Chestnut Grove",
    "Harbour Street",
    "Victoria Terrace",
    "Elm Court",
    "Kingsway",
    "Meadow View",
)
TOWNS = ("Millbrook", "Ashford Vale", "Oakfield", "Riverton", "Kingsbridge")
ORGANISATIONS = (
    ("Northgate Lettings", "landlord", "Property manager"),
    ("St Anne's Primary School", "school", "Facilities manager"),
    ("The Copper Kettle Cafe", "hospitality", "Owner"),
    ("Harbour View Dental", "clinic", "Practice manager"),
    ("Oakwood Care Home", "care", "Maintenance lead"),
    ("Riverside Property Management", "landlord", "Portfolio manager"),
    ("Millbrook Community Centre", "charity", "Caretaker"),
    ("Kingsbridge Veterinary Clinic", "clinic", "Office manager"),
    ("The Old Mill Hotel", "hospitality", "General manager"),
    ("Greenway Housing Co-op", "landlord", "Repairs officer"),
    ("Ashford Vale Golf Club", "hospitality", "Club secretary"),
    ("Bright Futures Nursery", "school", "Nursery manager"),
)
SECOND_ROLES = ("Accounts", "Office administrator", "Assistant manager")
PROJECTS = (
    ("Boiler replacement", 2400, 4800),
    ("New radiator in the back bedroom", 350, 700),
    ("Bathroom refit plumbing", 1800, 3500),
    ("Power flush of the heating system", 450, 650),
    ("Replace the hot water cylinder", 1100, 1900),
    ("Smart thermostat fitting", 220, 380),
    ("Underfloor heating in the kitchen", 1400, 2600),
    ("Outside tap and pipe lagging", 140, 260),
    ("Move the boiler to the loft", 1200, 2000),
)
EMERGENCIES = (
    "No hot water since this morning",
    "Boiler showing fault code F28",
    "Leak under the kitchen sink",
    "Burst pipe in the loft",
    "Radiators cold upstairs",
    "Boiler keeps losing pressure",
    "Toilet cistern overflowing",
)
COMPLAINTS = (
    "Engineer left mud on the hall carpet",
    "Radiator still cold after the repair",
    "Invoice charged the call-out twice",
    "Engineer arrived three hours late",
)
NOTES = (
    "Mentioned they may sell the house next spring",
    "Asked about heat pumps; sent the leaflet",
    "Neighbour at number 12 may want a quote too",
    "Prefers the same engineer as last time",
    "Gate code changed; new code kept in the job sheet",
)
PREFERENCES = (
    "Prefers a text message the day before a visit",
    "Call after 5pm only; works nights",
    "Please use the side entrance, never the front door",
    "Wants written quotes by email, not over the phone",
    "Speaks Polish; daughter Anna translates on calls",
    "Shoe covers inside, please: new carpets",
)
PROBLEMS = (
    "Boiler loses pressure every winter: check the expansion vessel first",
    "Paid late twice: take payment on the day of the visit",
    "Radiator valve in the loft leaked in 2024; replaced under warranty",
    "Stopcock is seized; the water main shuts off at the street",
    "Asbestos survey needed before any work in the garage",
)
HOUSEHOLD_FACTS = (
    "Dog in the back garden: keep the side gate closed",
    "Key safe by the back door; code on the job sheet",
    "Elderly resident upstairs: knock loudly and wait",
    "Parking only on the street after 9am",
)
TAGS = ("vip", "service plan", "landlord", "new build", "elderly", "referral")
LANGUAGES = ("en", "en", "en", "en", "en", "es", "pl", "pt", "fr")
CHANNELS = (Channel.ANY, Channel.PHONE, Channel.EMAIL, Channel.SMS, Channel.WHATSAPP)
CONTACT_HOURS = ("", "", "", "Weekdays 9-5", "Evenings after 6", "Mornings only")
US_AREA_CODES = (
    "415",
    "510",
    "650",
    "408",
    "707",
    "925",
    "209",
    "530",
    "559",
    "831",
)


@dataclass(frozen=True)
class At:
    """A moment as a day offset from today and minutes after local midnight."""

    day: int
    minute: int = 9 * 60


@dataclass(frozen=True)
class On:
    """A date as a day offset from today."""

    day: int


@dataclass
class StaffPlan:
    key: str
    email: str
    name: str
    role: str
    leaves: bool = False


@dataclass
class Step:
    """One thing that happens to a party: an event, a thread opening or
    status change, or a follow-up. `actor` is a staff key or INBOX."""

    action: str
    at: At
    actor: str
    kind: str = ""
    summary: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    thread: str = ""
    status: str = ""
    next_step: str = ""
    due: At | None = None
    done: bool = False


@dataclass
class LinkPlan:
    to_key: str
    kind: str
    role: str = ""
    started: On | None = None


@dataclass
class PartyPlan:
    key: str
    kind: str
    name: str
    given: str = ""
    family: str = ""
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    service_sites: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    stage: str = Stage.CUSTOMER
    owner: str = ""
    channel: str = Channel.ANY
    contact_hours: str = ""
    language: str = ""
    consent: str = Consent.GRANTED
    created: At = At(-HISTORY_DAYS)
    facts: list[tuple[str, str]] = field(default_factory=list)
    links: list[LinkPlan] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


@dataclass
class Plan:
    business: str
    currency: str
    staff: list[StaffPlan]
    parties: list[PartyPlan]

    def names(self) -> list[str]:
        return [party.name for party in self.parties]


@dataclass
class DemoSummary:
    created_parties: int = 0
    skipped_parties: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class DemoRefused(InvalidInput):
    """The install already holds data that is not the demo's."""


def build_plan(
    customers: int = DEFAULT_CUSTOMERS, seed: int = SEED, region: str = "US"
) -> Plan:
    """Plan the whole demo business from the seed; writes nothing."""
    planner = _Planner(random.Random(seed), region)
    return planner.plan(customers)


def apply_plan(
    plan: Plan,
    *,
    owner_password: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Write the plan through the services; raise DemoRefused when the install
    holds parties or staff that the demo did not create."""
    if Party.objects.exclude(source=SOURCE).exists():
        raise DemoRefused(
            "This install already has customers, so the demo would mix with real "
            "data. Run the demo on an empty install (a fresh THREADLINE_DATA_DIR)."
        )
    demo_staff = {member.email for member in plan.staff}
    others = User.objects.exclude(email__in=demo_staff).order_by("pk")
    if others.exists():
        raise DemoRefused(
            f"This install already has staff ({others.first()}), so the demo "
            "would add its own staff beside them, an owner with a published "
            "password among them. Run the demo on an empty install (a fresh "
            "THREADLINE_DATA_DIR)."
        )

    users = _ensure_staff(plan.staff, owner_password)
    writer = _Writer(users, timezone.localdate(), timezone.get_default_timezone())
    summary = DemoSummary()
    for index, party_plan in enumerate(plan.parties, start=1):
        if writer.write_party(party_plan):
            summary.created_parties += 1
        else:
            summary.skipped_parties += 1
        if progress is not None:
            progress(index, len(plan.parties))

    _retire_leavers(plan.staff, users)
    summary.counts = demo_counts()
    logger.info("Demo wrote %d parties", summary.created_parties)
    return summary


def demo_counts() -> dict[str, int]:
    """Count what the demo shows off, from the record itself."""
    now = timezone.now()
    end_of_today = dt.datetime.combine(
        timezone.localdate() + dt.timedelta(days=1),
        dt.time(),
        tzinfo=timezone.get_default_timezone(),
    )
    open_follow_ups = FollowUp.objects.filter(status=FollowUpStatus.OPEN)
    counts = {
        "staff": User.objects.count(),
        "people": Party.objects.filter(kind=PartyKind.PERSON).count(),
        "organisations": Party.objects.filter(kind=PartyKind.ORGANISATION).count(),
        "households": Party.objects.filter(kind=PartyKind.HOUSEHOLD).count(),
        "events": Event.objects.count(),
        "threads": Thread.objects.count(),
        "follow-ups": FollowUp.objects.count(),
        "overdue follow-ups": open_follow_ups.filter(due_at__lt=now).count(),
        "follow-ups due later today": open_follow_ups.filter(
            due_at__gte=now, due_at__lt=end_of_today
        ).count(),
        "awaiting a reply": Party.objects.exclude(awaiting_reply_since=None).count(),
    }
    counts["bookings today"] = Event.objects.filter(
        kind=Kind.BOOKING,
        scheduled_for__gte=end_of_today - dt.timedelta(days=1),
        scheduled_for__lt=end_of_today,
    ).count()
    for kind in (Kind.CALL, Kind.MESSAGE, Kind.BOOKING, Kind.QUOTE, Kind.VISIT):
        counts[f"{kind}s"] = Event.objects.filter(kind=kind).count()
    counts["invoices"] = Event.objects.filter(kind=Kind.INVOICE).count()
    counts["payments"] = Event.objects.filter(kind=Kind.PAYMENT).count()
    return counts


class _Planner:
    """Draws the business from one random generator, in a fixed order."""

    def __init__(self, rng: random.Random, region: str) -> None:
        self.rng = rng
        self.region = region
        self.currency = get_territory_currencies(region)[0]
        self.used_emails: set[str] = set()
        self.used_phones: set[str] = set()
        self.quote_number = 1040
        self.invoice_number = 2210
        self.staff = _staff()
        self.workers = [s.key for s in self.staff if s.role != Role.VIEWER]
        self.office = [
            s.key for s in self.staff if s.role in (Role.OWNER, Role.MANAGER)
        ]
        self.thread_kinds: dict[str, str] = {}

    def plan(self, customers: int) -> Plan:
        organisations = self._organisations(max(2, customers // 25))
        households = self._households(max(2, customers // 12))
        people = self._people(customers, organisations, households)
        parties = organisations + households + people
        self._histories(organisations, people)
        return Plan(BUSINESS, self.currency, self.staff, parties)

    # --- who they are -------------------------------------------------

    def _organisations(self, count: int) -> list[PartyPlan]:
        plans = []
        for index in range(count):
            name, sector, _ = ORGANISATIONS[index % len(ORGANISATIONS)]
            if index >= len(ORGANISATIONS):
                name = f"{name} ({self.rng.choice(TOWNS)})"
            address = self._address()
            plans.append(
                PartyPlan(
                    key=f"org{index + 1:03d}",
                    kind=PartyKind.ORGANISATION,
                    name=name,
                    emails=[self._email("office", name.split()[-1])],
                    phones=[self._phone(landline=True)],
                    addresses=[address],
                    service_sites=[address],
                    tags=["commercial", sector],
                    owner=self.rng.choice(self.office),
                    channel=Channel.EMAIL,
                    contact_hours="Weekdays 8-4",
                    language="en",
                    created=At(-self.rng.randint(RECENT_DAYS + 200, HISTORY_DAYS)),
                )
            )
        return plans

    def _households(self, count: int) -> list[PartyPlan]:
        plans = []
        for index in range(count):
            family = self.rng.choice(FAMILY_NAMES)
            address = self._address()
            plan = PartyPlan(
                key=f"hh{index + 1:03d}",
                kind=PartyKind.HOUSEHOLD,
                name=f"The {family} household",
                family=family,
                addresses=[address],
                service_sites=[address],
                created=At(-self.rng.randint(RECENT_DAYS + 100, HISTORY_DAYS)),
            )
            if self.rng.random() < 0.5:
                plan.facts.append(
                    (FactCategory.PREFERENCE, self.rng.choice(HOUSEHOLD_FACTS))
                )
            plans.append(plan)
        return plans

    def _people(
        self,
        count: int,
        organisations: list[PartyPlan],
        households: list[PartyPlan],
    ) -> list[PartyPlan]:
        slots = self._memberships(count, organisations, households)
        people: list[PartyPlan] = []
        for index in range(count):
            membership = slots.get(index)
            person = self._person(index, membership)
            if membership is None and people and self.rng.random() < 0.12:
                referrer = self.rng.choice(people)
                person.links.append(
                    LinkPlan(referrer.key, RelationshipKind.REFERRED_BY)
                )
                person.tags.append("referral")
            people.append(person)
        return people

    def _memberships(
        self,
        count: int,
        organisations: list[PartyPlan],
        households: list[PartyPlan],
    ) -> dict[int, tuple[PartyPlan, str]]:
        """Pick which people belong to a household or work at an organisation."""
        needed: list[tuple[PartyPlan, str]] = []
        for household in households:
            needed += [(household, "holder")] + [(household, "member")] * (
                1 + (self.rng.random() < 0.4)
            )
        for organisation in organisations:
            role = next(
                o[2] for o in ORGANISATIONS if organisation.name.startswith(o[0])
            )
            needed.append((organisation, role))
            if self.rng.random() < 0.6:
                needed.append((organisation, self.rng.choice(SECOND_ROLES)))
        seats = self.rng.sample(range(count), min(count, len(needed)))
        return dict(zip(sorted(seats), needed, strict=False))

    def _person(
        self, index: int, membership: tuple[PartyPlan, str] | None
    ) -> PartyPlan:
        rng = self.rng
        given = rng.choice(GIVEN_NAMES)
        family = rng.choice(FAMILY_NAMES)
        if membership and membership[0].kind == PartyKind.HOUSEHOLD:
            family = membership[0].family
        person = PartyPlan(
            key=f"p{index + 1:04d}",
            kind=PartyKind.PERSON,
            name=f"{given} {family}",
            given=given,
            family=family,
            emails=[self._email(given, family)],
            phones=[self._phone(landline=False)],
            tags=[tag for tag in TAGS[:-1] if rng.random() < 0.06],
            owner=rng.choice(self.workers),
            channel=rng.choice(CHANNELS),
            contact_hours=rng.choice(CONTACT_HOURS),
            language=rng.choice(LANGUAGES),
            consent=Consent.DENIED if rng.random() < 0.03 else Consent.GRANTED,
            created=At(-rng.randint(RECENT_DAYS + 30, HISTORY_DAYS)),
        )
        if rng.random() < 0.3:
            person.phones.append(self._phone(landline=True))
        self._place(person, membership)
        self._facts(person)
        return person

    def _place(
        self, person: PartyPlan, membership: tuple[PartyPlan, str] | None
    ) -> None:
        if membership is None:
            address = self._address()
            person.addresses.append(address)
            if self.rng.random() < 0.7:
                person.service_sites.append(address)
            return

        group, role = membership
        if group.kind == PartyKind.HOUSEHOLD:
            person.links.append(LinkPlan(group.key, RelationshipKind.HOUSEHOLD))
            if role == "holder":
                person.addresses.append(group.addresses[0])
            return
        started = On(group.created.day + self.rng.randint(0, 60))
        person.links.append(
            LinkPlan(group.key, RelationshipKind.WORKS_AT, role, started)
        )
        if role in SECOND_ROLES[:1]:
            person.links.append(LinkPlan(group.key, RelationshipKind.BILLING_CONTACT))
        person.stage = Stage.CUSTOMER

    def _facts(self, person: PartyPlan) -> None:
        if self.rng.random() < 0.15:
            person.facts.append((FactCategory.PREFERENCE, self.rng.choice(PREFERENCES)))
        if self.rng.random() < 0.1:
            person.facts.append((FactCategory.PROBLEM, self.rng.choice(PROBLEMS)))

    def _email(self, given: str, family: str) -> str:
        local = f"{given}.{family}".lower().replace("'", "")
        domain = self.rng.choice(CUSTOMER_DOMAINS)
        address, suffix = f"{local}@{domain}", 1
        while address in self.used_emails:
            suffix += 1
            address = f"{local}{suffix}@{domain}"
        self.used_emails.add(address)
        return address

    def _phone(self, landline: bool) -> str:
        """A number no other party has, however each happens to be written."""
        for _ in range(200):
            number = self._phone_number(landline)
            digits = re.sub(r"\D", "", number)[-10:]
            if digits not in self.used_phones:
                break
        self.used_phones.add(digits)
        return number

    def _phone_number(self, landline: bool) -> str:
        """A number in a range set aside for fiction where the region has one,
        written the way people type it locally."""
        rng = self.rng
        if self.region in ("US", "CA"):
            area, line = rng.choice(US_AREA_CODES), rng.randint(100, 199)
            formats = (
                "({a}) 555-0{l}",
                "{a}-555-0{l}",
                "{a}.555.0{l}",
                "+1 {a} 555 0{l}",
            )
            return rng.choice(formats).format(a=area, l=line)
        if self.region == "GB":
            tail = rng.randint(0, 999)
            # The mobile range for fiction is no range in use, so it is
            # written with its country code, which is taken as given.
            return f"0113 496 0{tail:03d}" if landline else f"+44 7700 900{tail:03d}"
        kind = phonenumbers.PhoneNumberType
        example = phonenumbers.example_number_for_type(
            self.region, kind.FIXED_LINE if landline else kind.MOBILE
        ) or phonenumbers.example_number(self.region)
        if example is None:
            return f"555 0{rng.randint(100, 199)}"
        digits = str(example.national_number)
        example.national_number = int(digits[:-3] + f"{rng.randint(0, 999):03d}")
        return phonenumbers.format_number(
            example, phonenumbers.PhoneNumberFormat.NATIONAL
        )

    def _address(self) -> str:
        number = self.rng.randint(1, 180)
        return f"{number} {self.rng.choice(STREETS)}, {self.rng.choice(TOWNS)}"

    # --- what happened ------------------------------------------------

    def _histories(
        self, organisations: list[PartyPlan], people: list[PartyPlan]
    ) -> None:
        accounts = organisations + [p for p in people if _holds_account(p)]
        recent = self._recent_stories(len(accounts))
        for account, story in zip(accounts, recent, strict=True):
            self._background(account)
            if story:
                getattr(self, f"_story_{story}")(account)
            self._settle_stage(account)
        for person in people:
            if not _holds_account(person) and self.rng.random() < 0.3:
                self._chatter(person, self._day(person.created.day, -RECENT_DAYS))

    def _recent_stories(self, accounts: int) -> list[str]:
        """Give a share of the accounts one warning-worthy recent story."""
        scale = max(1, accounts // 25)
        stories = (
            ["booking_today"] * scale
            + ["booking_soon"] * scale
            + ["unanswered"] * scale
            + ["overdue_invoice"] * scale
            + ["quote_past_decision"] * scale
            + ["quote_awaiting"] * scale
            + ["open_complaint"] * max(1, scale // 2)
            + ["recent_job"] * (2 * scale)
        )
        stories = stories[:accounts] + [""] * max(0, accounts - len(stories))
        self.rng.shuffle(stories)
        return stories

    def _background(self, account: PartyPlan) -> None:
        """One to four older jobs between joining and the recent weeks."""
        day = account.created.day + self.rng.randint(1, 20)
        for _ in range(self.rng.randint(1, 4)):
            if day >= -RECENT_DAYS - 20:
                break
            story = self.rng.choice(("project", "service", "emergency", "chatter"))
            if story == "project":
                fate = self.rng.choice(("paid", "paid", "paid", "declined"))
                day = self._project(account, day, fate)
            elif story == "service":
                day = self._service(account, day)
            elif story == "emergency":
                day = self._emergency(account, day)
            else:
                day = self._chatter(account, day)
            day += self.rng.randint(20, 200)
        if self.rng.random() < 0.05 and day < -RECENT_DAYS - 10:
            self._complaint(account, day, resolved=True)

    def _settle_stage(self, account: PartyPlan) -> None:
        kinds = {step.kind for step in account.steps}
        if Kind.INVOICE in kinds:
            account.stage = Stage.CUSTOMER
        elif Kind.QUOTE in kinds:
            account.stage = Stage.PROSPECT
        else:
            account.stage = Stage.LEAD
        if account.stage == Stage.CUSTOMER and self.rng.random() < 0.05:
            account.stage = Stage.FORMER

    # --- stories ------------------------------------------------------

    def _project(self, party: PartyPlan, day: int, fate: str) -> int:
        """Enquiry, survey, quote, then as fate says: paid, declined, unpaid."""
        title, low, high = self.rng.choice(PROJECTS)
        amount = self._money(low, high)
        thread = self._open(party, day, ThreadKind.QUOTE, title, "Survey and quote")
        self._enquiry(party, day, title, thread)
        self._event(
            party,
            At(day + 2, 10 * 60),
            Kind.VISIT,
            f"Survey: {title}",
            {"site": _site(party), "outcome": "Measured up"},
            thread,
        )
        reference = self._next_quote()
        decide_by = day + 16
        self._event(
            party,
            At(day + 3, 15 * 60),
            Kind.QUOTE,
            f"Quote {reference}: {title}",
            {
                "amount": amount,
                "currency": self.currency,
                "reference": reference,
                "decide_by": On(decide_by),
            },
            thread,
        )
        self._move(
            party,
            thread,
            day + 3,
            ThreadStatus.WAITING_ON_THEM,
            "Wait for their decision",
        )
        if fate == "paid" and self.rng.random() < 0.3:
            self._follow_up(
                party,
                f"Send quote {reference}",
                At(day + 3, 12 * 60),
                thread,
                done=True,
            )
        if fate == "pending":
            return day + 3
        if fate == "declined":
            self._decide(party, thread, day + 9, reference, amount, "declined")
            self._move(party, thread, day + 9, ThreadStatus.LOST, "")
            return day + 9

        self._decide(party, thread, day + 8, reference, amount, "accepted")
        self._move(party, thread, day + 8, ThreadStatus.WAITING_ON_US, "Book the work")
        work = day + self.rng.randint(12, 25)
        self._book(party, thread, day + 9, work, title)
        self._event(
            party,
            At(work, 16 * 60),
            Kind.VISIT,
            f"Done: {title}",
            {"site": _site(party), "outcome": "Completed and tested"},
            thread,
        )
        return self._bill(party, thread, work + 1, amount, fate)

    def _service(self, party: PartyPlan, day: int) -> int:
        title = "Annual boiler service"
        if "landlord" in party.tags:
            title = "Gas safety certificate"
        thread = self._open(party, day, ThreadKind.BOOKING, title, "Book a date")
        self._event(
            party,
            At(day, 11 * 60),
            Kind.MESSAGE,
            f"Reminder: {title} due",
            {
                "direction": "outbound",
                "channel": "email",
                "subject": f"Your {title.lower()} is due",
            },
            thread,
        )
        visit = day + self.rng.randint(7, 20)
        self._book(party, thread, day + 2, visit, title)
        self._event(
            party,
            At(visit, 13 * 60),
            Kind.VISIT,
            title,
            {"site": _site(party), "outcome": "Serviced; all safe"},
            thread,
        )
        return self._bill(party, thread, visit, self._money(85, 120), "paid")

    def _emergency(self, party: PartyPlan, day: int) -> int:
        problem = self.rng.choice(EMERGENCIES)
        thread = self._open(party, day, ThreadKind.JOB, problem, "Send an engineer")
        self._event(
            party,
            At(day, 7 * 60 + 40),
            Kind.CALL,
            problem,
            {"direction": "inbound", "duration_minutes": 6, "outcome": "answered"},
            thread,
            actor=self.rng.choice(self.office),
        )
        self._event(
            party,
            At(day, 12 * 60),
            Kind.VISIT,
            f"Call-out: {problem}",
            {"site": _site(party), "outcome": "Fixed on the day"},
            thread,
        )
        return self._bill(party, thread, day, self._money(95, 320), "paid")

    def _chatter(self, party: PartyPlan, day: int) -> int:
        self._event(party, At(day, 10 * 60 + 15), Kind.NOTE, self.rng.choice(NOTES), {})
        self._event(
            party,
            At(day + 1, 14 * 60),
            Kind.CALL,
            "Checked in after the winter",
            {
                "direction": "outbound",
                "duration_minutes": 4,
                "outcome": self.rng.choice(("answered", "voicemail")),
            },
        )
        return day + 1

    def _complaint(self, party: PartyPlan, day: int, resolved: bool) -> int:
        problem = self.rng.choice(COMPLAINTS)
        thread = self._open(
            party,
            day,
            ThreadKind.COMPLAINT,
            problem,
            "Call them back today",
            status=ThreadStatus.WAITING_ON_US,
        )
        self._event(
            party,
            At(day, 8 * 60 + 30),
            Kind.MESSAGE,
            f"Complaint: {problem}",
            {"direction": "inbound", "channel": "email", "subject": problem},
            thread,
            actor=INBOX,
        )
        self._event(
            party,
            At(day, 11 * 60),
            Kind.CALL,
            "Apologised; arranged a return visit",
            {"direction": "outbound", "duration_minutes": 12, "outcome": "answered"},
            thread,
            actor=self.office[0],
        )
        if not resolved:
            self._follow_up(
                party,
                "Confirm the complaint is resolved",
                At(day + 2, 17 * 60),
                thread,
                actor=self.office[0],
            )
            return day
        self._event(
            party,
            At(day + 3, 10 * 60),
            Kind.VISIT,
            "Return visit: put it right",
            {"site": _site(party), "outcome": "Resolved"},
            thread,
        )
        self._move(party, thread, day + 3, ThreadStatus.DONE, "")
        return day + 3

    def _story_booking_today(self, party: PartyPlan) -> None:
        title = self.rng.choice(PROJECTS)[0]
        thread = self._open(party, -12, ThreadKind.BOOKING, title, "Do the work today")
        self._enquiry(party, -12, title, thread)
        self._book(party, thread, -10, 0, title)

    def _story_booking_soon(self, party: PartyPlan) -> None:
        day = self.rng.randint(2, 12)
        thread = self._service_start(party, -8)
        self._book(party, thread, -6, day, "Annual boiler service")
        self._follow_up(
            party, "Confirm the service visit", At(day - 1, 12 * 60), thread
        )

    def _story_unanswered(self, party: PartyPlan) -> None:
        subject = self.rng.choice(
            (
                "Can you quote for a new boiler?",
                "Is my service due?",
                "Question about my invoice",
            )
        )
        self._event(
            party,
            At(-self.rng.randint(1, 5), 19 * 60 + 5),
            Kind.MESSAGE,
            subject,
            {
                "direction": "inbound",
                "channel": self.rng.choice(("email", "sms", "whatsapp")),
                "subject": subject,
            },
            actor=INBOX,
        )
        if self.rng.random() < 0.5:
            self._follow_up(party, f"Reply: {subject}", At(0, 23 * 60))

    def _story_overdue_invoice(self, party: PartyPlan) -> None:
        longer_terms = 16 if party.kind == PartyKind.ORGANISATION else 0
        self._project(party, -self.rng.randint(50, 55) - longer_terms, "overdue")

    def _story_quote_past_decision(self, party: PartyPlan) -> None:
        start = -self.rng.randint(25, 40)
        self._project(party, start, "pending")
        reference = f"Q-{self.quote_number}"
        thread = next(s.thread for s in reversed(party.steps) if s.thread)
        self._follow_up(
            party,
            f"Chase the decision on quote {reference}",
            At(start + 18, 10 * 60),
            thread,
        )

    def _story_quote_awaiting(self, party: PartyPlan) -> None:
        self._project(party, -self.rng.randint(4, 10), "pending")

    def _story_open_complaint(self, party: PartyPlan) -> None:
        self._complaint(party, -self.rng.randint(2, 6), resolved=False)

    def _story_recent_job(self, party: PartyPlan) -> None:
        self._emergency(party, -self.rng.randint(5, 30))
        due = At(0, 23 * 60) if self.rng.random() < 0.5 else At(self.rng.randint(3, 20))
        self._follow_up(party, "Ask how the repair is holding up", due)

    # --- building blocks ----------------------------------------------

    def _enquiry(self, party: PartyPlan, day: int, title: str, thread: str) -> None:
        if self.rng.random() < 0.5:
            self._event(
                party,
                At(day, 9 * 60 + 20),
                Kind.CALL,
                f"Enquiry: {title}",
                {"direction": "inbound", "duration_minutes": 8, "outcome": "answered"},
                thread,
                actor=self.rng.choice(self.office),
            )
            return
        self._event(
            party,
            At(day, 8 * 60 + 5),
            Kind.MESSAGE,
            f"Enquiry: {title}",
            {"direction": "inbound", "channel": "email", "subject": title},
            thread,
            actor=INBOX,
        )
        self._event(
            party,
            At(day, 11 * 60),
            Kind.MESSAGE,
            f"Re: {title}",
            {"direction": "outbound", "channel": "email", "subject": f"Re: {title}"},
            thread,
        )

    def _service_start(self, party: PartyPlan, day: int) -> str:
        thread = self._open(
            party, day, ThreadKind.BOOKING, "Annual boiler service", "Confirm the date"
        )
        self._event(
            party,
            At(day, 11 * 60),
            Kind.MESSAGE,
            "Reminder: service due",
            {"direction": "outbound", "channel": "sms"},
            thread,
        )
        return thread

    def _book(
        self, party: PartyPlan, thread: str, day: int, on: int, title: str
    ) -> None:
        start = self.rng.choice((8, 10, 13, 15)) * 60
        self._event(
            party,
            At(day, 14 * 60 + 30),
            Kind.BOOKING,
            f"Booked: {title}",
            {
                "starts_at": At(on, start),
                "ends_at": At(on, start + 120),
                "site": _site(party),
            },
            thread,
        )
        self._move(
            party,
            thread,
            day,
            ThreadStatus.WAITING_ON_US,
            f"Visit booked; engineer on site at {start // 60}:00",
        )

    def _bill(
        self, party: PartyPlan, thread: str, day: int, amount: str, fate: str
    ) -> int:
        reference = self._next_invoice()
        terms = 30 if party.kind == PartyKind.ORGANISATION else 14
        self._event(
            party,
            At(day + 1, 9 * 60),
            Kind.INVOICE,
            f"Invoice {reference}",
            {
                "amount": amount,
                "currency": self.currency,
                "reference": reference,
                "due_on": On(day + 1 + terms),
            },
            thread,
        )
        if fate == "overdue":
            self._move(
                party, thread, day + 1, ThreadStatus.WAITING_ON_THEM, "Chase payment"
            )
            self._event(
                party,
                At(day + terms + 4, 10 * 60),
                Kind.MESSAGE,
                f"Reminder: invoice {reference} is overdue",
                {"direction": "outbound", "channel": "email"},
                thread,
            )
            self._follow_up(
                party,
                f"Chase payment of {reference}",
                At(day + terms + 9, 11 * 60),
                thread,
            )
            return day + terms + 4

        paid = day + 1 + self.rng.randint(0, terms)
        self._event(
            party,
            At(paid, 13 * 60),
            Kind.PAYMENT,
            f"Payment for {reference}",
            {"amount": amount, "currency": self.currency, "reference": reference},
            thread,
            actor=INBOX,
        )
        won = self.thread_kinds[thread] == ThreadKind.QUOTE
        self._move(
            party, thread, paid, ThreadStatus.WON if won else ThreadStatus.DONE, ""
        )
        return paid

    def _decide(
        self,
        party: PartyPlan,
        thread: str,
        day: int,
        reference: str,
        amount: str,
        status: str,
    ) -> None:
        self._event(
            party,
            At(day, 10 * 60),
            Kind.QUOTE,
            f"Quote {reference} {status}",
            {
                "amount": amount,
                "currency": self.currency,
                "reference": reference,
                "status": status,
            },
            thread,
        )

    def _open(
        self,
        party: PartyPlan,
        day: int,
        kind: str,
        title: str,
        next_step: str,
        status: str = ThreadStatus.OPEN,
    ) -> str:
        key = f"{party.key}-t{sum(s.action == 'thread' for s in party.steps) + 1}"
        self.thread_kinds[key] = kind
        party.steps.append(
            Step(
                "thread",
                At(day, 8 * 60),
                party.owner or self.office[0],
                kind=kind,
                summary=title,
                thread=key,
                status=status,
                next_step=next_step,
            )
        )
        return key

    def _move(
        self, party: PartyPlan, thread: str, day: int, status: str, next_step: str
    ) -> None:
        party.steps.append(
            Step(
                "move",
                At(day, 17 * 60),
                party.owner or self.office[0],
                thread=thread,
                status=status,
                next_step=next_step,
            )
        )

    def _event(
        self,
        party: PartyPlan,
        at: At,
        kind: str,
        summary: str,
        payload: dict[str, Any],
        thread: str = "",
        actor: str = "",
    ) -> None:
        party.steps.append(
            Step(
                "event",
                at,
                actor or self._worker(party),
                kind=kind,
                summary=summary,
                payload=payload,
                thread=thread,
            )
        )

    def _follow_up(
        self,
        party: PartyPlan,
        summary: str,
        due: At,
        thread: str = "",
        actor: str = "",
        done: bool = False,
    ) -> None:
        assignee = party.owner or self.rng.choice(self.workers)
        party.steps.append(
            Step(
                "follow_up",
                due,
                actor or assignee,
                summary=summary,
                thread=thread,
                due=due,
                done=done,
            )
        )

    def _worker(self, party: PartyPlan) -> str:
        return (
            party.owner
            if self.rng.random() < 0.6 and party.owner
            else (self.rng.choice(self.workers))
        )

    def _day(self, low: int, high: int) -> int:
        return self.rng.randint(min(low, high), max(low, high))

    def _money(self, low: int, high: int) -> str:
        whole = self.rng.randint(low, high) // 5 * 5
        return str(Decimal(whole).quantize(Decimal("0.01")))

    def _next_quote(self) -> str:
        self.quote_number += 1
        return f"Q-{self.quote_number}"

    def _next_invoice(self) -> str:
        self.invoice_number += 1
        return f"INV-{self.invoice_number}"


def _staff() -> list[StaffPlan]:
    people = (
        ("helen", "Helen Marsh", Role.OWNER, False),
        ("raj", "Raj Patel", Role.MANAGER, False),
        ("tom", "Tom Ellis", Role.STAFF, False),
        ("grace", "Grace Okafor", Role.STAFF, False),
        ("priya", "Priya Shah", Role.VIEWER, False),
        ("lee", "Lee Barnes", Role.STAFF, True),
    )
    return [
        StaffPlan(key, f"{key}@{STAFF_DOMAIN}", name, role, leaves)
        for key, name, role, leaves in people
    ]


def _holds_account(person: PartyPlan) -> bool:
    """People with their own jobs: not household members who are not the
    account holder, and not staff of an organisation."""
    if not person.links:
        return True
    kinds = {link.kind for link in person.links}
    if RelationshipKind.WORKS_AT in kinds:
        return False
    return not (RelationshipKind.HOUSEHOLD in kinds and not person.addresses)


def _site(party: PartyPlan) -> str:
    sites = party.service_sites or party.addresses
    return sites[0] if sites else ""


class _Writer:
    """Writes planned parties through the services, one transaction each."""

    def __init__(self, users: dict[str, User], today: dt.date, zone: Any) -> None:
        self.users = users
        self.today = today
        self.zone = zone
        self.parties: dict[str, Party] = {}

    def write_party(self, plan: PartyPlan) -> bool:
        """Write one party and its history; return False when it exists."""
        existing = Party.objects.filter(source=SOURCE, external_id=plan.key).first()
        if existing is not None:
            self.parties[plan.key] = existing
            return False

        with transaction.atomic():
            party = self._create(plan)
            for link in plan.links:
                add_relationship(
                    party,
                    self.parties[link.to_key],
                    self._actor(plan.owner or "helen"),
                    link.kind,
                    role=link.role,
                    started_on=self._date(link.started) if link.started else None,
                    occurred_at=self._moment(plan.created),
                )
            for category, text in plan.facts:
                pin_fact(
                    party,
                    self._actor(plan.owner or "helen"),
                    text,
                    category,
                    occurred_at=self._moment(plan.created),
                )
            self._history(party, plan)
        self.parties[plan.key] = party
        return True

    def _create(self, plan: PartyPlan) -> Party:
        actor = self._actor(plan.owner or "helen")
        plain_addresses = [a for a in plan.addresses if a not in plan.service_sites]
        party = create_party(
            actor,
            display_name_text=plan.name,
            given_name=plan.given if plan.kind == PartyKind.PERSON else "",
            family_name=plan.family if plan.kind == PartyKind.PERSON else "",
            emails=plan.emails,
            phones=plan.phones,
            addresses=plain_addresses,
            tags=plan.tags,
            source=SOURCE,
            external_id=plan.key,
            occurred_at=self._moment(plan.created),
            kind=plan.kind,
            stage=plan.stage,
            owner=self.users.get(plan.owner),
            preferred_channel=plan.channel,
            contact_hours=plan.contact_hours,
            language=plan.language,
            consent=plan.consent,
        )
        for site in plan.service_sites:
            add_contact_point(
                party,
                actor,
                ContactKind.ADDRESS,
                site,
                label="site",
                is_service_site=True,
                occurred_at=self._moment(plan.created),
            )
        return party

    def _history(self, party: Party, plan: PartyPlan) -> None:
        threads: dict[str, Thread] = {}
        for index, step in enumerate(plan.steps, start=1):
            actor = self._actor(step.actor)
            if step.action == "thread":
                threads[step.thread] = open_thread(
                    party,
                    actor,
                    step.kind,
                    step.summary,
                    next_step=step.next_step,
                    status=step.status,
                    opened_at=self._event_time(step),
                    source=SOURCE,
                    external_id=step.thread,
                )
            elif step.action == "move":
                update_thread(
                    threads[step.thread],
                    actor,
                    occurred_at=self._event_time(step),
                    status=step.status,
                    next_step=step.next_step,
                )
            elif step.action == "follow_up":
                self._follow_up(party, step, actor, threads.get(step.thread))
            else:
                record_event(
                    party,
                    step.kind,
                    step.summary,
                    actor=actor,
                    occurred_at=self._event_time(step),
                    payload=self._payload(step.payload),
                    thread=threads.get(step.thread),
                    source=SOURCE,
                    external_id=f"{plan.key}-e{index}",
                )

    def _follow_up(
        self, party: Party, step: Step, actor: Actor, thread: Thread | None
    ) -> None:
        assert step.due is not None
        assignee = (
            self.users[step.actor]
            if step.actor in self.users
            else (self.users["helen"])
        )
        due = self._moment(step.due)
        follow_up = create_follow_up(
            party,
            actor,
            step.summary,
            due,
            assignee,
            thread=thread,
            occurred_at=min(self._moment(step.at), timezone.now()),
        )
        if step.done:
            complete_follow_up(follow_up, actor, occurred_at=min(due, timezone.now()))

    def _event_time(self, step: Step) -> dt.datetime:
        """When the step happened; only a booking is entered ahead of time, so
        a payment planned for a later day is recorded as paid now."""
        moment = self._moment(step.at)
        if step.action == "event" and step.kind == Kind.BOOKING:
            return moment
        return min(moment, timezone.now())

    def _payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in payload.items():
            if isinstance(value, At):
                values[key] = self._moment(value).isoformat()
            elif isinstance(value, On):
                values[key] = self._date(value).isoformat()
            else:
                values[key] = value
        return values

    def _actor(self, key: str) -> Actor:
        if key == INBOX:
            return Actor.system("shared inbox")
        return Actor.for_user(self.users[key])

    def _moment(self, at: At) -> dt.datetime:
        day = self.today + dt.timedelta(days=at.day)
        return dt.datetime.combine(day, dt.time(), tzinfo=self.zone) + dt.timedelta(
            minutes=at.minute
        )

    def _date(self, on: On) -> dt.date:
        return self.today + dt.timedelta(days=on.day)


def _ensure_staff(
    staff: list[StaffPlan], owner_password: str | None
) -> dict[str, User]:
    users: dict[str, User] = {}
    for member in staff:
        user = User.objects.filter(email=member.email).first()
        if user is None:
            password = owner_password if member.role == Role.OWNER else None
            user = create_user(
                member.email, password, role=member.role, name=member.name
            )
        users[member.key] = user
    return users


def _retire_leavers(staff: list[StaffPlan], users: dict[str, User]) -> None:
    """Deactivate the staff who left, handing their customers to the manager."""
    owner = Actor.for_user(users[staff[0].key])
    for member in staff:
        user = users[member.key]
        if member.leaves and user.is_active:
            hand_over(user, users["tom"], owner)
            deactivate_user(user, owner)
