"""The life of a real import run: started, progressing, finished or failed.

A run is stored before its first row, so the web app can show its progress
and a killed run stays visible. While it works, every actor an importer
asks for carries the run's own label, which is what lets an undo find
exactly what the run wrote.
"""

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from threadline.accounts.models import User
from threadline.parties.duplicates import FindResult, find_duplicates_of_runs
from threadline.public_ids import new_public_id
from threadline.timeline.actors import Actor
from threadline.transfer.models import ImportRun, RunStatus
from threadline.transfer.progress import Progress
from threadline.transfer.report import (
    ImportReport,
    collecting_reports,
    first_report,
)

logger = logging.getLogger(__name__)

# A run over a broken file can report every row; the history keeps the first.
MAX_PROBLEMS = 10_000
# How often, in rows, a run's progress is written for the web app to show.
PROGRESS_EVERY = 200
# A run (or its undo) that wrote nothing for this long died with its process:
# both write their progress every few seconds while they work. Only needed
# when that process is on another host: one on this host is looked up.
STALE_AFTER = dt.timedelta(minutes=5)

_active_run: ContextVar[ImportRun | None] = ContextVar("active_run", default=None)


def import_actor(file_label: str) -> Actor:
    """The actor an importer writes as: the active run's, else a dry run's."""
    run = _active_run.get()
    if run is not None:
        return Actor.importer(run.actor_label)
    return Actor.importer(f"import of {file_label}"[:200])


def undone_runs() -> dict[str, int]:
    """The actor labels of undone imports, to their numbers: what these
    imports wrote is left out when their files come again."""
    return dict(
        ImportRun.objects.filter(status=RunStatus.UNDONE).values_list(
            "actor_label", "pk"
        )
    )


def active_run() -> ImportRun | None:
    return _active_run.get()


def start_run(
    file: str,
    format: str,
    *,
    source: str = "",
    user: User | None = None,
    public_id: uuid.UUID | None = None,
) -> ImportRun:
    """Store a run about to start; its label names it among all runs.

    Raises IntegrityError for a `public_id` another run has.
    """
    started_at = timezone.now()
    run = ImportRun.objects.create(
        public_id=public_id or new_public_id(),
        file=file[:300],
        format=format,
        mapping="automatic",
        source=source[:100],
        actor_label="import",
        started_by=user,
        started_at=started_at,
        **owner_fields(),
    )
    label = f"import #{run.pk} of {file}"[:200]
    ImportRun.objects.filter(pk=run.pk).update(actor_label=label)
    run.actor_label = label
    logger.info("Started import run #%d of %s", run.pk, file)
    return run


@contextmanager
def running(run: ImportRun) -> Iterator[ImportRun]:
    """Make `run` the active run for the importers called inside, owned by
    this thread."""
    take_over(run)
    token = _active_run.set(run)
    try:
        with collecting_reports():
            yield run
    finally:
        _active_run.reset(token)


def finish_run(run: ImportRun, report: ImportReport) -> ImportRun:
    """Store what a run did once its last row is written."""
    _copy_report(run, report)
    run.status = RunStatus.DONE
    run.finished_at = timezone.now()
    run.save()
    logger.info(
        "Import run #%d of %s finished: %d of %d rows used",
        run.pk,
        run.file,
        report.rows_used,
        report.rows,
    )
    return run


def fail_run(
    run: ImportRun, report: ImportReport | None, error: str, *, refused: bool = False
) -> None:
    """Keep a stopped run in the history with its error and what it got to.

    A run `refused` stopped on what the file holds, which whoever started it
    is told; anything else is also worth a warning in the log.
    """
    if report is not None:
        _copy_report(run, report)
    run.status = RunStatus.FAILED
    run.error = error[:5000]
    run.finished_at = timezone.now()
    # Without a report, the counts its last progress note stored stand.
    fields = ["status", "error", "finished_at", "updated_at"]
    with transaction.atomic():
        run.save(update_fields=None if report is not None else fields)
    level = logging.INFO if refused else logging.WARNING
    logger.log(level, "Import run #%d of %s stopped: %s", run.pk, run.file, error)


def search_duplicates_after(run: ImportRun) -> FindResult:
    """Queue the lookalikes among the parties a finished run wrote, and among
    those of earlier runs that stopped or died before their own search."""
    waiting = [run, *awaiting_duplicate_search(excluding=run)]
    if len(waiting) > 1:
        logger.info(
            "The duplicate search after import run #%d also covers runs %s, "
            "which stopped before their own",
            run.pk,
            ", ".join(f"#{each.pk}" for each in waiting[1:]),
        )
    result = find_duplicates_of_runs(each.actor_label for each in waiting)
    _mark_searched(waiting)
    return result


def awaiting_duplicate_search(excluding: ImportRun | None = None) -> list[ImportRun]:
    """The runs whose parties no duplicate search has covered yet, but for
    those still at work, which search their own as they finish."""
    unsearched = (
        ImportRun.objects.filter(duplicates_searched_at=None)
        # What telling a run at work needs; a run's problems can be large.
        .only(
            "actor_label",
            "status",
            "updated_at",
            "owner_host",
            "owner_pid",
            "owner_thread",
        )
        .order_by("pk")
    )
    if excluding is not None:
        unsearched = unsearched.exclude(pk=excluding.pk)
    return [each for each in unsearched if not _at_work(each)]


def _at_work(run: ImportRun) -> bool:
    return run.status == RunStatus.RUNNING and not is_stale(run)


def _mark_searched(runs: list[ImportRun]) -> None:
    """Mark the runs searched, but for any restarted since they were read:
    its new pass writes more, which its own search will cover."""
    unchanged = Q()
    for each in runs:
        unchanged |= Q(pk=each.pk, updated_at=each.updated_at)
    # update(), not save(): a newer updated_at would make a dead run look alive.
    ImportRun.objects.filter(unchanged, duplicates_searched_at=None).update(
        duplicates_searched_at=timezone.now()
    )


def owner_fields(*, thread: bool = False) -> dict[str, Any]:
    """Name this process (and thread) as the one at work on a run."""
    return {
        "owner_host": socket.gethostname()[:255],
        "owner_pid": os.getpid(),
        "owner_thread": threading.get_native_id() if thread else None,
    }


def take_over(run: ImportRun) -> None:
    """Make this thread the run's owner as its work starts here."""
    fields = owner_fields(thread=True)
    ImportRun.objects.filter(pk=run.pk).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)


def is_stale(run: ImportRun) -> bool:
    """Say whether the work on a run that claims to be at work has died."""
    return owner_gone(run) or run.updated_at < timezone.now() - STALE_AFTER


def owner_gone(run: ImportRun) -> bool:
    """Say whether the run's owner is known to be gone: a process of this host
    that no longer exists, or a thread of this process that has ended."""
    if run.owner_pid is None or run.owner_host != socket.gethostname()[:255]:
        return False
    if not _process_exists(run.owner_pid):
        return True
    if run.owner_pid != os.getpid() or run.owner_thread is None:
        return False
    alive = {thread.native_id for thread in threading.enumerate()}
    return run.owner_thread not in alive


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def restart_run(run: ImportRun) -> bool:
    """Mark a stopped or dead run as running again, for a second pass over its
    file under the same label; return False if it is neither."""
    run.refresh_from_db()
    dead = run.status == RunStatus.RUNNING and is_stale(run)
    if run.undone_at is not None or not (run.status == RunStatus.FAILED or dead):
        return False

    # Only if nobody changed it since it was read: two restarts, or a run
    # that was alive after all, leave it alone.
    restarted = ImportRun.objects.filter(
        pk=run.pk, status=run.status, updated_at=run.updated_at, undone_at=None
    ).update(
        status=RunStatus.RUNNING,
        error="",
        finished_at=None,
        updated_at=timezone.now(),
        # What this pass writes needs a search of its own.
        duplicates_searched_at=None,
        **owner_fields(),
    )
    if restarted:
        run.refresh_from_db()
        logger.info("Import run #%d of %s started again", run.pk, run.file)
    return bool(restarted)


def note_progress(
    run: ImportRun, rows_done: int, rows_total: int, created: dict[str, int]
) -> None:
    """Write how far a run has got and what it has created so far; readers
    see it at the next commit, the one of the rows it counts."""
    ImportRun.objects.filter(pk=run.pk).update(
        rows=rows_done,
        rows_total=rows_total,
        created=created,
        updated_at=timezone.now(),
    )


def created_in_all(run: ImportRun, report: ImportReport | None) -> dict[str, int]:
    """What every pass over the run's file created: the earlier passes' counts,
    as the run was loaded for this one, and this pass's so far."""
    earlier = Counter(run.created)
    if report is not None:
        earlier.update(report.created)
    return dict(earlier)


def _copy_report(run: ImportRun, report: ImportReport) -> None:
    run.file = report.file[:300] or run.file
    run.mapping = report.mapping[:100]
    run.description = report.description[:500]
    run.rows = report.rows
    run.rows_total = max(run.rows_total, report.rows)
    run.rows_used = report.rows_used
    run.skipped = report.skipped
    run.created = created_in_all(run, report)
    run.problems = [
        {
            "file": problem.file,
            "line": problem.line,
            "message": problem.message,
            "skipped": problem.skipped,
            "rows": problem.rows,
            "unit": problem.unit,
        }
        for problem in report.problems[:MAX_PROBLEMS]
    ]


def erase_problems(
    rows: dict[str, set[int]], names_them: Callable[[str], bool], marker: str
) -> int:
    """For an erasure: put `marker` in place of every problem message, in any
    run, about a person's rows or naming them; return how many were replaced.

    `rows` holds, per run label, the lines that imported the person: a
    problem there is about them even when it quotes only a bad value.
    Elsewhere `names_them` decides from the text. A run's error is replaced
    whole when it names them; the file, line and outcome stay.
    """
    # Known gap: a file name naming them (a run's file and label) is kept.
    replaced = 0
    runs = ImportRun.objects.only("pk", "actor_label", "problems", "error")
    for run in runs.iterator(chunk_size=50):
        lines = rows.get(run.actor_label, set())
        problems = []
        for problem in run.problems:
            message = str(problem.get("message", ""))
            if message != marker and (
                problem.get("line") in lines or names_them(message)
            ):
                problem = {**problem, "message": marker}
                replaced += 1
            problems.append(problem)
        error = run.error
        if error and error != marker and names_them(error):
            error = marker
            replaced += 1
        if problems != run.problems or error != run.error:
            # Not save(): a newer updated_at would make a dead run look alive.
            ImportRun.objects.filter(pk=run.pk).update(problems=problems, error=error)
    return replaced


class RunProgress:
    """Passes progress on to `shown` and keeps the run's counts current."""

    def __init__(self, run: ImportRun, shown: Progress) -> None:
        self.run = run
        self.shown = shown
        self.total = 0
        self.done = 0

    def start(self, total: int, label: str) -> None:
        self.total += total
        self._note()
        self.shown.start(total, label)

    def advance(self, rows: int = 1) -> None:
        before = self.done // PROGRESS_EVERY
        self.done += rows
        if self.done // PROGRESS_EVERY != before:
            self._note()
        self.shown.advance(rows)

    def _note(self) -> None:
        created = created_in_all(self.run, first_report())
        note_progress(self.run, self.done, self.total, created)

    def finish(self) -> None:
        self.shown.finish()
