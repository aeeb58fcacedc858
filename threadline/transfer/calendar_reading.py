"""Reading iCalendar files into events and the times they take place.

Nothing here touches the record; the importer decides who an event is for.
Every time comes out aware: a TZID (with its VTIMEZONE or a known name), UTC,
or floating, which is read in the business's time zone and said so. An
all-day event is a run of dates, floating, with DTEND exclusive. A series
(RRULE, RDATE, EXDATE and RECURRENCE-ID overrides) is expanded by
recurring_ical_events from its start up to the booking horizon, and cut
after SERIES_LIMIT occurrences.
"""

import datetime as dt
import hashlib
import logging
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events
import x_wr_timezone
from django.conf import settings
from django.utils import timezone

from threadline.errors import InvalidInput
from threadline.parties.contact_points import normalise_email
from threadline.parties.names import clean_line
from threadline.timeline.kinds import EARLIEST_YEAR, PLAN_AHEAD
from threadline.transfer.excerpts import error_text, excerpt

logger = logging.getLogger(__name__)

# A daily booking for a year: a longer series is cut there, and the cut is
# reported, so one endless rule cannot flood a timeline or stall an import.
# Shortcoming: counting from DTSTART, a series begun years ago may be cut
# before today; kept so re-imports see the same window, until one is asked for.
SERIES_LIMIT = 366
# Attendees that are places or equipment, not people to book.
NOT_PEOPLE = frozenset({"ROOM", "RESOURCE"})
SUMMARY_CHARS = 500
SITE_CHARS = 300
FALLBACK_SUMMARY = "Booking from a calendar"
# The library's errors for a broken event are all ValueErrors; comparing a
# date with a time of day in one series raises TypeError, a year past 9999
# OverflowError.
BROKEN_EVENT = (ValueError, TypeError, OverflowError)
EXPORT_AGAIN = "Export the calendar again from its app and import the new file."
BOM = "\ufeff"
# Enough of a component's name (VCALENDAR, VEVENT, X-...) to quote it.
COMPONENT_CHARS = 30


@dataclass(frozen=True)
class Attendee:
    """Someone invited to an event, by normalised email."""

    email: str
    name: str


@dataclass(frozen=True)
class Occurrence:
    """One time an event takes place, as it reads at that time."""

    # The occurrence's original start in a series (its RECURRENCE-ID), which
    # stays the same when the occurrence is moved; empty for a single event.
    recurrence: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    zone: str
    all_day: bool
    first_day: dt.date | None
    last_day: dt.date | None
    cancelled: bool
    summary: str
    location: str
    description: str
    attendees: tuple[Attendee, ...]

    def payload(self) -> dict[str, Any]:
        """The booking payload this occurrence is recorded with."""
        return {
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "site": self.location,
            "status": "cancelled" if self.cancelled else "booked",
            "all_day": self.all_day,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
        }


@dataclass
class Expansion:
    """An event's occurrences within the window, and what to tell about them."""

    occurrences: list[Occurrence]
    notes: list[str] = field(default_factory=list)
    # True when the series went on past SERIES_LIMIT occurrences.
    cut: bool = False


@dataclass
class CalendarEvent:
    """A VEVENT, or a series: the VEVENTs that share a UID in one calendar."""

    number: int
    line: int
    uid: str
    components: list[icalendar.Event]
    # The VTIMEZONEs of the event's calendar, shared by all its events.
    zones: list[icalendar.Component]
    floating_zone: zoneinfo.ZoneInfo
    calendar_zone: str = ""
    # The address the calendar is named after (Google names a person's
    # calendar by their email): its owner, one of the business's own people.
    owner: str = ""
    # What reading the times ran into ("floating", "backwards"), told once.
    _seen: set[str] = field(default_factory=set, init=False, repr=False)

    @property
    def position(self) -> str:
        """How the report names the event: its place in the file and its UID."""
        return f"VEVENT {self.number} (UID {self.uid or 'missing'})"

    @property
    def key(self) -> str:
        """What finds this event again on the next import: its UID, or for an
        event without one, a digest of its start and summary."""
        if self.uid:
            return self.uid
        first = self.components[0]
        text = f"{first.get('DTSTART', '')!r}{first.get('SUMMARY', '')}"
        return "nouid-" + hashlib.sha256(text.encode()).hexdigest()[:24]

    @property
    def is_series(self) -> bool:
        return any(
            "RRULE" in part or "RDATE" in part or "RECURRENCE-ID" in part
            for part in self.components
        )

    def invitees(self) -> tuple[list[Attendee], list[str]]:
        """Everyone the event's components invite who may be a customer, and
        notes on the attendees that were left out."""
        found: dict[str, Attendee] = {}
        notes: list[str] = []
        for part in self.components:
            attendees, left_out = _attendees(part, self.owner)
            for attendee in attendees:
                found.setdefault(attendee.email, attendee)
            notes += [note for note in left_out if note not in notes]
        return list(found.values()), notes

    def expand(self, limit: int = SERIES_LIMIT) -> Expansion:
        """Return the event's occurrences from its start to the horizon.

        Raises ValueError, with a message for the report, when the event
        cannot be read.
        """
        self._seen.clear()
        expansion = self._series(limit) if self.is_series else self._single()
        if not self.uid:
            expansion.notes.append(
                "it has no UID, so a later import finds it by its start and summary"
            )
        expansion.notes += [TIME_NOTES[name](self) for name in sorted(self._seen)]
        return expansion

    def _single(self) -> Expansion:
        # The same UID twice without RECURRENCE-ID: the latest version counts.
        latest = max(
            enumerate(self.components),
            key=lambda pair: (_sequence(pair[1]), pair[0]),
        )[1]
        notes = []
        if len(self.components) > 1:
            notes.append(
                f"its UID appears {len(self.components)} times; the last version "
                "(highest SEQUENCE) was used"
            )
        occurrence = self._occurrence(latest, "")
        if not _in_window(occurrence, _horizon()):
            notes.append(f"it takes place {_outside_window()}")
            return Expansion([], notes)
        return Expansion([occurrence], notes)

    def _series(self, limit: int) -> Expansion:
        if any(_date_value(part, "DTSTART") is None for part in self.components):
            raise ValueError("a VEVENT of its series has no usable start (DTSTART)")
        query = recurring_ical_events.of(self._own_calendar())
        horizon = _horizon()
        found: dict[str, Occurrence] = {}
        outside: set[str] = set()
        for component in _windows(query, self._earliest(), horizon, limit):
            recurrence = _recurrence_id(component)
            if recurrence in found or recurrence in outside:
                continue
            occurrence = self._occurrence(component, recurrence)
            if _in_window(occurrence, horizon):
                found[recurrence] = occurrence
            else:
                outside.add(recurrence)

        ordered = sorted(found.values(), key=lambda occurrence: occurrence.starts_at)
        occurrences, cut = ordered[:limit], len(ordered) > limit
        notes = []
        if outside:
            notes.append(
                f"{len(outside)} of its occurrences were left out: they take "
                f"place {_outside_window()}"
            )
        if cut:
            notes.append(
                f"the series goes on past {limit} occurrences; those up to "
                f"{occurrences[-1].starts_at:%d %b %Y} were imported, the rest "
                "left out"
            )
        return Expansion(occurrences, notes, cut)

    def _own_calendar(self) -> icalendar.Calendar:
        """A calendar of this event alone, with the time zones it may use."""
        own = icalendar.Calendar()
        for zone in self.zones:
            own.add_component(zone)
        for part in self.components:
            own.add_component(part)
        if self.calendar_zone:
            return x_wr_timezone.to_standard(own, timezone=self.calendar_zone)
        return own

    def _earliest(self) -> dt.datetime:
        """A moment before every start and RECURRENCE-ID of the series."""
        moments = []
        for part in self.components:
            for name in ("DTSTART", "RECURRENCE-ID"):
                value = _date_value(part, name)
                if value is not None:
                    moments.append(_naive_utc(value))
        if not moments:
            raise ValueError("it has no start time (DTSTART)")
        return min(moments) - dt.timedelta(days=1)

    def _occurrence(self, part: icalendar.Event, recurrence: str) -> Occurrence:
        start = part.start
        end = part.end
        if isinstance(start, dt.datetime) != isinstance(end, dt.datetime):
            raise ValueError("its start and end mix a date with a time of day")
        if isinstance(start, dt.datetime):
            assert isinstance(end, dt.datetime)
            starts_at, zone = self._aware(start)
            ends_at, _ = self._aware(end)
            if ends_at < starts_at:
                self._seen.add("backwards")
            times: dict[str, Any] = {
                "starts_at": starts_at,
                "ends_at": ends_at if ends_at > starts_at else None,
                "zone": zone,
                "all_day": False,
                "first_day": None,
                "last_day": None,
            }
        else:
            times = self._days(start, end)
        return Occurrence(
            recurrence=recurrence,
            cancelled=str(part.get("STATUS", "")).upper() == "CANCELLED",
            summary=_text(part, "SUMMARY", SUMMARY_CHARS) or FALLBACK_SUMMARY,
            location=_text(part, "LOCATION", SITE_CHARS),
            description=str(part.get("DESCRIPTION", "")).strip(),
            attendees=tuple(_attendees(part, self.owner)[0]),
            **times,
        )

    def _days(self, start: dt.date, end: dt.date) -> dict[str, Any]:
        """An all-day event's dates: DTEND is the first day it no longer holds.

        Its start is midnight in the business's zone, which is where Today
        lists it: at 00:00, on its first day only (Today reads one time).
        """
        stop = end if end > start else start + dt.timedelta(days=1)
        zone = self.floating_zone
        return {
            "starts_at": dt.datetime.combine(start, dt.time.min, tzinfo=zone),
            "ends_at": dt.datetime.combine(stop, dt.time.min, tzinfo=zone),
            "zone": zone.key,
            "all_day": True,
            "first_day": start,
            "last_day": stop - dt.timedelta(days=1),
        }

    def _aware(self, moment: dt.datetime) -> tuple[dt.datetime, str]:
        """The moment with a zone, and the zone's name to record it in."""
        if moment.tzinfo is None:
            self._seen.add("floating")
            return moment.replace(tzinfo=self.floating_zone), self.floating_zone.key
        key = getattr(moment.tzinfo, "key", "")
        if key and key != "UTC" and _known_zone(key):
            return moment, key
        if self.calendar_zone:
            return moment, self.calendar_zone
        if moment.utcoffset() == dt.timedelta(0):
            return moment, "UTC"
        # A zone defined only by the file's VTIMEZONE, under a name no zone
        # database knows: the moment is right, the zone's name is ours.
        return moment, self.floating_zone.key


@dataclass
class CalendarFile:
    """The events of one file, in file order, and notes about the file."""

    name: str
    events: list[CalendarEvent]
    notes: list[str] = field(default_factory=list)


TIME_NOTES = {
    "backwards": lambda event: "it ends before it starts; its start alone was kept",
    "floating": lambda event: (
        "its times have no time zone (floating); they were read in "
        f"{event.floating_zone.key}, the business's time zone "
        "(THREADLINE_TIME_ZONE)"
    ),
}


def read_calendar(path: Path, floating_zone: str | None = None) -> CalendarFile:
    """Read a .ics file; raise InvalidInput for one that is not iCalendar or
    is cut short.

    `floating_zone` is the zone times without one are read in, by default
    the business's (THREADLINE_TIME_ZONE).
    """
    data = path.read_bytes()
    _require_whole_calendar(path.name, data)
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except ValueError as error:
        raise InvalidInput(
            f"{path.name} cannot be read as an iCalendar file "
            f"({error_text(error)}). {EXPORT_AGAIN}"
        ) from error

    zone = zoneinfo.ZoneInfo(floating_zone or settings.TIME_ZONE)
    lines = _vevent_lines(data)
    result = CalendarFile(name=path.name, events=[])
    number = 0
    for calendar in calendars:
        calendar_zone = _calendar_zone(calendar, result.notes)
        owner = _calendar_owner(calendar, result.notes)
        zones = [part for part in calendar.subcomponents if part.name == "VTIMEZONE"]
        by_uid: dict[str, CalendarEvent] = {}
        for part in calendar.walk("VEVENT"):
            if not isinstance(part, icalendar.Event):
                continue
            number += 1
            uid = str(part.get("UID", "")).strip()
            known = by_uid.get(uid) if uid else None
            if known is not None:
                known.components.append(part)
                continue
            event = CalendarEvent(
                number=number,
                line=lines[number - 1] if number <= len(lines) else 0,
                uid=uid,
                components=[part],
                zones=zones,
                floating_zone=zone,
                calendar_zone=calendar_zone,
                owner=owner,
            )
            by_uid[uid or f"#{number}"] = event
        result.events += by_uid.values()
    if not result.events:
        result.notes.append("the file holds no events (VEVENT) to import")
    logger.debug("Read %d events from %s", len(result.events), path.name)
    return result


def _require_whole_calendar(name: str, data: bytes) -> None:
    """Raise InvalidInput for a file that holds no calendar or is cut short.

    The parser says neither: it reads no calendar at all from both, or trips
    over the cut line, and the file would import as empty.
    """
    begins_any, unclosed = _outline(_decoded(data))
    if not begins_any:
        raise InvalidInput(
            f"{name} holds no calendar (no line reads BEGIN:VCALENDAR, nor "
            f"begins any other part of one). {EXPORT_AGAIN}"
        )
    if unclosed:
        # A damaged file can name a component anything, controls included.
        names = [excerpt(begun, COMPONENT_CHARS) for begun, _ in unclosed]
        begun_on = unclosed[-1][1]
        ends = " or ".join(f"END:{begun}" for begun in reversed(names))
        raise InvalidInput(
            f"{name} is cut short: it ends inside the {names[-1]} begun on line "
            f"{begun_on}, with no {ends}. {EXPORT_AGAIN}"
        )


def _outline(text: str) -> tuple[bool, list[tuple[str, int]]]:
    """Whether a line begins a component (a calendar, or an event alone, which
    the parser reads too); and the components begun but not ended where the
    text ends, outermost first, each with its BEGIN line."""
    begins_any = False
    unclosed: list[tuple[str, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        # A line that starts with white space continues the one before it.
        word, _, component = line.rstrip().lstrip(BOM).upper().partition(":")
        if word == "BEGIN":
            begins_any = True
            unclosed.append((component, number))
        elif word == "END" and component in (begun for begun, _ in unclosed):
            # An END closes what it names and anything left open inside it.
            while unclosed.pop()[0] != component:
                continue
    return begins_any, unclosed


def _attendees(
    part: icalendar.Event, owner: str = ""
) -> tuple[list[Attendee], list[str]]:
    """The people a component invites, less its organizer, the calendar's
    owner, rooms and those who declined; and a note on each address that
    could not be used."""
    organizer = _address(part.get("ORGANIZER"))
    values = part.get("ATTENDEE", [])
    found: list[Attendee] = []
    notes: list[str] = []
    for value in values if isinstance(values, list) else [values]:
        params = getattr(value, "params", {})
        if str(params.get("CUTYPE", "")).upper() in NOT_PEOPLE:
            continue
        email = _address(value)
        if not email:
            notes.append(f"the attendee {str(value)!r} has no usable email address")
            continue
        if email in (organizer, owner):
            continue
        if str(params.get("PARTSTAT", "")).upper() == "DECLINED":
            notes.append(f"{email} declined, so is not booked")
            continue
        found.append(Attendee(email=email, name=clean_line(str(params.get("CN", "")))))
    return found, notes


def _address(value: Any) -> str:
    """A CAL-ADDRESS as a normalised email, or "" when it holds none."""
    if value is None:
        return ""
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    try:
        return normalise_email(text)
    except InvalidInput:
        return ""


def _calendar_owner(calendar: icalendar.Calendar, notes: list[str]) -> str:
    """The email a calendar is named after (X-WR-CALNAME), if it is one."""
    owner = _address(str(calendar.get("X-WR-CALNAME", "")).strip() or None)
    if owner:
        notes.append(
            f"the calendar is named after {owner}, taken to be its owner and one "
            "of your own people, so not booked as a customer"
        )
    return owner


def _calendar_zone(calendar: icalendar.Calendar, notes: list[str]) -> str:
    """The zone named by X-WR-TIMEZONE (Google's exports), if it is known."""
    name = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if not name or _known_zone(name):
        return name
    notes.append(f"its X-WR-TIMEZONE {name!r} is not a known time zone; ignored")
    return ""


def _known_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _recurrence_id(part: icalendar.Event) -> str:
    """The RECURRENCE-ID the expander puts on every occurrence, as text that
    does not depend on the zone it was written in."""
    value = _date_value(part, "RECURRENCE-ID")
    if value is None:
        raise ValueError("an occurrence of its series has no RECURRENCE-ID")
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y%m%dT%H%M%S")
    return value.strftime("%Y%m%d")


def _date_value(part: icalendar.Event, name: str) -> dt.date | None:
    """A date or date-time property's value; None when missing or broken."""
    value = getattr(part.get(name), "dt", None)
    return value if isinstance(value, dt.date) else None


def _naive_utc(value: dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time.min)
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _windows(
    query: recurring_ical_events.CalendarQuery,
    earliest: dt.datetime,
    horizon: dt.datetime,
    limit: int,
) -> Iterator[icalendar.Event]:
    """Yield a series' occurrences window by window, from an hour wide and
    doubling, until the horizon or once more than `limit` have come.

    Occurrences are built only for the windows asked for, so an endless rule
    costs about `limit` of them; one that spans two windows comes twice.
    """
    start = earliest
    end_of_all = _naive_utc(horizon)
    width = dt.timedelta(hours=1)
    seen = 0
    while start < end_of_all and seen <= limit:
        end = min(start + width, end_of_all)
        batch = query.between(start, end)
        seen += len(batch)
        yield from batch
        start, width = end, width * 2


def _horizon() -> dt.datetime:
    """The latest start a booking may have (a day inside the record's limit,
    which is checked again when the booking is written)."""
    return timezone.now() + PLAN_AHEAD - dt.timedelta(days=1)


def _in_window(occurrence: Occurrence, horizon: dt.datetime) -> bool:
    return occurrence.starts_at.year >= EARLIEST_YEAR and (
        occurrence.starts_at <= horizon
    )


def _outside_window() -> str:
    years = PLAN_AHEAD.days // 365
    return (
        f"before {EARLIEST_YEAR} or more than {years} years ahead, outside "
        "what bookings may hold"
    )


def _sequence(part: icalendar.Event) -> int:
    try:
        return int(part.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        return 0


def _text(part: icalendar.Event, name: str, limit: int) -> str:
    return clean_line(str(part.get(name, "")))[:limit]


def _vevent_lines(data: bytes) -> list[int]:
    """The line numbers of the file's BEGIN:VEVENT lines, in order."""
    return [
        number
        for number, line in enumerate(_decoded(data).splitlines(), start=1)
        if line.strip().upper() == "BEGIN:VEVENT"
    ]


def _decoded(data: bytes) -> str:
    """The file's text, for finding lines by number; the parser reads it."""
    return data.decode("utf-8", errors="replace")
