"""Keeping the history of imports."""

import datetime as dt
import logging

from django.utils import timezone

from threadline.transfer.models import ImportRun
from threadline.transfer.report import ImportReport

logger = logging.getLogger(__name__)

# A run over a broken file can report every row; the history keeps the first.
MAX_PROBLEMS = 10_000


def record_run(report: ImportReport, started_at: dt.datetime) -> ImportRun:
    """Store what a real import did; dry runs are not recorded."""
    problems = [
        {
            "file": problem.file,
            "line": problem.line,
            "message": problem.message,
            "skipped": problem.skipped,
        }
        for problem in report.problems[:MAX_PROBLEMS]
    ]
    run = ImportRun.objects.create(
        file=report.file[:300],
        mapping=report.mapping[:100],
        description=report.description[:500],
        rows=report.rows,
        rows_used=report.rows_used,
        skipped=report.skipped,
        created=dict(report.created),
        problems=problems,
        actor_label=f"import of {report.file}"[:200],
        started_at=started_at,
        finished_at=timezone.now(),
    )
    logger.info("Recorded import run %s", run.public_id)
    return run
