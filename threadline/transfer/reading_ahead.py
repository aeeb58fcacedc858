"""Building a large table's contacts in a child process while this one writes.

Reading a row, building its contact (splitting names, validating emails,
parsing phones) and preparing the person it creates (importer.prepare_people:
the rows it stores, in the database driver's form) is more than half of an
import's work, and it needs nothing from the database; on a second core a
child process does it while the parent writes. The child
is spawned, never forked: the web app imports in a thread of a
multi-threaded server, where forking is unsafe.

A spawned child needs about a second to start Python and Django, so the
parent builds rows itself meanwhile and hands over at the row it reached:
the child reads past the rows before it. A small table starts no child, nor
does a machine with one CPU.

The child sends contacts a chunk at a time, as tuples of plain values that
load several times faster than pickled dataclasses, and stops building when
AHEAD_CHUNKS chunks wait unread, so memory stays level whatever the size of
the file. It has no database connection and writes nothing.
"""

import logging
import multiprocessing
import os
import pickle
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import tzinfo
from functools import partial
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.utils import timezone

from threadline.errors import ThreadlineError
from threadline.transfer import reader_process
from threadline.transfer.contacts import Contact, Point, build_contact
from threadline.transfer.mapping import Target
from threadline.transfer.reader_process import DONE, FAILED, READY, ROWS, ChildFailure
from threadline.transfer.reading import Table

logger = logging.getLogger(__name__)

# Below this many rows the child's start costs more than it saves.
AHEAD_FROM_ROWS = 3000
# With one CPU the child would only take turns with the parent.
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
# Rows per message: few enough to start writing soon, enough to send cheaply.
CHUNK_ROWS = 250
# Chunks the child builds ahead of the parent: more than a write batch.
AHEAD_CHUNKS = 8
# How often the parent, building rows itself, looks whether the child is up.
POLL_ROWS = 50
# The parent waits for the child once it has built this many rows; with None
# it builds on until the child is up. Tests set it to hand over at a known row.
HANDOVER_ROWS: int | None = None
# The settings that building a contact reads, besides the current time zone.
READ_SETTINGS = ("DEFAULT_REGION",)
STOP_SECONDS = 5.0
# A chunk takes the child well under a second; one that takes this long
# means the child is stuck, and the import stops rather than wait forever.
STALL_SECONDS = 300.0

Pairs = Iterator[tuple[int, Contact]]
Plan = list[Target | None]
Prepare = Callable[[list[Contact]], None]


class ReaderStopped(ThreadlineError):
    """The process reading the file ended before the end of the file."""

    code = "reader_stopped"


@contextmanager
def built_contacts(
    table: Table, plan: Plan, prepare: Prepare | None = None
) -> Iterator[Pairs]:
    """Give the table's rows as (line, contact) pairs, in the file's order.

    A large table's contacts are built in a child process, when there is a
    CPU to spare, stopped when the block ends; the errors of reading and
    building are raised here as they would be without one. Raises
    ReaderStopped if the child dies.

    The child also hands each chunk of contacts it builds to `prepare` (a
    function that pickles and needs no database), which sets what it can of
    them in advance; the rows built here are left for the writer to prepare.
    """
    if table.row_count < AHEAD_FROM_ROWS or CPUS < 2:
        yield _built_here(table.rows(), plan)
        return

    child = _Child.start(table, plan, prepare)
    try:
        yield _handed_over(table, plan, child)
    finally:
        if child is not None:
            child.stop()


def _built_here(
    rows: Iterable[tuple[int, list[str]]], plan: Plan
) -> Generator[tuple[int, Contact], None, None]:
    for line, cells in rows:
        yield line, build_contact(line, cells, plan)


def _handed_over(table: Table, plan: Plan, child: "_Child | None") -> Pairs:
    """Build rows here until the child is up, then take the rest from it."""
    here = _built_here(table.rows(), plan)
    if child is None:
        yield from here
        return

    built = 0
    try:
        while not child.is_up(built):
            pair = next(here, None)
            if pair is None:
                return
            built += 1
            yield pair
    finally:
        here.close()
    yield from child.contacts_after(built)


class _Child:
    """A child process building a table's contacts, and the pipe to it."""

    def __init__(
        self, file_name: str, process: SpawnProcess, connection: Connection
    ) -> None:
        self.file_name = file_name
        self.process = process
        self.connection = connection
        self.failed = False
        self.finished = False
        self.stopped = False

    @classmethod
    def start(
        cls, table: Table, plan: Plan, prepare: Prepare | None = None
    ) -> "_Child | None":
        """Start a child for the table; None, and a warning, if none starts."""
        context = multiprocessing.get_context("spawn")
        connection, child_end = context.Pipe()
        work = partial(
            _build_in_child,
            table,
            plan,
            prepare,
            _read_settings(),
            CHUNK_ROWS,
            AHEAD_CHUNKS,
        )
        process = context.Process(
            target=reader_process.run,
            args=(child_end, pickle.dumps(work)),
            name="threadline-contact-reader",
            daemon=True,
        )
        try:
            process.start()
        except OSError:
            logger.warning(
                "Could not start a process to read %s; reading it here",
                table.path.name,
                exc_info=True,
            )
            connection.close()
            return None
        finally:
            # Only the child holds its end, so reading here ends when it dies.
            child_end.close()
        logger.debug("Reading %s in process %s", table.path.name, process.pid)
        return cls(table.path.name, process, connection)

    def is_up(self, built: int) -> bool:
        """Say whether the child is ready to take over after `built` rows.

        Looks every POLL_ROWS rows, and waits once `built` reaches
        HANDOVER_ROWS. A child that failed to start is stopped, with a
        warning, and never is.
        """
        if self.failed:
            return False
        waits = HANDOVER_ROWS is not None and built >= HANDOVER_ROWS
        if not waits and (built % POLL_ROWS or not self.connection.poll()):
            return False

        try:
            message = self.connection.recv()
        except (EOFError, OSError):
            ended = f"it ended with exit code {self._exit_code()}"
            message = (FAILED, ChildFailure(b"", ended))
        if message[0] == READY:
            return True
        self._give_up(message[1])
        return False

    def _give_up(self, failure: ChildFailure) -> None:
        logger.warning(
            "The process to read %s did not start (%s); reading it here%s",
            self.file_name,
            failure.description,
            f"\n{failure.traceback}" if failure.traceback else "",
        )
        self.failed = True
        self.stop()

    def contacts_after(self, built: int) -> Pairs:
        """Have the child build the rows after the first `built`, and yield
        them as they come."""
        self.connection.send(built)
        logger.debug(
            "Process %s builds the rows of %s after the first %d",
            self.process.pid,
            self.file_name,
            built,
        )
        while True:
            message = self._received()
            if message[0] == DONE:
                self.finished = True
                return
            if message[0] == FAILED:
                raise _error_of(message[1], self.file_name)
            for values in message[1]:
                contact = unpacked(values)
                yield contact.line, contact

    def _received(self) -> tuple[Any, ...]:
        try:
            if not self.connection.poll(STALL_SECONDS):
                raise ReaderStopped(
                    f"Reading {self.file_name} stopped: the process reading it "
                    f"sent nothing for {STALL_SECONDS:.0f} seconds and was ended. "
                    "Run the import again to import the rest."
                )
            message: tuple[Any, ...] = self.connection.recv()
        except (EOFError, OSError) as error:
            raise ReaderStopped(
                f"Reading {self.file_name} stopped before the end of the file: "
                f"the process reading it ended (exit code {self._exit_code()}). "
                "Run the import again to import the rest."
            ) from error
        return message

    def _exit_code(self) -> int | None:
        self.process.join(STOP_SECONDS)
        return self.process.exitcode

    def stop(self) -> None:
        """End the child, whatever it is doing, and wait for it."""
        if self.stopped:
            return
        self.stopped = True
        self.connection.close()
        if not self.finished:
            self.process.terminate()
        self.process.join(STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.process.close()


def _error_of(failure: ChildFailure, file_name: str) -> BaseException:
    """The child's exception, or a ReaderStopped describing it if it cannot
    be rebuilt here; the child's traceback is its cause."""
    try:
        error: BaseException = pickle.loads(failure.pickled)
    except Exception:
        # Rebuilding calls the class as its arguments say, which fails for
        # many signatures in many ways; the description remains.
        error = ReaderStopped(
            f"Reading {file_name} failed in the process reading it: "
            f"{failure.description}."
        )
    error.__cause__ = ChildTraceback(failure.traceback)
    return error


class ChildTraceback(Exception):
    """Where the child was when it failed, shown as the cause of its error."""

    def __str__(self) -> str:
        return f"\n\nIn the process reading the file:\n{self.args[0]}"


def _read_settings() -> tuple[dict[str, Any], tzinfo]:
    """What building reads from settings here, which tests may override."""
    values = {name: getattr(settings, name) for name in READ_SETTINGS}
    return values, timezone.get_current_timezone()


def _build_in_child(
    table: Table,
    plan: Plan,
    prepare: Prepare | None,
    read_settings: tuple[dict[str, Any], tzinfo],
    chunk_rows: int,
    ahead_chunks: int,
    connection: Connection,
) -> None:
    """Build the table's contacts after the row the parent names, sending
    them in chunks; the child's work."""
    try:
        _set_up(*read_settings)
    except Exception as error:
        # A setting this process cannot take: the parent reads instead.
        connection.send((FAILED, ChildFailure.of(error)))
        return
    connection.send((READY,))
    try:
        start: int = connection.recv()
    except EOFError:
        return

    sender = _Sender(connection, ahead_chunks)
    try:
        pairs = _built_here(islice(table.rows(), start, None), plan)
        while chunk := [contact for _, contact in islice(pairs, chunk_rows)]:
            if prepare is not None:
                prepare(chunk)
            sender.send((ROWS, [packed(contact) for contact in chunk]))
        sender.send((DONE,))
    except Exception as error:
        # The parent raises it, as if it had read the row itself.
        sender.send((FAILED, ChildFailure.of(error)))
    sender.close()


def _set_up(values: dict[str, Any], zone: tzinfo) -> None:
    for name, value in values.items():
        setattr(settings, name, value)
    timezone.activate(zone)


class _Sender:
    """Sends messages from a thread, so that building goes on while the
    pipe is full, until `ahead` messages wait."""

    def __init__(self, connection: Connection, ahead: int) -> None:
        self.waiting: queue.Queue[tuple[Any, ...] | None] = queue.Queue(ahead)
        self.thread = threading.Thread(
            target=self._send_all, args=(connection,), daemon=True
        )
        self.thread.start()

    def send(self, message: tuple[Any, ...]) -> None:
        self.waiting.put(message)

    def close(self) -> None:
        self.waiting.put(None)
        self.thread.join()

    def _send_all(self, connection: Connection) -> None:
        while (message := self.waiting.get()) is not None:
            try:
                connection.send(message)
            except OSError:
                # The parent stopped reading: nothing is left to do.
                os._exit(0)


_contact_values = attrgetter(*(field.name for field in fields(Contact)))
_point_values = attrgetter(*(field.name for field in fields(Point)))
# The contact's fields that hold points, with their places among its fields.
_POINT_LISTS = [
    (index, field.name)
    for index, field in enumerate(fields(Contact))
    if field.name in {"emails", "phones", "addresses"}
]


def packed(contact: Contact) -> tuple[Any, ...]:
    """The contact's fields in order, its points as tuples."""
    values = list(_contact_values(contact))
    for index, _ in _POINT_LISTS:
        values[index] = [_point_values(point) for point in values[index]]
    return tuple(values)


def unpacked(values: tuple[Any, ...]) -> Contact:
    """The contact `packed` gave the values of."""
    contact = Contact(*values)
    for index, name in _POINT_LISTS:
        setattr(contact, name, [Point(*point) for point in values[index]])
    return contact
