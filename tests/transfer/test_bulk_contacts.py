"""The batch path of a contacts import makes the record the per-row path
makes, in a fraction of the statements."""

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.transfer.conftest import DATA
from tests.transfer.record_snapshot import run_and_forget, snapshot
from threadline.parties.models import Party
from threadline.timeline.models import Event
from threadline.transfer import writing
from threadline.transfer.importer import import_contacts
from threadline.transfer.reading import open_table

pytestmark = pytest.mark.django_db

CONTACT_FILES = [
    "csv_bom_first_column_email.csv",
    "csv_cp1252_accented_names.csv",
    "csv_email_case_duplicates.csv",
    "csv_phone_extensions.csv",
    "csv_quoted_newline_notes.csv",
    "csv_semicolon_delimited_contacts.csv",
    "csv_single_names.csv",
    "outlook_export.csv",
    "thunderbird_export.csv",
]


def run(path: Path, *, bulk: bool, source: str = "") -> object:
    return import_contacts(open_table(path), None, bulk=bulk, source=source)


@pytest.fixture
def people(tmp_path: Path) -> Path:
    """New people, repeats, a company, a bad birthday and a row with nothing."""
    rows = [
        f"P{n},Person {n},p{n}@example.com,+1 202 555 {n:04d},,vip,\n"
        for n in range(16)
    ]
    rows[5] = "P5,Person 5,P3@EXAMPLE.COM,,,,\n"
    rows[8] = "P8,Ann Lee,ann@example.com,+1 202 555 0001,Acme Ltd,,\n"
    rows[10] = "P10,Old Timer,old@example.com,,,,1850-01-01\n"
    rows[12] = "P12,,,,,,\n"
    rows[14] = "P3,Person 3,other@example.com,,,,\n"
    path = tmp_path / "people.csv"
    path.write_text("id,name,email,phone,company,tags,birthday\n" + "".join(rows))
    return path


@pytest.mark.parametrize("name", CONTACT_FILES)
def test_batch_and_row_paths_make_the_same_record(name):
    per_row = run_and_forget(lambda: run(DATA / name, bulk=False))
    batched = run_and_forget(lambda: run(DATA / name, bulk=True))

    assert batched == per_row


def test_repeats_companies_and_bad_rows_match_the_per_row_path(people):
    per_row = run_and_forget(lambda: run(people, bulk=False))
    batched = run_and_forget(lambda: run(people, bulk=True))

    assert batched == per_row
    report_summary = batched[0]
    assert report_summary[:2] == (16, 15)
    assert any("1850-01-01" in problem for problem in report_summary[3])
    assert any("line 14: no name, email" in problem for problem in report_summary[3])


def test_a_second_batched_run_adds_nothing(people):
    run(people, bulk=True)
    before = snapshot()

    again = run(people, bulk=True)

    assert snapshot() == before
    assert not any(again.created.values())


def test_new_people_take_a_few_statements_per_batch(tmp_path):
    path = tmp_path / "many.csv"
    rows = "".join(f"Person {n},p{n}@example.com,vip\n" for n in range(300))
    path.write_text("name,email,tags\n" + rows)

    with CaptureQueriesContext(connection) as queries:
        report = run(path, bulk=True)

    assert report.rows_used == 300
    assert Party.objects.count() == 300
    assert Event.objects.filter(kind="import").count() == 300
    assert len(queries) < 40


def test_a_batch_that_fails_as_a_whole_is_written_row_by_row(people, monkeypatch):
    def refuse(self, batch):
        raise writing.DatabaseError("disk full")

    monkeypatch.setattr(
        "threadline.transfer.importer.ContactWriter.write_batch", refuse
    )
    retried = run_and_forget(lambda: run(people, bulk=True))
    per_row = run_and_forget(lambda: run(people, bulk=False))

    assert retried == per_row
