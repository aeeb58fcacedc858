"""Opening threads and moving them through their statuses."""

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from threadline.accounts.models import User
from threadline.errors import InvalidInput
from threadline.parties.models import Party
from threadline.parties.services import user_ref
from threadline.threads.models import OPEN_STATUSES, Thread, ThreadKind, ThreadStatus
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.services import record_event, require_visible


def open_thread(
    party: Party,
    actor: Actor,
    kind: str,
    title: str,
    *,
    next_step: str = "",
    owner: User | None = None,
    status: str = ThreadStatus.OPEN,
    opened_at: dt.datetime | None = None,
    source: str = "",
    external_id: str = "",
) -> Thread:
    """Open a thread on a party and record it on the timeline."""
    actor.require_write()
    require_visible(party, actor)
    if external_id:
        existing = Thread.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing
    if kind not in ThreadKind.values:
        raise InvalidInput(f"{kind!r} is not a kind of thread.", field="kind")
    if status not in ThreadStatus.values:
        raise InvalidInput(f"{status!r} is not a thread status.", field="status")
    clean_title = " ".join(title.split())
    if not clean_title:
        raise InvalidInput("Give the thread a title.", field="title")

    when = opened_at or timezone.now()
    with transaction.atomic():
        thread = Thread.objects.create(
            party=party,
            kind=kind,
            title=clean_title[:300],
            status=status,
            next_step=next_step.strip()[:300],
            owner=owner or party.owner,
            opened_at=when,
            closed_at=None if status in OPEN_STATUSES else when,
            source=source,
            external_id=external_id,
        )
        record_event(
            party,
            Kind.THREAD_CHANGE,
            f"Opened {thread.get_kind_display().lower()}: {thread.title}",
            actor=actor,
            occurred_at=when,
            thread=thread,
            payload={"changes": [{"field": "status", "old": None, "new": status}]},
        )
    return thread


def update_thread(
    thread: Thread,
    actor: Actor,
    *,
    occurred_at: dt.datetime | None = None,
    **changes: Any,
) -> Thread:
    """Change a thread's status, next step, title or owner, with its event."""
    actor.require_write()
    require_visible(thread.party, actor)
    allowed = {"status", "next_step", "title", "owner"}
    unknown = changes.keys() - allowed
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]!r} is not a field of a thread.")
    if "status" in changes and changes["status"] not in ThreadStatus.values:
        raise InvalidInput(f"{changes['status']!r} is not a thread status.")

    diff = {
        k: (getattr(thread, k), v)
        for k, v in changes.items()
        if getattr(thread, k) != v
    }
    if not diff:
        return thread
    when = occurred_at or timezone.now()
    with transaction.atomic():
        for key, (_, new) in diff.items():
            setattr(thread, key, new)
        if "status" in diff:
            thread.closed_at = None if thread.is_open else when
        thread.save()
        entries = [
            {
                "field": key,
                "old": user_ref(old) if key == "owner" else old,
                "new": user_ref(new) if key == "owner" else new,
            }
            for key, (old, new) in diff.items()
        ]
        record_event(
            thread.party,
            Kind.THREAD_CHANGE,
            _summary(thread, diff),
            actor=actor,
            occurred_at=when,
            thread=thread,
            payload={"changes": entries},
        )
    return thread


def _summary(thread: Thread, diff: dict[str, tuple[Any, Any]]) -> str:
    if "status" in diff:
        return f"{thread.title}: {ThreadStatus(diff['status'][1]).label.lower()}"
    return f"{thread.title}: changed " + ", ".join(k.replace("_", " ") for k in diff)
