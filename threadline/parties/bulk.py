"""Creating many parties at once: the batch forms of create_party and
add_relationship.

Each party is validated as create_party validates it and gets the same
contact points (normalised, the first of each kind primary), tags, "created"
profile change and search keys; only the writing is batched, a few
statements for the whole batch instead of a dozen per party. Relationships
likewise get the rows and "linked" events add_relationship writes.
"""

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from operator import attrgetter
from typing import Any

from django.db import transaction
from django.utils import timezone

from threadline.errors import InvalidInput
from threadline.inserts import Inserter
from threadline.parties.contact_points import normalise_email, normalise_phone
from threadline.parties.models import ContactKind, ContactPoint, Party, Relationship
from threadline.parties.names import clean_line, display_name, fold
from threadline.parties.services import (
    _change_entry,
    _relationship_ref,
    _tag,
    _validated_fields,
    require_linkable,
)
from threadline.public_ids import new_public_id
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
POINT_COLUMNS = (
    "public_id",
    "party",
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
    public_id: uuid.UUID = field(default_factory=new_public_id)

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


_point_values = attrgetter(*(each.name for each in fields(NewPoint)))


@dataclass
class PreparedParty:
    """A validated party, its contact points, its search keys and the
    "created" profile change, not yet written."""

    party: Party
    points: list["NewPoint"]
    tags: list[str]
    terms: list[str]
    # The "created" event, for a party that has no id yet.
    created: EventDraft

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle the party as its column values: a row read ahead in
        another process loads several times faster than a pickled model."""
        values = tuple(getattr(self.party, name) for name, _ in _party_defaults())
        points = [_point_values(point) for point in self.points]
        return _prepared_from, (values, points, self.tags, self.terms, self.created)


def _prepared_from(
    values: tuple[Any, ...],
    points: list[tuple[Any, ...]],
    tags: list[str],
    terms: list[str],
    created: EventDraft,
) -> PreparedParty:
    points_back = [NewPoint(*point) for point in points]
    return PreparedParty(Party(*values), points_back, tags, terms, created)


def prepare_party(new: NewParty, now: dt.datetime | None = None) -> PreparedParty:
    """Validate one party as create_party would; raise InvalidInput if not."""
    name = display_name(new.given_name, new.family_name, new.display_name_text)
    if not name:
        raise InvalidInput("Give the customer a name.", field="display_name")
    values = _validated_fields(dict(new.fields))
    when = now or timezone.now()

    party = _unsaved_party(
        display_name=name[:300],
        given_name=clean_line(new.given_name)[:150],
        family_name=clean_line(new.family_name)[:150],
        sort_name=fold(name)[:300],
        stage_changed_at=when,
        source=new.source,
        external_id=new.external_id,
        created_at=when,
        updated_at=when,
        **values,
    )
    if party.owner_id:
        party.owner_changed_at = when
    points = _points(new)
    tags = [tag for tag in (clean_line(tag).lower()[:50] for tag in new.tags) if tag]
    created = prepare_draft(
        NewEvent(
            party,
            Kind.PROFILE_CHANGE,
            f"Created {party.get_kind_display().lower()} {party.display_name}",
            occurred_at=when,
            payload={"changes": _created_changes(name, values, points, tags)},
        )
    )
    terms = party_terms(party.display_name, [(p.kind, p.value) for p in points])
    return PreparedParty(party, points, tags, terms, created)


def _created_changes(
    name: str, values: dict[str, Any], points: list["NewPoint"], tags: list[str]
) -> list[dict[str, Any]]:
    """What create_party's "created" event lists, in its order."""
    changes: list[dict[str, Any]] = [
        {"field": "display_name", "old": None, "new": name}
    ]
    changes += [_change_entry(key, None, value) for key, value in values.items()]
    changes += [{"field": "contact_point", "new": point.ref()} for point in points]
    changes += [{"field": "tag", "new": name} for name in tags]
    return changes


def _unsaved_party(**values: Any) -> Party:
    """Party(**values), through the positional form the ORM uses for rows it
    reads: a batch of a thousand pays once for finding each field's default.
    A related object, such as an owner, takes the keyword form."""
    if "owner" in values:
        return Party(**values)
    row = [
        values.pop(name) if name in values else make() if callable(make) else make
        for name, make in _party_defaults()
    ]
    if values:
        raise TypeError(f"Party has no field {next(iter(values))!r}")
    return Party(*row)


@cache
def _party_defaults() -> tuple[tuple[str, Any], ...]:
    """Each column's attribute and its default: a value, or a function
    called once per party (a new public id)."""
    return tuple(
        (
            field.attname,
            field.default
            if field.has_default() and callable(field.default)
            else field.get_default(),
        )
        for field in Party._meta.concrete_fields
    )


def create_parties(actor: Actor, parties: Sequence[PreparedParty]) -> list[Party]:
    """Create validated parties; a (source, external id) seen before returns
    the party created first, as create_party does.

    Returns the parties in the order given, with their primary keys.
    """
    actor.require_write()
    existing = _existing(parties)
    fresh: dict[tuple[str, str], Party] = {}
    to_create: list[PreparedParty] = []
    result: list[Party] = []
    for prepared in parties:
        party = prepared.party
        key = (party.source, party.external_id)
        if party.external_id and key in existing:
            result.append(existing[key])
            continue
        if party.external_id and key in fresh:
            result.append(fresh[key])
            continue
        if party.external_id:
            fresh[key] = party
        to_create.append(prepared)
        result.append(party)

    _insert_parties([prepared.party for prepared in to_create])
    _insert_points(to_create, timezone.now())
    _tag_parties(to_create)
    _record_created(actor, to_create)
    index_terms((prepared.party.pk, prepared.terms) for prepared in to_create)
    logger.debug("Created %d parties in one batch", len(to_create))
    return result


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
    _take_ids(Relationship, relationships)


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
                    kind=kind,
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


def _existing(parties: Sequence[PreparedParty]) -> dict[tuple[str, str], Party]:
    keys = {
        (prepared.party.source, prepared.party.external_id)
        for prepared in parties
        if prepared.party.external_id
    }
    found: dict[tuple[str, str], Party] = {}
    for source in {source for source, _ in keys}:
        wanted = [
            external_id for key_source, external_id in keys if key_source == source
        ]
        for party in Party.objects.filter(source=source, external_id__in=wanted):
            found[(source, party.external_id)] = party
    return found


def _insert_parties(parties: list[Party]) -> None:
    if not parties:
        return
    values_of = attrgetter(*(_attribute(name) for name in PARTY_COLUMNS))
    Inserter(Party, PARTY_COLUMNS).insert(values_of(party) for party in parties)
    _take_ids(Party, parties)


def _take_ids(model: type[Party] | type[Relationship], rows: Sequence[Any]) -> None:
    """Give inserted rows the primary keys the database chose, found by
    their public ids, as if the ORM had saved them."""
    ids = dict(
        model.objects.filter(public_id__in=[row.public_id for row in rows]).values_list(
            "public_id", "pk"
        )
    )
    for row in rows:
        row.pk = ids[row.public_id]
        row._state.adding = False


def _insert_points(parties: list[PreparedParty], now: dt.datetime) -> None:
    Inserter(ContactPoint, POINT_COLUMNS).insert(
        (
            point.public_id,
            prepared.party.pk,
            point.kind,
            point.label,
            point.raw,
            point.value,
            point.extension,
            point.dialable,
            point.is_primary,
            False,
            now,
            now,
        )
        for prepared in parties
        for point in prepared.points
    )


def _tag_parties(parties: list[PreparedParty]) -> None:
    names = {name for prepared in parties for name in prepared.tags}
    tags = {name: tag for name in sorted(names) if (tag := _tag(name)) is not None}
    through = Party.tags.through
    rows = {
        (prepared.party.pk, tags[name].pk)
        for prepared in parties
        for name in prepared.tags
    }
    Inserter(through, ("party", "tag")).insert(sorted(rows))


def _record_created(actor: Actor, parties: list[PreparedParty]) -> None:
    record_prepared(
        actor, [prepared.created.on(prepared.party.pk) for prepared in parties]
    )


def _attribute(column: str) -> str:
    """The model attribute holding a column's value: foreign keys by id."""
    return f"{column}_id" if column in ("owner", "party") else column
