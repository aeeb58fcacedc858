"""A run or undo whose process is gone shows as interrupted at once."""

import datetime as dt
import io
import os
import subprocess
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.transfer.history import State, run_state
from threadline.transfer.importer import import_path
from threadline.transfer.models import ImportRun, RunStatus
from threadline.transfer.runs import STALE_AFTER, restart_run, start_run
from threadline.transfer.undo import claim_undo

pytestmark = pytest.mark.django_db


def exited_pid() -> int:
    """The id of a process of this host that has ended, as kill -9 leaves it."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def ended_thread_id() -> int:
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    assert thread.native_id is not None
    return thread.native_id


def imports(*args: str) -> str:
    out = io.StringIO()
    call_command("imports", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def killed() -> ImportRun:
    """A command-line import killed at row 1,000, a moment ago."""
    run = start_run("big.csv", "csv")
    ImportRun.objects.filter(pk=run.pk).update(
        rows=1000, rows_total=3000, owner_pid=exited_pid()
    )
    run.refresh_from_db()
    return run


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(
        "name,email,notes\nJane Example,jane@example.com,Call after 3pm\n",
        encoding="utf-8",
    )
    return path


def test_a_killed_import_is_interrupted_at_once(killed):
    assert run_state(killed) == State.INTERRUPTED


def test_the_list_says_where_a_killed_import_stopped_and_what_to_do(killed):
    output = imports()

    assert f"Import #{killed.pk} was interrupted at row 1,000: its process ended" in (
        output
    )
    assert "interrupted  1,000 of 3,000 rows done" in output
    assert f"`threadline imports --undo {killed.pk}`" in output


def test_a_killed_import_can_be_run_again_at_once(killed):
    assert restart_run(killed)

    assert killed.status == RunStatus.RUNNING
    assert killed.owner_pid == os.getpid()


def test_a_run_whose_process_lives_is_running():
    run = start_run("big.csv", "csv")

    assert run_state(run) == State.RUNNING
    assert not restart_run(run)


def test_a_run_of_another_host_is_running_until_its_heartbeat_stops(killed):
    ImportRun.objects.filter(pk=killed.pk).update(owner_host="another-host")
    killed.refresh_from_db()
    fresh = run_state(killed)
    stale = timezone.now() - STALE_AFTER - dt.timedelta(minutes=1)
    ImportRun.objects.filter(pk=killed.pk).update(updated_at=stale)
    killed.refresh_from_db()

    assert fresh == State.RUNNING
    assert run_state(killed) == State.INTERRUPTED


def test_a_run_whose_web_thread_ended_is_interrupted_at_once():
    run = start_run("contacts.csv", "csv")
    ImportRun.objects.filter(pk=run.pk).update(owner_thread=ended_thread_id())
    run.refresh_from_db()

    assert run_state(run) == State.INTERRUPTED


def test_a_killed_undo_is_finished_by_the_next_one_at_once(contacts, owner):
    report = import_path(contacts)
    assert report.run is not None
    run = report.run
    claim_undo(run, Actor.for_user(owner))
    ImportRun.objects.filter(pk=run.pk).update(owner_pid=exited_pid())
    run.refresh_from_db()
    listed = imports()

    output = imports("--undo", str(run.pk))

    assert run_state(run) == State.UNDO_INTERRUPTED
    assert f"The undo of import #{run.pk} was interrupted: its process ended" in listed
    assert f"Run `threadline imports --undo {run.pk}` again to finish it" in listed
    assert f"Undid import #{run.pk}: archived 1 person; removed 1 note." in output
    assert not Party.objects.filter(archived_at__isnull=True).exists()


def test_an_undo_at_work_is_not_claimed_twice(contacts, owner):
    report = import_path(contacts)
    assert report.run is not None
    claim_undo(report.run, Actor.for_user(owner))

    with pytest.raises(CommandError, match="being undone right now. Wait for it"):
        imports("--undo", str(report.run.pk))
