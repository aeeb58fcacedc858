"""Writing imported rows: one savepoint per row, commits in batches.

A row that a service refuses is rolled back alone and reported; the rows
before and after it still import. A real run commits every BATCH_ROWS rows,
so other writers queue only briefly behind a long import, and a run that is
killed leaves whole rows that a second run finds by their keys.

The batch path writes BULK_ROWS rows at a time through the services' batch
functions. A batch that fails as a whole is rolled back and written again
row by row, so a bad row is reported alone, as on the per-row path.

A dry run on SQLite runs the same code against a copy of the database that
is thrown away, so it takes no write lock on the real one and counts exactly
what a real run would create.
"""

import gc
import logging
import sqlite3
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import islice
from pathlib import Path
from typing import Any, Protocol, TypeVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from threadline.errors import ThreadlineError
from threadline.transfer.progress import Progress
from threadline.transfer.report import ImportReport

logger = logging.getLogger(__name__)

# About a second of writing on SQLite: the longest another writer waits.
_checking_together: ContextVar[bool] = ContextVar("checking_together", default=False)
BATCH_ROWS = 200
# The batch path writes this many rows in about the same second.
BULK_ROWS = 1000
# Allocations between collections of the youngest generation during an
# import: a batch's objects live until it is written, and collecting them
# every 700 allocations (Python's default) cost an import a tenth of its time.
IMPORT_COLLECTION_THRESHOLD = 50_000
# The PostgreSQL advisory lock every import batch holds until its commit.
IMPORT_LOCK = 0x7468726561646C  # "threadl"
Row = TypeVar("Row")


class SkipRow(ThreadlineError):
    """The row cannot be used; the message says why."""

    code = "skipped"


class LeftOut(ThreadlineError):
    """The row is not used, and the writer reports it among others like it,
    once per file rather than once per row."""

    code = "left_out"


@contextmanager
def import_transaction(dry_run: bool) -> Iterator[None]:
    """Keep a dry run's writes away from the record.

    On SQLite they go to a throw-away copy of the database. Elsewhere, or
    inside a caller's transaction (which a copy would not see), they happen
    in one transaction that is rolled back, which on PostgreSQL locks only
    the rows it touches. Until a dry run needs no writes at all.
    """
    if not dry_run:
        yield
        return
    if _checking_together.get():
        # Kept for the files checked after this one; a file that fails
        # leaves nothing for them.
        with transaction.atomic():
            yield
        return
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor == "sqlite" and not database.in_atomic_block:
        with _database_copy():
            yield
        return
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@contextmanager
def batch_transaction() -> Iterator[None]:
    """One batch's transaction, taken in turn with every other import's.

    An import looks a row's customer up and creates them if none is found;
    two imports doing so at once for the same person would both create one.
    SQLite's writers already take turns (BEGIN IMMEDIATE). PostgreSQL's do
    not, so its batches wait for a lock held until their commit.
    """
    with transaction.atomic():
        database = connections[DEFAULT_DB_ALIAS]
        if database.vendor == "postgresql":
            with database.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])
        yield


@contextmanager
def checked_together() -> Iterator[None]:
    """Let the dry runs of several files inside the block see each other's
    writes, all thrown away at its end, so that a folder's check counts what
    importing the folder would create: a customer in two files once."""
    with import_transaction(True):
        token = _checking_together.set(True)
        try:
            yield
        finally:
            _checking_together.reset(token)


@contextmanager
def _database_copy() -> Iterator[None]:
    """Point the default database at a copy of it for the block's duration.

    Copying reads the database as any reader does; in WAL mode it blocks no
    writer. The copy costs the database's size in temporary disk space.
    """
    original = connections[DEFAULT_DB_ALIAS]
    with tempfile.TemporaryDirectory(prefix="threadline-dry-run-") as folder:
        path = Path(folder) / "copy.sqlite3"
        original.ensure_connection()
        _copy_sqlite(original.connection, path)
        settings = {**original.settings_dict, "NAME": str(path)}
        copy = original.__class__(settings, DEFAULT_DB_ALIAS)
        connections[DEFAULT_DB_ALIAS] = copy
        logger.debug("Dry run against a copy of the database in %s", path)
        try:
            yield
        finally:
            copy.close()
            connections[DEFAULT_DB_ALIAS] = original


def _copy_sqlite(source: sqlite3.Connection, path: Path) -> None:
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()


def write_rows(
    rows: Iterable[tuple[int, Row]],
    write: Callable[[Row], object],
    report: ImportReport,
    progress: Progress,
    *,
    file: str = "",
) -> None:
    """Write each (line, row) through `write`, reporting the rows it refuses."""
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_ROWS)):
        with batch_transaction():
            for line, row in batch:
                write_one(line, row, write, report, file)
                progress.advance()


class BatchWriter(Protocol[Row]):
    """Writes rows one at a time or a batch at once, with the same result."""

    def write(self, row: Row) -> Any: ...

    def write_batch(self, batch: list[tuple[int, Row]]) -> None: ...

    def forget(self) -> None:
        """Drop what the writer remembers of a batch that was rolled back."""


def write_batches(
    rows: Iterable[tuple[int, Row]],
    writer: BatchWriter[Row],
    report: ImportReport,
    progress: Progress,
    *,
    file: str = "",
    size: int | None = None,
) -> None:
    """Write (line, row) pairs a batch at a time, committing each batch.

    The writer reports the rows it refuses itself. A batch that fails as a
    whole (a constraint, a refused actor) is rolled back, its report undone,
    and written again row by row with one savepoint each.
    """
    iterator = iter(rows)
    with fewer_collections():
        while batch := list(islice(iterator, size or BULK_ROWS)):
            with batch_transaction():
                if not _write_batch(batch, writer, report):
                    for line, row in batch:
                        write_one(line, row, writer.write, report, file)
                # With the batch's commit: a run killed after it counts it.
                progress.advance(len(batch))


class _Collections:
    """How many imports of this process collect garbage less often, and the
    collector's thresholds from before the first of them."""

    lock = threading.Lock()
    imports = 0
    thresholds = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while an import writes.

    A full collection walks every object of the process, Django's own
    included; objects that exist when the first import starts are frozen out
    of the walks, and the youngest generation waits for more allocations.
    Both come back when the last import of the process ends.
    """
    with _Collections.lock:
        if _Collections.imports == 0:
            _Collections.thresholds = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(IMPORT_COLLECTION_THRESHOLD, *_Collections.thresholds[1:])
        _Collections.imports += 1
    try:
        yield
    finally:
        with _Collections.lock:
            _Collections.imports -= 1
            if _Collections.imports == 0:
                gc.set_threshold(*_Collections.thresholds)
                gc.unfreeze()


def _write_batch(
    batch: list[tuple[int, Row]], writer: BatchWriter[Row], report: ImportReport
) -> bool:
    rows_used, created = report.rows_used, Counter(report.created)
    undone_before = Counter(report.undone_before)
    problems = len(report.problems)
    try:
        with transaction.atomic():
            writer.write_batch(batch)
    except (DatabaseError, ThreadlineError) as error:
        logger.warning(
            "A batch from line %d failed as a whole (%s); writing it row by row",
            batch[0][0],
            error,
        )
        report.rows_used, report.created = rows_used, created
        report.undone_before = undone_before
        del report.problems[problems:]
        writer.forget()
        return False
    return True


def write_one(
    line: int,
    row: Row,
    write: Callable[[Row], object],
    report: ImportReport,
    file: str = "",
) -> None:
    """Write one row in its own savepoint; report it if it is refused."""
    try:
        with transaction.atomic():
            write(row)
    except LeftOut:
        return
    except ThreadlineError as error:
        report.problem(line, error.message.rstrip("."), skipped=True, file=file)
        logger.debug("Skipped line %d: %s", line, error.message)
        return
    report.rows_used += 1
