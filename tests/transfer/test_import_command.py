"""threadline import: what it prints, what it changes and how it fails."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from threadline.parties.merging import merge_parties
from threadline.parties.models import (
    ContactKind,
    ContactPoint,
    Party,
    PartyKind,
    Relationship,
    RelationshipKind,
    Tag,
)
from threadline.parties.services import create_party
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.importer import import_path
from threadline.transfer.models import ImportRun
from threadline.transfer.progress import BarProgress
from threadline.transfer.undo import undo_import

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def run_import(*args: str) -> str:
    out = io.StringIO()
    call_command("import", *args, stdout=out)
    return out.getvalue()


def record_size() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Party, ContactPoint, Relationship, Event, Tag)
    )


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(
        "name,email,company,job title,notes,tags\n"
        "Jane Example,jane@example.com,Example Plumbing,Office manager,"
        '"Call after 3pm.\n'
        'Prefers ""email""",vip\n'
        ",,,,a note with nobody to put it on,\n"
        "Raj Sample,not-an-address,Example Plumbing,Fitter,,\n",
        encoding="utf-8",
    )
    return path


def test_import_reports_what_it_created(contacts):
    output = run_import(str(contacts))

    assert "Read contacts.csv: UTF-8, comma-separated." in output
    assert "Columns: name → full_name, email → email, company → company" in output
    assert "Imported 2 of 3 rows usable, 1 skipped." in output
    assert (
        "Created: 2 people, 1 organisation, 1 contact point, "
        "2 works-at relationships, 1 note, 2 import entries on timelines."
    ) in output


def test_a_person_with_a_company_works_there_in_their_role(contacts):
    run_import(str(contacts))

    jane = Party.objects.get(display_name="Jane Example")
    link = Relationship.objects.get(from_party=jane)
    assert (link.to_party.display_name, link.role) == (
        "Example Plumbing",
        "Office manager",
    )
    assert list(jane.tags.values_list("name", flat=True)) == ["vip"]


def test_unusable_row_is_reported_with_its_physical_line(contacts):
    output = run_import(str(contacts))

    assert "line 4: no name, email, phone or company to import (row skipped)" in output


def test_bad_value_is_reported_and_the_rest_of_the_row_imported(contacts):
    output = run_import(str(contacts))

    assert (
        "line 5: 'not-an-address' is not an email address: an email address "
        "must have an @-sign; left out (the rest of the row imported)"
    ) in output
    assert Party.objects.filter(display_name="Raj Sample").exists()


def test_dry_run_changes_nothing_and_says_what_it_would_create(contacts):
    before = record_size()

    output = run_import(str(contacts), "--dry-run")

    assert record_size() == before
    assert "Dry run: 2 of 3 rows usable, 1 skipped; nothing was changed." in output
    assert "Would create: 2 people, 1 organisation," in output
    assert "line 4: no name, email, phone or company to import (row skipped)" in output


def test_second_run_of_the_same_file_creates_nothing(contacts):
    run_import(str(contacts))
    before = record_size()

    output = run_import(str(contacts))

    assert record_size() == before
    assert "Created: nothing new." in output


def test_second_run_matches_people_added_since_by_hand(contacts, make_party):
    make_party("J. Example", emails=["JANE@example.com"])

    run_import(str(contacts))

    assert Party.objects.filter(display_name__contains="Example").count() == 2
    assert not Party.objects.filter(display_name="Jane Example").exists()


def test_shared_phone_with_another_name_is_not_merged(tmp_path):
    path = tmp_path / "household.csv"
    path.write_text(
        "first name,last name,phone\n"
        "John,Smith,+1 202 555 0100\n"
        "Mary,Jones,+1 202 555 0100\n",
        encoding="utf-8",
    )

    run_import(str(path))

    assert Party.objects.count() == 2


def test_missing_file_is_a_clear_error():
    with pytest.raises(CommandError, match="There is no file .*nowhere.csv"):
        run_import("nowhere.csv")


def test_unknown_mapping_is_a_clear_error(contacts):
    with pytest.raises(CommandError, match="There is no mapping called 'gmial'"):
        run_import(str(contacts), "--mapping", "gmial")


def test_binary_file_is_refused_and_nothing_changes(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))

    with pytest.raises(CommandError, match="not a text file"):
        run_import(str(path))
    assert record_size() == (0, 0, 0, 0, 0)


def test_file_with_no_recognisable_column_is_refused(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")

    with pytest.raises(CommandError, match="names a person or a company"):
        run_import(str(path))


def test_user_mapping_file_names_the_columns(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text(
        "Kundenname,Kontakt\nJane Example,jane@example.com\n", encoding="utf-8"
    )
    mapping = tmp_path / "odd.json"
    mapping.write_text('{"columns": {"Kundenname": "full_name", "Kontakt": "email"}}')

    output = run_import(str(path), "--mapping", str(mapping))

    assert "Mapping: odd." in output
    assert Party.objects.get().display_name == "Jane Example"


def test_progress_bar_counts_rows():
    stream = io.StringIO()
    bar = BarProgress(stream)

    bar.start(3, "contacts.csv")
    bar.advance()
    bar.advance(2)
    bar.finish()

    assert "3/3" in stream.getvalue()


def test_command_line_exits_non_zero_on_a_missing_file(tmp_path):
    environment = {**os.environ, "THREADLINE_DATA_DIR": str(tmp_path)}

    result = subprocess.run(
        [sys.executable, "-m", "threadline.cli", "import", str(tmp_path / "gone.csv")],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "There is no file" in result.stderr
    assert "Nothing was imported." in result.stderr


def test_row_with_more_values_than_columns_is_reported(tmp_path):
    path = tmp_path / "shifted.csv"
    path.write_text("name,email\nJane Example,jane@example.com,Example, Inc\n")

    output = run_import(str(path))

    assert "line 2: the row has 4 values but the header names 2 columns" in output


def test_identical_rows_make_one_contact(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("name,notes\nJane Example,VIP\nJane Example,VIP\n")

    output = run_import(str(path))

    assert "Created: 1 person, 1 note, 1 import entry on a timeline." in output


def test_real_run_is_kept_in_the_history_of_imports(contacts):
    run_import(str(contacts))

    run = ImportRun.objects.get()
    assert (run.file, run.mapping, run.rows, run.rows_used) == (
        "contacts.csv",
        "automatic",
        3,
        2,
    )
    assert run.created["person"] == 2
    assert run.problems[0] == {
        "file": "",
        "line": 4,
        "message": "no name, email, phone or company to import",
        "skipped": True,
        "rows": 1,
        "unit": "line",
    }


def test_dry_run_leaves_no_history(contacts):
    run_import(str(contacts), "--dry-run")

    assert not ImportRun.objects.exists()


def test_row_whose_only_email_is_invalid_is_skipped_saying_why(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("email\njane(at)example.com\n")

    output = run_import(str(path))

    assert (
        "line 2: no name, email, phone or company to import; 'jane(at)example.com' "
        "is not an email address: an email address must have an @-sign; left out "
        "(row skipped)"
    ) in output


def test_row_with_only_a_company_describes_the_company(tmp_path):
    path = tmp_path / "suppliers.csv"
    path.write_text(
        "company,phone,city,tags\nExample Supplies,+1 202 555 0111,Springfield,trade\n"
    )

    output = run_import(str(path))

    supplier = Party.objects.get()
    assert (supplier.kind, supplier.display_name) == (
        "organisation",
        "Example Supplies",
    )
    assert supplier.contact_points.count() == 2
    assert list(supplier.tags.values_list("name", flat=True)) == ["trade"]
    assert (
        "Created: 1 organisation, 2 contact points, 1 import entry on a timeline."
        in output
    )


def test_lifecycle_stage_column_sets_the_stage_and_unknown_ones_are_reported(tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(
        "Record ID,First Name,Last Name,Email,Lifecycle Stage\n"
        "101,Jane,Example,jane@example.com,Sales Qualified Lead\n"
        "102,Raj,Sample,raj@example.org,Champion\n"
    )

    output = run_import(str(path))

    assert Party.objects.get(given_name="Jane").stage == "prospect"
    assert Party.objects.get(given_name="Raj").stage == "lead"
    assert "line 3: stage 'Champion' is not one Threadline knows" in output


def test_a_folder_imports_each_of_its_files_in_name_order(tmp_path):
    folder = tmp_path / "old-shop"
    folder.mkdir()
    (folder / "a-contacts.csv").write_text("name,email\nAnn Lee,ann@example.com\n")
    (folder / "b-phone.vcf").write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo Park\r\nTEL:+1 212 555 0101\r\n"
        "END:VCARD\r\n"
    )
    (folder / "notes.md").write_text("not an export")

    printed = run_import(str(folder))

    assert printed.index("Read a-contacts.csv") < printed.index("Read b-phone.vcf")
    assert "Not imported from old-shop: notes.md (folders, links" in printed
    assert "Read notes.md" not in printed
    assert set(Party.objects.values_list("display_name", flat=True)) == {
        "Ann Lee",
        "Bo Park",
    }
    assert printed.rstrip().endswith(
        "old-shop: 2 files imported, 2 of them added something; 2 of 2 rows "
        "usable, 0 skipped.\nIn all created: 2 people, 2 contact points, "
        "2 import entries on timelines."
    )


def test_a_folder_checks_its_files_together_and_changes_nothing(tmp_path):
    folder = tmp_path / "old-shop"
    folder.mkdir()
    (folder / "a-contacts.csv").write_text("name,email\nAnn Lee,ann@example.com\n")
    (folder / "b-more.csv").write_text(
        "name,email,phone\nAnn Lee,ann@example.com,+1 212 555 0101\n"
    )
    (folder / "c-broken.csv").write_bytes(b"\x00\x01\x02binary")

    with pytest.raises(CommandError, match="1 of 3 files could not be checked"):
        run_import(str(folder), "--dry-run")

    assert not Party.objects.exists()
    assert not Event.objects.exists()


def test_a_folder_check_counts_a_customer_in_two_files_once(tmp_path):
    folder = tmp_path / "old-shop"
    folder.mkdir()
    (folder / "a-contacts.csv").write_text("name,email\nAnn Lee,ann@example.com\n")
    (folder / "b-more.csv").write_text(
        "name,email,phone\nAnn Lee,ann@example.com,+1 212 555 0101\n"
    )

    printed = run_import(str(folder), "--dry-run")

    assert not Party.objects.exists()
    assert printed.rstrip().endswith(
        "In all it would create: 1 person, 2 contact points, "
        "2 import entries on timelines."
    )


def test_a_folder_with_a_bad_file_imports_the_others_and_names_it(tmp_path):
    folder = tmp_path / "old-shop"
    folder.mkdir()
    (folder / "broken.csv").write_bytes(b"\x00\x01\x02binary")
    (folder / "contacts.csv").write_text("name,email\nAnn Lee,ann@example.com\n")

    with pytest.raises(CommandError, match="1 of 2 files could not be imported"):
        run_import(str(folder))

    assert Party.objects.get().display_name == "Ann Lee"


def test_a_folder_without_importable_files_is_a_clear_error(tmp_path):
    (tmp_path / "notes.md").write_text("not an export")

    with pytest.raises(CommandError, match="holds no file Threadline imports"):
        run_import(str(tmp_path))


def test_an_archived_customer_is_not_written_to_by_a_later_file(tmp_path, owner):
    first = tmp_path / "first.csv"
    first.write_text("name,email\nUndo Person,undo@example.com\n")
    run = import_path(first).run
    assert run is not None
    undo_import(run, Actor.for_user(owner))
    later = tmp_path / "later.csv"
    later.write_text("Full name,E-mail,Notes\nUndo Person,undo@example.com,Called\n")

    import_path(later)

    archived, current = Party.objects.order_by("pk")
    assert archived.archived_at is not None
    assert not Event.objects.filter(party=archived, kind=Kind.NOTE).exists()
    assert current.archived_at is None
    assert Event.objects.filter(party=current, kind=Kind.NOTE).exists()


def test_a_company_merged_away_leads_to_the_one_it_became_part_of(tmp_path):
    setup = Actor.system("test setup")
    nursery = create_party(
        setup, kind=PartyKind.ORGANISATION, display_name_text="Bright Nursery"
    )
    greenway = create_party(
        setup, kind=PartyKind.ORGANISATION, display_name_text="Greenway"
    )
    merge_parties(greenway, nursery, setup)
    path = tmp_path / "staff.csv"
    path.write_text("name,email,company\nMo Worker,mo@example.com,Bright Nursery\n")

    import_path(path)

    link = Relationship.objects.get(kind=RelationshipKind.WORKS_AT)
    assert link.to_party_id == greenway.pk


def test_a_row_of_a_customer_merged_away_lands_on_the_one_it_became_part_of(
    tmp_path,
):
    first = tmp_path / "ids.csv"
    first.write_text(
        "id,name,email\n1,Ann Smith,ann@example.com\n2,Annie Smith,annie@example.com\n"
    )
    import_path(first, source="old")
    ann, annie = Party.objects.order_by("pk")
    merge_parties(ann, annie, Actor.system("test setup"))
    again = tmp_path / "ids3.csv"
    again.write_text("id,name,email\n2,Annie Smith,annie.third@example.com\n")

    report = import_path(again, source="old")

    assert report.problems == []
    emails = ann.contact_points.filter(kind=ContactKind.EMAIL)
    assert "annie.third@example.com" in set(emails.values_list("value", flat=True))


def test_a_company_created_by_a_row_that_failed_is_not_linked_to_later(tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("id,name,email\n1,Ann Lee,ann@example.com\n")
    import_path(first, source="old-crm")
    path = tmp_path / "staff.csv"
    path.write_text(
        "id,name,email,company\n"
        "1,Zed Other,zed@example.com,Acme Heating\n"
        "2,Bo Park,bo@example.com,Acme Heating\n"
    )

    report = import_path(path, source="old-crm")

    [problem] = report.problems
    assert problem.line == 2 and problem.message.startswith("conflict:")
    acme = Party.objects.get(kind=PartyKind.ORGANISATION)
    link = Relationship.objects.get(kind=RelationshipKind.WORKS_AT)
    assert (link.from_party.display_name, link.to_party_id) == ("Bo Park", acme.pk)
    assert report.created["organisation"] == 1


def test_a_folder_does_not_follow_links_out_of_it(tmp_path):
    folder = tmp_path / "old-shop"
    folder.mkdir()
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("name,email\nOut Side,out@example.com\n")
    (folder / "linked.csv").symlink_to(outside)
    (folder / "contacts.csv").write_text("name,email\nAnn Lee,ann@example.com\n")

    printed = run_import(str(folder))

    assert "Not imported from old-shop: linked.csv" in printed
    assert Party.objects.get().display_name == "Ann Lee"


def test_a_dry_run_of_a_folder_says_checked_not_imported(tmp_path):
    folder = tmp_path / "old-shop"
    folder.mkdir()
    (folder / "broken.csv").write_bytes(b"\x00\x01\x02binary")
    (folder / "contacts.csv").write_text("name,email\nAnn Lee,ann@example.com\n")

    with pytest.raises(CommandError, match="the others were checked as shown"):
        run_import(str(folder), "--dry-run")

    assert not Party.objects.exists()


def test_a_downloads_organisation_rows_come_back_as_organisations(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "Name,Kind,Email,Phone\n"
        "Ashford Vale Golf Club,Organisation,office@ashford.example,+1 212 555 0101\n"
        "Ann Lee,Person,ann@example.com,\n"
    )

    report = import_path(path)

    assert (report.created["organisation"], report.created["person"]) == (1, 1)
    club = Party.objects.get(kind=PartyKind.ORGANISATION)
    assert club.display_name == "Ashford Vale Golf Club"
    assert sorted(p.value for p in club.contact_points.all()) == [
        "+12125550101",
        "office@ashford.example",
    ]


def test_an_import_says_how_many_possible_duplicates_it_queued(tmp_path, make_party):
    make_party("Jane Example", emails=["jane@example-plumbing.com"])
    path = tmp_path / "people.csv"
    path.write_text(
        "name,email\nJane Exampel,j.example@example-plumbing.com\n"
        "Bo Park,bo@example.com\n"
    )

    printed = run_import(str(path))

    assert "Possible duplicates to review: 1 new pair (Customers ›" in printed


def test_an_import_that_queues_no_duplicates_says_nothing_of_them(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name,email\nBo Park,bo@example.com\n")

    assert "Possible duplicates" not in run_import(str(path))
