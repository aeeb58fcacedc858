"""Each warning and each section of the brief, built from a small record."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from threadline.brief.rendering import brief_as_text
from threadline.brief.services import compute_brief
from threadline.errors import InvalidInput
from threadline.followups.services import complete_follow_up, create_follow_up
from threadline.parties.models import Consent, PartyKind, RelationshipKind
from threadline.parties.services import (
    add_relationship,
    create_party,
    pin_fact,
    update_party,
)
from threadline.threads.services import open_thread, update_thread
from threadline.timeline.actors import Actor
from threadline.timeline.services import record_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(staff):
    return Actor.for_user(staff)


@pytest.fixture
def jane(actor):
    return create_party(
        actor,
        given_name="Jane",
        family_name="Example",
        emails=["jane@example.com"],
        phones=["+1 202 555 0143"],
        time_zone="Europe/Berlin",
        preferred_channel="phone",
        language="de",
    )


def codes(brief):
    return [warning.code for warning in brief.warnings]


def test_overdue_follow_up_warns_and_is_the_suggestion(jane, actor, staff, now):
    create_follow_up(
        jane, actor, "Send the boiler quote", now - dt.timedelta(days=2), staff
    )

    brief = compute_brief(jane)

    assert codes(brief) == ["overdue_follow_up"]
    assert "Send the boiler quote" in brief.warnings[0].text
    assert brief.open_follow_ups[0].overdue
    assert brief.suggestion.action == "Do the overdue follow-up: Send the boiler quote"


def test_follow_up_due_later_is_open_but_not_a_warning(jane, actor, staff, now):
    create_follow_up(jane, actor, "Check radiator", now + dt.timedelta(days=2), staff)

    brief = compute_brief(jane)

    assert codes(brief) == []
    assert [f.summary for f in brief.open_follow_ups] == ["Check radiator"]
    assert brief.suggestion.action == "Check radiator"


def test_inbound_message_without_reply_warns(jane, actor, now):
    record_event(
        jane,
        "message",
        "Is Tuesday fine?",
        actor=actor,
        occurred_at=now - dt.timedelta(hours=3),
        payload={"direction": "inbound"},
    )

    brief = compute_brief(jane)

    assert codes(brief) == ["unanswered_message"]
    assert "Is Tuesday fine?" in brief.warnings[0].text
    assert brief.suggestion.action == "Reply to their last message"


def test_reply_after_inbound_message_clears_the_warning(jane, actor, now):
    record_event(
        jane,
        "message",
        "Is Tuesday fine?",
        actor=actor,
        occurred_at=now - dt.timedelta(hours=3),
        payload={"direction": "inbound"},
    )
    record_event(
        jane,
        "call",
        "Confirmed Tuesday",
        actor=actor,
        occurred_at=now - dt.timedelta(hours=1),
        payload={"direction": "outbound"},
    )

    assert "unanswered_message" not in codes(compute_brief(jane))


def test_a_message_recorded_long_after_it_was_sent_is_history(jane, actor, now):
    """An old mailbox imported, or a letter logged weeks late: the message
    is on the timeline, but it does not leave the customer waiting."""
    for days, summary in ((400, "Old question"), (8, "Letter from last week")):
        record_event(
            jane,
            "message",
            summary,
            actor=actor,
            occurred_at=now - dt.timedelta(days=days),
            payload={"direction": "inbound"},
        )
    jane.refresh_from_db()

    brief = compute_brief(jane)

    assert "unanswered_message" not in codes(brief)
    assert jane.awaiting_reply_since is None
    assert jane.last_interaction_at is not None


def test_a_message_logged_within_the_week_still_awaits_a_reply(jane, actor, now):
    sent = now - dt.timedelta(days=6)
    record_event(
        jane,
        "message",
        "Is Tuesday fine?",
        actor=actor,
        occurred_at=sent,
        payload={"direction": "inbound"},
    )
    jane.refresh_from_db()

    assert codes(compute_brief(jane)) == ["unanswered_message"]
    assert jane.awaiting_reply_since == sent


def test_overdue_unpaid_invoice_warns_until_paid(jane, actor, now):
    due = (now - dt.timedelta(days=10)).date().isoformat()
    record_event(
        jane,
        "invoice",
        "Invoice INV-9",
        actor=actor,
        payload={
            "amount": "300.00",
            "currency": "EUR",
            "reference": "INV-9",
            "due_on": due,
        },
    )
    assert codes(compute_brief(jane)) == ["overdue_invoice"]

    record_event(
        jane,
        "payment",
        "Part payment",
        actor=actor,
        payload={"amount": "100.00", "currency": "EUR", "reference": "INV-9"},
    )
    brief = compute_brief(jane)
    assert codes(brief) == ["overdue_invoice"]
    assert "200.00 EUR" in brief.warnings[0].text

    record_event(
        jane,
        "payment",
        "Rest paid",
        actor=actor,
        payload={"amount": "200.00", "currency": "EUR", "reference": "INV-9"},
    )
    assert codes(compute_brief(jane)) == []


def test_open_complaint_thread_warns(jane, actor):
    thread = open_thread(jane, actor, "complaint", "Leak after the repair")
    assert codes(compute_brief(jane)) == ["open_complaint"]

    update_thread(thread, actor, status="done")
    assert codes(compute_brief(jane)) == []


def test_quote_past_its_decision_date_warns(jane, actor, now):
    decide_by = (now - dt.timedelta(days=3)).date().isoformat()
    record_event(
        jane,
        "quote",
        "Quote Q-17",
        actor=actor,
        payload={
            "amount": "1200.00",
            "currency": "EUR",
            "reference": "Q-17",
            "decide_by": decide_by,
        },
    )
    brief = compute_brief(jane)
    assert codes(brief) == ["quote_past_decision"]
    assert brief.suggestion.action == "Ask for a decision on the quote"

    record_event(
        jane,
        "quote",
        "Quote Q-17 accepted",
        actor=actor,
        payload={
            "amount": "1200.00",
            "currency": "EUR",
            "reference": "Q-17",
            "status": "accepted",
        },
    )
    assert codes(compute_brief(jane)) == []


def test_booking_today_warns(jane, actor, now):
    # Noon is today whenever the test runs; a time near midnight is not.
    starts = timezone.localtime(now).replace(hour=12, minute=0, second=0)
    record_event(
        jane,
        "booking",
        "Boiler service",
        actor=actor,
        payload={"starts_at": starts.isoformat()},
    )

    brief = compute_brief(jane)

    assert codes(brief) == ["booking_today"]


def test_an_all_day_booking_today_warns_without_a_time(jane, actor, now):
    today = timezone.localdate(now)
    midnight = dt.datetime.combine(
        today, dt.time.min, tzinfo=timezone.get_current_timezone()
    )
    record_event(
        jane,
        "booking",
        "Site survey",
        actor=actor,
        payload={
            "starts_at": midnight.isoformat(),
            "all_day": True,
            "first_day": today.isoformat(),
            "last_day": today.isoformat(),
        },
    )

    [warning] = compute_brief(jane).warnings

    assert warning.text == "Booking today all day: Site survey"


def test_bookings_to_come_are_open_work_soonest_first(jane, actor, now):
    def book(summary: str, days: float, **payload: object) -> None:
        starts = now + dt.timedelta(days=days)
        record_event(
            jane,
            "booking",
            summary,
            actor=actor,
            payload={"starts_at": starts.isoformat(), **payload},
        )

    book("Annual service", 30, site="12 High Street")
    book("Boiler check", 3)
    book("Old visit", -3)
    book("Called off", 5, status="cancelled")

    brief = compute_brief(jane)

    assert [b.summary for b in brief.upcoming_bookings] == [
        "Boiler check",
        "Annual service",
    ]
    assert brief.upcoming_bookings[1].site == "12 High Street"
    assert "UPCOMING BOOKINGS" in brief_as_text(brief)


def test_a_booking_to_come_shows_past_any_number_of_cancelled_ones(jane, actor, now):
    today = timezone.localdate(now)
    midnight = dt.datetime.combine(
        today, dt.time.min, tzinfo=timezone.get_current_timezone()
    )
    for day in range(1, 13):
        starts = (now + dt.timedelta(days=day)).isoformat()
        payload = {"starts_at": starts, "status": "cancelled"}
        record_event(jane, "booking", "Called off", actor=actor, payload=payload)
    record_event(
        jane,
        "booking",
        "Survey",
        actor=actor,
        payload={"starts_at": midnight.isoformat(), "all_day": True},
    )
    later = (now + dt.timedelta(days=20)).isoformat()
    record_event(jane, "booking", "Fitting", actor=actor, payload={"starts_at": later})

    brief = compute_brief(jane)

    assert [b.summary for b in brief.upcoming_bookings] == ["Survey", "Fitting"]


def test_an_all_day_booking_given_by_its_days_alone_is_to_come(jane, actor, now):
    tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
    payload = {"all_day": True, "first_day": tomorrow.isoformat()}
    record_event(jane, "booking", "Site survey", actor=actor, payload=payload)

    [booking] = compute_brief(jane).upcoming_bookings

    assert booking.summary == "Site survey"
    assert timezone.localtime(booking.starts_at).date() == tomorrow


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {
                "starts_at": "2026-03-02T10:00:00+00:00",
                "ends_at": "2026-03-02T09:00+00:00",
            },
            "ends_at is before starts_at",
        ),
        ({"all_day": True}, "an all-day booking needs its first_day"),
    ],
)
def test_a_booking_that_cannot_be_is_refused(jane, actor, payload, message):
    with pytest.raises(InvalidInput, match=message):
        record_event(jane, "booking", "Odd booking", actor=actor, payload=payload)


def test_no_consent_warns_and_suppresses_outreach(jane, actor):
    update_party(jane, actor, consent=Consent.DENIED, stage="customer")

    brief = compute_brief(jane)

    assert codes(brief) == ["do_not_contact"]
    assert brief.suggestion is None


def test_who_they_are(jane, actor, staff, make_party):
    acme = create_party(
        actor, display_name_text="Acme Ltd", kind=PartyKind.ORGANISATION
    )
    add_relationship(
        jane, acme, actor, RelationshipKind.WORKS_AT, role="Office manager"
    )
    update_party(jane, actor, owner=staff, stage="customer")

    identity = compute_brief(jane).identity

    assert identity.name == "Jane Example"
    assert identity.stage_label == "Customer"
    assert identity.owner_name == "Sam Staff"
    assert identity.stage_since is not None and identity.owner_since is not None
    assert identity.preferred_channel == "Phone"
    assert identity.language == "de"
    assert identity.local_time.tzinfo.key == "Europe/Berlin"
    assert {p.display for p in identity.contact_points} == {
        "jane@example.com",
        "+1 202-555-0143",
    }
    assert [r.text for r in identity.relationships] == [
        "works at Acme Ltd (Office manager)"
    ]
    assert identity.language_label == "German"
    assert [r.text for r in compute_brief(acme).identity.relationships] == [
        "employs Jane Example (Office manager)"
    ]


def test_pinned_fact_on_household_shows_for_each_member(jane, actor):
    household = create_party(
        actor, display_name_text="The Example household", kind=PartyKind.HOUSEHOLD
    )
    tom = create_party(actor, display_name_text="Tom Example")
    for person in (jane, tom):
        add_relationship(person, household, actor, RelationshipKind.HOUSEHOLD)
    pin_fact(household, actor, "Dog in the garden: ring first", "problem")
    pin_fact(jane, actor, "Prefers calls after 3pm", "preference")

    jane_facts = {(f.text, f.inherited_from) for f in compute_brief(jane).pinned_facts}
    tom_facts = {(f.text, f.inherited_from) for f in compute_brief(tom).pinned_facts}

    assert jane_facts == {
        ("Dog in the garden: ring first", "The Example household"),
        ("Prefers calls after 3pm", ""),
    }
    assert tom_facts == {("Dog in the garden: ring first", "The Example household")}


def test_open_threads_with_status_and_next_step(jane, actor):
    open_thread(
        jane, actor, "quote", "New boiler", next_step="Send the quote by Friday"
    )
    done = open_thread(jane, actor, "job", "Tap repair")
    update_thread(done, actor, status="done")

    brief = compute_brief(jane)

    assert [(t.title, t.status_label, t.next_step) for t in brief.open_threads] == [
        ("New boiler", "Open", "Send the quote by Friday")
    ]
    assert brief.suggestion.action == "Send the quote by Friday"


def test_last_ten_interactions_and_time_since_last_contact(jane, actor, now):
    for day in range(12):
        record_event(
            jane,
            "call",
            f"Call {day}",
            actor=actor,
            occurred_at=now - dt.timedelta(days=20 - day),
        )

    brief = compute_brief(jane)

    assert len(brief.recent) == 10
    assert brief.recent[0].summary == "Call 11"
    assert brief.since_last_contact.days == 9


def test_quiet_customer_gets_a_check_in_suggestion(jane, actor, now):
    update_party(jane, actor, stage="customer")
    record_event(
        jane,
        "call",
        "Annual service",
        actor=actor,
        occurred_at=now - dt.timedelta(days=200),
    )

    suggestion = compute_brief(jane).suggestion

    assert suggestion.action == "Check in with them"
    assert "200 days" in suggestion.reason


def test_brief_as_of_a_past_date_undoes_later_changes(jane, actor, staff, now):
    follow_up = create_follow_up(
        jane, actor, "Call back", now - dt.timedelta(days=1), staff
    )
    past = timezone.now()
    update_party(jane, actor, stage="customer", display_name="Jane Q. Example")
    complete_follow_up(follow_up, actor)
    pin_fact(jane, actor, "Allergic to cats")

    before = compute_brief(jane, as_of=past)
    today = compute_brief(jane)

    assert before.identity.stage == "lead"
    assert before.identity.name == "Jane Example"
    assert [f.summary for f in before.open_follow_ups] == ["Call back"]
    assert before.pinned_facts == []
    assert today.open_follow_ups == []
    assert today.identity.stage == "customer"
    assert today.identity.name == "Jane Q. Example"
    assert [f.text for f in today.pinned_facts] == ["Allergic to cats"]


def test_brief_as_data_is_json_ready(jane, actor, now):
    record_event(
        jane,
        "payment",
        "Paid",
        actor=actor,
        payload={"amount": Decimal("10.50"), "currency": "eur"},
    )

    data = compute_brief(jane).to_dict()

    assert data["party"]["name"] == "Jane Example"
    assert data["recent"][0]["summary"] == "Paid"
    assert isinstance(data["recent"][0]["occurred_at"], str)


def test_brief_before_the_party_existed_says_so(jane):
    long_ago = jane.created_at - dt.timedelta(days=30)

    brief = compute_brief(jane, as_of=long_ago)

    assert not brief.existed
    assert brief.identity.name == "Jane Example"
