"""Writing bookings and follow-ups as iCalendar that calendar apps update
rather than duplicate."""

import datetime as dt

import icalendar
import pytest
from django.utils import timezone

from threadline.followups.services import create_follow_up
from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.services import correct_event, record_event
from threadline.transfer.calendar_export import party_items, write_calendar

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


def link(party: Party) -> str:
    return f"https://crm.example.com/customers/{party.public_id}/"


def book(party: Party, summary: str, **payload: object) -> None:
    record_event(party, Kind.BOOKING, summary, actor=ACTOR, payload=payload)


def exported(party: Party) -> dict[str, icalendar.Event]:
    body = write_calendar(party_items(party), name="Jane", link=link)
    calendar = icalendar.Calendar.from_ical(body)
    return {str(event["SUMMARY"]): event for event in calendar.walk("VEVENT")}


def test_timed_and_all_day_bookings_keep_their_times(make_party):
    jane = make_party("Jane Example")
    start = dt.datetime(2030, 6, 10, 9, tzinfo=dt.UTC)
    book(
        jane,
        "Boiler service",
        starts_at=start.isoformat(),
        ends_at=(start + dt.timedelta(hours=2)).isoformat(),
        site="12 High Street",
    )
    book(
        jane,
        "Cottage",
        starts_at="2030-06-06T00:00:00+00:00",
        all_day=True,
        first_day="2030-06-06",
        last_day="2030-06-08",
    )

    events = exported(jane)

    boiler = events["Boiler service · Jane Example"]
    assert boiler["DTSTART"].dt == start
    assert boiler["DTEND"].dt == start + dt.timedelta(hours=2)
    assert str(boiler["LOCATION"]) == "12 High Street"
    assert str(boiler["URL"]) == link(jane)
    assert link(jane) in str(boiler["DESCRIPTION"])
    cottage = events["Cottage · Jane Example"]
    assert cottage["DTSTART"].dt == dt.date(2030, 6, 6)
    # DTEND is exclusive: the day after the last one held.
    assert cottage["DTEND"].dt == dt.date(2030, 6, 9)


def test_a_corrected_booking_keeps_its_uid_and_a_cancelled_one_says_so(make_party):
    jane = make_party("Jane Example")
    start = (timezone.now() + dt.timedelta(days=3)).replace(microsecond=0)
    booking, _ = record_event(
        jane,
        Kind.BOOKING,
        "Boiler service",
        actor=ACTOR,
        payload={"starts_at": start.isoformat()},
    )
    before = exported(jane)["Boiler service · Jane Example"]["UID"]
    moved = correct_event(
        booking,
        actor=ACTOR,
        payload={"starts_at": (start + dt.timedelta(days=1)).isoformat()},
    )
    after = exported(jane)["Boiler service · Jane Example"]
    correct_event(moved, actor=ACTOR, payload={"status": "cancelled"})
    cancelled = exported(jane)["Boiler service · Jane Example"]

    assert str(before) == str(after["UID"]) == str(cancelled["UID"])
    assert str(before) == f"booking-{booking.public_id}@threadline"
    assert after["DTSTART"].dt == start + dt.timedelta(days=1)
    assert str(cancelled["STATUS"]) == "CANCELLED"


def test_open_follow_ups_are_events_at_their_due_time(make_party, staff):
    jane = make_party("Jane Example")
    due = (timezone.now() + dt.timedelta(days=2)).replace(microsecond=0)
    follow_up = create_follow_up(
        jane, Actor.for_user(staff), "Call about the quote", due, staff
    )

    event = exported(jane)["Follow-up: Call about the quote · Jane Example"]

    assert event["DTSTART"].dt == due
    assert event["DTEND"].dt == due + dt.timedelta(minutes=15)
    assert str(event["UID"]) == f"follow-up-{follow_up.public_id}@threadline"
    assert str(event["URL"]) == link(jane)
