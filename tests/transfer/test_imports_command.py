"""threadline imports: the list of runs, and --undo N."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from threadline.errors import InvalidInput
from threadline.parties.models import Party
from threadline.transfer.importer import import_path
from threadline.transfer.models import ImportRun, RunStatus

pytestmark = pytest.mark.django_db


def imports(*args: str) -> str:
    out = io.StringIO()
    call_command("imports", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def run(tmp_path: Path) -> ImportRun:
    path = tmp_path / "contacts.csv"
    path.write_text(
        "name,email,notes\n"
        "Jane Example,jane@example.com,Call after 3pm\n"
        ",,a note with nobody to put it on\n",
        encoding="utf-8",
    )
    report = import_path(path)
    assert report.run is not None
    return report.run


def test_lists_recent_runs_with_state_and_counts(run):
    output = imports()

    assert f"#{run.pk}  " in output
    assert "contacts.csv (csv)" in output
    assert (
        f"done  1 of 2 rows used, 1 problem (--problems {run.pk}); created 1 person"
        in output
    )


def test_problems_lists_each_problem_of_a_run(run):
    output = imports("--problems", str(run.pk))

    assert output.startswith("line 3: ")
    assert "(row skipped)" in output


def test_problems_of_an_unknown_run_names_the_list():
    with pytest.raises(CommandError, match="There is no import #99"):
        imports("--problems", "99")


def test_says_so_when_there_are_no_imports():
    assert "No imports yet." in imports()


def test_undo_reverses_the_run_and_says_what_it_did(run):
    output = imports("--undo", str(run.pk))

    assert f"Undid import #{run.pk}: archived 1 person; removed 1 note." in output
    assert not Party.objects.filter(archived_at__isnull=True).exists()
    run.refresh_from_db()
    assert run.status == RunStatus.UNDONE
    assert "undone: archived 1 person" in imports()


def test_undoing_twice_is_refused_with_a_message(run):
    imports("--undo", str(run.pk))

    with pytest.raises(CommandError, match=r"already undone on .* Nothing was changed"):
        imports("--undo", str(run.pk))


def test_undo_of_an_unknown_run_names_the_list():
    with pytest.raises(CommandError, match="There is no import #99; `threadline"):
        imports("--undo", "99")


def test_reimporting_an_undone_file_says_its_rows_were_left_out(run, tmp_path):
    imports("--undo", str(run.pk))
    out = io.StringIO()

    call_command("import", str(tmp_path / "contacts.csv"), stdout=out)

    output = out.getvalue()
    assert (
        f"contacts.csv: 1 row was imported before by import #{run.pk}, which was "
        "undone, so not imported again" in output
    )
    assert "Imported 0 of 2 rows usable, 2 skipped." in output
    assert not Party.objects.filter(archived_at__isnull=True).exists()
    latest = ImportRun.objects.first()
    assert latest is not None
    assert latest.problems[-1]["rows"] == 1


def test_problems_of_a_run_that_stopped_say_why(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(InvalidInput):
        import_path(path)
    run = ImportRun.objects.get()

    output = imports("--problems", str(run.pk))

    assert output.startswith(f"Import #{run.pk} of broken.csv stopped: ")
