"""Recording events: the one way anything lands on a timeline."""

import datetime as dt
import logging
import zoneinfo
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from threadline.errors import InvalidInput, NotFound
from threadline.parties.models import Party
from threadline.parties.names import clean_line, clean_text
from threadline.time_zones import require_time_zone
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import (
    AWAITS_REPLY_WITHIN,
    CONTACT_KINDS,
    PLAN_AHEAD,
    RECORD_AHEAD,
    Kind,
    check_moment,
    validate_payload,
)
from threadline.timeline.models import Event

logger = logging.getLogger(__name__)

SUMMARY_MAX = 500


def record_event(
    party: Party,
    kind: str,
    summary: str,
    *,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    occurred_tz: str = "",
    payload: dict[str, Any] | None = None,
    body: str = "",
    thread: Any = None,
    source: str = "",
    external_id: str = "",
    corrects: Event | None = None,
) -> tuple[Event, bool]:
    """Append an event to the party's timeline; return it and whether it is new.

    The same (source, external_id) never creates a second event: the first
    one is returned with False. Raises InvalidInput or NotAllowed and then
    writes nothing.
    """
    actor.require_write()
    require_visible(party, actor)
    fields = _validated_fields(
        party.time_zone, kind, summary, occurred_at, occurred_tz, payload or {}, body
    )
    if bool(source) != bool(external_id):
        raise InvalidInput("Give both a source and an external id, or neither.")

    if external_id:
        existing = Event.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            event = Event.objects.create(
                party=party,
                thread=thread,
                actor_kind=actor.kind,
                actor_user=actor.user,
                actor_label=actor.label[:200],
                source=source,
                external_id=external_id,
                corrects=corrects,
                **fields,
            )
            if kind in CONTACT_KINDS or corrects is not None:
                refresh_party_activity(party)
    except IntegrityError:
        if not external_id:
            raise
        # A concurrent writer stored the same source and id first.
        return Event.objects.get(source=source, external_id=external_id), False

    logger.debug("Recorded %s event %s", kind, event.public_id)
    return event, True


def correct_event(
    event: Event,
    *,
    actor: Actor,
    summary: str | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
    body: str | None = None,
) -> Event:
    """Supersede an event with a corrected copy; the original stays in history."""
    target = latest_version(event)
    if target.kind in _SERVICE_KINDS:
        raise InvalidInput(
            "Changes recorded by Threadline itself cannot be corrected; "
            "make a new change instead."
        )

    merged = {**target.payload, **(payload or {})}
    corrected, _ = record_event(
        target.party,
        target.kind,
        summary if summary is not None else target.summary,
        actor=actor,
        occurred_at=occurred_at or target.occurred_at,
        occurred_tz=target.occurred_tz,
        payload=merged,
        body=body if body is not None else target.body,
        thread=target.thread,
        corrects=target,
    )
    return corrected


def redact_event(event: Event, *, actor: Actor, reason: str) -> Event:
    """Hide an event from the timeline, recording who did it and why."""
    target = latest_version(event)
    redaction, _ = record_event(
        target.party,
        Kind.CORRECTION,
        f"Removed a {target.get_kind_display().lower()} entry",
        actor=actor,
        payload={"reason": reason, "redacted": True},
        corrects=target,
    )
    return redaction


def latest_version(event: Event) -> Event:
    """Follow corrections forward to the version the timeline shows."""
    current = event
    while True:
        newer = Event.objects.filter(corrects=current).order_by("-id").first()
        if newer is None:
            return current
        if newer.kind == Kind.CORRECTION:
            raise InvalidInput("This entry was removed and cannot be changed.")
        current = newer


def refresh_party_activity(party: Party) -> None:
    """Recompute when the party was last in touch and whether they await us."""
    contacts = Event.objects.effective().filter(party=party, kind__in=CONTACT_KINDS)
    latest_contact = contacts.values_list("occurred_at", flat=True).first()
    latest_inbound = (
        contacts.filter(awaiting_inbound())
        .values_list("occurred_at", flat=True)
        .first()
    )
    awaiting = None
    if latest_inbound is not None:
        replied = contacts.filter(occurred_at__gt=latest_inbound).filter(
            Q(direction="outbound") | Q(kind__in=[Kind.MEETING, Kind.VISIT])
        )
        if not replied.exists():
            awaiting = latest_inbound
    Party.objects.filter(pk=party.pk).update(
        last_interaction_at=latest_contact, awaiting_reply_since=awaiting
    )
    party.last_interaction_at = latest_contact
    party.awaiting_reply_since = awaiting


def awaiting_inbound() -> Q:
    """Inbound messages that leave their customer waiting for a reply: those
    recorded soon after they were sent (kinds.awaits_reply)."""
    return Q(
        kind=Kind.MESSAGE,
        direction="inbound",
        recorded_at__lte=F("occurred_at") + AWAITS_REPLY_WITHIN,
    )


def require_visible(party: Party, actor: Actor) -> None:
    if actor.sees_everything:
        return
    assert actor.user is not None
    if not Party.objects.visible_to(actor.user).filter(pk=party.pk).exists():
        raise NotFound("No such customer, or you do not have access to it.")


_SERVICE_KINDS = frozenset(
    {
        Kind.STAGE_CHANGE,
        Kind.PROFILE_CHANGE,
        Kind.THREAD_CHANGE,
        Kind.ACCESS_CHANGE,
        Kind.HANDOVER,
        Kind.IMPORT,
        Kind.FOLLOW_UP,
        Kind.CORRECTION,
    }
)


def _validated_fields(
    party_time_zone: str,
    kind: str,
    summary: str,
    occurred_at: dt.datetime | None,
    occurred_tz: str,
    payload: dict[str, Any],
    body: str,
) -> dict[str, Any]:
    text = clean_line(summary)
    if not text:
        raise InvalidInput("Write a short summary of what happened.", field="summary")
    if len(text) > SUMMARY_MAX:
        raise InvalidInput(
            f"The summary is {len(text)} characters; keep it within {SUMMARY_MAX} "
            "and put the rest in the body.",
            field="summary",
        )
    when = occurred_at or timezone.now()
    if timezone.is_naive(when):
        raise InvalidInput(
            "The time has no time zone; give it with an offset or in UTC.",
            field="occurred_at",
        )
    # A booking may be entered at the time it is for; anything else is
    # recorded when it happened.
    ahead = PLAN_AHEAD if kind == Kind.BOOKING else RECORD_AHEAD
    check_moment(when, latest=ahead, field="occurred_at")
    zone = require_time_zone(
        occurred_tz or party_time_zone or settings.TIME_ZONE, field="occurred_tz"
    )

    stored = validate_payload(kind, payload)
    return {
        "kind": kind,
        "summary": text,
        "occurred_at": when.astimezone(dt.UTC),
        "occurred_tz": zone,
        "payload": stored,
        "body": clean_text(body),
        "direction": stored.get("direction", ""),
        "scheduled_for": _scheduled_for(stored),
    }


def _scheduled_for(payload: dict[str, Any]) -> dt.datetime | None:
    """When a booking is for: its start, or for an all-day one given by its
    days alone, the start of its first day where the business is."""
    starts_at = payload.get("starts_at")
    if starts_at:
        return dt.datetime.fromisoformat(starts_at).astimezone(dt.UTC)
    first_day = payload.get("first_day")
    if payload.get("all_day") and first_day:
        day = dt.date.fromisoformat(first_day)
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        return dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)
    return None
