"""Importing calendars: who an event is booked on, and what a second import
of a changed calendar does."""

import datetime as dt
from pathlib import Path

import pytest

from threadline.accounts.models import User
from threadline.errors import InvalidInput
from threadline.parties.models import Party
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.calendar_reading import read_calendar
from threadline.transfer.importer import import_path

pytestmark = pytest.mark.django_db

ORGANIZER = "ORGANIZER;CN=Front Desk:mailto:desk@example.com"


def calendar(tmp_path: Path, *events: str, name: str = "diary.ics") -> Path:
    body = "".join(
        f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events
    )
    path = tmp_path / name
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n"
        f"{body}END:VCALENDAR\r\n"
    )
    return path


def event(uid: str, start: str, *lines: str, end: str = "") -> str:
    parts = [f"UID:{uid}", "DTSTAMP:20250101T000000Z", f"DTSTART{start}"]
    if end:
        parts.append(f"DTEND{end}")
    return "\r\n".join([*parts, *lines])


def bookings(party: Party | None = None) -> list[Event]:
    found = Event.objects.effective().filter(kind=Kind.BOOKING)
    if party is not None:
        found = found.filter(party=party)
    return list(found.order_by("scheduled_for"))


def test_attendee_with_a_known_email_is_booked_on_that_party(tmp_path, make_party):
    jane = make_party("Jane Example", emails=["Jane@Example.com"])
    path = calendar(
        tmp_path,
        event(
            "boiler-1",
            ":20250610T090000Z",
            "SUMMARY:Boiler service",
            "LOCATION:12 High Street",
            ORGANIZER,
            "ATTENDEE;CN=J. Example:MAILTO:JANE@example.com",
            end=":20250610T110000Z",
        ),
    )

    report = import_path(path)

    [booking] = bookings(jane)
    assert booking.summary == "Boiler service"
    assert booking.payload["site"] == "12 High Street"
    assert booking.scheduled_for == dt.datetime(2025, 6, 10, 9, tzinfo=dt.UTC)
    assert report.created["person"] == 0
    assert Party.objects.count() == 1


def test_the_person_a_calendar_is_named_after_is_its_owner_not_a_customer(
    tmp_path,
):
    path = calendar(
        tmp_path,
        event(
            "visit-1",
            ":20250610T090000Z",
            "SUMMARY:Site visit",
            "ATTENDEE;CN=Gabi:mailto:gabi@example.com",
            "ATTENDEE;CN=Pat Customer:mailto:pat@example.com",
        ),
    )
    path.write_text(
        path.read_text().replace("PRODID:-//Test//EN", "X-WR-CALNAME:gabi@example.com")
    )

    report = import_path(path)

    assert list(Party.objects.values_list("display_name", flat=True)) == [
        "Pat Customer"
    ]
    assert any("named after gabi@example.com" in p.message for p in report.problems)


def test_staff_and_organizer_are_not_customers_but_a_stranger_is(tmp_path, staff):
    deactivated = User.objects.create_user(
        "gone@example.com", name="Gone", role="staff"
    )
    deactivated.is_active = False
    deactivated.save()
    path = calendar(
        tmp_path,
        event(
            "visit-1",
            ":20250610T090000Z",
            "SUMMARY:Site visit",
            ORGANIZER,
            "ATTENDEE:mailto:desk@example.com",
            "ATTENDEE;CN=Sam:mailto:sam@example.com",
            "ATTENDEE:mailto:gone@example.com",
            "ATTENDEE;CUTYPE=ROOM;CN=Van 2:mailto:van2@example.com",
            'ATTENDEE;CN="Ola Nordmann":mailto:ola@example.org',
        ),
    )

    report = import_path(path)

    ola = Party.objects.get()
    assert ola.display_name == "Ola Nordmann"
    assert [b.party for b in bookings()] == [ola]
    assert report.created["person"] == 1


def test_an_event_of_staff_only_is_reported_with_its_place(tmp_path, staff):
    path = calendar(
        tmp_path,
        event("lunch", ":20250610T120000Z", "SUMMARY:Team lunch", ORGANIZER),
        event(
            "standup",
            ":20250611T080000Z",
            ORGANIZER,
            "ATTENDEE:mailto:sam@example.com",
        ),
    )

    report = import_path(path)

    assert not bookings()
    assert report.skipped == 2
    lunch, standup = report.problems
    assert lunch.line == 4
    assert lunch.message.startswith("VEVENT 1 (UID lunch): no customer")
    assert standup.message.startswith("VEVENT 2 (UID standup): no customer")
    assert "every attendee is one of your own people" in standup.message
    assert "no attendee besides its organizer" in lunch.message


def test_a_second_import_creates_nothing(tmp_path):
    path = calendar(
        tmp_path,
        event(
            "weekly",
            ";TZID=Europe/London:20250602T100000",
            "RRULE:FREQ=WEEKLY;COUNT=3",
            "SUMMARY:Piano lesson",
            "ATTENDEE;CN=Ann Pupil:mailto:ann@example.com",
        ),
    )
    import_path(path)

    again = import_path(path)

    assert len(bookings()) == 3
    assert Event.objects.filter(kind=Kind.BOOKING).count() == 3
    assert Party.objects.count() == 1
    assert again.created_text() == "nothing new"


def test_a_moved_occurrence_corrects_its_booking(tmp_path):
    series = event(
        "weekly",
        ";TZID=Europe/London:20250602T100000",
        "RRULE:FREQ=WEEKLY;COUNT=3",
        "SUMMARY:Piano lesson",
        "ATTENDEE;CN=Ann Pupil:mailto:ann@example.com",
    )
    import_path(calendar(tmp_path, series))
    moved = event(
        "weekly",
        ";TZID=Europe/London:20250610T150000",
        "RECURRENCE-ID;TZID=Europe/London:20250609T100000",
        "SUMMARY:Piano lesson (moved)",
        "ATTENDEE;CN=Ann Pupil:mailto:ann@example.com",
    )

    report = import_path(calendar(tmp_path, series, moved, name="diary2.ics"))

    shown = bookings()
    assert [b.scheduled_for.isoformat() for b in shown] == [
        "2025-06-02T09:00:00+00:00",
        "2025-06-10T14:00:00+00:00",
        "2025-06-16T09:00:00+00:00",
    ]
    assert shown[1].summary == "Piano lesson (moved)"
    assert shown[1].corrects is not None
    assert report.created["booking"] == 0
    assert report.created["booking change"] == 1


def test_cancelled_and_removed_occurrences_cancel_their_bookings(tmp_path):
    series = event(
        "weekly",
        ";TZID=Europe/London:20250602T100000",
        "RRULE:FREQ=WEEKLY;COUNT=4",
        "SUMMARY:Piano lesson",
        "ATTENDEE:mailto:ann@example.com",
    )
    import_path(calendar(tmp_path, series))
    cancelled = event(
        "weekly",
        ";TZID=Europe/London:20250609T100000",
        "RECURRENCE-ID;TZID=Europe/London:20250609T100000",
        "STATUS:CANCELLED",
        "SUMMARY:Piano lesson",
        "ATTENDEE:mailto:ann@example.com",
    )
    trimmed = series.replace(
        "COUNT=4", "COUNT=4\r\nEXDATE;TZID=Europe/London:20250616T100000"
    )

    report = import_path(calendar(tmp_path, trimmed, cancelled, name="diary2.ics"))

    statuses = [b.payload["status"] for b in bookings()]
    assert statuses == ["booked", "cancelled", "cancelled", "booked"]
    assert report.created["booking cancellation"] == 2


def test_a_cancelled_event_never_imported_is_left_out(tmp_path):
    path = calendar(
        tmp_path,
        event(
            "off",
            ":20250610T090000Z",
            "STATUS:CANCELLED",
            "ATTENDEE:mailto:ann@example.com",
        ),
    )

    report = import_path(path)

    assert not bookings()
    assert report.created["cancelled occurrence"] == 1


def test_floating_times_are_read_in_the_business_zone_and_said_so(tmp_path, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    path = calendar(
        tmp_path,
        event(
            "floating",
            ":20250610T090000",
            "ATTENDEE:mailto:ann@example.com",
            end=":20250610T100000",
        ),
    )

    report = import_path(path)

    [booking] = bookings()
    assert booking.scheduled_for == dt.datetime(2025, 6, 10, 7, tzinfo=dt.UTC)
    assert booking.occurred_tz == "Europe/Berlin"
    [note] = report.problems
    assert not note.skipped
    assert "no time zone (floating)" in note.message
    assert "Europe/Berlin" in note.message


def test_all_day_booking_stores_its_days(tmp_path):
    path = calendar(
        tmp_path,
        event(
            "holiday-let",
            ";VALUE=DATE:20250606",
            "SUMMARY:Cottage",
            "ATTENDEE:mailto:ann@example.com",
            end=";VALUE=DATE:20250609",
        ),
    )

    import_path(path)

    [booking] = bookings()
    assert booking.payload["all_day"] is True
    assert booking.payload["first_day"] == "2025-06-06"
    assert booking.payload["last_day"] == "2025-06-08"


def test_an_endless_series_is_cut_and_the_cut_reported(tmp_path):
    path = calendar(
        tmp_path,
        event(
            "daily",
            ":20250601T080000Z",
            "RRULE:FREQ=DAILY",
            "ATTENDEE:mailto:ann@example.com",
        ),
    )
    [daily] = read_calendar(path).events

    expansion = daily.expand(limit=5)

    assert expansion.cut
    assert [o.starts_at.day for o in expansion.occurrences] == [1, 2, 3, 4, 5]
    assert "goes on past 5 occurrences" in expansion.notes[0]


def test_an_unreadable_event_is_reported_and_the_rest_imported(tmp_path):
    path = calendar(
        tmp_path,
        event("no-start", "", "ATTENDEE:mailto:ann@example.com").replace(
            "DTSTART\r\n", ""
        ),
        event("fine", ":20250610T090000Z", "ATTENDEE:mailto:ann@example.com"),
    )

    report = import_path(path)

    assert len(bookings()) == 1
    [problem] = report.problems
    assert problem.skipped
    assert problem.message.startswith("VEVENT 1 (UID no-start): cannot be read")


def test_a_file_that_is_not_a_calendar_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "broken.ics"
    path.write_text("BEGIN:VCALENDAR\r\nX\r\nEND:VCALENDAR\r\n")

    with pytest.raises(InvalidInput, match="cannot be read as an iCalendar file"):
        import_path(path)
    assert not Party.objects.exists()


@pytest.mark.parametrize(
    ("cut_after", "ends"),
    [
        (
            b"ATTENDEE:mailto:ann@example.com\r\n",
            "the VEVENT begun on line 4, with no END:VEVENT or END:VCALENDAR",
        ),
        (b"END:VEVENT\r\n", "the VCALENDAR begun on line 1, with no END:VCALENDAR"),
    ],
    ids=["inside an event", "after an event"],
)
def test_a_calendar_cut_short_is_refused_saying_so(tmp_path, cut_after, ends):
    whole = calendar(
        tmp_path,
        event("one", ":20250610T090000Z", "ATTENDEE:mailto:ann@example.com"),
    ).read_bytes()
    path = tmp_path / "cut.ics"
    path.write_bytes(whole[: whole.index(cut_after) + len(cut_after)])

    with pytest.raises(InvalidInput) as refused:
        import_path(path)

    assert refused.value.message == (
        f"cut.ics is cut short: it ends inside {ends}. Export the calendar "
        "again from its app and import the new file."
    )
    assert not bookings() and not Party.objects.exists()


@pytest.mark.parametrize(
    "content", [bytes(range(256)) * 16, b""], ids=["random bytes", "empty"]
)
def test_a_file_with_no_calendar_in_it_is_refused(tmp_path, content):
    path = tmp_path / "x.ics"
    path.write_bytes(content.replace(b"BEGIN", b"begun"))

    with pytest.raises(InvalidInput, match=r"^x\.ics holds no calendar \(no line"):
        import_path(path)
    assert not Party.objects.exists()


def test_garbage_quoted_from_a_calendar_is_short_and_printable(tmp_path):
    path = tmp_path / "junk.ics"
    junk = b"\x1b[2J\x07\xff\xfe" + bytes(range(128, 256)) * 8
    path.write_bytes(b"BEGIN:VCALENDAR\r\n" + junk + b"\r\nEND:VCALENDAR\r\n")

    with pytest.raises(InvalidInput) as refused:
        import_path(path)

    message = refused.value.message
    assert message.startswith("junk.ics cannot be read as an iCalendar file (")
    assert message.isprintable() and "\ufffd" not in message
    quoted = message.split("(", 1)[1].rsplit(")", 1)[0]
    assert len(quoted) <= 100


def test_a_dry_run_books_nothing(tmp_path):
    path = calendar(
        tmp_path,
        event("one", ":20250610T090000Z", "ATTENDEE:mailto:ann@example.com"),
    )

    report = import_path(path, dry_run=True)

    assert report.created["booking"] == 1
    assert not Event.objects.exists()
    assert not Party.objects.exists()


def test_a_zone_defined_only_by_its_vtimezone_gives_the_right_instant(tmp_path):
    path = tmp_path / "custom.ics"
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:Office time\r\n"
        "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\n"
        "TZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
        "END:STANDARD\r\n"
        "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\n"
        "TZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
        "END:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nUID:custom-zone\r\nDTSTAMP:20250101T000000Z\r\n"
        "DTSTART;TZID=Office time:20250710T090000\r\n"
        "ATTENDEE:mailto:ann@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    import_path(path)

    [booking] = bookings()
    assert booking.scheduled_for == dt.datetime(2025, 7, 10, 7, tzinfo=dt.UTC)


def test_google_calendar_zone_names_the_zone_of_utc_times(tmp_path):
    path = calendar(
        tmp_path,
        event(
            "google",
            ":20250710T080000Z",
            "ATTENDEE:mailto:ann@example.com",
        ),
    )
    zone = b"PRODID:-//Test//EN\r\nX-WR-TIMEZONE:Europe/Paris\r\n"
    path.write_bytes(path.read_bytes().replace(b"PRODID:-//Test//EN\r\n", zone))

    import_path(path)

    [booking] = bookings()
    assert booking.scheduled_for == dt.datetime(2025, 7, 10, 8, tzinfo=dt.UTC)
    assert booking.occurred_tz == "Europe/Paris"


def test_an_event_outside_what_bookings_may_hold_is_reported(tmp_path):
    path = calendar(
        tmp_path,
        event("old", ":18500610T090000Z", "ATTENDEE:mailto:ann@example.com"),
    )

    report = import_path(path)

    assert not bookings()
    [problem] = report.problems
    assert problem.skipped
    assert "it takes place before 1900" in problem.message


def test_an_event_that_becomes_a_series_keeps_its_first_booking(tmp_path):
    single = event(
        "lessons",
        ";TZID=Europe/London:20250602T100000",
        "SUMMARY:Piano lesson",
        "ATTENDEE:mailto:ann@example.com",
    )
    import_path(calendar(tmp_path, single))
    first = bookings()[0]

    series = single.replace("SUMMARY:", "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:")
    import_path(calendar(tmp_path, series, name="diary2.ics"))

    shown = bookings()
    assert len(shown) == 3
    assert shown[0].pk == first.pk
