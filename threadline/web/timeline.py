"""One page of a party's timeline, newest first, by keyset pagination.

The page after the last one shown starts strictly below the (occurred_at, id)
of its last row, so every page is one indexed range scan on
(party, -occurred_at, -id) and costs the same however long the history is.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from threadline.accounts.models import User
from threadline.parties.models import Party
from threadline.timeline.models import Event, EventQuerySet

logger = logging.getLogger(__name__)

PAGE_SIZE = 20
HIDDEN_LINK = "Linked to or from a customer you do not have access to"
# Cursors count whole microseconds from here, so they round-trip exactly.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Cursor:
    occurred_at: dt.datetime
    event_id: int

    def encode(self) -> str:
        micros = (self.occurred_at - EPOCH) // dt.timedelta(microseconds=1)
        return f"{micros}_{self.event_id}"

    @classmethod
    def decode(cls, text: str) -> "Cursor | None":
        """Read a cursor from a URL; None for anything malformed."""
        if not text:
            return None
        stamp, _, key = text.partition("_")
        try:
            moment = EPOCH + dt.timedelta(microseconds=int(stamp))
            return cls(occurred_at=moment, event_id=int(key))
        except (ValueError, OverflowError):
            logger.debug("Ignored a malformed timeline cursor %r", text)
            return None


@dataclass(frozen=True)
class TimelinePage:
    events: list[Event]
    older: Cursor | None


def timeline_page(
    party: Party,
    *,
    kind: str = "",
    before: Cursor | None = None,
    until: dt.datetime | None = None,
    size: int = PAGE_SIZE,
    viewer: User | None = None,
) -> TimelinePage:
    """Return up to `size` effective events and the cursor of the next page.

    With `until`, the timeline is shown as it stood then: entries recorded
    later are left out, and corrections made later are not yet applied.
    """
    events = _as_it_stood(until).filter(party=party)
    if kind:
        events = events.filter(kind=kind)
    if before is not None:
        events = events.filter(
            Q(occurred_at__lt=before.occurred_at)
            | Q(occurred_at=before.occurred_at, id__lt=before.event_id)
        )

    rows = list(events.order_by("-occurred_at", "-id")[: size + 1])
    if viewer is not None:
        _mask_hidden_links(rows, viewer)
    if len(rows) <= size:
        return TimelinePage(events=rows, older=None)
    last = rows[size - 1]
    return TimelinePage(events=rows[:size], older=Cursor(last.occurred_at, last.id))


def _mask_hidden_links(events: list[Event], viewer: User) -> None:
    """Blank out entries naming a linked party the viewer may not see.

    A link's entry names both parties in its summary; once one of them is
    restricted, the other's timeline must not show its name. One query for
    the whole page, and none when the page links nobody.
    """
    linked = {event.pk: _linked_parties(event) for event in events}
    mentioned = set().union(*linked.values()) if linked else set()
    if not mentioned:
        return
    visible = {
        str(key)
        for key in Party.objects.visible_to(viewer)
        .filter(public_id__in=mentioned)
        .values_list("public_id", flat=True)
    }
    for event in events:
        if linked[event.pk] - visible:
            event.summary = HIDDEN_LINK
            event.payload = {}


def _linked_parties(event: Event) -> set[str]:
    changes = event.payload.get("changes") if isinstance(event.payload, dict) else None
    ends: set[str] = set()
    for change in changes or []:
        if change.get("field") != "relationship":
            continue
        for side in (change.get("old"), change.get("new")):
            if isinstance(side, dict):
                ends.update(str(side[key]) for key in ("from", "to") if side.get(key))
    return ends


def _as_it_stood(until: dt.datetime | None) -> EventQuerySet:
    if until is None:
        return Event.objects.effective()
    later = Event.objects.filter(corrects=OuterRef("pk"), recorded_at__lte=until)
    return Event.objects.filter(
        ~Exists(later), occurred_at__lte=until, recorded_at__lte=until
    )
