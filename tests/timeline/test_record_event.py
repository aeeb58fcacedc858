"""Recording events: validation, idempotency, corrections, the actor."""

import datetime as dt
from decimal import Decimal

import pytest

from threadline.errors import InvalidInput, NotAllowed, NotFound
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event
from threadline.timeline.services import correct_event, record_event, redact_event

pytestmark = pytest.mark.django_db


def test_event_keeps_actor_zone_and_utc_time(make_party, staff):
    jane = make_party(time_zone="Europe/Berlin")
    berlin = dt.timezone(dt.timedelta(hours=1))
    when = dt.datetime(2025, 3, 3, 10, 30, tzinfo=berlin)

    event, created = record_event(
        jane, "call", "Boiler", actor=Actor.for_user(staff), occurred_at=when
    )

    event.refresh_from_db()
    assert created
    assert event.occurred_at == dt.datetime(2025, 3, 3, 9, 30, tzinfo=dt.UTC)
    assert event.occurred_tz == "Europe/Berlin"
    assert (event.actor_label, event.actor_user) == ("Sam Staff", staff)


def test_money_is_decimal_with_an_iso_currency(make_party, staff):
    jane = make_party()

    event, _ = record_event(
        jane,
        "quote",
        "Quote",
        actor=Actor.for_user(staff),
        payload={"amount": "450.10", "currency": "eur"},
    )

    assert event.payload["amount"] == "450.10"
    assert Decimal(event.payload["amount"]) == Decimal("450.10")
    assert event.payload["currency"] == "EUR"


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("quote", {"amount": "12", "currency": "XYZ"}, "ISO 4217"),
        ("quote", {"amount": "twelve", "currency": "EUR"}, "amount"),
        ("call", {"direction": "sideways"}, "direction"),
        ("call", {"colour": "red"}, "not a field of a call"),
        ("hug", {}, "not an event kind"),
    ],
)
def test_bad_payload_is_refused_and_nothing_is_written(
    make_party, staff, kind, payload, message
):
    jane = make_party()
    before = Event.objects.count()

    with pytest.raises(InvalidInput, match=message):
        record_event(jane, kind, "x", actor=Actor.for_user(staff), payload=payload)

    assert Event.objects.count() == before


def test_naive_time_and_empty_summary_are_refused(make_party, staff):
    jane = make_party()
    actor = Actor.for_user(staff)

    with pytest.raises(InvalidInput, match="time zone"):
        record_event(
            jane, "note", "x", actor=actor, occurred_at=dt.datetime(2025, 1, 1)
        )
    with pytest.raises(InvalidInput, match="summary"):
        record_event(jane, "note", "   ", actor=actor)


def test_same_source_and_external_id_never_creates_a_second_event(make_party, staff):
    jane = make_party()
    actor = Actor.for_user(staff)

    first, created = record_event(
        jane,
        "payment",
        "Paid",
        actor=actor,
        source="stripe",
        external_id="pi_1",
        payload={"amount": "10", "currency": "USD"},
    )
    again, created_again = record_event(
        jane,
        "payment",
        "Paid",
        actor=actor,
        source="stripe",
        external_id="pi_1",
        payload={"amount": "10", "currency": "USD"},
    )

    assert created and not created_again
    assert first.pk == again.pk
    assert Event.objects.filter(external_id="pi_1").count() == 1


def test_viewer_cannot_record(make_party, viewer):
    with pytest.raises(NotAllowed):
        record_event(make_party(), "note", "x", actor=Actor.for_user(viewer))


def test_restricted_party_refuses_events_from_outsiders(make_party, owner, outsider):
    jane = make_party()
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    with pytest.raises(NotFound):
        record_event(jane, "note", "x", actor=Actor.for_user(outsider))


def test_correction_supersedes_and_history_keeps_both(make_party, staff):
    jane = make_party()
    actor = Actor.for_user(staff)
    wrong, _ = record_event(jane, "call", "Called Jim", actor=actor)

    right = correct_event(wrong, actor=actor, summary="Called Jane")

    shown = list(Event.objects.effective().filter(party=jane, kind="call"))
    assert shown == [right]
    assert right.corrects == wrong
    assert Event.objects.filter(pk=wrong.pk).exists()


def test_redaction_hides_the_event_and_records_why(make_party, staff):
    jane = make_party()
    actor = Actor.for_user(staff)
    wrong, _ = record_event(jane, "note", "Meant for another customer", actor=actor)

    redaction = redact_event(wrong, actor=actor, reason="wrong customer")

    effective = Event.objects.effective().filter(party=jane)
    assert wrong not in effective
    assert redaction in effective
    assert redaction.payload["reason"] == "wrong customer"
    with pytest.raises(InvalidInput, match="removed"):
        correct_event(wrong, actor=actor, summary="again")


def test_correcting_twice_follows_the_latest_version(make_party, staff):
    jane = make_party()
    actor = Actor.for_user(staff)
    first, _ = record_event(jane, "call", "v1", actor=actor)

    second = correct_event(first, actor=actor, summary="v2")
    third = correct_event(first, actor=actor, summary="v3")

    assert third.corrects == second
    assert [e.summary for e in Event.objects.effective().filter(kind="call")] == ["v3"]


def test_inbound_message_marks_party_awaiting_reply_until_answered(make_party, staff):
    jane = make_party()
    actor = Actor.for_user(staff)

    record_event(
        jane, "message", "Hello?", actor=actor, payload={"direction": "inbound"}
    )
    jane.refresh_from_db()
    assert jane.awaiting_reply_since is not None

    record_event(jane, "message", "Hi!", actor=actor, payload={"direction": "outbound"})
    jane.refresh_from_db()
    assert jane.awaiting_reply_since is None
    assert jane.last_interaction_at is not None


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(1850, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC),
    ],
)
def test_implausible_times_are_refused(make_party, staff, when):
    with pytest.raises(InvalidInput, match="out of range"):
        record_event(
            make_party(), "call", "x", actor=Actor.for_user(staff), occurred_at=when
        )


def test_a_call_cannot_be_logged_ahead_but_a_booking_can(make_party, staff, now):
    jane, actor = make_party(), Actor.for_user(staff)
    next_week = now + dt.timedelta(days=7)

    with pytest.raises(InvalidInput, match="out of range"):
        record_event(jane, "call", "x", actor=actor, occurred_at=next_week)
    record_event(jane, "booking", "Service", actor=actor, occurred_at=next_week)


def test_amounts_are_stored_plainly(make_party, staff):
    event, _ = record_event(
        make_party(),
        "payment",
        "Paid",
        actor=Actor.for_user(staff),
        payload={"amount": "1e5", "currency": "USD"},
    )

    assert event.payload["amount"] == "100000.00"


def test_invisible_and_control_characters_are_dropped(make_party, staff):
    event, _ = record_event(
        make_party(),
        "note",
        "\u202eevil\u202c \x1b[31mred\x07",
        actor=Actor.for_user(staff),
    )

    assert event.summary == "evil [31mred"
