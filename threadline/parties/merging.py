"""Merging two parties into one without losing anything, and undoing it.

The survivor takes in the other party's events, threads, follow-ups, pinned
facts, contact points and relationships; it gains the other's tags and
allowed users and teams, and its empty fields are filled from the other's.
The other party is archived with `merged_into` pointing at the survivor.
The survivor's MERGE event lists the public id of everything that moved, so
an undo moves exactly that back.

Decisions a reader should know:

- A contact point the survivor already has (same kind, normalised value and
  extension) is kept once: the other's copy stays on the archived party with
  its own spelling, and the merge entry names both spellings. Adding it to
  the survivor would show the same number twice in every list.
- Access: the stricter wins. If either party was restricted, the survivor
  is restricted, open to everyone named on either side (and to the other's
  owner), so no one who could see either side's restricted history loses
  it, and everyone else loses sight of the whole merged record.
- "Do not contact" wins over a granted consent.
- A relationship between the two parties stays on the archived one (it
  would link the survivor to itself), and one the survivor already has
  with the same party, kind and standing is not moved again.
- An undo moves back what is still there. A contact point removed from the
  survivor since the merge is gone from the record, so it is not brought
  back; the undo names it. Only what a later merge moved elsewhere blocks
  an undo, as undoing that merge first brings it back.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone

from threadline.accounts.models import Team, User
from threadline.errors import Conflict, InvalidInput, NotAllowed, NotFound
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.parties.duplicates import set_pair_status
from threadline.parties.models import (
    CandidateStatus,
    Consent,
    ContactPoint,
    Party,
    PinnedFact,
    Relationship,
    Tag,
)
from threadline.parties.services import (
    archive_party,
    party_version,
    restore_party,
    user_ref,
)
from threadline.threads.models import Thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import record_event, refresh_party_activity

logger = logging.getLogger(__name__)

# Fields the survivor takes from the other party when its own is empty.
FILLABLE_FIELDS = (
    "birthday",
    "language",
    "time_zone",
    "preferred_channel",
    "contact_hours",
    "owner",
)
# A chain of merges longer than this is not followed to its end.
MAX_MERGE_HOPS = 20
# What a merge moves row by row: its key in the merge entry, the model, and
# the noun the entry counts them by.
MOVED_ROWS: tuple[tuple[str, type[Model], str], ...] = (
    ("event", Event, "timeline entry"),
    ("thread", Thread, "thread"),
    ("follow_up", FollowUp, "follow-up"),
    ("contact_point", ContactPoint, "contact point"),
    ("pinned_fact", PinnedFact, "pinned fact"),
)


@dataclass
class MergePlan:
    """What a merge of `other` into `survivor` would do, read before doing it."""

    survivor: Party
    other: Party
    points_moved: list[ContactPoint] = field(default_factory=list)
    # The other's points the survivor already has, with the survivor's copy.
    points_same: list[tuple[ContactPoint, ContactPoint]] = field(default_factory=list)
    links_from: list[Relationship] = field(default_factory=list)
    links_to: list[Relationship] = field(default_factory=list)
    links_kept: list[Relationship] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    becomes_restricted: bool = False
    fills: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    events: int = 0
    threads: int = 0
    follow_ups: int = 0
    facts: int = 0

    @property
    def restricted(self) -> bool:
        return self.survivor.restricted or self.other.restricted


def plan_merge(survivor: Party, other: Party) -> MergePlan:
    """Work out what moves, what is kept once and which fields are filled."""
    plan = MergePlan(survivor=survivor, other=other)
    _plan_points(plan)
    _plan_links(plan)
    _plan_access(plan)
    plan.tags = list(other.tags.exclude(pk__in=survivor.tags.values("pk")))
    plan.fills = _fills(survivor, other)
    plan.events = Event.objects.filter(party=other).count()
    plan.threads = Thread.objects.filter(party=other).count()
    plan.follow_ups = FollowUp.objects.filter(party=other).count()
    plan.facts = PinnedFact.objects.filter(party=other).count()
    return plan


def merge_parties(
    survivor: Party,
    other: Party,
    actor: Actor,
    *,
    survivor_version: str = "",
    other_version: str = "",
) -> Event:
    """Merge `other` into `survivor`; return the survivor's MERGE event.

    With the versions the person saw (party_version), raise Conflict if
    either party changed since. Raises NotAllowed for a viewer, NotFound for
    a party the actor may not see, and InvalidInput for a pair that cannot
    be merged; then nothing changes.
    """
    actor.require_write()
    _require_mergeable(survivor, other, actor)

    with transaction.atomic():
        _lock(survivor, other)
        _require_version(survivor, survivor_version)
        _require_version(other, other_version)
        # Again on the locked rows: a merge that ran meanwhile may have
        # archived one of them.
        _require_mergeable(survivor, other, actor)
        plan = plan_merge(survivor, other)
        moved = _apply(plan, actor)
        survivor_event = _record_merge(plan, moved, actor)
        Party.objects.filter(pk=other.pk).update(merged_into=survivor)
        other.merged_into = survivor
        archive_party(other, actor, f"merged into {survivor.display_name}")
        _clear_labels_and_access(other)
        refresh_party_activity(survivor)
        refresh_party_activity(other)
        _require_open_work_visible(survivor)
        set_pair_status(survivor, other, CandidateStatus.MERGED, actor.user)
    # Both: the other's contact points moved to the survivor.
    _index(survivor)
    _index(other)
    logger.info("Merged party %s into %s", other.public_id, survivor.public_id)
    return survivor_event


def undo_merge(merge_event: Event, actor: Actor) -> Event:
    """Move back exactly what a merge moved and restore the other party.

    Returns the survivor's "undone" MERGE event, whose body names what was
    removed since the merge and so could not go back. Refuses, changing
    nothing, a merge already undone, and one a later merge has built on.
    """
    actor.require_write()
    event = _merge_entry(merge_event)
    survivor = event.party
    other = Party.objects.filter(public_id=event.payload.get("other")).first()
    if other is None:
        raise NotFound("The merged customer no longer exists.")
    _require_visible_for_undo(survivor, actor)

    with transaction.atomic():
        _lock(survivor, other)
        survivor.refresh_from_db()
        other.refresh_from_db()
        _require_undoable(event, survivor, other)
        # The other's own access first, so the actor sees it once restored.
        _restore_labels_and_access(survivor, other, event.payload.get("moved", {}))
        _restore(other, survivor, actor)
        event.party = survivor
        gone = _removed_since(event.payload.get("moved", {}))
        back = _move_back(event, other, gone, actor)
        undone = _record_undo(event, other, back, gone, actor)
        refresh_party_activity(survivor)
        refresh_party_activity(other)
        set_pair_status(survivor, other, CandidateStatus.OPEN, None)
    _index(survivor)
    _index(other)
    logger.info("Undid merge of %s into %s", other.public_id, survivor.public_id)
    return undone


def surviving_party(public_id: Any) -> Party | None:
    """The party a merged party ended up in, following later merges."""
    party = Party.objects.filter(public_id=public_id).first()
    hops = 0
    while party is not None and party.merged_into_id and hops < MAX_MERGE_HOPS:
        party = Party.objects.filter(pk=party.merged_into_id).first()
        hops += 1
    if party is None or party.archived_at is not None:
        return None
    return party


def merge_undoable(event: Event) -> bool:
    """Whether the timeline should offer to undo this merge entry."""
    if event.kind != Kind.MERGE or event.payload.get("action") != "merged":
        return False
    return not _undo_of(event).exists()


def _require_mergeable(survivor: Party, other: Party, actor: Actor) -> None:
    if survivor.pk == other.pk:
        raise InvalidInput("Pick two different customers to merge.")
    for party in (survivor, other):
        if party.archived_at is not None:
            raise InvalidInput(
                f"{party.display_name} is archived; restore it before merging."
            )
        _require_visible(party, actor)
    if survivor.kind != other.kind:
        raise InvalidInput(
            f"{other.display_name} is {_a(other)} and {survivor.display_name} "
            f"{_a(survivor)}: only customers of the same kind can be merged."
        )


def _a(party: Party) -> str:
    """'a person', 'an organisation', 'a household'."""
    kind = party.get_kind_display().lower()
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def _require_visible(party: Party, actor: Actor) -> None:
    if actor.user is None:
        return
    if not Party.objects.visible_to(actor.user).filter(pk=party.pk).exists():
        raise NotFound("No such customer, or you do not have access to it.")


def _require_visible_for_undo(survivor: Party, actor: Actor) -> None:
    if actor.user is None:
        return
    visible = Party.objects.visible_to(actor.user).filter(pk=survivor.pk).exists()
    if not visible and survivor.archived_at is None:
        raise NotFound("No such customer, or you do not have access to it.")


def _require_version(party: Party, expected: str) -> None:
    party.refresh_from_db()
    if expected and party_version(party) != expected:
        raise Conflict(
            f"{party.display_name} was changed by someone after you opened this "
            "page, so nothing was merged. Look at the pair again, then merge."
        )


def _lock(*parties: Party) -> None:
    """Lock both rows in id order, so two merges of one pair queue up."""
    keys = sorted(party.pk for party in parties)
    list(Party.objects.select_for_update().filter(pk__in=keys).order_by("pk"))


def _plan_points(plan: MergePlan) -> None:
    kept = {
        (point.kind, point.value, point.extension): point
        for point in plan.survivor.contact_points.all()
    }
    for point in plan.other.contact_points.all():
        same = kept.get((point.kind, point.value, point.extension))
        if same is None:
            plan.points_moved.append(point)
        else:
            plan.points_same.append((point, same))


def _plan_links(plan: MergePlan) -> None:
    survivor, other = plan.survivor, plan.other
    existing = {
        _link_key(link, survivor)
        for link in Relationship.objects.filter(
            Q(from_party=survivor) | Q(to_party=survivor)
        ).select_related("from_party", "to_party")
    }
    links = Relationship.objects.filter(Q(from_party=other) | Q(to_party=other))
    for link in links.select_related("from_party", "to_party").order_by("id"):
        between = {link.from_party_id, link.to_party_id} == {survivor.pk, other.pk}
        key = _link_key(link, other)
        if between or key in existing:
            # Known gap: such links stay on the archived party, not ended.
            plan.links_kept.append(link)
            continue
        existing.add(key)
        if link.from_party_id == other.pk:
            plan.links_from.append(link)
        else:
            plan.links_to.append(link)


def _link_key(link: Relationship, party: Party) -> tuple[Any, ...]:
    """A link as seen from `party`: direction, kind, the far end, standing."""
    outgoing = link.from_party_id == party.pk
    far = link.to_party_id if outgoing else link.from_party_id
    return (outgoing, link.kind, far, link.role.casefold(), link.ended_on is None)


def _plan_access(plan: MergePlan) -> None:
    survivor, other = plan.survivor, plan.other
    if not other.restricted:
        return
    plan.becomes_restricted = not survivor.restricted
    named = set(survivor.allowed_users.values_list("pk", flat=True))
    users = list(other.allowed_users.exclude(pk__in=named))
    owner = other.owner
    keeps_sight = owner is None or owner.pk in named or owner == survivor.owner
    if owner is not None and not keeps_sight and owner not in users:
        users.append(owner)
    plan.users = users
    plan.teams = list(other.allowed_teams.exclude(pk__in=survivor.allowed_teams.all()))


def _fills(survivor: Party, other: Party) -> dict[str, tuple[Any, Any]]:
    fills = {
        name: (getattr(survivor, name), getattr(other, name))
        for name in FILLABLE_FIELDS
        if getattr(survivor, name) in (None, "")
        and getattr(other, name) not in (None, "")
    }
    unknown = survivor.consent == Consent.UNKNOWN and other.consent != Consent.UNKNOWN
    do_not_contact = other.consent == Consent.DENIED != survivor.consent
    if unknown or do_not_contact:
        fills["consent"] = (survivor.consent, other.consent)
    if not survivor.photo and other.photo:
        fills["photo"] = (None, other.photo_type or "image")
    return fills


def _apply(plan: MergePlan, actor: Actor) -> dict[str, list[str]]:
    """Move and copy everything; return the public ids of what moved."""
    survivor, other = plan.survivor, plan.other
    moved: dict[str, list[str]] = {}
    moved["event"] = _ids(Event.objects.filter(party=other))
    # Shortcoming: a calendar event that booked both parties stays twice.
    Event.objects.filter(party=other).update(party=survivor)
    for name, model in (
        ("thread", Thread),
        ("follow_up", FollowUp),
        ("pinned_fact", PinnedFact),
    ):
        rows = model.objects.filter(party=other)
        moved[name] = _ids(rows)
        rows.update(party=survivor, updated_at=timezone.now())

    moved["contact_point"], moved["primary_dropped"] = _move_points(plan)
    moved["relationship_from"] = _ids_of(plan.links_from)
    moved["relationship_to"] = _ids_of(plan.links_to)
    now = timezone.now()
    Relationship.objects.filter(pk__in=[r.pk for r in plan.links_from]).update(
        from_party=survivor, updated_at=now
    )
    Relationship.objects.filter(pk__in=[r.pk for r in plan.links_to]).update(
        to_party=survivor, updated_at=now
    )

    moved.update(_move_labels_and_access(plan))
    moved["change"] = _fill_and_restrict(plan, actor)
    moved["change"] += _fold_same_points(plan, actor)
    return {key: value for key, value in moved.items() if value}


def _move_labels_and_access(plan: MergePlan) -> dict[str, list[str]]:
    """Give the survivor the other's tags and allowed users and teams it
    lacks. Both lists are kept so an undo restores each side; the other's
    own are cleared once it is archived (_clear_labels_and_access)."""
    survivor, other = plan.survivor, plan.other
    tags = list(other.tags.all())
    users = list(other.allowed_users.all())
    teams = list(other.allowed_teams.all())
    survivor.tags.add(*plan.tags)
    survivor.allowed_users.add(*plan.users)
    survivor.allowed_teams.add(*plan.teams)
    return {
        "tag": [tag.name for tag in tags],
        "tag_added": [tag.name for tag in plan.tags],
        "allowed_user": _ids_of(users),
        "allowed_user_added": _ids_of(plan.users),
        "allowed_team": _ids_of(teams),
        "allowed_team_added": _ids_of(plan.teams),
    }


def _clear_labels_and_access(other: Party) -> None:
    """Leave nothing on the archived party: its labels now live on the
    survivor. Done last, as the actor must see the other until it is
    archived."""
    other.tags.clear()
    other.allowed_users.clear()
    other.allowed_teams.clear()


def _fold_same_points(plan: MergePlan, actor: Actor) -> list[str]:
    """Fold the other's copies of the survivor's contact points into them.

    The copy is removed and recorded in full (its spelling, label, whether
    it was primary) on a profile change of the survivor, from which an undo
    puts it back with its own public id.
    """
    if not plan.points_same:
        return []
    changes = [
        {"field": "contact_point", "old": _point_ref(theirs), "new": _point_ref(ours)}
        for theirs, ours in plan.points_same
    ]
    ContactPoint.objects.filter(pk__in=[p.pk for p, _ in plan.points_same]).delete()
    event, _ = record_event(
        plan.survivor,
        Kind.PROFILE_CHANGE,
        "Kept once: "
        + "; ".join(f"{theirs.raw} as {ours.raw}" for theirs, ours in plan.points_same),
        actor=actor,
        payload={"changes": changes},
    )
    return [str(event.public_id)]


def _point_ref(point: ContactPoint) -> dict[str, Any]:
    return {
        "id": str(point.public_id),
        "kind": point.kind,
        "value": point.value,
        "raw": point.raw,
        "extension": point.extension,
        "label": point.label,
        "dialable": point.dialable,
        "primary": point.is_primary,
        "service_site": point.is_service_site,
    }


def _restore_point(other: Party, ref: dict[str, Any]) -> None:
    """Put back a contact point the merge folded, unless it is back already."""
    if ContactPoint.objects.filter(public_id=ref["id"]).exists():
        return
    ContactPoint.objects.create(
        public_id=ref["id"],
        party=other,
        kind=ref["kind"],
        value=ref["value"],
        raw=ref["raw"],
        extension=ref["extension"],
        label=ref["label"],
        dialable=ref["dialable"],
        is_primary=ref["primary"],
        is_service_site=ref["service_site"],
    )


def _move_points(plan: MergePlan) -> tuple[list[str], list[str]]:
    primary_kinds = set(
        plan.survivor.contact_points.filter(is_primary=True).values_list(
            "kind", flat=True
        )
    )
    dropped = [
        point
        for point in plan.points_moved
        if point.is_primary and point.kind in primary_kinds
    ]
    ContactPoint.objects.filter(pk__in=[p.pk for p in plan.points_moved]).update(
        party=plan.survivor, updated_at=timezone.now()
    )
    ContactPoint.objects.filter(pk__in=[p.pk for p in dropped]).update(is_primary=False)
    return _ids_of(plan.points_moved), _ids_of(dropped)


def _fill_and_restrict(plan: MergePlan, actor: Actor) -> list[str]:
    """Write the filled fields and the stricter access, each with its event."""
    survivor, other = plan.survivor, plan.other
    recorded: list[str] = []
    if plan.fills:
        for name in plan.fills:
            if name == "photo":
                survivor.photo, survivor.photo_type = other.photo, other.photo_type
            else:
                setattr(survivor, name, getattr(other, name))
        if "owner" in plan.fills:
            survivor.owner_changed_at = timezone.now()
        survivor.save()
        event, _ = record_event(
            survivor,
            Kind.PROFILE_CHANGE,
            f"Filled from {other.display_name}: "
            + ", ".join(name.replace("_", " ") for name in plan.fills),
            actor=actor,
            payload={"changes": [_fill_entry(name, plan) for name in plan.fills]},
        )
        recorded.append(str(event.public_id))
    if plan.becomes_restricted:
        Party.objects.filter(pk=survivor.pk).update(restricted=True)
        survivor.restricted = True
        event, _ = record_event(
            survivor,
            Kind.ACCESS_CHANGE,
            f"Restricted, as {other.display_name} was",
            actor=actor,
            payload={
                "changes": [
                    {
                        "field": "restricted",
                        "old": False,
                        "new": True,
                    }
                ]
            },
        )
        recorded.append(str(event.public_id))
    return recorded


def _fill_entry(name: str, plan: MergePlan) -> dict[str, Any]:
    old, new = plan.fills[name]
    if name == "owner":
        return {"field": name, "old": None, "new": user_ref(new)}
    if hasattr(new, "isoformat"):
        new = new.isoformat()
    return {"field": name, "old": old, "new": new}


def _record_merge(plan: MergePlan, moved: dict[str, list[str]], actor: Actor) -> Event:
    survivor, other = plan.survivor, plan.other
    survivor_event, _ = record_event(
        survivor,
        Kind.MERGE,
        f"Merged {other.display_name} into this customer",
        actor=actor,
        payload={
            "action": "merged",
            "other": str(other.public_id),
            "other_name": other.display_name,
            "moved": moved,
        },
        body=_merge_text(plan, moved),
    )
    record_event(
        other,
        Kind.MERGE,
        f"Merged into {survivor.display_name}",
        actor=actor,
        payload={
            "action": "absorbed",
            "other": str(survivor.public_id),
            "other_name": survivor.display_name,
            "merge": str(survivor_event.public_id),
        },
    )
    return survivor_event


def _merge_text(plan: MergePlan, moved: dict[str, list[str]]) -> str:
    """The merge entry's body: what moved, what was kept once, in words."""
    counts = [_count(len(moved.get(key, [])), noun) for key, _, noun in MOVED_ROWS]
    links = len(plan.links_from) + len(plan.links_to)
    counts.append(_count(links, "relationship"))
    lines = ["Moved: " + (", ".join(c for c in counts if c) or "nothing") + "."]
    if plan.points_same:
        same = "; ".join(
            f"{theirs.raw} (here as {ours.raw})" for theirs, ours in plan.points_same
        )
        lines.append(f"Kept once: {same}.")
    if plan.tags:
        lines.append("Tags added: " + ", ".join(t.name for t in plan.tags) + ".")
    if plan.users or plan.teams:
        named = [user.display_name for user in plan.users]
        named += [team.name for team in plan.teams]
        lines.append("Now also open to: " + ", ".join(named) + ".")
    if plan.fills:
        filled = ", ".join(name.replace("_", " ") for name in plan.fills)
        lines.append(f"Filled from {plan.other.display_name}: {filled}.")
    if plan.restricted:
        lines.append(
            "Restricted: people named on either customer see the merged record."
        )
    if plan.links_kept:
        lines.append(
            _count(len(plan.links_kept), "relationship")
            + " left with the merged customer (between the two, or already here)."
        )
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    if not number:
        return ""
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number} {noun if number == 1 else plural}"


def _merge_entry(event: Event) -> Event:
    """The survivor's merge entry, given either side's."""
    if event.kind != Kind.MERGE:
        raise InvalidInput("This entry is not a merge, so there is nothing to undo.")
    action = event.payload.get("action")
    if action == "merged":
        return event
    if action == "absorbed":
        found = Event.objects.filter(public_id=event.payload.get("merge")).first()
        if found is not None:
            return found
    raise InvalidInput("This entry records an undo; it cannot be undone itself.")


def _undo_of(event: Event) -> Any:
    return Event.objects.filter(
        kind=Kind.MERGE,
        party_id=event.party_id,
        payload__action="undone",
        payload__merge=str(event.public_id),
    )


def _require_undoable(event: Event, survivor: Party, other: Party) -> None:
    done = _undo_of(event).first()
    if done is not None:
        raise InvalidInput(
            f"This merge was already undone on {done.occurred_at:%d %b %Y}."
        )
    if survivor.archived_at is not None:
        later = survivor.merged_into.display_name if survivor.merged_into else ""
        where = f" into {later}" if later else ""
        raise InvalidInput(
            f"{survivor.display_name} has been merged{where} since; undo that "
            "merge first."
        )
    kept = other.merged_into
    if kept is not None and kept.pk != survivor.pk and kept.merged_into is not None:
        # The merge entry went on with the party it was on, merged since.
        raise InvalidInput(
            f"{kept.display_name}, which {other.display_name} was merged into, "
            f"has been merged into {kept.merged_into.display_name} since; undo "
            "that merge first."
        )
    if other.merged_into_id != survivor.pk:
        raise InvalidInput(
            f"{other.display_name} is no longer merged into "
            f"{survivor.display_name}, so there is nothing to undo."
        )
    missing = _moved_elsewhere(event.payload.get("moved", {}), survivor)
    if missing:
        raise InvalidInput(
            f"{missing} of the things this merge moved are no longer on "
            f"{survivor.display_name}; a later merge moved them. Undo that "
            "merge first."
        )


def _moved_elsewhere(moved: dict[str, list[str]], survivor: Party) -> int:
    """Count what the merge moved that is now on another party; what was
    removed since is not counted, as no merge can bring it back."""
    elsewhere = 0
    for key, model, _ in MOVED_ROWS:
        ids = moved.get(key, [])
        if ids:
            rows = model._default_manager.filter(public_id__in=ids)
            elsewhere += rows.exclude(party=survivor).count()
    return elsewhere


def _removed_since(moved: dict[str, list[str]]) -> dict[str, list[str]]:
    """The public ids, per key, of what the merge moved and the record no
    longer holds (a contact point removed since): none of it can go back."""
    gone: dict[str, list[str]] = {}
    for key, model, _ in MOVED_ROWS:
        ids = moved.get(key, [])
        if not ids:
            continue
        rows = model._default_manager.filter(public_id__in=ids)
        held = {str(found) for found in rows.values_list("public_id", flat=True)}
        missing = [public_id for public_id in ids if public_id not in held]
        if missing:
            gone[key] = missing
    return gone


def _move_back(
    merge: Event, other: Party, gone: dict[str, list[str]], actor: Actor
) -> dict[str, list[str]]:
    """Move the listed things still held back to `other`; return what went
    back."""
    survivor = merge.party
    moved: dict[str, list[str]] = merge.payload.get("moved", {})
    now = timezone.now()
    back: dict[str, list[str]] = {}
    for name, model, _ in MOVED_ROWS:
        removed = set(gone.get(name, []))
        back[name] = [key for key in moved.get(name, []) if key not in removed]
        # Events are never changed in place, so they carry no update time.
        stamp = {} if model is Event else {"updated_at": now}
        rows = model._default_manager.filter(public_id__in=back[name])
        rows.update(party=other, **stamp)
    ContactPoint.objects.filter(public_id__in=moved.get("primary_dropped", [])).update(
        is_primary=True
    )
    _follow_moved_threads(survivor, other, back)

    Relationship.objects.filter(
        public_id__in=moved.get("relationship_from", [])
    ).update(from_party=other, updated_at=now)
    Relationship.objects.filter(public_id__in=moved.get("relationship_to", [])).update(
        to_party=other, updated_at=now
    )
    back["relationship_from"] = list(moved.get("relationship_from", []))
    back["relationship_to"] = list(moved.get("relationship_to", []))

    back["tag"] = list(moved.get("tag", []))
    back["change"] = _revert_changes(merge, other, moved.get("change", []), actor)
    return {key: value for key, value in back.items() if value}


def _restore(other: Party, survivor: Party, actor: Actor) -> None:
    try:
        restore_party(other, actor, f"merge into {survivor.display_name} undone")
    except NotFound as error:
        raise NotAllowed(
            f"{other.display_name} was restricted, and you are not among the "
            "people it is open to, so you cannot take it out again. Ask one of "
            "them or a manager to undo this merge."
        ) from error


def _restore_labels_and_access(
    survivor: Party, other: Party, moved: dict[str, list[str]]
) -> None:
    survivor.tags.remove(*Tag.objects.filter(name__in=moved.get("tag_added", [])))
    survivor.allowed_users.remove(
        *User.objects.filter(public_id__in=moved.get("allowed_user_added", []))
    )
    survivor.allowed_teams.remove(
        *Team.objects.filter(public_id__in=moved.get("allowed_team_added", []))
    )
    other.tags.add(*Tag.objects.filter(name__in=moved.get("tag", [])))
    other.allowed_users.add(
        *User.objects.filter(public_id__in=moved.get("allowed_user", []))
    )
    other.allowed_teams.add(
        *Team.objects.filter(public_id__in=moved.get("allowed_team", []))
    )


def _follow_moved_threads(
    survivor: Party, other: Party, back: dict[str, list[str]]
) -> None:
    """Entries and follow-ups added to the other's threads since the merge go
    back with their threads, so no thread's entries end up split."""
    threads = Thread.objects.filter(public_id__in=back.get("thread", []))
    for name, model in (("event", Event), ("follow_up", FollowUp)):
        since = model.objects.filter(party=survivor, thread__in=threads)
        ids = _ids(since)
        if ids:
            since.update(party=other)
            back[name] = back.get(name, []) + ids


def _revert_changes(
    merge: Event, other: Party, change_ids: Iterable[str], actor: Actor
) -> list[str]:
    """Empty the fields the merge filled and lift the restriction it added,
    unless someone has changed them since; record the change."""
    survivor = merge.party
    entries: list[dict[str, Any]] = []
    access: list[dict[str, Any]] = []
    for change_event in Event.objects.filter(public_id__in=list(change_ids)):
        for change in change_event.payload.get("changes", []):
            if change["field"] == "contact_point":
                _restore_point(other, change["old"])
            elif change["field"] == "restricted":
                if survivor.restricted and not _access_changed_since(merge):
                    survivor.restricted = False
                    access.append({"field": "restricted", "old": True, "new": False})
            elif _unchanged_since(survivor, other, change):
                entries.append(_empty_field(survivor, change))

    survivor.save()
    recorded: list[str] = []
    if entries:
        event, _ = record_event(
            survivor,
            Kind.PROFILE_CHANGE,
            "Emptied what the merge filled: "
            + ", ".join(entry["field"].replace("_", " ") for entry in entries),
            actor=actor,
            payload={"changes": entries},
        )
        recorded.append(str(event.public_id))
    if access:
        event, _ = record_event(
            survivor,
            Kind.ACCESS_CHANGE,
            "Opened to all staff again, as before the merge",
            actor=actor,
            payload={"changes": access},
        )
        recorded.append(str(event.public_id))
    return recorded


def _access_changed_since(merge: Event) -> bool:
    """Whether someone changed the survivor's access after the merge, in
    which case the undo leaves their choice alone."""
    return Event.objects.filter(
        party=merge.party, kind=Kind.ACCESS_CHANGE, pk__gt=merge.pk
    ).exists()


def _unchanged_since(survivor: Party, other: Party, change: dict[str, Any]) -> bool:
    name = change["field"]
    current = getattr(survivor, name, None)
    if name == "photo":
        return bool(survivor.photo) and bytes(survivor.photo or b"") == bytes(
            other.photo or b""
        )
    if name == "owner":
        return current is not None and str(current.public_id) == (
            (change["new"] or {}).get("id")
        )
    if current is not None and hasattr(current, "isoformat"):
        current = current.isoformat()
    return bool(current == change["new"])


def _empty_field(survivor: Party, change: dict[str, Any]) -> dict[str, Any]:
    name = change["field"]
    if name == "photo":
        survivor.photo, survivor.photo_type = None, ""
        return {"field": name, "old": change["new"], "new": None}
    if name == "owner":
        survivor.owner = None
        return {"field": name, "old": change["new"], "new": None}
    old = change["old"]
    setattr(survivor, name, old if old is not None else _blank(name))
    return {"field": name, "old": change["new"], "new": old}


def _blank(name: str) -> Any:
    return None if name == "birthday" else ""


def _record_undo(
    event: Event,
    other: Party,
    back: dict[str, list[str]],
    gone: dict[str, list[str]],
    actor: Actor,
) -> Event:
    survivor = event.party
    body = _removed_text(event, gone)
    undone, _ = record_event(
        survivor,
        Kind.MERGE,
        f"Undid the merge of {other.display_name}",
        actor=actor,
        payload={
            "action": "undone",
            "other": str(other.public_id),
            "other_name": other.display_name,
            "moved": back,
            "removed_since": gone,
            "merge": str(event.public_id),
        },
        body=body,
    )
    record_event(
        other,
        Kind.MERGE,
        f"Separated again from {survivor.display_name}",
        actor=actor,
        payload={
            "action": "undone",
            "other": str(survivor.public_id),
            "other_name": survivor.display_name,
            "moved": back,
            "removed_since": gone,
            "merge": str(event.public_id),
        },
        body=body,
    )
    return undone


def _removed_text(merge: Event, gone: dict[str, list[str]]) -> str:
    """Say what could not go back because it was removed since the merge."""
    if not gone:
        return ""
    counts = [_count(len(gone.get(key, [])), noun) for key, _, noun in MOVED_ROWS]
    spellings = _removed_point_spellings(merge, gone.get("contact_point", []))
    named = f" ({', '.join(spellings)})" if spellings else ""
    return (
        "Not moved back, as removed since the merge: "
        + ", ".join(count for count in counts if count)
        + f"{named}."
    )


def _removed_point_spellings(merge: Event, ids: list[str]) -> list[str]:
    """The removed contact points as they were written, read from the
    entries that recorded their removal from the survivor."""
    wanted = set(ids)
    spellings: list[str] = []
    removals = Event.objects.filter(
        party=merge.party, kind=Kind.PROFILE_CHANGE, pk__gt=merge.pk
    ).order_by("pk")
    for removal in removals:
        for change in removal.payload.get("changes", []):
            old = change.get("old")
            if (
                change.get("field") == "contact_point"
                and isinstance(old, dict)
                and old.get("id") in wanted
                and not change.get("new")
            ):
                spellings.append(str(old.get("raw") or old.get("value")))
    return spellings


def _require_open_work_visible(survivor: Party) -> None:
    """Refuse a merge that would hide the survivor from someone with an open
    follow-up on it, which would vanish from their Today."""
    if not survivor.restricted:
        return
    assignees = User.objects.filter(
        follow_ups__party=survivor, follow_ups__status=FollowUpStatus.OPEN
    ).distinct()
    shut_out = [
        user.display_name
        for user in assignees
        if not Party.objects.visible_to(user).filter(pk=survivor.pk).exists()
    ]
    if shut_out:
        raise InvalidInput(
            f"{', '.join(shut_out)} would lose sight of open follow-ups, because "
            f"the merged customer is restricted. Open {survivor.display_name} to "
            "them, or reassign their follow-ups first."
        )


def _ids(rows: Any) -> list[str]:
    return [str(key) for key in rows.values_list("public_id", flat=True)]


def _ids_of(rows: Iterable[Any]) -> list[str]:
    return [str(row.public_id) for row in rows]


def _index(party: Party) -> None:
    from threadline.search.services import index_party

    index_party(party)
