"""The brief: what anyone must know before the next interaction with a party.

Computed from the record on every read, so it is never stale. It issues a
fixed number of queries whatever the length of the party's history: each
read is bounded and served by an index on (party, kind, occurred_at).
"""

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale, UnknownLocaleError
from django.db.models import Q
from django.utils import timezone

from threadline.accounts.models import User
from threadline.brief.history import PartyAsOf, party_as_of
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.parties.models import (
    Channel,
    Consent,
    ContactPoint,
    FactCategory,
    Party,
    PartyKind,
    PinnedFact,
    Relationship,
    RelationshipKind,
    Stage,
)
from threadline.threads.models import OPEN_STATUSES, Thread, ThreadKind, ThreadStatus
from threadline.timeline.kinds import (
    CONTACT_KINDS,
    INTERACTION_KINDS,
    Kind,
    awaits_reply,
)
from threadline.timeline.models import Event

RECENT_LIMIT = 10
UPCOMING_LIMIT = 5
QUIET_AFTER = dt.timedelta(days=90)
# Shortcoming: money and quotes are read from the newest 100 rows only, so a
# long history costs the same but an older unpaid invoice is not chased.
MONEY_WINDOW = 100
# Shortcoming: an inbound message followed by more than this many other
# interactions is no longer checked for a reply.
INTERACTION_WINDOW = 50
REPLY_IN_PERSON = (Kind.MEETING, Kind.VISIT)
# Facts on these parties show in the brief of each of their people.
SHARING_RELATIONSHIPS = (RelationshipKind.HOUSEHOLD, RelationshipKind.WORKS_AT)


@dataclass
class ContactLine:
    kind: str
    label: str
    display: str
    is_primary: bool
    dialable: bool
    service_site: bool


@dataclass
class RelationLine:
    public_id: str
    text: str
    party_public_id: str
    party_name: str
    kind_label: str
    role: str
    current: bool


@dataclass
class Identity:
    name: str
    kind: str
    stage: str
    stage_label: str
    stage_since: dt.datetime | None
    owner_name: str
    owner_since: dt.datetime | None
    preferred_channel: str
    contact_hours: str
    language: str
    language_label: str
    time_zone: str
    local_time: dt.datetime | None
    consent: str
    consent_label: str
    tags: list[str]
    contact_points: list[ContactLine]
    relationships: list[RelationLine]
    birthday: dt.date | None = None


@dataclass
class Warning:
    code: str
    severity: str
    text: str


@dataclass
class ThreadLine:
    public_id: str
    kind: str
    kind_label: str
    title: str
    status: str
    status_label: str
    next_step: str
    opened_at: dt.datetime


@dataclass
class FollowUpLine:
    public_id: str
    summary: str
    due_at: dt.datetime
    assignee_name: str
    overdue: bool


@dataclass
class FactLine:
    public_id: str
    category: str
    category_label: str
    text: str
    inherited_from: str


@dataclass
class EventLine:
    public_id: str
    kind: str
    kind_label: str
    occurred_at: dt.datetime
    summary: str
    actor_label: str


@dataclass
class BookingLine:
    """A booking still to come: when, what and where."""

    public_id: str
    summary: str
    starts_at: dt.datetime
    all_day: bool
    site: str


@dataclass
class Suggestion:
    action: str
    reason: str


@dataclass
class Brief:
    party: Party
    now: dt.datetime
    as_of: dt.datetime | None
    identity: Identity
    existed: bool = True
    warnings: list[Warning] = field(default_factory=list)
    open_threads: list[ThreadLine] = field(default_factory=list)
    open_follow_ups: list[FollowUpLine] = field(default_factory=list)
    upcoming_bookings: list[BookingLine] = field(default_factory=list)
    pinned_facts: list[FactLine] = field(default_factory=list)
    recent: list[EventLine] = field(default_factory=list)
    last_contact_at: dt.datetime | None = None
    since_last_contact: dt.timedelta | None = None
    suggestion: Suggestion | None = None

    def to_dict(self) -> dict[str, Any]:
        """The brief as JSON-ready data (times in ISO 8601, UTC)."""
        data = {key: value for key, value in asdict(self).items() if key != "party"}
        data["party"] = {
            "id": str(self.party.public_id),
            "name": self.identity.name,
        }
        data["since_last_contact_days"] = (
            self.since_last_contact.days if self.since_last_contact else None
        )
        data.pop("since_last_contact")
        return _jsonable(data)


def compute_brief(
    party: Party,
    *,
    viewer: User | None = None,
    now: dt.datetime | None = None,
    as_of: dt.datetime | None = None,
) -> Brief:
    """Build the brief of a party the caller has already been allowed to see.

    With a viewer, linked parties they may not see are left out, with the
    facts pinned on them. With `as_of`, the brief is rebuilt as it stood at
    that moment: only what was recorded by then, with later changes undone.
    """
    current = now or timezone.now()
    moment = min(as_of, current) if as_of else current
    history = party_as_of(party, moment) if as_of else None
    events = Event.objects.effective().filter(party=party, occurred_at__lte=moment)
    if as_of:
        events = events.filter(recorded_at__lte=as_of)

    threads = _open_threads(party, moment, as_of)
    follow_ups = _open_follow_ups(party, moment, as_of)
    interactions = _interactions(events)
    recent = [_event_line(row) for row in interactions[:RECENT_LIMIT]]
    last_contact = next(
        (row["occurred_at"] for row in interactions if row["kind"] in CONTACT_KINDS),
        None,
    )
    brief = Brief(
        party=party,
        now=moment,
        as_of=as_of,
        identity=_identity(party, moment, history, viewer),
        open_threads=threads,
        open_follow_ups=follow_ups,
        upcoming_bookings=_upcoming_bookings(party, moment, as_of),
        pinned_facts=_pinned_facts(party, moment, as_of, viewer),
        recent=recent,
        last_contact_at=last_contact,
        since_last_contact=(moment - last_contact) if last_contact else None,
        existed=as_of is None or party.created_at <= as_of,
    )
    brief.warnings = _warnings(brief, events, moment, _unanswered(interactions))
    brief.suggestion = _suggestion(brief, events, moment)
    return brief


def _hidden(parties: list[Party], viewer: User | None) -> set[int]:
    """Which of these linked parties the viewer may not see.

    Only restricted parties can be hidden, so the common case (none of them
    restricted) costs no query at all.
    """
    restricted = {party.pk for party in parties if party.restricted}
    if viewer is None or not restricted:
        return set()
    visible = Party.objects.visible_to(viewer).filter(pk__in=restricted)
    return restricted - set(visible.values_list("pk", flat=True))


def _identity(
    party: Party,
    moment: dt.datetime,
    history: PartyAsOf | None,
    viewer: User | None,
) -> Identity:
    fields = history.fields if history else _current_fields(party)
    zone_name = fields["time_zone"] or ""
    owner = fields["owner"]
    return Identity(
        name=fields["display_name"],
        kind=party.kind,
        stage=fields["stage"],
        stage_label=_label(Stage, fields["stage"]),
        stage_since=history.stage_since if history else party.stage_changed_at,
        owner_name=owner["name"] if owner else "",
        owner_since=history.owner_since if history else party.owner_changed_at,
        preferred_channel=_label(Channel, fields["preferred_channel"]),
        contact_hours=fields["contact_hours"],
        language=fields["language"],
        language_label=_language_name(fields["language"]),
        time_zone=zone_name,
        local_time=_local_time(zone_name, moment),
        consent=fields["consent"],
        consent_label=_label(Consent, fields["consent"]),
        tags=_tags(party, history),
        contact_points=_contact_points(party, history),
        relationships=_relationships(party, moment, history, viewer),
        birthday=_birthday(fields["birthday"]),
    )


def _current_fields(party: Party) -> dict[str, Any]:
    owner = party.owner
    return {
        "display_name": party.display_name,
        "stage": party.stage,
        "owner": {"name": owner.display_name} if owner else None,
        "preferred_channel": party.preferred_channel,
        "contact_hours": party.contact_hours,
        "language": party.language,
        "time_zone": party.time_zone,
        "consent": party.consent,
        "birthday": party.birthday,
    }


def _birthday(value: Any) -> dt.date | None:
    """A birthday as the record holds it now, or as a change entry stored it."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, dt.date) else None


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or ""


def _language_name(code: str) -> str:
    """'de' reads as German; an unknown code is shown as written."""
    if not code:
        return ""
    try:
        return str(Locale.parse(code.replace("-", "_")).get_display_name("en"))
    except (ValueError, UnknownLocaleError):
        return code


def _local_time(zone_name: str, moment: dt.datetime) -> dt.datetime | None:
    if not zone_name:
        return None
    try:
        return moment.astimezone(zoneinfo.ZoneInfo(zone_name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _tags(party: Party, history: PartyAsOf | None) -> list[str]:
    names = [tag.name for tag in party.tags.all()]
    if history is None:
        return names
    added = history.added_later.get("tag", set())
    removed = [str(name) for name in history.removed_later.get("tag", [])]
    return sorted({n for n in names if n not in added} | set(removed))


def _contact_points(party: Party, history: PartyAsOf | None) -> list[ContactLine]:
    points = list(ContactPoint.objects.filter(party=party))
    lines = [
        ContactLine(
            kind=p.kind,
            label=p.label,
            display=p.display,
            is_primary=p.is_primary,
            dialable=p.dialable,
            service_site=p.is_service_site,
        )
        for p in points
        if history is None
        or str(p.public_id) not in history.added_later.get("contact_point", set())
    ]
    if history is not None:
        for old in history.removed_later.get("contact_point", []):
            lines.append(
                ContactLine(
                    kind=old.get("kind", ""),
                    label=old.get("label", ""),
                    display=old.get("raw") or old.get("value", ""),
                    is_primary=False,
                    dialable=True,
                    service_site=bool(old.get("service_site")),
                )
            )
    return lines


def _relationships(
    party: Party,
    moment: dt.datetime,
    history: PartyAsOf | None,
    viewer: User | None,
) -> list[RelationLine]:
    links = list(
        Relationship.objects.filter(
            Q(from_party=party) | Q(to_party=party), created_at__lte=moment
        ).select_related("from_party", "to_party")
    )
    others = [
        link.to_party if link.from_party_id == party.pk else link.from_party
        for link in links
    ]
    hidden = _hidden(others, viewer)
    lines = []
    for link, other in zip(links, others, strict=True):
        if other.pk in hidden:
            continue
        ended = link.ended_on is not None and link.ended_on <= moment.date()
        if history is not None and ended:
            continue
        outgoing = link.from_party_id == party.pk
        label = str(link.get_kind_display()) if outgoing else _inverse(link)
        text = f"{label} {other.display_name}"
        if link.role:
            text += f" ({link.role})"
        lines.append(
            RelationLine(
                public_id=str(link.public_id),
                text=text,
                party_public_id=str(other.public_id),
                party_name=other.display_name,
                kind_label=label,
                role=link.role,
                current=not ended,
            )
        )
    return lines


def _inverse(link: Relationship) -> str:
    """The relationship read from the other end: Acme employs Jane."""
    inverse = {
        RelationshipKind.WORKS_AT: "employs",
        RelationshipKind.HOUSEHOLD: "household of",
        RelationshipKind.REFERRED_BY: "referred",
        RelationshipKind.BILLING_CONTACT: "billed via",
    }
    return inverse.get(RelationshipKind(link.kind), link.kind)


def _pinned_facts(
    party: Party,
    moment: dt.datetime,
    as_of: dt.datetime | None,
    viewer: User | None,
) -> list[FactLine]:
    sharing = Relationship.objects.filter(
        from_party=party, kind__in=SHARING_RELATIONSHIPS, ended_on__isnull=True
    ).values("to_party")
    facts = (
        PinnedFact.objects.filter(Q(party=party) | Q(party__in=sharing))
        .filter(created_at__lte=moment)
        .filter(Q(unpinned_at__isnull=True) | Q(unpinned_at__gt=moment))
        .select_related("party")
    )
    if as_of is None:
        facts = facts.filter(unpinned_at__isnull=True)
    pinned = list(facts)
    hidden = _hidden([fact.party for fact in pinned], viewer)
    return [
        FactLine(
            public_id=str(fact.public_id),
            category=fact.category,
            category_label=_label(FactCategory, fact.category),
            text=fact.text,
            inherited_from="" if fact.party_id == party.pk else fact.party.display_name,
        )
        for fact in pinned
        if fact.party_id not in hidden
    ]


def _open_threads(
    party: Party, moment: dt.datetime, as_of: dt.datetime | None
) -> list[ThreadLine]:
    threads = Thread.objects.filter(party=party, opened_at__lte=moment)
    if as_of is None:
        threads = threads.filter(status__in=OPEN_STATUSES)
        statuses = {}
    else:
        threads = threads.filter(Q(closed_at__isnull=True) | Q(closed_at__gt=as_of))
        statuses = _thread_statuses_as_of(party, as_of)
    lines = []
    for thread in threads.order_by("-opened_at", "-id")[:50]:
        status = statuses.get(thread.pk, thread.status)
        if status not in OPEN_STATUSES:
            continue
        lines.append(
            ThreadLine(
                public_id=str(thread.public_id),
                kind=thread.kind,
                kind_label=_label(ThreadKind, thread.kind),
                title=thread.title,
                status=status,
                status_label=_label(ThreadStatus, status),
                next_step=thread.next_step,
                opened_at=thread.opened_at,
            )
        )
    return lines


def _thread_statuses_as_of(party: Party, as_of: dt.datetime) -> dict[int, str]:
    """The status each thread had at `as_of`: the last status change by then."""
    changes = Event.objects.filter(
        party=party, kind=Kind.THREAD_CHANGE, recorded_at__lte=as_of
    ).order_by("recorded_at", "id")
    statuses: dict[int, str] = {}
    for thread_id, payload in changes.values_list("thread_id", "payload"):
        for change in payload.get("changes", []):
            if change["field"] == "status" and thread_id is not None:
                statuses[thread_id] = change["new"]
    return statuses


def _open_follow_ups(
    party: Party, moment: dt.datetime, as_of: dt.datetime | None
) -> list[FollowUpLine]:
    follow_ups = FollowUp.objects.filter(party=party).select_related("assignee")
    if as_of is None:
        follow_ups = follow_ups.filter(status=FollowUpStatus.OPEN)
    else:
        follow_ups = follow_ups.filter(created_at__lte=as_of).filter(
            Q(completed_at__isnull=True) | Q(completed_at__gt=as_of)
        )
    return [
        FollowUpLine(
            public_id=str(item.public_id),
            summary=item.summary,
            due_at=item.due_at,
            assignee_name=item.assignee.display_name,
            overdue=item.due_at < moment,
        )
        for item in follow_ups.order_by("due_at", "id")[:50]
    ]


def _interactions(events: Any) -> list[dict[str, Any]]:
    """The newest interactions as plain rows, read once for the recent list,
    the last contact and the unanswered-message check."""
    rows = events.filter(kind__in=INTERACTION_KINDS).values(
        "public_id",
        "kind",
        "occurred_at",
        "recorded_at",
        "summary",
        "actor_label",
        "direction",
    )
    return list(rows[:INTERACTION_WINDOW])


def _upcoming_bookings(
    party: Party, moment: dt.datetime, as_of: dt.datetime | None
) -> list[BookingLine]:
    """The next bookings from the moment on, soonest first; an all-day one
    counts for the whole of its first day."""
    start_of_day = dt.datetime.combine(
        timezone.localdate(moment), dt.time.min, tzinfo=timezone.get_current_timezone()
    )
    to_come = Q(scheduled_for__gte=moment) | Q(
        scheduled_for__gte=start_of_day, payload__all_day=True
    )
    bookings = Event.objects.effective().filter(to_come, party=party, kind=Kind.BOOKING)
    if as_of:
        bookings = bookings.filter(recorded_at__lte=as_of)
    lines: list[BookingLine] = []
    for booking in bookings.order_by("scheduled_for", "id").iterator():
        payload = booking.payload
        if payload.get("status") == "cancelled" or booking.scheduled_for is None:
            continue
        lines.append(
            BookingLine(
                public_id=str(booking.public_id),
                summary=booking.summary,
                starts_at=booking.scheduled_for,
                all_day=bool(payload.get("all_day")),
                site=str(payload.get("site", "")),
            )
        )
        if len(lines) == UPCOMING_LIMIT:
            break
    return lines


def _event_line(row: dict[str, Any]) -> EventLine:
    return EventLine(
        public_id=str(row["public_id"]),
        kind=row["kind"],
        kind_label=_label(Kind, row["kind"]),
        occurred_at=row["occurred_at"],
        summary=row["summary"],
        actor_label=row["actor_label"],
    )


def _unanswered(interactions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest inbound message that awaits a reply (one recorded as
    history does not), if nothing outbound or in person followed it; walking
    newest first, whichever comes first decides."""
    for row in interactions:
        inbound = row["kind"] == Kind.MESSAGE and row["direction"] == "inbound"
        if inbound and awaits_reply(row["occurred_at"], row["recorded_at"]):
            return row
        if row["direction"] == "outbound" or row["kind"] in REPLY_IN_PERSON:
            return None
    return None


def _warnings(
    brief: Brief,
    events: Any,
    moment: dt.datetime,
    unanswered: dict[str, Any] | None,
) -> list[Warning]:
    warnings: list[Warning] = []
    today = timezone.localtime(moment).date()

    overdue = [f for f in brief.open_follow_ups if f.overdue]
    for item in overdue:
        when = timezone.localtime(item.due_at)
        warnings.append(
            Warning(
                "overdue_follow_up",
                "danger",
                f"Overdue follow-up: {item.summary} (was due {when:%d %b %Y %H:%M}, "
                f"{item.assignee_name})",
            )
        )

    if unanswered is not None:
        warnings.append(
            Warning(
                "unanswered_message",
                "danger",
                f"Unanswered message from {_local(unanswered['occurred_at'])}: "
                f"{unanswered['summary']}",
            )
        )

    for reference, amount, currency, due_on in _overdue_invoices(events, today):
        warnings.append(
            Warning(
                "overdue_invoice",
                "danger",
                f"Unpaid invoice {reference or ''} of {amount} {currency} "
                f"was due on {due_on:%d %b %Y}".replace("  ", " "),
            )
        )

    for thread in brief.open_threads:
        if thread.kind == ThreadKind.COMPLAINT:
            warnings.append(
                Warning("open_complaint", "danger", f"Open complaint: {thread.title}")
            )

    for reference, decide_by in _quotes_past_decision(events, today):
        warnings.append(
            Warning(
                "quote_past_decision",
                "warning",
                f"Quote {reference} awaits a decision since {decide_by:%d %b %Y}",
            )
        )

    for booking in _bookings_on(events, today):
        starts = timezone.localtime(booking.scheduled_for)
        hours = "all day" if booking.payload.get("all_day") else f"at {starts:%H:%M}"
        warnings.append(
            Warning(
                "booking_today", "info", f"Booking today {hours}: {booking.summary}"
            )
        )

    if brief.identity.consent == Consent.DENIED:
        warnings.append(
            Warning(
                "do_not_contact",
                "danger",
                "Do not contact: this customer has withdrawn consent to contact.",
            )
        )
    return warnings


def _latest(events: Any, kind: str, *fields: str) -> list[Any]:
    """The newest rows of one kind, read down the (party, kind, time) index so
    the query stops after the window instead of sorting the whole history."""
    rows = events.filter(kind=kind).order_by("-occurred_at")
    return list(rows.values_list("payload", *fields)[:MONEY_WINDOW])


def _overdue_invoices(
    events: Any, today: dt.date
) -> list[tuple[str, Decimal, str, dt.date]]:
    paid: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (payload,) in _latest(events, Kind.PAYMENT):
        if payload["amount"] is None:
            continue
        key = (payload.get("reference", ""), payload["currency"])
        paid[key] += _decimal(payload["amount"])

    overdue = []
    for (payload,) in _latest(events, Kind.INVOICE):
        due = payload.get("due_on")
        if not due or payload["amount"] is None:
            continue
        due_on = dt.date.fromisoformat(due)
        key = (payload.get("reference", ""), payload["currency"])
        amount = _decimal(payload["amount"])
        if due_on < today and paid[key] < amount:
            overdue.append((key[0], amount - paid[key], key[1], due_on))
    return overdue


def _quotes_past_decision(events: Any, today: dt.date) -> list[tuple[str, dt.date]]:
    latest: dict[str, tuple[dict[str, Any], str | None]] = {}
    for payload, thread_status in reversed(
        _latest(events, Kind.QUOTE, "thread__status")
    ):
        latest[payload.get("reference") or str(len(latest))] = (payload, thread_status)

    waiting = []
    for reference, (payload, thread_status) in latest.items():
        decide_by = payload.get("decide_by")
        if payload.get("status") != "sent" or not decide_by:
            continue
        if thread_status is not None and thread_status not in OPEN_STATUSES:
            continue
        decide_date = dt.date.fromisoformat(decide_by)
        if decide_date < today:
            waiting.append((reference, decide_date))
    return waiting


def _bookings_on(events: Any, day: dt.date) -> list[Event]:
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = start + dt.timedelta(days=1)
    bookings = events.filter(
        kind=Kind.BOOKING, scheduled_for__gte=start, scheduled_for__lt=end
    ).order_by("scheduled_for")
    return [b for b in bookings[:20] if b.payload.get("status") != "cancelled"]


def _suggestion(brief: Brief, events: Any, moment: dt.datetime) -> Suggestion | None:
    codes = {w.code: w for w in brief.warnings}
    do_not_contact = "do_not_contact" in codes

    overdue = [f for f in brief.open_follow_ups if f.overdue]
    if overdue:
        first = overdue[0]
        return Suggestion(
            f"Do the overdue follow-up: {first.summary}",
            f"It was due {timezone.localtime(first.due_at):%d %b %Y %H:%M} and is "
            "still open.",
        )
    if "unanswered_message" in codes:
        return Suggestion(
            "Reply to their last message",
            "They wrote to us and nobody has answered since.",
        )
    if "open_complaint" in codes:
        return Suggestion(
            "Work on the open complaint",
            codes["open_complaint"].text,
        )
    if "booking_today" in codes:
        return Suggestion("Prepare for today's booking", codes["booking_today"].text)
    if "overdue_invoice" in codes and not do_not_contact:
        return Suggestion("Chase the unpaid invoice", codes["overdue_invoice"].text)
    if "quote_past_decision" in codes and not do_not_contact:
        return Suggestion(
            "Ask for a decision on the quote", codes["quote_past_decision"].text
        )
    with_step = [t for t in brief.open_threads if t.next_step]
    if with_step:
        thread = with_step[0]
        return Suggestion(
            thread.next_step,
            f"It is the next step of the open {thread.kind_label.lower()} "
            f"'{thread.title}'.",
        )
    if brief.open_follow_ups:
        upcoming = brief.open_follow_ups[0]
        return Suggestion(
            upcoming.summary,
            f"It is the next follow-up, due "
            f"{timezone.localtime(upcoming.due_at):%d %b %Y %H:%M}.",
        )
    quiet = brief.since_last_contact
    if (
        brief.identity.stage == Stage.CUSTOMER
        and brief.party.kind != PartyKind.HOUSEHOLD
        and (quiet is None or quiet > QUIET_AFTER)
        and not do_not_contact
    ):
        reason = (
            f"No contact for {quiet.days} days."
            if quiet
            else "There has been no contact yet."
        )
        return Suggestion("Check in with them", reason)
    return None


def _local(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%d %b %Y %H:%M}"


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    return value
