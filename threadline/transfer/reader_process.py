"""The entry of a process that reads a file for an import in this one.

A spawned process loads its target, and so this module, before Django is set
up; this module imports none of Threadline's models, and the work arrives
pickled, to be loaded once Django is ready.
"""

import gc
import pickle
import signal
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection

import django

# What the process sends: READY once it is set up, then ROWS with a chunk of
# values as many times as it takes, then DONE; or FAILED with a ChildFailure
# at any point.
READY = "ready"
ROWS = "rows"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class ChildFailure:
    """An exception of the child process, as it crosses to the parent."""

    pickled: bytes
    description: str
    traceback: str = ""

    @classmethod
    def of(cls, error: BaseException) -> "ChildFailure":
        text = "".join(traceback.format_exception(error))
        try:
            pickled = pickle.dumps(error)
        except Exception:
            # An exception may hold anything, picklable or not; its
            # description still crosses.
            pickled = b""
        return cls(pickled, f"{type(error).__name__}: {error}", text)


def run(connection: Connection, work: bytes) -> None:
    """Set Django up, then call the pickled `work` with the connection."""
    # Ctrl-C reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        django.setup()
        _collect_less_often()
        task = pickle.loads(work)
    except Exception as error:
        # Whatever keeps the process from starting, the parent reads instead.
        connection.send((FAILED, ChildFailure.of(error)))
        return
    task(connection)


def _collect_less_often() -> None:
    """Collect garbage as an import's writer does (writing.fewer_collections):
    the objects of the setup are frozen out of collections, and the youngest
    generation waits for more allocations, for the rest of this process."""
    from threadline.transfer.writing import IMPORT_COLLECTION_THRESHOLD

    gc.freeze()
    gc.set_threshold(IMPORT_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
