"""Rebuilding a party's state as it was at a past moment, from its events.

Every change to a party, a thread or a follow-up is an event holding old and
new values, so undoing the changes recorded after a moment, newest first,
gives the state at that moment.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from threadline.parties.models import Party
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event

PROFILE_KINDS = (Kind.PROFILE_CHANGE, Kind.STAGE_CHANGE)


@dataclass
class PartyAsOf:
    """Scalar fields and collection items of a party at a past moment."""

    fields: dict[str, Any]
    stage_since: dt.datetime | None
    owner_since: dt.datetime | None
    added_later: dict[str, set[str]] = field(default_factory=dict)
    removed_later: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def party_as_of(party: Party, as_of: dt.datetime) -> PartyAsOf:
    """Undo the profile and stage changes recorded after `as_of`."""
    later = list(
        Event.objects.filter(
            party=party, kind__in=PROFILE_KINDS, recorded_at__gt=as_of
        ).order_by("-recorded_at", "-id")
    )
    state = PartyAsOf(
        fields={
            "display_name": party.display_name,
            "stage": party.stage,
            "owner": _owner_ref(party),
            "preferred_channel": party.preferred_channel,
            "contact_hours": party.contact_hours,
            "language": party.language,
            "time_zone": party.time_zone,
            "consent": party.consent,
            "birthday": party.birthday,
        },
        stage_since=party.stage_changed_at,
        owner_since=party.owner_changed_at,
    )
    for event in later:
        for change in event.payload.get("changes", []):
            _undo(state, change)
    if state.stage_since and state.stage_since > as_of:
        state.stage_since = _last_change_before(party, "stage", as_of)
    if state.owner_since and state.owner_since > as_of:
        state.owner_since = _last_change_before(party, "owner", as_of)
    return state


def _undo(state: PartyAsOf, change: dict[str, Any]) -> None:
    name, old, new = change["field"], change.get("old"), change.get("new")
    if name in state.fields:
        # Undoing the creation leaves no name; keep the one known today.
        if old is not None or name != "display_name":
            state.fields[name] = old
        return
    if new is not None:
        state.added_later.setdefault(name, set()).add(_item_key(new))
    if old is not None:
        state.removed_later.setdefault(name, []).append(old)


def _item_key(item: Any) -> str:
    return str(item.get("id")) if isinstance(item, dict) else str(item)


def _owner_ref(party: Party) -> dict[str, str] | None:
    if party.owner is None:
        return None
    return {"id": str(party.owner.public_id), "name": party.owner.display_name}


def _last_change_before(party: Party, name: str, as_of: dt.datetime) -> dt.datetime:
    events = Event.objects.filter(
        party=party, kind__in=PROFILE_KINDS, recorded_at__lte=as_of
    ).order_by("-recorded_at", "-id")
    for event in events.only("recorded_at", "payload")[:200]:
        if any(c["field"] == name for c in event.payload.get("changes", [])):
            return event.recorded_at
    return party.created_at
