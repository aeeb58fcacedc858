"""Importing iCalendar files: each event becomes a booking on its customers.

An event is booked on the party of every attendee who is a customer: not the
organizer, and not one of the business's own people (any user, active or
deactivated). An attendee address no party has becomes a new person named
by the invitation's CN. An event with no customer is reported with its place
in the file, never dropped in silence: a booking without a customer (an
office closure, a team meeting) has no timeline to go on.

A booking is keyed by the event's UID, the occurrence's original start in a
series, and the attendee's email. So a second import creates nothing, a
moved or renamed occurrence corrects its booking, and a cancelled one (by
STATUS:CANCELLED, or gone from a series it was imported from) is marked
cancelled.
"""

import hashlib
import logging
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.utils import timezone

from threadline.accounts.models import User
from threadline.errors import InvalidInput
from threadline.parties.models import ContactKind, ContactPoint, Party
from threadline.parties.names import clean_line, clean_text
from threadline.parties.services import create_party
from threadline.parties.suppression import ERASED_ROW, erased_among
from threadline.timeline.kinds import BookingPayload, Kind
from threadline.timeline.models import Event
from threadline.timeline.services import correct_event, latest_version, record_event
from threadline.transfer.calendar_reading import (
    BROKEN_EVENT,
    Attendee,
    CalendarEvent,
    Occurrence,
    read_calendar,
)
from threadline.transfer.excerpts import error_text
from threadline.transfer.progress import Progress
from threadline.transfer.report import ImportReport
from threadline.transfer.runs import import_actor, undone_runs
from threadline.transfer.visibility import HIDDEN_MATCH, is_hidden
from threadline.transfer.writing import LeftOut, SkipRow, import_transaction, write_rows

if TYPE_CHECKING:
    from threadline.transfer.importer import ImportOptions

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "icalendar"
# Parts of a booking's key longer than this are replaced by a digest, so the
# whole key fits the 300 characters of an external id.
KEY_PART_CHARS = 120
# What an event's writing counts when it books anything.
BOOKING_COUNTS = frozenset(
    {"booking", "booking change", "booking cancellation", "cancelled occurrence"}
)


def import_calendar(options: "ImportOptions") -> ImportReport:
    """Import the events of a .ics file as bookings; return what was done."""
    calendar = read_calendar(options.path)
    report = ImportReport(
        file=calendar.name,
        mapping="iCalendar",
        description=_events_text(len(calendar.events)),
        dry_run=options.dry_run,
    )
    for note in calendar.notes:
        report.problem(0, note, skipped=False)

    options.progress.start(len(calendar.events), calendar.name)
    with import_transaction(options.dry_run):
        writer = BookingWriter(calendar.name, report, options.source)
        report.rows = len(calendar.events)
        rows = writer.bookable(calendar.events, options.progress)
        write_rows(rows, writer.write, report, options.progress)
    report.report_undone_before()
    options.progress.finish()
    # Events without customers are reported as they are read, the rest as
    # they are written; the report reads in file order.
    report.problems.sort(key=lambda problem: problem.line)

    logger.info(
        "Import of %s: %d of %d events booked%s",
        calendar.name,
        report.rows_used,
        report.rows,
        " (dry run)" if options.dry_run else "",
    )
    return report


class BookingWriter:
    """Writes the events of one calendar file as bookings."""

    def __init__(self, file_name: str, report: ImportReport, source: str = "") -> None:
        self.source = f"import:{source or DEFAULT_SOURCE}"[:100]
        self.actor = import_actor(file_name)
        self.report = report
        self.staff = {
            email.lower() for email in User.objects.values_list("email", flat=True)
        }
        self.parties: dict[str, Party] = {}
        # The events earlier imports booked, by the first part of their keys,
        # so an event never imported before costs no look-up.
        keys = Event.objects.filter(source=self.source).values_list(
            "external_id", flat=True
        )
        self.imported = {key.partition("|")[0] for key in keys.iterator()}
        self.undone_runs = undone_runs()

    def bookable(
        self, events: list[CalendarEvent], progress: Progress
    ) -> Iterator[tuple[int, CalendarEvent]]:
        """Yield the events that have a customer, reporting the others here:
        most of a business's calendar is its own meetings, and refusing them
        inside write_rows would cost a savepoint each."""
        for event in events:
            invitees, notes = event.invitees()
            if self._customers(invitees):
                yield event.line, event
                continue
            # Shortcoming: an event is on a party's timeline, so a closure or a
            # team meeting cannot be stored until bookings may have no party.
            message = f"{event.position}: {_no_customer(invitees, notes)}"
            self.report.problem(event.line, message, skipped=True)
            progress.advance()

    def write(self, event: CalendarEvent) -> None:
        """Book one event on its customers; raise SkipRow when it cannot be
        read. Counts and new parties are kept only once it is all written,
        since a refused event is rolled back whole."""
        invitees, notes = event.invitees()
        customers = self._customers(invitees)
        if not customers:
            raise SkipRow(f"{event.position}: {_no_customer(invitees, notes)}")
        try:
            expansion = event.expand()
        except BROKEN_EVENT as error:
            reason = error_text(error)
            raise SkipRow(f"{event.position}: cannot be read ({reason})") from error
        if not expansion.occurrences:
            reasons = "; ".join(expansion.notes) or "it has no occurrence to book"
            raise SkipRow(f"{event.position}: {reasons}")

        booking = _EventBooking(self, event)
        try:
            for person in customers:
                booking.party_for(person)
            for occurrence in expansion.occurrences:
                booking.book(occurrence)
            booking.cancel_vanished(expansion.occurrences, cut=expansion.cut)
        except InvalidInput as error:
            raise SkipRow(f"{event.position}: {error.message.rstrip('.')}") from error

        if booking.undone and not booking.counts.keys() & BOOKING_COUNTS:
            # Every booking of the event was made by an undone import.
            self.report.undone_before.update(booking.undone)
            raise LeftOut("booked before by an import that was undone")
        self.parties |= booking.parties
        self.report.created += booking.counts
        self.report.undone_before.update(booking.undone)
        for note in notes + expansion.notes:
            self.report.problem(event.line, f"{event.position}: {note}", skipped=False)

    def _customers(self, invitees: list[Attendee]) -> list[Attendee]:
        return [person for person in invitees if person.email not in self.staff]


class _EventBooking:
    """The bookings of one event, read and written together."""

    def __init__(self, writer: BookingWriter, event: CalendarEvent) -> None:
        self.writer = writer
        self.event = event
        self.prefix = _key_part(event.key) + "|"
        self.parties: dict[str, Party] = {}
        self.counts: Counter[str] = Counter()
        self.now = timezone.now()
        # What earlier imports booked for this event, read once, by key. The
        # database's prefix match may ignore case; keys must match exactly.
        self.known: dict[str, Event] = {}
        if self.prefix[:-1] in writer.imported:
            known = Event.objects.filter(
                source=writer.source, external_id__startswith=self.prefix
            )
            self.known = {
                event.external_id: event
                for event in known
                if event.external_id.startswith(self.prefix)
            }
        self.booked: set[str] = set()
        # Bookings left out, by the undone import that made them.
        self.undone: Counter[int] = Counter()

    def party_for(self, person: Attendee) -> Party:
        """The party an attendee's email belongs to, or a new person."""
        party = self.writer.parties.get(person.email) or self.parties.get(person.email)
        if party is not None:
            return party
        point = (
            ContactPoint.objects.filter(
                kind=ContactKind.EMAIL,
                value=person.email,
                party__archived_at__isnull=True,
            )
            .select_related("party")
            .order_by("id")
            .first()
        )
        if point is not None and is_hidden(point.party):
            raise InvalidInput(HIDDEN_MATCH)
        if point is not None:
            party = point.party
        elif erased_among([person.email]):
            raise InvalidInput(ERASED_ROW)
        else:
            party = create_party(
                self.writer.actor,
                display_name_text=person.name or person.email,
                emails=[person.email],
                source=self.writer.source,
            )
            self.counts["person"] += 1
            self.counts["contact point"] += 1
        self.parties[person.email] = party
        return party

    def book(self, occurrence: Occurrence) -> None:
        """Record, correct or cancel the occurrence's booking per customer."""
        for person in occurrence.attendees:
            party = self.parties.get(person.email)
            if party is None:
                # Invited to this occurrence alone, or one of the staff.
                if person.email in self.writer.staff:
                    continue
                party = self.party_for(person)
            key = self._key(occurrence, person)
            self.booked.add(key)
            known = self.known.get(key)
            if known is None:
                self._record(party, occurrence, key)
            elif known.actor_label in self.writer.undone_runs:
                # The undo removed it, and its key keeps it so.
                self.undone[self.writer.undone_runs[known.actor_label]] += 1
            else:
                self._correct(known, occurrence)

    def cancel_vanished(self, occurrences: list[Occurrence], *, cut: bool) -> None:
        """Cancel the bookings an earlier import made for occurrences (or
        attendees) the event no longer has, within the span read this time."""
        last = occurrences[-1].starts_at if cut else None
        for key, known in self.known.items():
            if key in self.booked:
                continue
            if last is not None and known.scheduled_for and known.scheduled_for > last:
                continue
            current = _current(known)
            if current is None or current.payload.get("status") == "cancelled":
                continue
            correct_event(
                current,
                actor=self.writer.actor,
                payload={"status": "cancelled"},
            )
            self.counts["booking cancellation"] += 1

    def _record(self, party: Party, occurrence: Occurrence, key: str) -> None:
        if occurrence.cancelled:
            self.counts["cancelled occurrence"] += 1
            return
        _, created = record_event(
            party,
            Kind.BOOKING,
            occurrence.summary,
            actor=self.writer.actor,
            occurred_at=min(occurrence.starts_at, self.now),
            occurred_tz=occurrence.zone,
            payload=occurrence.payload(),
            body=occurrence.description,
            source=self.writer.source,
            external_id=key,
        )
        self.counts["booking"] += created

    def _correct(self, known: Event, occurrence: Occurrence) -> None:
        # The calendar wins: a change staff made to the booking is corrected
        # back when the calendar says otherwise, as a new visible version.
        current = _current(known)
        if current is None or _same(current, occurrence):
            return
        correct_event(
            current,
            actor=self.writer.actor,
            summary=occurrence.summary,
            payload=occurrence.payload(),
            body=occurrence.description,
        )
        if occurrence.cancelled:
            self.counts["booking cancellation"] += 1
        else:
            self.counts["booking change"] += 1

    def _key(self, occurrence: Occurrence, person: Attendee) -> str:
        """The occurrence's booking key; for an event that became a series
        (or a series cut back to one event), the key of the booking made
        for the same start under the other form."""
        email = "|" + _key_part(person.email)
        key = f"{self.prefix}{occurrence.recurrence}{email}"
        if key in self.known:
            return key
        for other, known in self.known.items():
            same_start = known.scheduled_for == occurrence.starts_at
            if other.endswith(email) and other not in self.booked and same_start:
                return other
        return key


def _current(event: Event) -> Event | None:
    """The version of a booking the timeline shows; None if staff removed it,
    which an import leaves as it is."""
    try:
        return latest_version(event)
    except InvalidInput:
        return None


def _same(current: Event, occurrence: Occurrence) -> bool:
    """Whether a booking already says what the occurrence says. Times are
    compared as instants, whatever offset they were written with."""
    stored = BookingPayload.model_validate(current.payload)
    wanted = BookingPayload.model_validate(occurrence.payload())
    return (
        stored == wanted
        and current.summary == clean_line(occurrence.summary)
        and current.body == clean_text(occurrence.description)
    )


def _key_part(text: str) -> str:
    if len(text) <= KEY_PART_CHARS:
        return text
    return "sha256-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _no_customer(invitees: list[Attendee], notes: list[str]) -> str:
    """Why an event has no one to book, in words a person can act on."""
    if invitees:
        reason = "every attendee is one of your own people"
    elif notes:
        reason = "; ".join(notes)
    else:
        reason = (
            "it lists no attendee besides its organizer, who is taken to be one "
            "of your own people"
        )
    return (
        f"no customer to book it for ({reason}). Add the customer as an "
        "attendee in the calendar, or log the booking on the customer's page"
    )


def _events_text(count: int) -> str:
    return f"{count:,} event" if count == 1 else f"{count:,} events"
