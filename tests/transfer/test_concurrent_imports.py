"""Two imports at once take their batches in turn, so a customer both files
name is created once."""

import contextlib
import threading
from pathlib import Path

import pytest
from django.db import connection

from threadline.parties.models import Party
from threadline.transfer.importer import ContactWriter, import_path

pytestmark = pytest.mark.django_db(transaction=True)


def people(path: Path, header: str, count: int) -> Path:
    rows = "".join(f"Person {n},p{n}@example.com\n" for n in range(count))
    path.write_text(header + "\n" + rows)
    return path


def test_two_files_imported_at_once_create_each_customer_once(tmp_path, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite's writers take turns by BEGIN IMMEDIATE, and the in-memory "
            "test database shares one cache between threads, so this runs on "
            "PostgreSQL."
        )
    first = people(tmp_path / "a.csv", "name,email", 50)
    second = people(tmp_path / "b.csv", "Full Name,E-mail", 50)
    both_inside = threading.Barrier(2, timeout=2)
    original = ContactWriter.write_batch

    def meet_then_write(self, batch):
        # Without turns, both imports look their rows up before either writes.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_inside.wait()
        return original(self, batch)

    monkeypatch.setattr(ContactWriter, "write_batch", meet_then_write)
    errors: list[BaseException] = []

    def run(path: Path) -> None:
        try:
            import_path(path)
        except BaseException as error:  # the assertion below names it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(path,)) for path in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Party.objects.count() == 50
