"""A dry run takes no write lock; a real run commits in small steps."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from threadline.parties.models import ContactPoint, Party
from threadline.timeline.models import Event
from threadline.transfer import writing
from threadline.transfer.importer import import_path

WRITES = ("INSERT", "UPDATE", "DELETE", "BEGIN", "SAVEPOINT")


def run_import(*args: str) -> str:
    out = io.StringIO()
    call_command("import", *args, stdout=out)
    return out.getvalue()


def record_size() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Party, ContactPoint, Event))


@pytest.fixture
def people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    rows = "".join(f"Person {n},p{n}@example.com\n" for n in range(30))
    path.write_text("name,email\n" + rows + "Person 0,P0@example.com\n")
    return path


@pytest.mark.django_db(transaction=True)
def test_dry_run_writes_nothing_to_the_database(people):
    if connection.vendor != "sqlite":
        pytest.skip(
            "On PostgreSQL a dry run is a rolled-back transaction, which locks "
            "only its own new rows and so blocks no other writer."
        )
    with CaptureQueriesContext(connection) as captured:
        output = run_import(str(people), "--dry-run")

    written = [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith(WRITES)
    ]
    assert written == []
    assert record_size() == (0, 0, 0)
    assert "Would create: 30 people, 30 contact points" in output


@pytest.mark.django_db(transaction=True)
def test_dry_run_counts_what_a_real_run_creates(people):
    dry = import_path(people, dry_run=True)

    real = import_path(people)

    assert dry.created == real.created
    assert (dry.rows, dry.rows_used) == (real.rows, real.rows_used)


@pytest.mark.django_db(transaction=True)
def test_others_can_write_while_a_dry_run_is_in_progress(people):
    class WriteMidway:
        wrote = False

        def start(self, total: int, label: str) -> None:
            return None

        def advance(self, rows: int = 1) -> None:
            if not self.wrote:
                self.wrote = True
                with original.cursor() as cursor:
                    cursor.execute("UPDATE transfer_importrun SET rows = 0")

        def finish(self) -> None:
            return None

    original = connections["default"]
    progress = WriteMidway()

    import_path(people, dry_run=True, progress=progress)

    assert progress.wrote
    assert not original.in_atomic_block


@pytest.mark.django_db(transaction=True)
def test_a_killed_real_run_is_completed_by_a_second_run(people, monkeypatch):
    monkeypatch.setattr(writing, "BATCH_ROWS", 7)
    monkeypatch.setattr(writing, "BULK_ROWS", 7)

    class Killed(Exception):
        pass

    class KillAfter:
        seen = 0

        def start(self, total: int, label: str) -> None:
            return None

        def advance(self, rows: int = 1) -> None:
            self.seen += rows
            if self.seen >= 17:
                raise Killed

        def finish(self) -> None:
            return None

    with pytest.raises(Killed):
        import_path(people, progress=KillAfter())
    assert 0 < Party.objects.count() < 30

    import_path(people)

    assert Party.objects.count() == 30
    assert ContactPoint.objects.count() == 30
    assert Event.objects.filter(kind="import").count() == 31
