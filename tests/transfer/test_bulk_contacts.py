"""The batch path of a contacts import makes the record the per-row path
makes, in a fraction of the statements."""

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.transfer.conftest import DATA
from tests.transfer.record_snapshot import run_and_forget, snapshot
from threadline.parties.models import Party, PartyKind, Relationship
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


@pytest.fixture
def companies(tmp_path: Path, make_party) -> Path:
    """People at new and known organisations: repeated companies, other
    spellings of one name, job titles, rows that describe a company itself
    before and after its people, and a known person at a company."""
    make_party("Bright Labs", kind=PartyKind.ORGANISATION)
    make_party("Known Person", emails=["known@example.com"])
    rows = [
        "C1,Ann Lee,ann@example.com,,Acme Ltd,Engineer,,\n",
        "C2,Bo Park,bo@example.com,,ACME LTD,,vip,\n",
        "C3,Cara Novak,cara@example.com,,Café Noir,Owner,,Opens at seven\n",
        "C4,Dev Silva,dev@example.com,,CAFE NOIR,  Barista  ,,\n",
        "C5,,,+1 202 555 0100,Bright Labs,,,\n",
        "C6,Eli Berg,eli@example.com,,Bright Labs,CTO,,\n",
        "C7,,,+1 202 555 0101,Delta Works,,partner,\n",
        "C8,Fay Khan,fay@example.com,,Delta Works,,,\n",
        "C9,Gus Ito,gus@example.com,,Echo GmbH,Director,,\n",
        "C10,,,+1 202 555 0102,Echo GmbH,,supplier,\n",
        "C11,Hana Lee,ann@example.com,,Acme Ltd,Lead engineer,,\n",
        "C12,Ivo Park,ivo@example.com,,,,,\n",
        "C13,Known Person,known@example.com,,Acme Ltd,Buyer,,\n",
        "C14,Jo Berg,jo@example.com,+1 202 555 0103,acme ltd,,,Prefers email\n",
        "C15,,,,,,,\n",
        "C16,Kim Okafor,kim@example.com,,Foxtrot,Owner,,\n",
    ]
    path = tmp_path / "companies.csv"
    header = "id,name,email,phone,company,job_title,tags,notes\n"
    path.write_text(header + "".join(rows), encoding="utf-8")
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


@pytest.mark.parametrize("size", [writing.BULK_ROWS, 3])
def test_companies_match_the_per_row_path(companies, monkeypatch, size):
    monkeypatch.setattr(writing, "BULK_ROWS", size)

    per_row = run_and_forget(lambda: run(companies, bulk=False))
    batched = run_and_forget(lambda: run(companies, bulk=True))

    assert batched == per_row
    report_summary, record = batched
    assert report_summary[:2] == (16, 15)
    assert report_summary[2]["organisation"] == 5
    assert report_summary[2]["relationship"] == 10
    assert ("Dev Silva", "Café Noir", "works_at", "Barista") in record["relationships"]


@pytest.mark.parametrize("rows", ["people", "companies"])
def test_a_second_batched_run_adds_nothing(rows, request):
    path = request.getfixturevalue(rows)
    run(path, bulk=True)
    before = snapshot()

    again = run(path, bulk=True)

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


def test_people_at_companies_take_a_few_statements_per_batch(tmp_path, make_party):
    for number in range(0, 30, 3):
        make_party(f"Company {number}", kind=PartyKind.ORGANISATION)
    path = tmp_path / "many.csv"
    rows = "".join(
        f"Person {n},p{n}@example.com,company {n % 30},Engineer\n" for n in range(300)
    )
    path.write_text("name,email,company,job_title\n" + rows)

    with CaptureQueriesContext(connection) as queries:
        report = run(path, bulk=True)

    assert report.rows_used == 300
    assert Party.objects.filter(kind=PartyKind.ORGANISATION).count() == 30
    assert Relationship.objects.filter(role="Engineer").count() == 300
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


@pytest.fixture
def changed(companies: Path, tmp_path: Path) -> Path:
    """The companies file again: most rows as they were, some adding a phone,
    a tag or an employer, one with a warning, one whose note changed (a new note),
    and a new person."""
    lines = companies.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = "C1,Ann Lee,ann@example.com,+1 202 555 0190,Acme Ltd,Engineer,,\n"
    lines[2] = "C2,Bo Park,bo@example.com,,ACME LTD,,vip gold,\n"
    lines[8] = "C8,Fay Khan,fay@example.com,,Zulu Ltd,,,\n"
    lines[12] = "C12,Ivo Park,ivo@example.com,not a phone,,,,\n"
    lines[14] = "C14,Jo Berg,jo@example.com,+1 202 555 0103,acme ltd,,,Prefers text\n"
    lines.append("C17,Lu Novak,lu@example.com,,,,,\n")
    path = tmp_path / "changed.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("size", [writing.BULK_ROWS, 4])
def test_a_second_file_of_known_rows_matches_the_per_row_path(
    companies, changed, monkeypatch, size
):
    monkeypatch.setattr(writing, "BULK_ROWS", size)

    def twice(bulk: bool) -> object:
        run(companies, bulk=bulk, source="crm")
        return run(changed, bulk=bulk, source="crm")

    per_row = run_and_forget(lambda: twice(False))
    batched = run_and_forget(lambda: twice(True))

    assert batched == per_row
    report_summary, record = batched
    assert report_summary[2] == {
        "person": 1,
        "organisation": 1,
        "relationship": 1,
        "contact point": 2,
        "note": 1,
        "import record": 1,
    }
    assert any("not a phone" in problem for problem in report_summary[3])


def test_a_second_run_of_known_rows_takes_a_few_statements_per_batch(tmp_path):
    path = tmp_path / "many.csv"
    rows = "".join(
        f"P{n},Person {n},p{n}@example.com,+1 202 555 {n:04d},vip,Gate {n}\n"
        for n in range(300)
    )
    path.write_text("id,name,email,phone,tags,notes\n" + rows)
    run(path, bulk=True)

    with CaptureQueriesContext(connection) as queries:
        report = run(path, bulk=True)

    assert (report.rows_used, report.created_text()) == (300, "nothing new")
    assert len(queries) < 40


def test_a_note_the_customer_holds_already_is_not_written_twice(companies):
    run(companies, bulk=True, source="crm")
    notes = Event.objects.filter(kind="note").count()

    again = run(companies, bulk=True, source="old-crm")

    assert Event.objects.filter(kind="note").count() == notes == 2
    assert "note" not in again.created


@pytest.mark.parametrize("bulk", [True, False])
def test_a_changed_note_in_a_reimport_is_noted_once(tmp_path: Path, bulk: bool):
    path = tmp_path / "crm.csv"
    path.write_text("id,name,email,notes\nC1,Ann Lee,ann@example.com,Gate code 4411\n")
    run(path, bulk=bulk, source="crm")
    path.write_text("id,name,email,notes\nC1,Ann Lee,ann@example.com,Gate code 9020\n")

    first = run(path, bulk=bulk, source="crm")
    again = run(path, bulk=bulk, source="crm")

    notes = Event.objects.filter(kind="note").order_by("id")
    assert [note.body for note in notes] == ["Gate code 4411", "Gate code 9020"]
    assert first.created_text() == "1 note"
    assert again.created_text() == "nothing new"


@pytest.mark.parametrize("bulk", [True, False])
def test_the_report_says_how_many_rows_found_their_customer(people, bulk):
    first = run(people, bulk=bulk)
    again = run(people, bulk=bulk)

    assert "matched a customer" in first.description
    assert "; 15 rows matched a customer already known by id, email or phone" in (
        again.description
    )
