"""Undoing a whole import: every change it made, reversed through the services.

A run labels every event it writes with its own actor label, so its events
say what it did. The undo reverses each change through the service that owns
it, as an actor labelled "undo of import #N":

- notes and other interactions are redacted (events are never deleted);
- follow-ups it created are cancelled and threads it opened are closed,
  unless someone has since worked on them;
- contact points, tags, pinned facts and field values it added to parties
  that existed before are removed or set back; relationships are ended;
- parties it created are archived, unless someone has since recorded
  something of their own on them: those are kept and reported.

Its "imported from" records stay, as history. Staff users a data set import
added are left as they are: they were created unable to sign in.

Each step first checks whether it is already reversed, so an undo that was
interrupted runs again and finishes the rest without doubling anything. An
undo claims its run by setting `undone_at` and naming its process; the run
becomes "undone" at the end. A claim whose process is gone, or whose
`updated_at` went stale, lost its undo on the way.
"""

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from threadline.errors import Conflict, InvalidInput, ThreadlineError
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.followups.services import cancel_follow_up
from threadline.parties.models import ContactPoint, Party, PinnedFact, Relationship
from threadline.parties.services import (
    archive_party,
    end_relationship,
    remove_contact_point,
    restore_party,
    set_tags,
    unpin_fact,
    update_party,
)
from threadline.threads.models import Thread, ThreadStatus
from threadline.threads.services import update_thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import INTERACTION_KINDS, Kind
from threadline.timeline.models import Event
from threadline.timeline.services import latest_version, redact_event
from threadline.transfer.models import RESTORE_FORMAT, ImportRun, RunStatus
from threadline.transfer.runs import is_stale, owner_fields, take_over
from threadline.transfer.writing import batch_transaction

logger = logging.getLogger(__name__)

# Reversals per transaction: other writers wait at most this many.
UNDO_BATCH = 100
# Fields an import may have filled in on a party that existed before, and
# that an undo sets back when nobody has changed them since.
REVERTIBLE_FIELDS = frozenset(
    {
        "given_name",
        "family_name",
        "stage",
        "preferred_channel",
        "contact_hours",
        "language",
        "time_zone",
        "consent",
        "birthday",
    }
)
# Counted in `undone` beside what was reversed: parties and threads kept
# because someone worked on them since, and reversals a service refused.
KEPT = "kept"
NOT_REVERSED = "not reversed"


# What the undo did to each kind of thing it counts, in the order shown.
VERBS = {
    "person": "archived",
    "organisation": "archived",
    "household": "archived",
    "relationship": "ended",
    "thread": "closed",
    "follow-up": "cancelled",
    "field": "set back",
}
PLURALS = {"person": "people"}
NOUN_ORDER = ["person", "organisation", "household", "contact point", "tag"]


@dataclass
class UndoReport:
    """What an undo reversed, what it kept on purpose, and what it could not."""

    run: ImportRun
    undone: Counter[str] = field(default_factory=Counter)
    kept: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def undone_text(self) -> str:
        return undone_text(self.undone)


def undone_text(counts: dict[str, int]) -> str:
    """'archived 2 people; removed 3 notes, 1 tag', or 'nothing to reverse'."""
    by_verb: dict[str, list[str]] = {}
    for noun, count in sorted(counts.items(), key=_noun_order):
        if not count or noun in (KEPT, NOT_REVERSED):
            continue
        name = noun if count == 1 else PLURALS.get(noun, f"{noun}s")
        verb = VERBS.get(noun, "removed")
        by_verb.setdefault(verb, []).append(f"{count:,} {name}")
    order = ["archived", "removed", "ended", "closed", "cancelled", "set back"]
    parts = [f"{verb} {', '.join(by_verb[verb])}" for verb in order if verb in by_verb]
    return "; ".join(parts) or "nothing to reverse"


def _noun_order(item: tuple[str, int]) -> tuple[int, str]:
    noun = item[0]
    return (NOUN_ORDER.index(noun) if noun in NOUN_ORDER else len(NOUN_ORDER), noun)


def undo_label(run: ImportRun) -> str:
    return f"undo of import #{run.pk}"


def undo_import(run: ImportRun, actor: Actor) -> UndoReport:
    """Reverse everything `run` wrote, recorded as "undo of import #N".

    Raises NotAllowed for someone who is not an owner or manager, and
    Conflict for a run that is undone, being undone, or still importing.
    """
    claim_undo(run, actor)
    return finish_undo(run)


def claim_undo(run: ImportRun, actor: Actor) -> None:
    """Mark the run as being undone by `actor`, or say why it cannot be."""
    actor.require_manage()
    run.refresh_from_db()
    _require_undoable(run)

    now = timezone.now()
    # Only the run as it was read: of two undos started at once, one claims it.
    claimed = (
        ImportRun.objects.filter(
            pk=run.pk, updated_at=run.updated_at, undone_at=run.undone_at
        )
        .exclude(status=RunStatus.UNDONE)
        .update(undone_at=now, undone_by=actor.user, updated_at=now, **owner_fields())
    )
    if not claimed:
        raise Conflict(
            f"Import #{run.pk} is being undone right now. Wait for it to finish; "
            "`threadline imports` shows how far it has got."
        )
    run.refresh_from_db()
    logger.info("Undo of import run #%d started", run.pk)


def finish_undo(run: ImportRun) -> UndoReport:
    """Reverse what is not reversed yet, then mark the claimed run undone."""
    take_over(run)
    report = UndoReport(run, Counter(run.undone))
    _Undo(run, report).run_all(_Plan.read(run))

    run.status = RunStatus.UNDONE
    run.undone_at = timezone.now()
    run.undone = dict(report.undone)
    run.save(update_fields=["status", "undone_at", "undone", "updated_at"])
    logger.info("Undid import run #%d: %s", run.pk, report.undone_text())
    return report


def _require_undoable(run: ImportRun) -> None:
    if run.format == RESTORE_FORMAT:
        raise Conflict(
            f"Import #{run.pk} restored a whole archive into an empty install, "
            "which cannot be undone. To start over, point THREADLINE_DATA_DIR "
            "(or DATABASE_URL) at a new, empty database."
        )
    if run.status == RunStatus.UNDONE:
        when = timezone.localtime(run.undone_at).strftime("%Y-%m-%d %H:%M")
        who = f" by {run.undone_by.display_name}" if run.undone_by else ""
        raise Conflict(f"Import #{run.pk} was already undone on {when}{who}.")
    if run.status == RunStatus.RUNNING and not is_stale(run):
        raise Conflict(
            f"Import #{run.pk} is still running. Undo it once it has finished."
        )
    if run.undone_at is not None and not is_stale(run):
        raise Conflict(
            f"Import #{run.pk} is being undone right now. Wait for it to finish; "
            "`threadline imports` shows how far it has got."
        )


Step = tuple[str, Callable[[], str | None]]


@dataclass
class _Plan:
    """What a run wrote, read from the events that carry its label."""

    created: list[int] = field(default_factory=list)
    interactions: list[int] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    follow_ups: list[str] = field(default_factory=list)
    # (party id, change entry) for changes to parties the run did not create.
    changes: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def read(cls, run: ImportRun) -> "_Plan":
        plan = cls()
        # Events have no index on actor_label, so this reads the events table
        # once per undo; until the timeline app indexes it, undo stays rare.
        events = (
            Event.objects.filter(actor_label=run.actor_label)
            .only("id", "party_id", "thread_id", "kind", "payload")
            .order_by("id")
        )
        for event in events.iterator(chunk_size=2000):
            plan._note(event)
        created = set(plan.created)
        plan.changes = [
            (party_id, change)
            for party_id, change in plan.changes
            if party_id not in created
        ]
        return plan

    def _note(self, event: Event) -> None:
        changes = event.payload.get("changes") or []
        if event.kind in INTERACTION_KINDS:
            self.interactions.append(event.pk)
        elif event.kind == Kind.FOLLOW_UP:
            if event.payload.get("action") == "created":
                self.follow_ups.append(event.payload["follow_up"])
        elif event.kind == Kind.THREAD_CHANGE and _opens(changes):
            if event.thread_id is not None:
                self.threads.append(event.thread_id)
        elif event.kind in (Kind.PROFILE_CHANGE, Kind.STAGE_CHANGE):
            if _creates_party(changes):
                self.created.append(event.party_id)
                return
            self.changes += [(event.party_id, change) for change in changes]


def _opens(changes: list[dict[str, Any]]) -> bool:
    return any(c["field"] == "status" and c.get("old") is None for c in changes)


def _creates_party(changes: list[dict[str, Any]]) -> bool:
    return any(c["field"] == "display_name" and c.get("old") is None for c in changes)


class _Undo:
    """The reversals of one run, each checking first that it is still due."""

    def __init__(self, run: ImportRun, report: UndoReport) -> None:
        self.run = run
        self.report = report
        self.actor = Actor.importer(undo_label(run))
        self.reason = archived_reason(run.pk)
        self.labels = (run.actor_label, undo_label(run))

    def run_all(self, plan: _Plan) -> None:
        for batch in _batches(self._steps(plan), UNDO_BATCH):
            # In turn with imports' batches, so none writes to a customer
            # between this batch reading and archiving them.
            with batch_transaction():
                for what, perform in batch:
                    self._apply(what, perform)
                _save_progress(self.run, self.report)

    def _steps(self, plan: _Plan) -> Iterator[Step]:
        # Work first, then interactions, then profiles; parties go last so
        # the steps before still find them in every list.
        for public_id in plan.follow_ups:
            yield "follow-up", partial(self.cancel, public_id)
        for thread_id in plan.threads:
            yield "thread", partial(self.close, thread_id)
        for event_id in plan.interactions:
            yield "entry", partial(self.redact, event_id)
        for party_id, change in plan.changes:
            yield change["field"], partial(self.reverse, party_id, change)
        for party_id in plan.created:
            yield "party", partial(self.archive, party_id)
        for party_id in plan.created:
            yield "relationship", partial(self.unlink, party_id)

    def _apply(self, what: str, perform: Callable[[], str | None]) -> None:
        """Perform one reversal in its own savepoint; a refusal skips it alone."""
        try:
            with transaction.atomic():
                outcome = perform()
        except ThreadlineError as error:
            self.report.undone[NOT_REVERSED] += 1
            self.report.failures.append(f"a {what}: {error.message}")
            logger.warning(
                "Undo of import run #%d could not reverse a %s: %s",
                self.run.pk,
                what,
                error.message,
            )
            return
        if outcome is not None:
            self.report.undone[outcome] += 1

    def _others_wrote(self, events: QuerySet[Event]) -> bool:
        """Say whether anyone but the run and its undo wrote these events."""
        return events.exclude(actor_label__in=self.labels).exists()

    def cancel(self, public_id: str) -> str | None:
        follow_up = FollowUp.objects.filter(
            public_id=public_id, status=FollowUpStatus.OPEN
        ).first()
        if follow_up is None:
            return None
        cancel_follow_up(follow_up, self.actor)
        return "follow-up"

    def close(self, thread_id: int) -> str | None:
        thread = Thread.objects.select_related("party").get(pk=thread_id)
        if not thread.is_open:
            return None
        if self._others_wrote(Event.objects.filter(thread=thread)):
            self.report.kept.append(f"thread {thread.title!r}")
            return KEPT
        update_thread(thread, self.actor, status=ThreadStatus.DONE)
        return "thread"

    def redact(self, event_id: int) -> str | None:
        event = Event.objects.select_related("party").get(pk=event_id)
        try:
            latest_version(event)
        except InvalidInput:
            return None  # removed already
        redact_event(event, actor=self.actor, reason=self.reason)
        return str(event.get_kind_display()).lower()

    def reverse(self, party_id: int, change: dict[str, Any]) -> str | None:
        name = change["field"]
        party = Party.objects.get(pk=party_id)
        if name in REVERTIBLE_FIELDS:
            return self._set_back(party, name, change.get("old"), change.get("new"))
        added = change.get("old") is None and change.get("new") is not None
        if not added:
            return None
        if name == "contact_point":
            return self._remove_point(change["new"])
        if name == "tag":
            return self._remove_tag(party, change["new"])
        if name == "relationship":
            return self._end_link(change["new"])
        if name == "pinned_fact":
            return self._unpin(change["new"])
        return None

    def _remove_point(self, ref: dict[str, Any]) -> str | None:
        point = ContactPoint.objects.filter(public_id=ref["id"]).first()
        if point is None:
            return None
        remove_contact_point(point, self.actor)
        return "contact point"

    def _remove_tag(self, party: Party, name: str) -> str | None:
        current = set(party.tags.values_list("name", flat=True))
        if name not in current:
            return None
        set_tags(party, self.actor, current - {name})
        return "tag"

    def _end_link(self, ref: dict[str, Any]) -> str | None:
        link = (
            Relationship.objects.filter(public_id=ref["id"], ended_on__isnull=True)
            .select_related("from_party", "to_party")
            .first()
        )
        if link is None:
            return None
        end_relationship(link, self.actor)
        return "relationship"

    def _unpin(self, ref: dict[str, Any]) -> str | None:
        fact = PinnedFact.objects.filter(
            public_id=ref["id"], unpinned_at__isnull=True
        ).first()
        if fact is None:
            return None
        unpin_fact(fact, self.actor)
        return "pinned fact"

    def _set_back(self, party: Party, name: str, old: Any, new: Any) -> str | None:
        """Put back a field the import filled in, unless it changed since."""
        current = getattr(party, name)
        shown = current.isoformat() if isinstance(current, dt.date) else current
        if shown != new:
            return None
        value: Any = old if old is not None else ""
        if name == "birthday":
            value = dt.date.fromisoformat(old) if old else None
        update_party(party, self.actor, **{name: value})
        return "field"

    def archive(self, party_id: int) -> str | None:
        party = Party.objects.get(pk=party_id)
        if party.archived_at is not None:
            return None
        if self._others_wrote(Event.objects.filter(party=party)):
            self.report.kept.append(party.display_name)
            return KEPT
        archive_party(party, self.actor, self.reason)
        return str(party.kind)

    def unlink(self, party_id: int) -> str | None:
        """End a kept customer's links to those this undo archived, so they
        work at no company that is gone from every list."""
        party = Party.objects.get(pk=party_id)
        if party.archived_at is not None:
            return None
        links = Relationship.objects.filter(
            Q(from_party=party, to_party__archived_reason=self.reason)
            | Q(to_party=party, from_party__archived_reason=self.reason),
            ended_on__isnull=True,
        ).select_related("from_party", "to_party")
        for link in links:
            end_relationship(link, self.actor)
            self.report.undone["relationship"] += 1
        return None


def _save_progress(run: ImportRun, report: UndoReport) -> None:
    """Store the counts with the batch they describe; they are the heartbeat."""
    ImportRun.objects.filter(pk=run.pk).update(
        undone=dict(report.undone), updated_at=timezone.now()
    )


def _batches(steps: Iterable[Step], size: int) -> Iterator[list[Step]]:
    iterator = iter(steps)
    while batch := list(islice(iterator, size)):
        yield batch


def archived_reason(number: int) -> str:
    """The reason an import's undo gives the customers it archives."""
    return f"import #{number} undone"


def archived_by_undo(number: int) -> QuerySet[Party]:
    """The customers the undo of import `number` archived that are still
    archived (a merge's archived side is brought back by undoing the merge)."""
    return Party.objects.filter(
        archived_at__isnull=False,
        merged_into__isnull=True,
        archived_reason=archived_reason(number),
    ).order_by("pk")


def restore_undone_import(number: int, actor: Actor, reason: str) -> int:
    """Bring back, one by one, the customers still archived by the undo of
    import `number` that the actor may see; return how many. Run again after
    an interruption, it restores the rest. The entries the undo took off
    timelines stay off."""
    actor.require_manage()
    run = ImportRun.objects.filter(pk=number).first()
    if run is not None and run.status != RunStatus.UNDONE:
        raise Conflict(
            f"Import #{number} is not undone, or its undo is still at work: "
            "bring its customers back once the undo has finished."
        )
    archived = archived_by_undo(number)
    if actor.user is not None:
        archived = archived.filter(
            pk__in=Party.objects.visible_to(actor.user, archived=True).values("pk")
        )
    restored = 0
    for party in archived.iterator():
        # Another restore may have brought them back since the query ran.
        restored += restore_party(party, actor, reason)
    logger.info(
        "Restored %d customers archived by the undo of import #%d", restored, number
    )
    return restored


def kept_parties(run: ImportRun) -> QuerySet[Party]:
    """Parties the run created that its undo kept, being in use; those the
    undo archived and someone brought back since are not among them."""
    created = Event.objects.filter(
        actor_label=run.actor_label,
        kind=Kind.PROFILE_CHANGE,
        summary__startswith="Created ",
    ).values("party_id")
    brought_back = Event.objects.filter(
        kind=Kind.PROFILE_CHANGE,
        summary__startswith="Restored: ",
        recorded_at__gte=run.undone_at or timezone.now(),
    ).values("party_id")
    return Party.objects.filter(pk__in=created, archived_at__isnull=True).exclude(
        pk__in=brought_back
    )
