"""Changing parties: every change is written with the event describing it."""

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from threadline.accounts.models import Team, User
from threadline.errors import Conflict, InvalidInput
from threadline.followups.models import FollowUpStatus
from threadline.parties.contact_points import (
    normalise_email,
    normalise_phone,
)
from threadline.parties.models import (
    Channel,
    Consent,
    ContactKind,
    ContactPoint,
    FactCategory,
    Party,
    PartyKind,
    PinnedFact,
    Relationship,
    RelationshipKind,
    Stage,
    Tag,
)
from threadline.parties.names import clean_line, display_name, fold
from threadline.time_zones import require_time_zone
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.services import record_event, require_visible

logger = logging.getLogger(__name__)

# Fields a person may edit directly, with the choices that bound them.
EDITABLE_FIELDS: dict[str, Any] = {
    "kind": PartyKind,
    "display_name": None,
    "given_name": None,
    "family_name": None,
    "stage": Stage,
    "owner": None,
    "preferred_channel": Channel,
    "contact_hours": None,
    "language": None,
    "time_zone": None,
    "consent": Consent,
    "birthday": None,
}
EARLIEST_BIRTHDAY = dt.date(1900, 1, 1)
# A contact picture, not a photo album: address books send a few dozen KB.
PHOTO_MAX_BYTES = 512 * 1024
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
PICTURE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def user_ref(user: User | None) -> dict[str, str] | None:
    """How a user is named inside an event, so the name outlives the account."""
    if user is None:
        return None
    return {"id": str(user.public_id), "name": user.display_name}


def create_party(
    actor: Actor,
    *,
    display_name_text: str = "",
    given_name: str = "",
    family_name: str = "",
    emails: Iterable[str | tuple[str, str]] = (),
    phones: Iterable[str | tuple[str, str]] = (),
    addresses: Iterable[str | tuple[str, str]] = (),
    tags: Iterable[str] = (),
    source: str = "",
    external_id: str = "",
    occurred_at: dt.datetime | None = None,
    **fields: Any,
) -> Party:
    """Create a party with its contact points and record that it was created.

    Each email, phone and address is its text, or its text and a label such
    as "work". With a source and external id, a second call returns the
    first party.
    """
    actor.require_write()
    if external_id:
        existing = Party.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing

    name = display_name(given_name, family_name, display_name_text)
    if not name:
        raise InvalidInput("Give the customer a name.", field="display_name")
    values = _validated_fields(fields)
    when = occurred_at or timezone.now()

    with transaction.atomic():
        party = Party(
            display_name=name[:300],
            given_name=clean_line(given_name)[:150],
            family_name=clean_line(family_name)[:150],
            sort_name=fold(name)[:300],
            stage_changed_at=when,
            source=source,
            external_id=external_id,
            **values,
        )
        if party.owner_id:
            party.owner_changed_at = when
        try:
            with transaction.atomic():
                party.save()
        except IntegrityError:
            if not external_id:
                raise
            return Party.objects.get(source=source, external_id=external_id)
        changes: list[dict[str, Any]] = [
            {"field": "display_name", "old": None, "new": name}
        ]
        changes += [_change_entry(key, None, value) for key, value in values.items()]
        for kind, raws in (
            (ContactKind.EMAIL, emails),
            (ContactKind.PHONE, phones),
            (ContactKind.ADDRESS, addresses),
        ):
            for entry in raws:
                raw, label = (entry, "") if isinstance(entry, str) else entry
                point, created = _add_point(party, kind, raw, label)
                if not created:
                    continue
                changes.append({"field": "contact_point", "new": _point_ref(point)})
        for tag_name in tags:
            tag = _tag(tag_name)
            if tag is not None:
                party.tags.add(tag)
                changes.append({"field": "tag", "new": tag.name})
        record_event(
            party,
            Kind.PROFILE_CHANGE,
            f"Created {party.get_kind_display().lower()} {name}",
            actor=actor,
            occurred_at=when,
            payload={"changes": changes},
        )
    _index(party)
    return party


def party_version(party: Party) -> str:
    """A token that changes whenever the party's own fields or tags change."""
    return party.updated_at.isoformat()


def update_party(
    party: Party, actor: Actor, *, expected_version: str = "", **changes: Any
) -> Party:
    """Change fields of a party; record a stage change and a profile change.

    With `expected_version` (from party_version when the form was shown),
    raise Conflict if someone else changed the party since, so that a stale
    form never silently undoes their change.
    """
    actor.require_write()
    require_visible(party, actor)
    if expected_version:
        _check_version(party, expected_version)
    values = _validated_fields(changes)
    for name in ("given_name", "family_name", "display_name"):
        if name in changes:
            values[name] = clean_line(str(changes[name]))
    if "display_name" in values and not values["display_name"]:
        raise InvalidInput("A customer needs a name.", field="display_name")

    diff = {
        key: (getattr(party, key), value)
        for key, value in values.items()
        if getattr(party, key) != value
    }
    if not diff:
        return party

    now = timezone.now()
    with transaction.atomic():
        Party.objects.select_for_update().filter(pk=party.pk).first()
        for key, (_, new) in diff.items():
            setattr(party, key, new)
        if "stage" in diff:
            party.stage_changed_at = now
        if "owner" in diff:
            party.owner_changed_at = now
        if {"display_name", "given_name", "family_name"} & diff.keys():
            if "display_name" not in diff and party.kind == PartyKind.PERSON:
                party.display_name = display_name(
                    party.given_name, party.family_name, party.display_name
                )
            party.sort_name = fold(party.display_name)[:300]
        party.save()
        if "stage" in diff:
            old, new = diff.pop("stage")
            record_event(
                party,
                Kind.STAGE_CHANGE,
                f"Stage changed from {Stage(old).label} to {Stage(new).label}",
                actor=actor,
                payload={"changes": [{"field": "stage", "old": old, "new": new}]},
            )
        if diff:
            entries = [_change_entry(key, old, new) for key, (old, new) in diff.items()]
            record_event(
                party,
                Kind.PROFILE_CHANGE,
                "Changed " + ", ".join(key.replace("_", " ") for key in diff),
                actor=actor,
                payload={"changes": entries},
            )
    _index(party)
    return party


def archive_party(party: Party, actor: Actor, reason: str) -> None:
    """Take a party out of every list and search; its history stays whole.

    Used when a party is merged into another and when the import that
    created it is undone; restore_party brings it back.
    """
    actor.require_write()
    if party.archived_at is not None:
        return

    with transaction.atomic():
        # Recorded first: a person may write only on a party they can see,
        # and an archived party is seen by no one.
        record_event(
            party,
            Kind.PROFILE_CHANGE,
            f"Archived: {reason[:200]}",
            actor=actor,
            payload={"changes": [_change_entry("archived", None, reason)]},
        )
        party.archived_at = timezone.now()
        party.archived_reason = reason[:200]
        party.save(update_fields=["archived_at", "archived_reason", "updated_at"])
    # Its search keys stay: every search leaves archived parties out, and a
    # restore finds them in place.
    logger.debug("Archived party %s: %s", party.public_id, reason)


def restore_party(party: Party, actor: Actor, reason: str) -> bool:
    """Bring an archived party back into lists and search; return whether it
    was archived (a second restore of the same party changes nothing)."""
    actor.require_write()
    if party.archived_at is None:
        return False

    with transaction.atomic():
        current = Party.objects.select_for_update().get(pk=party.pk)
        if current.archived_at is None:
            party.archived_at = None
            return False
        old_reason = current.archived_reason
        party.archived_at = None
        party.archived_reason = ""
        party.merged_into = None
        party.save(
            update_fields=[
                "archived_at",
                "archived_reason",
                "merged_into",
                "updated_at",
            ]
        )
        record_event(
            party,
            Kind.PROFILE_CHANGE,
            f"Restored: {reason}",
            actor=actor,
            payload={"changes": [_change_entry("archived", old_reason, None)]},
        )
    logger.debug("Restored party %s: %s", party.public_id, reason)
    return True


def _check_version(party: Party, expected: str) -> None:
    current = Party.objects.filter(pk=party.pk).values_list("updated_at", flat=True)
    stamp = current.first()
    if stamp is None or stamp.isoformat() != expected:
        raise Conflict(
            "Someone else changed this customer after you opened the form, so "
            "your changes were not saved. The form now shows the current "
            "details; make your change again."
        )


def add_contact_point(
    party: Party,
    actor: Actor,
    kind: str,
    raw: str,
    *,
    label: str = "",
    is_primary: bool = False,
    is_service_site: bool = False,
    occurred_at: dt.datetime | None = None,
) -> ContactPoint:
    actor.require_write()
    require_visible(party, actor)
    with transaction.atomic():
        point, created = _add_point(
            party, kind, raw, label, is_primary, is_service_site
        )
        if not created:
            return point
        record_event(
            party,
            Kind.PROFILE_CHANGE,
            f"Added {point.get_kind_display().lower()} {point.display}",
            actor=actor,
            occurred_at=occurred_at,
            payload={"changes": [{"field": "contact_point", "new": _point_ref(point)}]},
        )
    _index(party)
    return point


def remove_contact_point(point: ContactPoint, actor: Actor) -> None:
    party = point.party
    actor.require_write()
    require_visible(party, actor)
    with transaction.atomic():
        ref = _point_ref(point)
        point.delete()
        record_event(
            party,
            Kind.PROFILE_CHANGE,
            f"Removed {point.get_kind_display().lower()} {point.display}",
            actor=actor,
            payload={"changes": [{"field": "contact_point", "old": ref}]},
        )
    _index(party)


def add_relationship(
    from_party: Party,
    to_party: Party,
    actor: Actor,
    kind: str,
    *,
    role: str = "",
    started_on: dt.date | None = None,
    occurred_at: dt.datetime | None = None,
) -> Relationship:
    actor.require_write()
    require_visible(from_party, actor)
    require_visible(to_party, actor)
    require_linkable(from_party, to_party, kind)

    with transaction.atomic():
        relationship = Relationship.objects.create(
            from_party=from_party,
            to_party=to_party,
            kind=kind,
            role=role.strip()[:100],
            started_on=started_on,
        )
        ref = _relationship_ref(relationship)
        for party in (from_party, to_party):
            record_event(
                party,
                Kind.PROFILE_CHANGE,
                f"Linked: {relationship}",
                actor=actor,
                occurred_at=occurred_at,
                payload={"changes": [{"field": "relationship", "new": ref}]},
            )
    return relationship


def require_linkable(from_party: Party, to_party: Party, kind: str) -> None:
    """Raise InvalidInput unless `kind` may link the two parties."""
    if kind not in RelationshipKind.values:
        raise InvalidInput(f"{kind!r} is not a kind of relationship.", field="kind")
    if from_party.pk == to_party.pk:
        raise InvalidInput("A party cannot be related to itself.", field="to_party")


def end_relationship(
    relationship: Relationship, actor: Actor, ended_on: dt.date | None = None
) -> Relationship:
    actor.require_write()
    require_visible(relationship.from_party, actor)
    when = ended_on or timezone.localdate()
    with transaction.atomic():
        old = _relationship_ref(relationship)
        relationship.ended_on = when
        relationship.save(update_fields=["ended_on", "updated_at"])
        new = _relationship_ref(relationship)
        for party in (relationship.from_party, relationship.to_party):
            record_event(
                party,
                Kind.PROFILE_CHANGE,
                f"Ended: {relationship}",
                actor=actor,
                payload={
                    "changes": [{"field": "relationship", "old": old, "new": new}]
                },
            )
    return relationship


def pin_fact(
    party: Party,
    actor: Actor,
    text: str,
    category: str = FactCategory.OTHER,
    *,
    occurred_at: dt.datetime | None = None,
) -> PinnedFact:
    actor.require_write()
    require_visible(party, actor)
    clean = clean_line(text)
    if not clean:
        raise InvalidInput("Write the fact to pin.", field="text")
    if category not in FactCategory.values:
        raise InvalidInput(f"{category!r} is not a kind of fact.", field="category")

    with transaction.atomic():
        fact = PinnedFact.objects.create(
            party=party, text=clean[:500], category=category, pinned_by=actor.user
        )
        record_event(
            party,
            Kind.PROFILE_CHANGE,
            f"Pinned: {fact.text}",
            actor=actor,
            occurred_at=occurred_at,
            payload={"changes": [{"field": "pinned_fact", "new": _fact_ref(fact)}]},
        )
    return fact


def unpin_fact(fact: PinnedFact, actor: Actor) -> None:
    actor.require_write()
    require_visible(fact.party, actor)
    with transaction.atomic():
        fact.unpinned_at = timezone.now()
        fact.save(update_fields=["unpinned_at", "updated_at"])
        record_event(
            fact.party,
            Kind.PROFILE_CHANGE,
            f"Unpinned: {fact.text}",
            actor=actor,
            payload={"changes": [{"field": "pinned_fact", "old": _fact_ref(fact)}]},
        )


def set_tags(party: Party, actor: Actor, names: Iterable[str]) -> None:
    actor.require_write()
    require_visible(party, actor)
    wanted = {tag.name: tag for tag in filter(None, map(_tag, names))}
    current = {tag.name: tag for tag in party.tags.all()}
    added = sorted(wanted.keys() - current.keys())
    removed = sorted(current.keys() - wanted.keys())
    if not added and not removed:
        return

    with transaction.atomic():
        party.tags.add(*(wanted[name] for name in added))
        party.tags.remove(*(current[name] for name in removed))
        party.save(update_fields=["updated_at"])
        changes = [{"field": "tag", "new": name} for name in added]
        changes += [{"field": "tag", "old": name} for name in removed]
        record_event(
            party,
            Kind.PROFILE_CHANGE,
            "Tags: " + ", ".join([f"+{n}" for n in added] + [f"-{n}" for n in removed]),
            actor=actor,
            payload={"changes": changes},
        )


def set_photo(party: Party, actor: Actor, data: bytes, content_type: str) -> None:
    """Keep `data` as the party's picture, or remove it when `data` is empty.

    Raises InvalidInput for a picture that is not a JPEG, PNG, GIF or WebP
    file, or is larger than PHOTO_MAX_BYTES. The event records the picture's
    type and size, never its bytes.
    """
    actor.require_write()
    require_visible(party, actor)
    kind = content_type.split(";")[0].strip().lower() if data else ""
    if data and (kind not in PHOTO_TYPES or picture_type(data) != kind):
        raise InvalidInput(
            f"A photo must be a JPEG, PNG, GIF or WebP picture; this one is "
            f"declared {kind!r} and reads as {picture_type(data) or 'unknown'!r}.",
            field="photo",
        )
    if len(data) > PHOTO_MAX_BYTES:
        raise InvalidInput(
            f"The photo is {len(data) // 1024:,} KB; make it smaller than "
            f"{PHOTO_MAX_BYTES // 1024:,} KB and try again.",
            field="photo",
        )
    old = bytes(party.photo or b"")
    if old == data and party.photo_type == kind:
        return

    with transaction.atomic():
        party.photo = data or None
        party.photo_type = kind
        party.save(update_fields=["photo", "photo_type", "updated_at"])
        summary = "Changed the photo" if data else "Removed the photo"
        record_event(
            party,
            Kind.PROFILE_CHANGE,
            summary if old else "Added a photo",
            actor=actor,
            payload={
                "changes": [
                    _change_entry(
                        "photo",
                        {"bytes": len(old)} if old else None,
                        {"type": kind, "bytes": len(data)} if data else None,
                    )
                ]
            },
        )


def picture_type(data: bytes) -> str:
    """Name the picture format of `data` from its first bytes, or ''."""
    for signature, kind in PICTURE_SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ""


def restrict_party(
    party: Party,
    actor: Actor,
    *,
    restricted: bool,
    users: Iterable[User] = (),
    teams: Iterable[Team] = (),
) -> Party:
    """Open a party to named users and teams only, or to everyone again."""
    actor.require_manage()
    require_visible(party, actor)
    user_list = list(users)
    team_list = list(teams)
    if restricted and actor.user is not None and actor.user not in user_list:
        # Whoever restricts a party must not lock themselves out of it.
        user_list.append(actor.user)

    with transaction.atomic():
        old = _access_ref(party)
        party.restricted = restricted
        party.save(update_fields=["restricted", "updated_at"])
        party.allowed_users.set(user_list if restricted else [])
        party.allowed_teams.set(team_list if restricted else [])
        _require_open_work_stays_visible(party)
        new = _access_ref(party)
        summary = (
            "Restricted to " + ", ".join(new["users"] + new["teams"])
            if restricted
            else "Opened to all staff"
        )
        record_event(
            party,
            Kind.ACCESS_CHANGE,
            summary,
            actor=actor,
            payload={"changes": [{"field": "access", "old": old, "new": new}]},
        )
    logger.info("Changed access to party %s", party.public_id)
    return party


def _require_open_work_stays_visible(party: Party) -> None:
    """Refuse a restriction that would hide the party from someone who has an
    open follow-up on it: the work would vanish from their Today."""
    assignees = User.objects.filter(
        follow_ups__party=party, follow_ups__status=FollowUpStatus.OPEN
    ).distinct()
    shut_out = [
        user.display_name
        for user in assignees
        if not Party.objects.visible_to(user).filter(pk=party.pk).exists()
    ]
    if shut_out:
        raise InvalidInput(
            f"{', '.join(shut_out)} would lose sight of open follow-ups on this "
            "customer. Include them, or reassign their follow-ups first."
        )


def _validated_fields(fields: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in EDITABLE_FIELDS:
            raise InvalidInput(f"{key!r} is not a field of a customer.", field=key)
        choices = EDITABLE_FIELDS[key]
        if choices is not None and value not in choices.values:
            allowed = ", ".join(str(v) for v in choices.values if v)
            raise InvalidInput(
                f"{value!r} is not a valid {key.replace('_', ' ')} (use {allowed}).",
                field=key,
            )
        if key == "owner" and value is not None and not isinstance(value, User):
            raise InvalidInput("The owner must be a member of staff.", field=key)
        if key == "owner" and value is not None and not value.is_active:
            raise InvalidInput(f"{value} is deactivated.", field=key)
        if key == "time_zone" and value:
            require_time_zone(value)
        if key == "birthday":
            _require_birthday(value)
        values[key] = clean_line(value) if isinstance(value, str) else value
    return values


def _require_birthday(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InvalidInput("A birthday must be a date.", field="birthday")
    if not EARLIEST_BIRTHDAY <= value <= timezone.localdate():
        raise InvalidInput(
            f"{value:%Y-%m-%d} is not a plausible birthday: give a date between "
            f"{EARLIEST_BIRTHDAY:%Y} and today.",
            field="birthday",
        )


def _add_point(
    party: Party,
    kind: str,
    raw: str,
    label: str = "",
    is_primary: bool = False,
    is_service_site: bool = False,
) -> tuple[ContactPoint, bool]:
    """Return the party's contact point for this value and whether it is new."""
    text = raw.strip()
    if not text:
        raise InvalidInput("The contact point is empty.", field="raw")
    extension, dialable = "", True
    if kind == ContactKind.EMAIL:
        value = normalise_email(text)
    elif kind == ContactKind.PHONE:
        parts = normalise_phone(text)
        value, extension, dialable = parts.value, parts.extension, parts.dialable
    elif kind in (ContactKind.ADDRESS, ContactKind.HANDLE):
        value = " ".join(text.split())
    else:
        raise InvalidInput(f"{kind!r} is not a kind of contact point.", field="kind")
    if is_service_site and kind != ContactKind.ADDRESS:
        raise InvalidInput("Only a postal address can be a service site.")

    duplicate = party.contact_points.filter(
        kind=kind, value=value, extension=extension
    ).first()
    if duplicate is not None:
        return duplicate, False
    if not party.contact_points.filter(kind=kind).exists():
        is_primary = True
    point = ContactPoint.objects.create(
        party=party,
        kind=kind,
        raw=text[:500],
        value=value[:500],
        extension=extension,
        dialable=dialable,
        label=label.strip()[:50],
        is_primary=is_primary,
        is_service_site=is_service_site,
    )
    return point, True


def _tag(name: str) -> Tag | None:
    clean = clean_line(name).lower()[:50]
    if not clean:
        return None
    tag, _ = Tag.objects.get_or_create(name=clean)
    return tag


def _change_entry(key: str, old: Any, new: Any) -> dict[str, Any]:
    if key == "owner":
        return {"field": key, "old": user_ref(old), "new": user_ref(new)}
    return {"field": key, "old": old, "new": new}


def _point_ref(point: ContactPoint) -> dict[str, Any]:
    return {
        "id": str(point.public_id),
        "kind": point.kind,
        "value": point.value,
        "raw": point.raw,
        "extension": point.extension,
        "label": point.label,
        "service_site": point.is_service_site,
    }


def _relationship_ref(relationship: Relationship) -> dict[str, Any]:
    return {
        "id": str(relationship.public_id),
        "kind": relationship.kind,
        "from": str(relationship.from_party.public_id),
        "to": str(relationship.to_party.public_id),
        "from_name": relationship.from_party.display_name,
        "to_name": relationship.to_party.display_name,
        "role": relationship.role,
        "started_on": relationship.started_on and relationship.started_on.isoformat(),
        "ended_on": relationship.ended_on and relationship.ended_on.isoformat(),
    }


def _fact_ref(fact: PinnedFact) -> dict[str, Any]:
    return {"id": str(fact.public_id), "category": fact.category, "text": fact.text}


def _access_ref(party: Party) -> dict[str, Any]:
    return {
        "restricted": party.restricted,
        "users": [user.display_name for user in party.allowed_users.all()],
        "teams": [team.name for team in party.allowed_teams.all()],
    }


def _index(party: Party) -> None:
    from threadline.search.services import index_party

    index_party(party)
