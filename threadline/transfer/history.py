"""Reading the history of imports: each run's state, counts and problems."""

import logging
import uuid
from dataclasses import dataclass

from django.db.models import QuerySet

from threadline.errors import NotFound
from threadline.transfer.models import RESTORE_FORMAT, ImportRun, RunStatus
from threadline.transfer.report import NOUNS
from threadline.transfer.runs import is_stale
from threadline.transfer.undo import KEPT, NOT_REVERSED, undone_text

logger = logging.getLogger(__name__)

# Problems shown on a run's page; the rest are in its problems file.
PROBLEMS_SHOWN = 50


class State:
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    DONE = "done"
    FAILED = "failed"
    UNDOING = "undoing"
    UNDO_INTERRUPTED = "undo interrupted"
    UNDONE = "undone"


@dataclass(frozen=True)
class RunView:
    """What the history shows of one run."""

    run: ImportRun
    state: str

    @property
    def working(self) -> bool:
        """Whether the run or its undo is at work, so the page should refresh."""
        return self.state in (State.RUNNING, State.UNDOING)

    @property
    def can_undo(self) -> bool:
        if self.run.format == RESTORE_FORMAT:
            return False
        return self.state in (
            State.DONE,
            State.FAILED,
            State.INTERRUPTED,
            State.UNDO_INTERRUPTED,
        )

    @property
    def can_run_again(self) -> bool:
        return self.state in (State.INTERRUPTED, State.FAILED)

    @property
    def percent(self) -> int:
        run = self.run
        if not run.rows_total:
            return 0
        return min(100, round(100 * run.rows / run.rows_total))

    @property
    def added_nothing(self) -> bool:
        """Whether the run finished having created nothing: every record was
        in the record already, or none could be used."""
        return self.state == State.DONE and not any(self.run.created.values())

    @property
    def created_text(self) -> str:
        return created_text(self.run.created)

    @property
    def undone_text(self) -> str:
        return undone_text(self.run.undone)

    @property
    def undone_so_far(self) -> int:
        counts = self.run.undone
        return sum(
            count for noun, count in counts.items() if noun not in (KEPT, NOT_REVERSED)
        )

    @property
    def kept(self) -> int:
        return int(self.run.undone.get(KEPT, 0))

    @property
    def not_reversed(self) -> int:
        return int(self.run.undone.get(NOT_REVERSED, 0))

    @property
    def problems_shown(self) -> list[dict[str, object]]:
        return list(self.run.problems[:PROBLEMS_SHOWN])

    @property
    def more_problems(self) -> int:
        return max(0, len(self.run.problems) - PROBLEMS_SHOWN)


def run_state(run: ImportRun) -> str:
    """Say where a run is, telling a live run from one whose process died."""
    if run.status == RunStatus.UNDONE:
        return State.UNDONE
    if run.undone_at is not None:
        return State.UNDO_INTERRUPTED if is_stale(run) else State.UNDOING
    if run.status == RunStatus.RUNNING:
        return State.INTERRUPTED if is_stale(run) else State.RUNNING
    if run.status == RunStatus.FAILED:
        return State.FAILED
    return State.DONE


def view(run: ImportRun) -> RunView:
    return RunView(run, run_state(run))


def recent_runs() -> QuerySet[ImportRun]:
    """Every run, newest first, with the people it names."""
    return ImportRun.objects.select_related("started_by", "undone_by").order_by(
        "-started_at", "-id"
    )


def created_text(created: dict[str, int]) -> str:
    """'2 people, 1 organisation' from a run's counts, in a fixed order."""
    parts = []
    for key, (one, many) in NOUNS.items():
        count = created.get(key, 0)
        if count:
            parts.append(f"{count:,} {one if count == 1 else many}")
    others = sorted(key for key in created if key not in NOUNS and created[key])
    parts += [f"{created[key]:,} {key}" for key in others]
    return ", ".join(parts) or "nothing new"


def find_run(public_id: uuid.UUID) -> ImportRun:
    """The run with this id and the people it names; NotFound if none."""
    run = recent_runs().filter(public_id=public_id).first()
    if run is None:
        raise NotFound("No such import.")
    return run
