"""The duplicate search after a finished import also covers the parties of
earlier runs that stopped or were killed before their own search."""

import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from django.utils import timezone

from threadline.parties.models import DuplicateCandidate, Party
from threadline.timeline.actors import Actor
from threadline.transfer import runs
from threadline.transfer.importer import import_path
from threadline.transfer.models import ImportRun
from threadline.transfer.runs import (
    STALE_AFTER,
    awaiting_duplicate_search,
    fail_run,
    restart_run,
    start_run,
)

pytestmark = pytest.mark.django_db

Lookalikes = Callable[[ImportRun], tuple[Party, Party]]


def exited_pid() -> int:
    """The id of a process of this host that has ended, as kill -9 leaves it."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def killed() -> ImportRun:
    """A command-line import killed part-way through, a moment ago."""
    run = start_run("big.csv", "csv")
    ImportRun.objects.filter(pk=run.pk).update(owner_pid=exited_pid())
    run.refresh_from_db()
    return run


@pytest.fixture
def lookalikes(make_party: Callable[..., Party]) -> Lookalikes:
    """Two spellings of one customer, both created by the given run."""

    def written_by(run: ImportRun) -> tuple[Party, Party]:
        actor = Actor.importer(run.actor_label)
        return (
            make_party("Jane Example", emails=["jane@example-firm.com"], actor=actor),
            make_party("Jane Exampel", emails=["j.ex@example-firm.com"], actor=actor),
        )

    return written_by


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    """A file of one customer unlike any other."""
    path = tmp_path / "contacts.csv"
    path.write_text("name,email\nTom Sample,tom@example.com\n", encoding="utf-8")
    return path


def paired(first: Party, second: Party) -> bool:
    low, high = sorted([first.pk, second.pk])
    return DuplicateCandidate.objects.filter(first_id=low, second_id=high).exists()


def searched(run: ImportRun) -> bool:
    run.refresh_from_db()
    return run.duplicates_searched_at is not None


def test_the_next_import_queues_the_lookalikes_a_killed_import_made(
    killed, lookalikes, contacts
):
    jane, typo = lookalikes(killed)

    report = import_path(contacts)

    assert paired(jane, typo)
    assert report.new_duplicates == 1
    assert searched(killed)


def test_a_run_of_another_host_whose_heartbeat_stopped_is_covered(lookalikes, contacts):
    run = start_run("big.csv", "csv")
    stale = timezone.now() - STALE_AFTER - dt.timedelta(minutes=1)
    ImportRun.objects.filter(pk=run.pk).update(
        owner_host="another-host", updated_at=stale
    )
    jane, typo = lookalikes(run)

    import_path(contacts)

    assert paired(jane, typo)
    assert searched(run)


def test_a_run_stopped_by_an_error_is_covered(lookalikes, contacts):
    run = start_run("big.csv", "csv")
    jane, typo = lookalikes(run)
    fail_run(run, None, "disk full")

    import_path(contacts)

    assert paired(jane, typo)
    assert searched(run)


def test_a_run_still_at_work_is_left_to_its_own_search(lookalikes, contacts):
    run = start_run("big.csv", "csv")
    jane, typo = lookalikes(run)

    import_path(contacts)

    assert not paired(jane, typo)
    assert not searched(run)


def test_a_killed_runs_parties_are_searched_once(
    killed, lookalikes, contacts, tmp_path, monkeypatch
):
    lookalikes(killed)
    import_path(contacts)
    covered: list[list[str]] = []
    search = runs.find_duplicates_of_runs

    def recorded(labels):
        covered.append(list(labels))
        return search(covered[-1])

    monkeypatch.setattr(runs, "find_duplicates_of_runs", recorded)
    more = tmp_path / "more.csv"
    more.write_text("name,email\nAnn Other,ann@example.com\n", encoding="utf-8")

    report = import_path(more)

    assert report.run is not None
    assert covered == [[report.run.actor_label]]
    assert awaiting_duplicate_search() == []


def test_a_killed_run_started_again_is_searched_again(killed, lookalikes, contacts):
    lookalikes(killed)
    import_path(contacts)

    assert restart_run(killed)

    assert not searched(killed)
    assert awaiting_duplicate_search() == []
