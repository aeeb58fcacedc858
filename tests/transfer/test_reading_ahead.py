"""A large table's contacts are built in a child process, with the same
record, report and errors as when they are built in the importing one.

Each child takes about a second to start, so the tests lower the size from
which one is started and say at which row it takes over.
"""

import datetime as dt
import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.transfer.record_snapshot import run_and_forget, summary
from threadline.errors import ThreadlineError
from threadline.parties.models import Party
from threadline.transfer import importer, reading_ahead
from threadline.transfer.contacts import Contact, Point
from threadline.transfer.importer import import_contacts
from threadline.transfer.mapping import plan_columns
from threadline.transfer.reading import FileChanged, Table, open_table
from threadline.transfer.reading_ahead import (
    ChildTraceback,
    ReaderStopped,
    built_contacts,
    packed,
    unpacked,
)

pytestmark = pytest.mark.django_db

HEADER = "id,first_name,last_name,email,phone,company,tags,notes,birthday,stage\n"
# Rows whose every value is read the same, and rows that are refused or warn.
ODD_ROWS = [
    "X1,Ann,Lee,ann@example,020 7946 0001,,vip,,,\n",
    "X2,Bo,Park,bo@example.com,not a phone,Acme Ltd,,,31/02/1980,customer\n",
    "X3,,,,,,,,,\n",
    'X4,Cara,Novak,cara@example.com ::: CARA@example.com,,,"a, b",'
    '"Call after six\nnot before",1979-12-25,whatever\n',
    "X5,Dev,Silva,dev@example.com,020 7946 0005,Acme Ltd,,,,lead,extra\n",
    "X6,Ann,Lee,ANN@EXAMPLE.COM,,,,,1850-01-01,\n",
]


@pytest.fixture
def contacts_file(tmp_path: Path) -> Path:
    """People with emails, phones written as in Britain, notes and tags,
    repeats, and rows that are refused or warn, spread over the file."""
    rows = [
        f"P{n},Person,Number {n},p{n}@example.com,020 7946 {n:04d},"
        f"{'Acme Ltd' if n % 4 == 0 else ''},{'vip' if n % 3 == 0 else ''},"
        f"{'Gate code 4411' if n % 5 == 0 else ''},,\n"
        for n in range(30)
    ]
    for place, row in zip((2, 7, 11, 16, 23, 29), ODD_ROWS, strict=True):
        rows.insert(place, row)
    path = tmp_path / "contacts.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


@pytest.fixture
def read_ahead(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    """Build every table's contacts in a child that takes over at row 3, in
    chunks of 4 rows, in Britain; the child must get the region from here."""
    monkeypatch.setattr(reading_ahead, "AHEAD_FROM_ROWS", 1)
    monkeypatch.setattr(reading_ahead, "CPUS", 2)
    monkeypatch.setattr(reading_ahead, "HANDOVER_ROWS", 3)
    monkeypatch.setattr(reading_ahead, "CHUNK_ROWS", 4)
    settings.DEFAULT_REGION = "GB"


@pytest.fixture
def handovers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows after which children took over."""
    taken: list[int] = []
    take_over = reading_ahead._Child.contacts_after

    def recorded(self, built: int) -> Iterator[tuple[int, Contact]]:
        taken.append(built)
        return take_over(self, built)

    monkeypatch.setattr(reading_ahead._Child, "contacts_after", recorded)
    return taken


@pytest.fixture
def child_pids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The process ids of the children started."""
    pids: list[int] = []
    start = reading_ahead._Child.start.__func__

    def recorded(cls, table: Table, plan: list, prepare: object = None) -> object:
        child = start(cls, table, plan, prepare)
        pids.append(child.process.pid)
        return child

    monkeypatch.setattr(reading_ahead._Child, "start", classmethod(recorded))
    return pids


def import_here(path: Path, **options: object) -> object:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reading_ahead, "AHEAD_FROM_ROWS", 10**9)
        return import_contacts(open_table(path), None, **options)


def assert_gone(pid: int) -> None:
    """The process ended and was waited for: not even a zombie is left."""
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert multiprocessing.active_children() == []


def test_a_child_builds_the_record_and_report_built_here(
    contacts_file, read_ahead, handovers
):
    here = run_and_forget(lambda: import_here(contacts_file))
    ahead = run_and_forget(lambda: import_contacts(open_table(contacts_file), None))

    assert handovers == [3]
    assert ahead == here
    report_summary, record = ahead
    assert report_summary[:2] == (36, 35)
    kept = "(the rest of the row imported)"
    assert report_summary[3] == [
        "line 4: 'ann@example' is not an email address: the part after the "
        f"@-sign is not valid. It should have a period; left out {kept}",
        f"line 9: 'not a phone' is not a phone number, left out {kept}",
        f"line 9: birthday '31/02/1980' is not a date; left out {kept}",
        "line 13: no name, email, phone or company to import (row skipped)",
        f"line 18: stage 'whatever' is not one Threadline knows, left out {kept}",
        "line 26: the row has 11 values but the header names 10 columns; the "
        f"values past the last column were left out {kept}",
        "line 32: birthday 1850-01-01 is not plausible (before 1900 or in the "
        f"future); left out {kept}",
    ]
    points = [
        point for party in record["parties"].values() for point in party["points"]
    ]
    assert ("phone", "020 7946 0029", "+442079460029") in [
        point[:3] for point in points
    ]


@pytest.mark.django_db(transaction=True)
def test_a_dry_run_through_a_child_reports_what_one_here_does(
    contacts_file, read_ahead, handovers
):
    here = import_here(contacts_file, dry_run=True)
    ahead = import_contacts(open_table(contacts_file), None, dry_run=True)

    assert handovers == [3]
    assert summary(ahead) == summary(here)
    assert ahead.created["person"] == 35
    assert Party.objects.count() == 0


def test_an_error_reading_in_the_child_is_raised_here(
    contacts_file, read_ahead, monkeypatch, handovers
):
    monkeypatch.setattr(reading_ahead, "HANDOVER_ROWS", 0)
    table = open_table(contacts_file)
    with contacts_file.open("a") as stream:
        stream.write("P99,Late,Row,late@example.com,,,,,,\n")

    with pytest.raises(
        FileChanged, match="contacts.csv changed after it was"
    ) as raised:
        import_contacts(table, None)

    assert handovers == [0]
    assert isinstance(raised.value.__cause__, ChildTraceback)
    assert "in rows" in str(raised.value.__cause__)
    assert Party.objects.count() == 0


def test_a_failed_write_ends_the_child(
    contacts_file, read_ahead, monkeypatch, child_pids
):
    def fail_after_a_row(rows, *args, **kwargs) -> None:
        next(iter(rows))
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(importer, "write_batches", fail_after_a_row)

    with pytest.raises(RuntimeError, match="the disk is full"):
        import_contacts(open_table(contacts_file), None)

    [pid] = child_pids
    assert_gone(pid)


def test_leaving_the_rows_early_ends_the_child(
    contacts_file, read_ahead, monkeypatch, child_pids, handovers
):
    monkeypatch.setattr(reading_ahead, "HANDOVER_ROWS", 0)
    table = open_table(contacts_file)
    plan = plan_columns(table.header, None, table)

    with built_contacts(table, plan) as pairs:
        line, contact = next(pairs)

    assert (line, contact.key) == (2, "id:P0")
    assert handovers == [0]
    [pid] = child_pids
    assert_gone(pid)


@dataclass(frozen=True)
class StallingTable(Table):
    """A table whose reading hangs after its last row, as on a stuck disk."""

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        yield from super().rows()
        time.sleep(60)


def test_a_killed_child_stops_the_rows_with_a_clear_error(
    contacts_file, read_ahead, monkeypatch, child_pids
):
    monkeypatch.setattr(reading_ahead, "HANDOVER_ROWS", 0)
    monkeypatch.setattr(reading_ahead, "CHUNK_ROWS", 1)
    opened = open_table(contacts_file)
    table = StallingTable(**{name: getattr(opened, name) for name in vars(opened)})
    plan = plan_columns(table.header, None, table)

    with built_contacts(table, plan) as pairs:
        taken = [next(pairs) for _ in range(table.row_count)]
        [pid] = child_pids
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ReaderStopped) as raised:
            next(pairs)

    assert len(taken) == 36
    assert isinstance(raised.value, ThreadlineError)
    assert raised.value.message == (
        "Reading contacts.csv stopped before the end of the file: the process "
        "reading it ended (exit code -9). Run the import again to import the "
        "rest."
    )
    assert_gone(pid)


def test_a_stuck_child_stops_the_rows_with_a_clear_error(
    contacts_file, read_ahead, monkeypatch, child_pids
):
    monkeypatch.setattr(reading_ahead, "HANDOVER_ROWS", 0)
    monkeypatch.setattr(reading_ahead, "CHUNK_ROWS", 1)
    monkeypatch.setattr(reading_ahead, "STALL_SECONDS", 1.0)
    opened = open_table(contacts_file)
    table = StallingTable(**{name: getattr(opened, name) for name in vars(opened)})
    plan = plan_columns(table.header, None, table)

    with pytest.raises(ReaderStopped) as raised, built_contacts(table, plan) as pairs:
        for _ in pairs:
            pass

    assert raised.value.message == (
        "Reading contacts.csv stopped: the process reading it sent nothing for 1 "
        "seconds and was ended. Run the import again to import the rest."
    )
    [pid] = child_pids
    assert_gone(pid)


def test_a_child_that_cannot_start_leaves_the_rows_to_this_process(
    contacts_file, read_ahead, monkeypatch, handovers, caplog
):
    monkeypatch.setattr(reading_ahead, "HANDOVER_ROWS", 0)
    monkeypatch.setattr(
        reading_ahead, "_read_settings", lambda: ({}, "Not/A_Time_Zone")
    )

    ahead = run_and_forget(lambda: import_contacts(open_table(contacts_file), None))
    here = run_and_forget(lambda: import_here(contacts_file))

    assert ahead == here
    assert handovers == []
    assert "The process to read contacts.csv did not start" in caplog.text
    assert "Not/A_Time_Zone" in caplog.text


def test_a_small_table_is_built_in_this_process(contacts_file, monkeypatch):
    def refuse(*args: object) -> None:
        raise AssertionError("a child was started for a small table")

    monkeypatch.setattr(reading_ahead._Child, "start", refuse)

    report = import_contacts(open_table(contacts_file), None)

    assert report.rows_used == 35


def test_a_packed_contact_unpacks_to_the_same_contact():
    contact = Contact(
        line=7,
        key="id:C7",
        given_name="Ann",
        family_name="Lee",
        full_name="Ann Lee",
        emails=[Point("Ann@Example.com", "ann@example.com", "work")],
        phones=[Point("1047", "1047", "desk", "", dialable=False)],
        addresses=[Point("1 Main St", "1 Main St", "home")],
        company="Acme Ltd",
        role="Engineer",
        threadline_id=uuid.uuid4(),
        is_organisation=False,
        notes="Gate code 4411",
        tags=["vip"],
        stage="customer",
        birthday=dt.date(1979, 12, 25),
        photo=b"\x89PNG",
        photo_type="image/png",
        warnings=["stage 'x' is not one Threadline knows, left out"],
    )

    values = packed(contact)

    assert unpacked(values) == contact
    assert not any(isinstance(value, Point) for value in values)
