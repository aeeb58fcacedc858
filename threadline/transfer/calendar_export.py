"""Writing bookings and follow-ups as iCalendar, for a download or a feed.

Both become VEVENTs. Google Calendar shows no VTODO from a subscribed or
imported file, and Apple Calendar sends tasks to Reminders, where a feed's
do not appear; an event at the due time is what both put in front of the
person. Every item's UID is built from a public id that never changes (a
booking's first version, since a correction is a new row), so a calendar
app that fetches the file again updates its copy instead of adding another.

The text says what the item is and for whom, with a link to the customer's
page; notes and message bodies stay in Threadline, since a calendar copy
lives outside its access rules.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import icalendar
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from threadline.accounts.models import User
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.parties.models import Party
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event, EventQuerySet

logger = logging.getLogger(__name__)

PRODUCT_ID = "-//Threadline//Bookings and follow-ups//EN"
UID_DOMAIN = "threadline"
# A follow-up is a moment, not a meeting; a quarter of an hour makes it a
# block calendar apps draw large enough to read and tap.
FOLLOW_UP_LENGTH = dt.timedelta(minutes=15)
FEED_PAST = dt.timedelta(days=30)
FEED_AHEAD = dt.timedelta(days=365)

PartyLink = Callable[[Party], str]


@dataclass(frozen=True)
class CalendarItems:
    """What goes into one calendar file: bookings (their current versions,
    with the first version's public id) and follow-ups."""

    bookings: list[tuple[Event, str]]
    follow_ups: list[FollowUp]


def party_items(party: Party) -> CalendarItems:
    """A party's bookings and open follow-ups; the caller has checked that
    the person asking may see the party."""
    bookings = _bookings(Event.objects.filter(party=party))
    follow_ups = FollowUp.objects.filter(party=party, status=FollowUpStatus.OPEN)
    return CalendarItems(
        bookings=_with_first_ids(bookings),
        follow_ups=list(follow_ups.select_related("party")),
    )


def feed_items(user: User, now: dt.datetime | None = None) -> CalendarItems:
    """A user's calendar feed: their open follow-ups and the bookings on
    every party they may see, from FEED_PAST ago to FEED_AHEAD ahead."""
    moment = now or timezone.now()
    # Follow-ups share the window: one overdue by more than FEED_PAST drops
    # out of the calendar (Today still lists it).
    start, end = moment - FEED_PAST, moment + FEED_AHEAD
    visible = Exists(Party.objects.visible_to(user).filter(pk=OuterRef("party_id")))
    bookings = _bookings(
        Event.objects.filter(visible, scheduled_for__gte=start, scheduled_for__lt=end)
    )
    follow_ups = FollowUp.objects.filter(
        visible,
        assignee=user,
        status=FollowUpStatus.OPEN,
        due_at__gte=start,
        due_at__lt=end,
    )
    return CalendarItems(
        bookings=_with_first_ids(bookings),
        follow_ups=list(follow_ups.select_related("party").order_by("due_at", "id")),
    )


def write_calendar(items: CalendarItems, *, name: str, link: PartyLink) -> bytes:
    """Return the items as an .ics file named `name` in calendar apps;
    `link` gives the address of a party's page."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODUCT_ID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-CALNAME", name)
    stamp = timezone.now()
    for booking, first_id in items.bookings:
        calendar.add_component(_booking_event(booking, first_id, stamp, link))
    for follow_up in items.follow_ups:
        calendar.add_component(_follow_up_event(follow_up, stamp, link))
    return calendar.to_ical()


def _bookings(events: EventQuerySet) -> QuerySet[Event]:
    """Bookings as the timeline shows them that have a time to put them at."""
    return (
        events.effective()
        .filter(kind=Kind.BOOKING, scheduled_for__isnull=False)
        .select_related("party")
        .order_by("scheduled_for", "id")
    )


def _with_first_ids(bookings: Iterable[Event]) -> list[tuple[Event, str]]:
    """Pair each booking with its first version's public id, reading one
    level of corrections per query."""
    listed = list(bookings)
    first: dict[int, int] = {event.pk: event.pk for event in listed}
    parent = {event.pk: event.corrects_id for event in listed if event.corrects_id}
    while parent:
        rows = Event.objects.filter(pk__in=set(parent.values())).values_list(
            "pk", "corrects_id"
        )
        older = dict(rows)
        for pk, earlier in parent.items():
            first[pk] = earlier
        parent = {
            pk: older[earlier]
            for pk, earlier in parent.items()
            if older.get(earlier) is not None
        }
    ids = dict(
        Event.objects.filter(pk__in=set(first.values())).values_list("pk", "public_id")
    )
    return [(event, str(ids[first[event.pk]])) for event in listed]


def _booking_event(
    booking: Event, first_id: str, stamp: dt.datetime, link: PartyLink
) -> icalendar.Event:
    payload = booking.payload
    event = icalendar.Event()
    event.add("UID", f"booking-{first_id}@{UID_DOMAIN}")
    event.add("DTSTAMP", stamp)
    event.add("LAST-MODIFIED", booking.recorded_at)
    event.add("SUMMARY", f"{booking.summary} · {booking.party.display_name}")
    if payload.get("all_day") and payload.get("first_day"):
        first = dt.date.fromisoformat(payload["first_day"])
        last = dt.date.fromisoformat(payload.get("last_day") or payload["first_day"])
        event.add("DTSTART", first)
        event.add("DTEND", last + dt.timedelta(days=1))
    else:
        assert booking.scheduled_for is not None
        event.add("DTSTART", booking.scheduled_for.astimezone(dt.UTC))
        if payload.get("ends_at"):
            ends_at = dt.datetime.fromisoformat(payload["ends_at"])
            event.add("DTEND", ends_at.astimezone(dt.UTC))
    if payload.get("site"):
        event.add("LOCATION", payload["site"])
    cancelled = payload.get("status") == "cancelled"
    event.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
    _link(event, booking.party, "Booking", link)
    return event


def _follow_up_event(
    follow_up: FollowUp, stamp: dt.datetime, link: PartyLink
) -> icalendar.Event:
    event = icalendar.Event()
    event.add("UID", f"follow-up-{follow_up.public_id}@{UID_DOMAIN}")
    event.add("DTSTAMP", stamp)
    event.add("LAST-MODIFIED", follow_up.updated_at)
    event.add(
        "SUMMARY", f"Follow-up: {follow_up.summary} · {follow_up.party.display_name}"
    )
    due = follow_up.due_at.astimezone(dt.UTC)
    event.add("DTSTART", due)
    event.add("DTEND", due + FOLLOW_UP_LENGTH)
    event.add("STATUS", "CONFIRMED")
    _link(event, follow_up.party, "Follow-up", link)
    return event


def _link(event: icalendar.Event, party: Party, what: str, link: PartyLink) -> None:
    address = link(party)
    event.add("URL", address)
    event.add(
        "DESCRIPTION",
        f"{what} for {party.display_name}.\nOpen in Threadline: {address}",
    )
