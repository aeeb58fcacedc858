"""Writing imported rows: one savepoint per row, commits in batches.

A row that a service refuses is rolled back alone and reported; the rows
before and after it still import. A real run commits every BATCH_ROWS rows,
so other writers queue only briefly behind a long import; a dry run does all
of it inside one transaction that is rolled back at the end.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import TypeVar

from django.db import transaction

from threadline.errors import ThreadlineError
from threadline.transfer.progress import Progress
from threadline.transfer.report import ImportReport

logger = logging.getLogger(__name__)

BATCH_ROWS = 500
Row = TypeVar("Row")


class SkipRow(ThreadlineError):
    """The row cannot be used; the message says why."""

    code = "skipped"


@contextmanager
def import_transaction(dry_run: bool) -> Iterator[None]:
    """Wrap a dry run in a transaction that is always rolled back.

    On SQLite the dry run holds the write lock until it ends, so other
    writers wait for it (the Maven data set takes about 30 s). Until dry runs
    check against a snapshot of the database instead.
    """
    if not dry_run:
        yield
        return
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def write_rows(
    rows: Iterable[tuple[int, Row]],
    write: Callable[[Row], None],
    report: ImportReport,
    progress: Progress,
    *,
    file: str = "",
) -> None:
    """Write each (line, row) through `write`, reporting the rows it refuses."""
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_ROWS)):
        with transaction.atomic():
            for line, row in batch:
                _write_one(line, row, write, report, file)
                progress.advance()


def _write_one(
    line: int,
    row: Row,
    write: Callable[[Row], None],
    report: ImportReport,
    file: str,
) -> None:
    try:
        with transaction.atomic():
            write(row)
    except ThreadlineError as error:
        report.problem(line, error.message.rstrip("."), skipped=True, file=file)
        logger.debug("Skipped line %d: %s", line, error.message)
        return
    report.rows_used += 1
