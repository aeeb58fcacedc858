"""Writing imported rows: the garbage collector's settings while it runs."""

import gc
import threading

import pytest

from threadline.transfer.writing import IMPORT_COLLECTION_THRESHOLD, fewer_collections


def test_an_import_collects_less_often_and_restores_the_collector() -> None:
    before = gc.get_threshold()

    with fewer_collections():
        assert gc.get_threshold()[0] == IMPORT_COLLECTION_THRESHOLD
        assert gc.get_freeze_count() > 0

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_collector_comes_back_after_a_failed_import() -> None:
    before = gc.get_threshold()

    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the import failed")

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_overlapping_imports_restore_the_collector_when_the_last_ends() -> None:
    before = gc.get_threshold()
    first_inside, second_done = threading.Event(), threading.Event()

    def second_import() -> None:
        first_inside.wait()
        with fewer_collections():
            pass
        second_done.set()

    other = threading.Thread(target=second_import)
    other.start()
    with fewer_collections():
        first_inside.set()
        second_done.wait()
        assert gc.get_threshold()[0] == IMPORT_COLLECTION_THRESHOLD
    other.join()

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
