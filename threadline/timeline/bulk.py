"""Recording many events at once: the batch form of record_event.

Each event is validated exactly as record_event validates it, by the same
payload schemas, before any is written. The batch is then written with one
statement, idempotent on (source, external_id) through the unique constraint
(INSERT ... ON CONFLICT DO NOTHING), and each party it touched has its last
interaction and awaiting reply refreshed once, by the same rules.
"""

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone

from threadline.errors import InvalidInput, NotFound
from threadline.inserts import Inserter, RowForm, Updater
from threadline.parties.models import Party
from threadline.public_ids import new_bulk_public_id
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import CONTACT_KINDS, Kind
from threadline.timeline.models import Event
from threadline.timeline.services import _validated_fields, awaiting_inbound

logger = logging.getLogger(__name__)

# What an event draft holds, in the driver's form, and what its writing
# adds: the columns of the insert, in this order.
DRAFT_COLUMNS = (
    "public_id",
    "kind",
    "occurred_at",
    "occurred_tz",
    "summary",
    "body",
    "payload",
    "direction",
    "scheduled_for",
    "source",
    "external_id",
)
WRITTEN_COLUMNS = ("party", "recorded_at", "actor_kind", "actor_user", "actor_label")
_KIND, _SOURCE, _EXTERNAL_ID = (
    DRAFT_COLUMNS.index(name) for name in ("kind", "source", "external_id")
)


@dataclass(frozen=True)
class NewEvent:
    """One event to record, with the arguments record_event takes.

    `party` is None for a party prepared but not saved yet; its time zone
    is then given to prepare_draft.
    """

    party: Party | None
    kind: str
    summary: str
    source: str = ""
    external_id: str = ""
    occurred_at: dt.datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class EventDraft:
    """A validated event, as the row it stores (DRAFT_COLUMNS in the
    database driver's form), for a party that may not be saved yet."""

    row: tuple[Any, ...]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A frozen dataclass loads from a pickle through setattr, several
        # times slower than through its constructor.
        return EventDraft, (self.row,)

    @property
    def kind(self) -> str:
        return str(self.row[_KIND])

    @property
    def key(self) -> tuple[str, str] | None:
        """Its (source, external id), which no other event has; None if it
        has no external id."""
        external_id = self.row[_EXTERNAL_ID]
        return (self.row[_SOURCE], external_id) if external_id else None

    @property
    def public_id(self) -> str:
        return str(self.row[0])

    def on(self, party_id: int) -> "PreparedEvent":
        """The event on the party, saved since with this id."""
        return PreparedEvent(party_id, self)


@dataclass(frozen=True)
class PreparedEvent:
    """A validated event on a saved party, ready to be written."""

    party_id: int
    draft: EventDraft

    @property
    def key(self) -> tuple[str, str] | None:
        return self.draft.key


@cache
def _draft_form() -> RowForm:
    return RowForm(Event, DRAFT_COLUMNS)


def prepare_event(new: NewEvent) -> PreparedEvent:
    """Validate one event on a saved party as record_event would; raise
    InvalidInput if it is not valid."""
    assert new.party is not None
    return prepare_draft(new).on(new.party.pk)


def prepare_draft(new: NewEvent, party_time_zone: str = "") -> EventDraft:
    """Validate one event as record_event would, for a party that may not be
    saved yet (of time zone `party_time_zone`); raise InvalidInput if it is
    not valid. Needs no database connection."""
    fields = _validated_fields(
        new.party.time_zone if new.party is not None else party_time_zone,
        new.kind,
        new.summary,
        new.occurred_at,
        "",
        new.payload,
        new.body,
    )
    if bool(new.source) != bool(new.external_id):
        raise InvalidInput("Give both a source and an external id, or neither.")
    row = (
        new_bulk_public_id(),
        str(fields["kind"]),
        fields["occurred_at"],
        fields["occurred_tz"],
        fields["summary"],
        fields["body"],
        fields["payload"],
        fields["direction"],
        fields["scheduled_for"],
        new.source,
        new.external_id,
    )
    return EventDraft(_draft_form().of(row))


def record_events(actor: Actor, events: Sequence[NewEvent]) -> list[bool]:
    """Record the events; return, for each, whether it is new.

    Raises InvalidInput for the first invalid event, NotAllowed or NotFound
    for an actor who may not write them, and then writes nothing.
    """
    actor.require_write()
    require_all_visible(actor, {new.party.pk for new in events if new.party})
    return record_prepared(actor, [prepare_event(new) for new in events])


def record_prepared(actor: Actor, events: Sequence[PreparedEvent]) -> list[bool]:
    """Write validated events; an event whose key exists already is not new.

    The caller has checked the actor's right to write to every party.
    """
    recorded = _recorded_keys(event.key for event in events if event.key)
    created: list[bool] = []
    fresh: list[PreparedEvent] = []
    for event in events:
        key = event.key
        is_new = key is None or key not in recorded
        if key is not None:
            recorded.add(key)
        created.append(is_new)
        if is_new:
            fresh.append(event)

    stored = _insert(actor, fresh)
    if stored != len(fresh):
        # Another writer recorded some of the keys between the check and the
        # insert; find which of ours the database kept.
        created = _confirm(events, created, fresh)

    refresh_activity(
        {
            event.party_id
            for event, new in zip(events, created, strict=True)
            if new and event.draft.kind in CONTACT_KINDS
        }
    )
    return created


def require_all_visible(actor: Actor, party_ids: set[int]) -> None:
    """The batch form of require_visible: one query for every party."""
    if actor.sees_everything:
        return
    assert actor.user is not None
    visible = Party.objects.visible_to(actor.user).filter(pk__in=party_ids)
    if visible.count() != len(party_ids):
        raise NotFound("No such customer, or you do not have access to it.")


def refresh_activity(party_ids: Iterable[int]) -> None:
    """Recompute last interaction and awaiting reply of many parties.

    The same rules as refresh_party_activity, in two queries and one
    batched update instead of three queries and an update per party.
    """
    ids = sorted(set(party_ids))
    if not ids:
        return

    # One grouped query: the latest contact, inbound message and reply.
    contacts = Event.objects.effective().filter(
        party_id__in=ids, kind__in=CONTACT_KINDS
    )
    found = {
        row["party_id"]: (row["latest"], row["inbound"], row["reply"])
        for row in contacts.order_by()
        .values("party_id")
        .annotate(
            latest=Max("occurred_at"),
            inbound=Max("occurred_at", filter=awaiting_inbound()),
            reply=Max(
                "occurred_at",
                filter=Q(direction="outbound") | Q(kind__in=[Kind.MEETING, Kind.VISIT]),
            ),
        )
    }
    stored = Party.objects.filter(pk__in=ids).values_list(
        "pk", "last_interaction_at", "awaiting_reply_since"
    )
    rows = []
    for party_id, *current in stored:
        latest, latest_inbound, reply = found.get(party_id, (None, None, None))
        awaiting = latest_inbound
        if latest_inbound is not None and reply is not None and reply > latest_inbound:
            awaiting = None
        # Only changed rows are written: an old event leaves the party as it
        # was, and an unchanged page costs the write-ahead log nothing.
        if current != [latest, awaiting]:
            rows.append((latest, awaiting, party_id))
    # One statement for the batch; bulk_update would build a CASE per party.
    Updater(Party, ("last_interaction_at", "awaiting_reply_since"), where="id").update(
        rows
    )


def _recorded_keys(keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in keys:
        by_source[source].append(external_id)
    found: set[tuple[str, str]] = set()
    for source, external_ids in by_source.items():
        rows = Event.objects.filter(source=source, external_id__in=external_ids)
        found.update(
            (source, key) for key in rows.values_list("external_id", flat=True)
        )
    return found


def _insert(actor: Actor, fresh: list[PreparedEvent]) -> int:
    inserter = Inserter(Event, DRAFT_COLUMNS + WRITTEN_COLUMNS, ignore_conflicts=True)
    now = RowForm(Event, ("recorded_at",)).of((timezone.now(),))[0]
    user_id = actor.user.pk if actor.user is not None else None
    written = (now, actor.kind, user_id, actor.label[:200])
    return inserter.insert_formed(
        [(*event.draft.row, event.party_id, *written) for event in fresh]
    )


def _confirm(
    events: Sequence[PreparedEvent],
    created: list[bool],
    fresh: list[PreparedEvent],
) -> list[bool]:
    ours = [event.draft.public_id for event in fresh]
    kept = {
        public_id.hex
        for public_id in Event.objects.filter(public_id__in=ours).values_list(
            "public_id", flat=True
        )
    }
    mine = {id(event) for event in fresh if event.draft.public_id in kept}
    return [
        new and id(event) in mine for event, new in zip(events, created, strict=True)
    ]
