"""Creating many parties at once: the batch forms of create_party and
add_relationship.

Each party is validated as create_party validates it and gets the same
contact points (normalised, the first of each kind primary), tags, "created"
profile change and search keys; only the writing is batched, a few
statements for the whole batch instead of a dozen per party. Relationships
likewise get the rows and "linked" events add_relationship writes.

A prepared party is the rows it will store, already in the database
driver's form, so that it can be prepared in another process (an import
reads and prepares its rows in one while it writes in another) and written
here with nothing left to convert.
"""

import datetime as dt
import enum
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import uuid_utils
from django.db import models, transaction
from django.utils import timezone

from threadline.errors import InvalidInput
from threadline.inserts import Inserter, RowForm
from threadline.parties.contact_points import normalise_email, normalise_phone
from threadline.parties.models import (
    ContactKind,
    ContactPoint,
    Party,
    PartyKind,
    Relationship,
)
from threadline.parties.names import clean_line, display_name, fold
from threadline.parties.services import (
    _change_entry,
    _relationship_ref,
    _tag,
    _validated_fields,
    require_linkable,
)
from threadline.public_ids import new_bulk_public_id
from threadline.search.services import index_terms, party_terms
from threadline.timeline.actors import Actor
from threadline.timeline.bulk import (
    EventDraft,
    NewEvent,
    PreparedEvent,
    prepare_draft,
    prepare_event,
    record_prepared,
    require_all_visible,
)
from threadline.timeline.kinds import Kind

logger = logging.getLogger(__name__)

PARTY_COLUMNS = (
    "public_id",
    "kind",
    "display_name",
    "given_name",
    "family_name",
    "sort_name",
    "stage",
    "stage_changed_at",
    "owner_changed_at",
    "owner",
    "preferred_channel",
    "contact_hours",
    "language",
    "time_zone",
    "consent",
    "restricted",
    "birthday",
    "photo_type",
    "archived_reason",
    "source",
    "external_id",
    "created_at",
    "updated_at",
)
RELATIONSHIP_COLUMNS = (
    "public_id",
    "from_party",
    "to_party",
    "kind",
    "role",
    "started_on",
    "created_at",
    "updated_at",
)
# The party comes last: it is added when the party has been written.
POINT_COLUMNS = (
    "public_id",
    "kind",
    "label",
    "raw",
    "value",
    "extension",
    "dialable",
    "is_primary",
    "is_service_site",
    "created_at",
    "updated_at",
    "party",
)
_SOURCE, _EXTERNAL_ID, _TIME_ZONE = (
    PARTY_COLUMNS.index(name) for name in ("source", "external_id", "time_zone")
)


@dataclass(frozen=True)
class NewParty:
    """One party to create, with the arguments create_party takes."""

    display_name_text: str = ""
    given_name: str = ""
    family_name: str = ""
    # Each contact point is its text, its text and a label such as "work",
    # or a Normalised point read earlier through the same functions.
    emails: Sequence["PointInput"] = ()
    phones: Sequence["PointInput"] = ()
    addresses: Sequence["PointInput"] = ()
    tags: Sequence[str] = ()
    source: str = ""
    external_id: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Normalised:
    """A contact point as typed and as normalise_email or normalise_phone
    made it, so that a caller who normalised it already does not pay twice."""

    raw: str
    value: str
    label: str = ""
    extension: str = ""
    dialable: bool = True


PointInput = str | tuple[str, str] | Normalised


@dataclass
class NewPoint:
    """A contact point as _add_point stores it, not yet written."""

    kind: str
    raw: str
    value: str
    extension: str
    dialable: bool
    label: str
    is_primary: bool
    public_id: uuid.UUID | uuid_utils.UUID = field(default_factory=new_bulk_public_id)

    def ref(self) -> dict[str, Any]:
        """The point as a profile change names it, like _point_ref."""
        return {
            "id": str(self.public_id),
            "kind": self.kind,
            "value": self.value,
            "raw": self.raw,
            "extension": self.extension,
            "label": self.label,
            "service_site": False,
        }

    def row(self, when: dt.datetime) -> tuple[Any, ...]:
        """Its POINT_COLUMNS but the party, in the driver's form."""
        return _point_form().of(
            (
                self.public_id,
                self.kind,
                self.label,
                self.raw,
                self.value,
                self.extension,
                self.dialable,
                self.is_primary,
                False,
                when,
                when,
                None,
            )
        )[:-1]


@dataclass
class PreparedParty:
    """A validated party as the rows it stores, in the driver's form: its
    PARTY_COLUMNS, its contact points' POINT_COLUMNS but the party, its
    tags, its search keys and its "created" profile change. `pk` is set
    when it has been written."""

    row: tuple[Any, ...]
    points: list[tuple[Any, ...]]
    tags: list[str]
    terms: list[str]
    created: EventDraft
    pk: int | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Through the constructor: several times faster to load than the
        # attributes one by one.
        return PreparedParty, (
            self.row,
            self.points,
            self.tags,
            self.terms,
            self.created,
        )

    @property
    def public_id(self) -> str:
        """Its public id, as 32 hex digits."""
        return str(self.row[0])

    @property
    def key(self) -> tuple[str, str] | None:
        """Its (source, external id), which no other party has; None if it
        has no external id."""
        external_id = self.row[_EXTERNAL_ID]
        return (self.row[_SOURCE], external_id) if external_id else None

    @property
    def time_zone(self) -> str:
        """Its time zone's name; empty for the business's."""
        return str(self.row[_TIME_ZONE])

    @property
    def written_pk(self) -> int:
        """Its primary key, once written."""
        if self.pk is None:
            raise ValueError(f"party {self.public_id} has not been written")
        return self.pk


def prepare_party(new: NewParty, now: dt.datetime | None = None) -> PreparedParty:
    """Validate one party as create_party would; raise InvalidInput if not.

    Needs no database connection.
    """
    name = display_name(new.given_name, new.family_name, new.display_name_text)
    if not name:
        raise InvalidInput("Give the customer a name.", field="display_name")
    values = _validated_fields(dict(new.fields))
    when = now or timezone.now()

    owner = values.get("owner")
    columns = {
        **_column_defaults(),
        **values,
        "public_id": new_bulk_public_id(),
        "display_name": name[:300],
        "given_name": clean_line(new.given_name)[:150],
        "family_name": clean_line(new.family_name)[:150],
        "sort_name": fold(name)[:300],
        "stage_changed_at": when,
        "owner": owner.pk if owner is not None else None,
        "owner_changed_at": when if owner is not None else None,
        "source": new.source,
        "external_id": new.external_id,
        "created_at": when,
        "updated_at": when,
    }
    points = _points(new)
    tags = [tag for tag in (clean_line(tag).lower()[:50] for tag in new.tags) if tag]
    kind = PartyKind(columns["kind"]).label
    created = prepare_draft(
        NewEvent(
            None,
            Kind.PROFILE_CHANGE,
            f"Created {str(kind).lower()} {columns['display_name']}",
            occurred_at=when,
            payload={"changes": _created_changes(name, values, points, tags)},
        ),
        party_time_zone=columns["time_zone"],
    )
    terms = party_terms(columns["display_name"], [(p.kind, p.value) for p in points])
    row = _party_form().of([columns[column] for column in PARTY_COLUMNS])
    return PreparedParty(
        row, [point.row(when) for point in points], tags, terms, created
    )


def _created_changes(
    name: str, values: dict[str, Any], points: list[NewPoint], tags: list[str]
) -> list[dict[str, Any]]:
    """What create_party's "created" event lists, in its order."""
    changes: list[dict[str, Any]] = [
        {"field": "display_name", "old": None, "new": name}
    ]
    changes += [_change_entry(key, None, value) for key, value in values.items()]
    changes += [{"field": "contact_point", "new": point.ref()} for point in points]
    changes += [{"field": "tag", "new": name} for name in tags]
    return changes


@cache
def _column_defaults() -> dict[str, Any]:
    """Each of PARTY_COLUMNS with the value a new party has unless told,
    as plain values (a choice's text, not its member)."""
    defaults = {}
    for column in PARTY_COLUMNS:
        model_field = Party._meta.get_field(column)
        assert isinstance(model_field, models.Field)
        made_anew = model_field.has_default() and callable(model_field.default)
        value = None if made_anew else model_field.get_default()
        defaults[column] = value.value if isinstance(value, enum.Enum) else value
    return defaults


@cache
def _party_form() -> RowForm:
    return RowForm(Party, PARTY_COLUMNS)


@cache
def _point_form() -> RowForm:
    return RowForm(ContactPoint, POINT_COLUMNS)


def create_parties(actor: Actor, parties: Sequence[PreparedParty]) -> list[int]:
    """Create validated parties; a (source, external id) seen before gives
    the party created first, as create_party does.

    Returns the parties' primary keys, in the order given.
    """
    actor.require_write()
    existing = _existing(parties)
    first: dict[tuple[str, str], PreparedParty] = {}
    to_create: list[PreparedParty] = []
    for prepared in parties:
        key = prepared.key
        if key is not None and (key in existing or key in first):
            continue
        if key is not None:
            first[key] = prepared
        to_create.append(prepared)

    _insert_parties(to_create)
    _insert_points(to_create)
    _tag_parties(to_create)
    _record_created(actor, to_create)
    index_terms((prepared.written_pk, prepared.terms) for prepared in to_create)
    logger.debug("Created %d parties in one batch", len(to_create))
    return [_pk_of(prepared, existing, first) for prepared in parties]


def _pk_of(
    prepared: PreparedParty,
    existing: dict[tuple[str, str], int],
    first: dict[tuple[str, str], PreparedParty],
) -> int:
    key = prepared.key
    if prepared.pk is not None or key is None:
        pk = prepared.pk
    else:
        pk = existing[key] if key in existing else first[key].pk
    assert pk is not None
    return pk


@dataclass(frozen=True)
class NewRelationship:
    """One relationship to add, with the arguments add_relationship takes."""

    from_party: Party
    to_party: Party
    kind: str
    role: str = ""
    started_on: dt.date | None = None


def add_relationships(
    actor: Actor,
    links: Sequence[NewRelationship],
    *,
    occurred_at: dt.datetime | None = None,
) -> list[Relationship]:
    """Add relationships between saved parties, each with the event on both
    parties that add_relationship records.

    Raises NotAllowed, NotFound or InvalidInput (for the first link that
    add_relationship would refuse) before anything is written. Returns the
    relationships in the order given, with their primary keys.
    """
    actor.require_write()
    require_all_visible(
        actor,
        {party.pk for link in links for party in (link.from_party, link.to_party)},
    )
    for link in links:
        require_linkable(link.from_party, link.to_party, link.kind)
    now = timezone.now()
    relationships = [
        Relationship(
            from_party=link.from_party,
            to_party=link.to_party,
            kind=link.kind,
            role=link.role.strip()[:100],
            started_on=link.started_on,
            created_at=now,
            updated_at=now,
        )
        for link in links
    ]

    with transaction.atomic():
        _insert_relationships(relationships)
        record_prepared(
            actor,
            [event for link in relationships for event in _linked(link, occurred_at)],
        )
    logger.debug("Added %d relationships in one batch", len(relationships))
    return relationships


def _insert_relationships(relationships: list[Relationship]) -> None:
    if not relationships:
        return
    Inserter(Relationship, RELATIONSHIP_COLUMNS).insert(
        (
            link.public_id,
            link.from_party_id,
            link.to_party_id,
            link.kind,
            link.role,
            link.started_on,
            link.created_at,
            link.updated_at,
        )
        for link in relationships
    )
    ids = _ids_by_public_id(
        Relationship, [link.public_id.hex for link in relationships]
    )
    for link in relationships:
        link.pk = ids[link.public_id.hex]
        link._state.adding = False


def _linked(
    relationship: Relationship, occurred_at: dt.datetime | None
) -> list[PreparedEvent]:
    """The events add_relationship records on both parties of a link."""
    ref = _relationship_ref(relationship)
    return [
        prepare_event(
            NewEvent(
                party,
                Kind.PROFILE_CHANGE,
                f"Linked: {relationship}",
                occurred_at=occurred_at,
                payload={"changes": [{"field": "relationship", "new": ref}]},
            )
        )
        for party in (relationship.from_party, relationship.to_party)
    ]


def _points(new: NewParty) -> list[NewPoint]:
    """The party's contact points as _add_point would store them."""
    points: list[NewPoint] = []
    seen: set[tuple[str, str, str]] = set()
    # Points come grouped by kind, so the first of a kind follows another.
    kinds_seen: list[str] = []
    for kind, entries in (
        (ContactKind.EMAIL, new.emails),
        (ContactKind.PHONE, new.phones),
        (ContactKind.ADDRESS, new.addresses),
    ):
        for entry in entries:
            point = _normalised(kind, entry)
            key = (kind, point.value[:500], point.extension)
            if key in seen:
                continue
            points.append(
                NewPoint(
                    kind=kind.value,
                    raw=point.raw.strip()[:500],
                    value=key[1],
                    extension=point.extension,
                    dialable=point.dialable,
                    label=point.label.strip()[:50],
                    is_primary=not kinds_seen or kinds_seen[-1] != kind,
                )
            )
            seen.add(key)
            kinds_seen.append(kind)
    return points


def _normalised(kind: str, entry: PointInput) -> Normalised:
    if isinstance(entry, Normalised):
        return entry
    raw, label = (entry, "") if isinstance(entry, str) else entry
    text = raw.strip()
    if not text:
        raise InvalidInput("The contact point is empty.", field="raw")
    if kind == ContactKind.EMAIL:
        return Normalised(text, normalise_email(text), label)
    if kind == ContactKind.PHONE:
        parts = normalise_phone(text)
        return Normalised(text, parts.value, label, parts.extension, parts.dialable)
    return Normalised(text, " ".join(text.split()), label)


def _existing(parties: Sequence[PreparedParty]) -> dict[tuple[str, str], int]:
    """The primary keys of the parties stored already under the keys of
    `parties`."""
    keys = {prepared.key for prepared in parties if prepared.key is not None}
    found: dict[tuple[str, str], int] = {}
    for source in {source for source, _ in keys}:
        wanted = [
            external_id for key_source, external_id in keys if key_source == source
        ]
        stored = Party.objects.filter(source=source, external_id__in=wanted)
        for external_id, pk in stored.values_list("external_id", "pk"):
            found[(source, external_id)] = pk
    return found


def _insert_parties(parties: list[PreparedParty]) -> None:
    if not parties:
        return
    Inserter(Party, PARTY_COLUMNS).insert_formed([prepared.row for prepared in parties])
    ids = _ids_by_public_id(Party, [prepared.public_id for prepared in parties])
    for prepared in parties:
        prepared.pk = ids[prepared.public_id]


def _ids_by_public_id(
    model: type[Party] | type[Relationship], public_ids: list[str]
) -> dict[str, int]:
    """The primary keys the database chose for inserted rows, by their
    public ids as 32 hex digits."""
    rows = model.objects.filter(public_id__in=public_ids).values_list("public_id", "pk")
    return {public_id.hex: pk for public_id, pk in rows}


def _insert_points(parties: list[PreparedParty]) -> None:
    Inserter(ContactPoint, POINT_COLUMNS).insert_formed(
        [(*point, prepared.pk) for prepared in parties for point in prepared.points]
    )


def _tag_parties(parties: list[PreparedParty]) -> None:
    names = {name for prepared in parties for name in prepared.tags}
    tags = {name: tag for name in sorted(names) if (tag := _tag(name)) is not None}
    through = Party.tags.through
    rows = {
        (prepared.pk, tags[name].pk) for prepared in parties for name in prepared.tags
    }
    Inserter(through, ("party", "tag")).insert(sorted(rows))


def _record_created(actor: Actor, parties: list[PreparedParty]) -> None:
    record_prepared(
        actor, [prepared.created.on(prepared.written_pk) for prepared in parties]
    )
