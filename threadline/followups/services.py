"""Follow-ups: creating, finishing, rescheduling and reassigning them."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from threadline.accounts.models import User
from threadline.errors import InvalidInput
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.parties.models import Party
from threadline.parties.names import clean_line
from threadline.threads.models import Thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import PLAN_AHEAD, Kind, check_moment
from threadline.timeline.services import record_event, require_visible


def create_follow_up(
    party: Party,
    actor: Actor,
    summary: str,
    due_at: dt.datetime,
    assignee: User,
    *,
    thread: Thread | None = None,
    occurred_at: dt.datetime | None = None,
) -> FollowUp:
    actor.require_write()
    require_visible(party, actor)
    text = clean_line(summary)
    if not text:
        raise InvalidInput("Say what needs doing.", field="summary")
    _check_due(due_at)
    _check_assignee(assignee, party)
    if thread is not None and thread.party_id != party.pk:
        raise InvalidInput("That thread belongs to another customer.", field="thread")

    with transaction.atomic():
        follow_up = FollowUp.objects.create(
            party=party,
            thread=thread,
            summary=text[:300],
            due_at=due_at,
            assignee=assignee,
            created_by=actor.user,
        )
        _record(
            follow_up,
            actor,
            "created",
            f"Follow-up: {follow_up.summary}",
            occurred_at=occurred_at,
        )
    return follow_up


def complete_follow_up(
    follow_up: FollowUp,
    actor: Actor,
    note: str = "",
    *,
    occurred_at: dt.datetime | None = None,
) -> FollowUp:
    _require_open(follow_up, actor)
    with transaction.atomic():
        follow_up.status = FollowUpStatus.DONE
        follow_up.completed_at = occurred_at or timezone.now()
        follow_up.save(update_fields=["status", "completed_at", "updated_at"])
        summary = f"Done: {follow_up.summary}"
        if note.strip():
            summary += f" ({' '.join(note.split())})"
        _record(follow_up, actor, "done", summary[:500], occurred_at=occurred_at)
    return follow_up


def cancel_follow_up(follow_up: FollowUp, actor: Actor) -> FollowUp:
    _require_open(follow_up, actor)
    with transaction.atomic():
        follow_up.status = FollowUpStatus.CANCELLED
        follow_up.completed_at = timezone.now()
        follow_up.save(update_fields=["status", "completed_at", "updated_at"])
        _record(follow_up, actor, "cancelled", f"Cancelled: {follow_up.summary}")
    return follow_up


def reschedule_follow_up(
    follow_up: FollowUp, actor: Actor, due_at: dt.datetime
) -> FollowUp:
    _require_open(follow_up, actor)
    _check_due(due_at)
    old = follow_up.due_at
    with transaction.atomic():
        follow_up.due_at = due_at
        follow_up.save(update_fields=["due_at", "updated_at"])
        _record(
            follow_up,
            actor,
            "rescheduled",
            f"Rescheduled: {follow_up.summary}",
            changes=[
                {"field": "due_at", "old": old.isoformat(), "new": due_at.isoformat()}
            ],
        )
    return follow_up


def reassign_follow_up(follow_up: FollowUp, actor: Actor, assignee: User) -> FollowUp:
    _require_open(follow_up, actor)
    _check_assignee(assignee, follow_up.party)
    old = follow_up.assignee
    if old.pk == assignee.pk:
        return follow_up
    with transaction.atomic():
        follow_up.assignee = assignee
        follow_up.save(update_fields=["assignee", "updated_at"])
        _record(
            follow_up,
            actor,
            "reassigned",
            f"Reassigned to {assignee.display_name}: {follow_up.summary}",
            changes=[
                {
                    "field": "assignee",
                    "old": old.display_name,
                    "new": assignee.display_name,
                }
            ],
        )
    return follow_up


def _record(
    follow_up: FollowUp,
    actor: Actor,
    action: str,
    summary: str,
    changes: list[dict[str, object]] | None = None,
    occurred_at: dt.datetime | None = None,
) -> None:
    record_event(
        follow_up.party,
        Kind.FOLLOW_UP,
        summary,
        actor=actor,
        thread=follow_up.thread,
        occurred_at=occurred_at,
        payload={
            "follow_up": str(follow_up.public_id),
            "action": action,
            "due_at": follow_up.due_at.isoformat(),
            "assignee": follow_up.assignee.display_name,
            "changes": changes or [],
        },
    )


def _require_open(follow_up: FollowUp, actor: Actor) -> None:
    actor.require_write()
    require_visible(follow_up.party, actor)
    if not follow_up.is_open:
        raise InvalidInput(f"This follow-up is already {follow_up.status}.")


def _check_due(due_at: dt.datetime) -> None:
    if timezone.is_naive(due_at):
        raise InvalidInput("The due time needs a time zone.", field="due_at")
    check_moment(due_at, latest=PLAN_AHEAD, field="due_at")


def _check_assignee(assignee: User, party: Party) -> None:
    if not assignee.is_active:
        raise InvalidInput(
            f"{assignee.display_name} is deactivated; assign someone else.",
            field="assignee",
        )
    if not assignee.can_write:
        raise InvalidInput(
            f"{assignee.display_name} may only read the record and could not "
            "finish it; assign someone else.",
            field="assignee",
        )
    if not Party.objects.visible_to(assignee).filter(pk=party.pk).exists():
        raise InvalidInput(
            f"{assignee.display_name} cannot see this customer; assign someone "
            "it is open to.",
            field="assignee",
        )
