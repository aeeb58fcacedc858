"""The handed calendar cases: a weekly meeting across a DST change, and
all-day events written two ways."""

import datetime as dt
import zoneinfo

import pytest

from tests.transfer.conftest import DATA
from threadline.parties.models import Party
from threadline.timeline.kinds import BookingPayload, Kind
from threadline.timeline.models import Event
from threadline.transfer.calendar_reading import read_calendar
from threadline.transfer.importer import import_path

CASES = DATA / "ical"
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def test_weekly_meeting_keeps_nine_oclock_berlin_across_the_dst_change():
    calendar = read_calendar(CASES / "ics_weekly_meeting_across_dst.ics")
    [meeting] = calendar.events

    starts = [o.starts_at for o in meeting.expand().occurrences]

    assert starts == [
        utc(2025, 3, 17, 8),
        utc(2025, 3, 24, 8),
        utc(2025, 3, 31, 7),
        utc(2025, 4, 7, 7),
    ]
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    assert {start.astimezone(berlin).time() for start in starts} == {dt.time(9)}


@pytest.mark.django_db
def test_weekly_meeting_books_four_calls_on_jane_and_not_on_the_organizer():
    report = import_path(CASES / "ics_weekly_meeting_across_dst.ics")

    jane = Party.objects.get()
    assert jane.display_name == "Jane Example"
    bookings = Event.objects.filter(kind=Kind.BOOKING, party=jane)
    assert sorted(b.scheduled_for for b in bookings) == [
        utc(2025, 3, 17, 8),
        utc(2025, 3, 24, 8),
        utc(2025, 3, 31, 7),
        utc(2025, 4, 7, 7),
    ]
    assert {b.occurred_tz for b in bookings} == {"Europe/Berlin"}
    assert report.created["booking"] == 4
    assert report.created["person"] == 1
    assert "4 bookings" in report.created_text()


def test_date_only_event_covers_one_day_and_is_floating(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    calendar = read_calendar(CASES / "ics_allday_midnight_to_midnight.ics")
    date_only = calendar.events[0].expand().occurrences[0]

    assert date_only.all_day
    assert (date_only.first_day, date_only.last_day) == (
        dt.date(2025, 6, 6),
        dt.date(2025, 6, 6),
    )
    # Floating: midnight wherever the business is, not midnight UTC.
    assert date_only.starts_at.isoformat() == "2025-06-06T00:00:00+02:00"
    assert date_only.ends_at is not None
    assert date_only.ends_at.isoformat() == "2025-06-07T00:00:00+02:00"
    payload = BookingPayload.model_validate(date_only.payload())
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    assert payload.occupied_days(tokyo) == [dt.date(2025, 6, 6)]


def test_midnight_to_midnight_event_blocks_the_thirteenth_in_new_york_only():
    calendar = read_calendar(CASES / "ics_allday_midnight_to_midnight.ics")
    midnight = calendar.events[1].expand().occurrences[0]

    assert not midnight.all_day
    assert midnight.starts_at == utc(2025, 6, 13, 4)
    assert midnight.ends_at == utc(2025, 6, 14, 4)
    assert midnight.zone == "America/New_York"
    payload = BookingPayload.model_validate(midnight.payload())
    assert payload.occupied_days(NEW_YORK) == [dt.date(2025, 6, 13)]


def test_occupied_days_of_a_multi_day_and_a_short_booking():
    two_days = BookingPayload(
        all_day=True, first_day=dt.date(2025, 6, 6), last_day=dt.date(2025, 6, 7)
    )
    short = BookingPayload(
        starts_at=dt.datetime(2025, 6, 13, 23, 0, tzinfo=NEW_YORK),
        ends_at=dt.datetime(2025, 6, 14, 1, 0, tzinfo=NEW_YORK),
    )

    assert two_days.occupied_days(NEW_YORK) == [
        dt.date(2025, 6, 6),
        dt.date(2025, 6, 7),
    ]
    assert short.occupied_days(NEW_YORK) == [
        dt.date(2025, 6, 13),
        dt.date(2025, 6, 14),
    ]
    assert short.occupied_days(dt.UTC) == [dt.date(2025, 6, 14)]


@pytest.mark.django_db
def test_events_without_attendees_are_reported_not_dropped():
    report = import_path(CASES / "ics_allday_midnight_to_midnight.ics")

    assert not Event.objects.filter(kind=Kind.BOOKING).exists()
    assert report.rows == 2
    assert report.skipped == 2
    first, second = report.problems
    assert first.line == 4
    assert first.message.startswith("VEVENT 1 (UID repro-allday-date@example.com)")
    assert "no customer" in first.message
    assert second.message.startswith("VEVENT 2 (UID repro-allday-midnight@")
