"""threadline demo: a lifelike business on an empty install, the same every time."""

import datetime as dt
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from threadline.accounts.models import User
from threadline.brief.services import compute_brief
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.parties.contact_points import normalise_phone
from threadline.parties.models import (
    ContactPoint,
    Party,
    PartyKind,
    PinnedFact,
    Relationship,
)
from threadline.threads.models import Thread, ThreadKind, ThreadStatus
from threadline.timeline.models import Event
from threadline.transfer.demo import build_plan

SMALL = "40"


def run_demo(*args: str) -> str:
    out = StringIO()
    call_command("demo", "--customers", SMALL, *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo_output(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    # One demo for the whole module: it is the slowest thing these tests do.
    with django_db_blocker.unblock():
        yield run_demo()
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def demo(demo_output: str, db: None) -> str:
    return demo_output


def test_demo_plan_is_the_same_for_the_same_seed() -> None:
    first = build_plan(40)
    second = build_plan(40)

    assert first == second
    assert len(first.parties) == 45


def test_demo_plan_changes_with_the_seed() -> None:
    assert build_plan(40, seed=1).names() != build_plan(40, seed=2).names()


def test_demo_writes_exactly_the_planned_parties(demo: str) -> None:
    planned = sorted(build_plan(40).names())

    assert sorted(Party.objects.values_list("display_name", flat=True)) == planned


def test_demo_creates_staff_with_one_deactivated_and_no_passwords(demo: str) -> None:
    roles = set(User.objects.values_list("role", flat=True))

    assert roles == {"owner", "manager", "staff", "viewer"}
    assert User.objects.filter(is_active=False).count() == 1
    assert not any(user.has_usable_password() for user in User.objects.all())
    assert "changepassword" in demo


def test_demo_creates_people_organisations_households_and_links(demo: str) -> None:
    kinds = set(Party.objects.values_list("kind", flat=True))
    links = set(Relationship.objects.values_list("kind", flat=True))

    assert kinds == {PartyKind.PERSON, PartyKind.ORGANISATION, PartyKind.HOUSEHOLD}
    assert {"works_at", "household_member"} <= links
    assert Relationship.objects.exclude(role="").exists()
    assert PinnedFact.objects.exists()
    assert Party.objects.filter(contact_points__is_service_site=True).exists()
    assert Party.objects.filter(tags__isnull=False).exists()


def test_demo_stores_phones_in_e164(demo: str) -> None:
    phones = ContactPoint.objects.filter(kind="phone").values_list("value", flat=True)

    assert phones
    assert all(phone.startswith("+") for phone in phones)


def test_demo_leaves_work_that_needs_attention(demo: str) -> None:
    now = timezone.now()
    open_follow_ups = FollowUp.objects.filter(status=FollowUpStatus.OPEN)

    assert open_follow_ups.filter(due_at__lt=now).exists()
    assert open_follow_ups.filter(due_at__date=timezone.localdate()).exists()
    assert FollowUp.objects.filter(status=FollowUpStatus.DONE).exists()
    assert Party.objects.exclude(awaiting_reply_since=None).exists()
    assert Thread.objects.filter(
        kind=ThreadKind.COMPLAINT, status=ThreadStatus.WAITING_ON_US
    ).exists()
    assert Event.objects.filter(
        kind="booking", scheduled_for__date=timezone.localdate()
    ).exists()


def test_demo_leaves_overdue_unpaid_invoices(demo: str) -> None:
    today = timezone.localdate().isoformat()
    invoices = Event.objects.filter(kind="invoice", payload__due_on__lt=today)
    paid = set(
        Event.objects.filter(kind="payment").values_list(
            "payload__reference", flat=True
        )
    )

    unpaid = [e for e in invoices if e.payload["reference"] not in paid]
    assert unpaid


def test_demo_has_two_years_of_history(demo: str) -> None:
    oldest = Event.objects.order_by("occurred_at").first()

    assert oldest is not None
    assert (timezone.now() - oldest.occurred_at).days > 365


def test_demo_run_again_doubles_nothing(demo: str) -> None:
    before = (Party.objects.count(), Event.objects.count(), FollowUp.objects.count())

    output = run_demo()

    after = (Party.objects.count(), Event.objects.count(), FollowUp.objects.count())
    assert after == before
    assert "already there" in output


def test_demo_refuses_an_install_with_real_customers(
    make_party: Callable[..., Party],
) -> None:
    make_party("Real Customer")
    before = (Party.objects.count(), Event.objects.count(), User.objects.count())

    with pytest.raises(CommandError, match="already has customers"):
        run_demo()

    after = (Party.objects.count(), Event.objects.count(), User.objects.count())
    assert after == before


def test_demo_refuses_an_install_whose_owner_was_set_up(owner: User) -> None:
    """Right after the first start's setup, the install has no customers but
    has its owner: the demo would add a second owner beside them."""
    before = (Party.objects.count(), User.objects.count())

    with pytest.raises(CommandError, match=r"already has staff \(.*\)"):
        run_demo()

    assert (Party.objects.count(), User.objects.count()) == before


def test_demo_quotes_are_accepted_declined_and_past_their_date(demo: str) -> None:
    today = timezone.localdate().isoformat()
    statuses = set(
        Event.objects.filter(kind="quote").values_list("payload__status", flat=True)
    )
    waiting = Thread.objects.filter(
        kind=ThreadKind.QUOTE,
        status=ThreadStatus.WAITING_ON_THEM,
        events__kind="quote",
        events__payload__decide_by__lt=today,
    )

    assert statuses == {"sent", "accepted", "declined"}
    assert waiting.exists()


def test_demo_briefs_show_every_kind_of_warning(demo: str) -> None:
    codes = {
        warning.code
        for party in Party.objects.all()
        for warning in compute_brief(party).warnings
    }

    assert {
        "overdue_follow_up",
        "unanswered_message",
        "overdue_invoice",
        "open_complaint",
        "quote_past_decision",
        "booking_today",
    } <= codes


@pytest.mark.parametrize("region", ["US", "GB", "FR", "JP"])
def test_demo_plans_dialable_phones_and_local_currency_for_the_region(
    region: str,
) -> None:
    plan = build_plan(40, region=region)
    phones = [phone for party in plan.parties for phone in party.phones]

    assert phones
    assert all(normalise_phone(phone, region).dialable for phone in phones)
    assert plan.currency == {"US": "USD", "GB": "GBP", "FR": "EUR", "JP": "JPY"}[region]


def test_full_demo_plan_records_nothing_ahead_of_time_but_bookings() -> None:
    """The default plan, checked the way the writer dates each step, so a
    run at the default size cannot trip the record's time limits."""
    from threadline.transfer.demo import _Writer

    plan = build_plan()
    writer = _Writer({}, timezone.localdate(), timezone.get_current_timezone())
    latest = timezone.now() + dt.timedelta(minutes=1)

    for party in plan.parties:
        for step in party.steps:
            if step.action == "follow_up" or (
                step.action == "event" and step.kind == "booking"
            ):
                continue
            assert writer._event_time(step) <= latest, (party.name, step)
