"""Imports: upload, dry run, the real run, its progress, history and undo."""

import csv
import datetime as dt
import io
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.web.conftest import HTMX
from threadline.accounts.models import User
from threadline.errors import NotFound
from threadline.parties.models import Party
from threadline.transfer import importer, runs, uploads, writing
from threadline.transfer.models import ImportRun, RunStatus
from threadline.transfer.runs import STALE_AFTER, start_run

IMPORTS = reverse("web:imports")
CONTACTS = (
    b"name,email,company,notes\n"
    b"Jane Example,jane@example.com,Example Plumbing,Call after 3pm\n"
    b",,,a note with nobody to put it on\n"
    b"Raj Sample,raj@example.com,Example Plumbing,\n"
)

SignIn = Callable[[User], Client]


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture(autouse=True)
def _work_in_the_request(monkeypatch) -> None:
    # The test's transaction is invisible to another thread's connection.
    monkeypatch.setattr(uploads, "in_background", lambda work, name: work())


def upload(client: Client, content: bytes = CONTACTS, name: str = "contacts.csv"):
    return client.post(IMPORTS, {"file": SimpleUploadedFile(name, content)})


def checked(client: Client) -> str:
    """Upload the contacts and return the check page's address."""
    response = upload(client)
    assert response.status_code == 302
    return response["Location"]


def imported(client: Client) -> ImportRun:
    check_url = checked(client)
    response = client.post(check_url + "start/")
    assert response.status_code == 302
    return ImportRun.objects.get()


def run_url(run: ImportRun, action: str = "") -> str:
    return reverse("web:import_run", args=[run.public_id]) + action


def test_owners_and_managers_find_imports_in_the_menu(
    signed_in: SignIn, manager: User
) -> None:
    page = signed_in(manager).get(reverse("web:today")).content.decode()

    assert f'href="{IMPORTS}"' in page


def test_staff_neither_see_nor_open_imports(signed_in: SignIn, staff: User) -> None:
    client = signed_in(staff)

    assert f'href="{IMPORTS}"' not in client.get(reverse("web:today")).content.decode()
    assert client.get(IMPORTS).status_code == 403
    assert upload(client).status_code == 403


def test_upload_is_checked_first_and_changes_nothing(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)

    page = client.get(checked(client)).content.decode()

    assert "2 of 3</strong> records can be imported" in page
    assert "2 people, 1 organisation" in page
    assert "line 3" in page
    assert "no name, email, phone or company to import" in page
    assert not Party.objects.exists()
    assert not ImportRun.objects.exists()


def test_a_file_already_in_the_record_is_checked_as_adding_nothing(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    imported(client)

    page = client.get(checked(client)).content.decode()

    assert "All <strong>2</strong> usable records are in Threadline already" in page
    assert "importing this file would add nothing" in page
    assert "Would create" not in page
    assert "/start/" not in page


def test_a_large_check_shows_its_counts_with_separators(
    signed_in: SignIn, owner: User
) -> None:
    rows = b"".join(b"Person %d,p%d@example.com\n" % (n, n) for n in range(1200))
    client = signed_in(owner)

    response = upload(client, b"name,email\n" + rows)
    page = client.get(response["Location"]).content.decode()

    assert "1,200 of 1,200</strong> records can be imported" in page
    assert "Import 1,200 records" in page


def test_importing_runs_it_for_real_and_keeps_the_file_with_the_run(
    signed_in: SignIn, owner: User, tmp_path: Path
) -> None:
    run = imported(signed_in(owner))

    assert run.status == RunStatus.DONE
    assert run.started_by == owner
    assert run.created["person"] == 2
    assert set(Party.objects.values_list("display_name", flat=True)) == {
        "Jane Example",
        "Raj Sample",
        "Example Plumbing",
    }
    kept = tmp_path / "imports" / "runs" / str(run.public_id) / "contacts.csv"
    assert kept.read_bytes() == CONTACTS
    assert not any((tmp_path / "imports" / "uploads").iterdir())


def exited_pid() -> int:
    """The id of a process that has ended, as kill -9 leaves it."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def upload_id(check_url: str) -> str:
    return check_url.rstrip("/").rsplit("/", 1)[-1]


def test_clicking_start_again_sends_to_the_run_and_starts_no_other(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    check_url = checked(client)
    client.post(check_url + "start/")

    again = client.post(check_url + "start/", follow=True)
    back = client.get(check_url)

    run = ImportRun.objects.get()
    assert again.redirect_chain[-1][0] == run_url(run)
    assert (
        f"The import of contacts.csv has already started, as import #{run.pk}"
        in again.content.decode()
    )
    assert back["Location"] == run_url(run)
    assert Party.objects.filter(display_name="Jane Example").count() == 1


def test_of_clicks_at_once_one_starts_the_run_and_the_others_find_it(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    found = upload_id(checked(client))
    # Each request loaded the upload before any of them started it.
    first, second = (uploads.load_upload(found, owner) for _ in range(2))

    run = uploads.start_import(first, owner)
    with pytest.raises(uploads.AlreadyStarted) as refused:
        uploads.start_import(second, owner)

    run.refresh_from_db()
    assert refused.value.run == run
    assert list(ImportRun.objects.all()) == [run]
    assert run.status == RunStatus.DONE
    assert uploads.run_file(run) is not None


def test_an_upload_gone_before_its_start_leaves_no_run(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    upload = uploads.load_upload(upload_id(checked(client)), owner)
    uploads.discard_upload(upload)

    with pytest.raises(NotFound, match="upload the file again"):
        uploads.start_import(upload, owner)

    assert not ImportRun.objects.exists()


def test_a_run_whose_file_went_missing_is_stopped_not_left_running(
    owner: User,
) -> None:
    run = start_run("contacts.csv", "csv", user=owner)

    uploads._import(run.pk, "")

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "The file of this import is gone" in run.error


def test_run_page_shows_the_outcome_and_the_problems(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    run = imported(client)

    page = client.get(run_url(run)).content.decode()

    assert "Imported" in page
    assert "2 of 3 used, 1 skipped" in page
    assert "no name, email, phone or company to import" in page
    assert "Undo import #" in page


def test_a_file_of_another_kind_is_refused_with_what_to_choose(
    signed_in: SignIn, owner: User, tmp_path: Path
) -> None:
    response = upload(signed_in(owner), b"%PDF-1.4", name="scan.pdf")

    assert response.status_code == 400
    assert "scan.pdf is not a kind of file Threadline imports" in (
        response.content.decode()
    )
    assert not (tmp_path / "imports" / "uploads").exists()


def test_a_file_over_the_size_limit_is_refused_with_the_limit(
    signed_in: SignIn, owner: User, monkeypatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 100)

    response = upload(signed_in(owner))

    page = response.content.decode()
    assert response.status_code == 400
    assert f"contacts.csv is {len(CONTACTS)}\xa0bytes; files up to 100\xa0bytes" in page
    assert "threadline import FILE" in page


def test_an_empty_file_is_refused(signed_in: SignIn, owner: User) -> None:
    response = upload(signed_in(owner), b"")

    assert response.status_code == 400
    assert "is empty" in response.content.decode() or "Choose a file" in (
        response.content.decode()
    )


def test_a_file_the_check_refuses_says_why_and_cannot_be_imported(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    response = upload(client, b"a,b\n1,2\n", name="numbers.csv")

    page = client.get(response["Location"]).content.decode()
    started = client.post(response["Location"] + "start/", follow=True)

    assert "This file cannot be imported" in page
    assert "names a person or a company" in page
    assert "has no checked records to import" in started.content.decode()
    assert not ImportRun.objects.exists()


def test_the_check_shows_its_progress_while_it_reads(
    signed_in: SignIn, owner: User, monkeypatch
) -> None:
    monkeypatch.setattr(uploads, "in_background", lambda work, name: None)
    client = signed_in(owner)
    check_url = checked(client)

    page = client.get(check_url).content.decode()
    fragment = client.get(check_url, **HTMX).content.decode()

    assert "Checking the file…" in page
    assert 'hx-trigger="every 1s"' in fragment
    assert "Import 2 records" not in page


def test_a_check_whose_process_died_says_to_upload_again(
    signed_in: SignIn, owner: User, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(uploads, "in_background", lambda work, name: None)
    client = signed_in(owner)
    check_url = checked(client)
    long_ago = time.time() - STALE_AFTER.total_seconds() - 60
    for path in (tmp_path / "imports" / "uploads").glob("*/*"):
        os.utime(path, (long_ago, long_ago))

    page = client.get(check_url).content.decode()

    assert "The check of this file stopped" in page
    assert "The check stopped" in page
    assert "Fix the file" not in page


def test_an_upload_is_only_for_the_person_who_made_it(
    signed_in: SignIn, owner: User, manager: User
) -> None:
    check_url = checked(signed_in(owner))

    client = signed_in(manager)

    assert client.get(check_url).status_code == 404
    assert client.post(check_url + "start/").status_code == 404
    assert not ImportRun.objects.exists()


def test_discarding_an_upload_removes_its_file(
    signed_in: SignIn, owner: User, tmp_path: Path
) -> None:
    client = signed_in(owner)
    check_url = checked(client)

    response = client.post(check_url + "discard/")

    assert response.status_code == 302
    assert not any((tmp_path / "imports" / "uploads").iterdir())
    assert client.get(check_url).status_code == 404


def test_progress_is_polled_while_the_run_works(signed_in: SignIn, owner: User) -> None:
    run = start_run("big.csv", "csv", user=owner)
    ImportRun.objects.filter(pk=run.pk).update(rows=250, rows_total=1000)

    response = signed_in(owner).get(run_url(run), **HTMX)

    fragment = response.content.decode()
    assert 'hx-trigger="every 2s"' in fragment
    assert 'aria-valuenow="25"' in fragment
    assert "250 of 1,000 records" in fragment


def test_a_real_run_writes_its_progress_batch_by_batch_and_its_final_total(
    signed_in: SignIn, owner: User, monkeypatch
) -> None:
    client = signed_in(owner)
    rows = "".join(f"Person {n},p{n}@example.com\n" for n in range(70))
    check_url = upload(client, f"name,email\n{rows}".encode(), "people.csv")["Location"]
    monkeypatch.setattr(writing, "BULK_ROWS", 20)
    monkeypatch.setattr(runs, "PROGRESS_EVERY", 20)
    shown: list[str] = []
    note_progress = runs.note_progress

    def note_and_look(
        run: ImportRun, rows_done: int, rows_total: int, created: dict[str, int]
    ) -> None:
        note_progress(run, rows_done, rows_total, created)
        fragment = client.get(run_url(run), **HTMX).content.decode()
        shown.append(re.search(r"\d+ of \d+ records", fragment).group())

    monkeypatch.setattr(runs, "note_progress", note_and_look)
    client.post(check_url + "start/")

    run = ImportRun.objects.get()
    assert shown == [f"{done} of 70 records" for done in (0, 20, 40, 60)]
    assert (run.status, run.rows, run.rows_total, run.rows_used) == (
        RunStatus.DONE,
        70,
        70,
        70,
    )
    assert Party.objects.count() == 70


def test_a_run_killed_then_run_again_counts_what_both_passes_created(
    signed_in: SignIn, owner: User, monkeypatch, tmp_path: Path
) -> None:
    client = signed_in(owner)
    rows = "".join(f"Person {n},p{n}@example.com\n" for n in range(60))
    check_url = upload(client, f"name,email\n{rows}".encode(), "people.csv")["Location"]
    monkeypatch.setattr(writing, "BULK_ROWS", 20)
    monkeypatch.setattr(runs, "PROGRESS_EVERY", 20)
    note_progress = runs.note_progress

    def killed_at_row_40(run: ImportRun, rows_done: int, *args: object) -> None:
        if rows_done == 40:
            raise KeyboardInterrupt  # the process dies; nothing after runs
        note_progress(run, rows_done, *args)

    fail_run = importer.fail_run
    monkeypatch.setattr(runs, "note_progress", killed_at_row_40)
    monkeypatch.setattr(importer, "fail_run", lambda *args, **kwargs: None)
    with pytest.raises(KeyboardInterrupt):
        client.post(check_url + "start/")
    monkeypatch.setattr(runs, "note_progress", note_progress)
    monkeypatch.setattr(importer, "fail_run", fail_run)
    assert ImportRun.objects.get().status == RunStatus.RUNNING
    run = ImportRun.objects.get()
    ImportRun.objects.filter(pk=run.pk).update(owner_pid=exited_pid())
    first_pass = dict(ImportRun.objects.get().created)

    client.post(run_url(run, "again/"))

    run.refresh_from_db()
    assert first_pass["person"] == 20
    assert run.status == RunStatus.DONE
    assert run.created["person"] == Party.objects.count() == 60
    assert run.created["import record"] == 60
    assert "60 people" in client.get(run_url(run)).content.decode()


def test_the_page_reloads_once_the_run_is_over(signed_in: SignIn, owner: User) -> None:
    client = signed_in(owner)
    run = imported(client)

    response = client.get(run_url(run), **HTMX)

    assert response["HX-Refresh"] == "true"


def test_a_run_whose_process_died_shows_as_interrupted_and_runs_again(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    run = imported(client)
    stale = timezone.now() - STALE_AFTER - dt.timedelta(minutes=1)
    ImportRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, updated_at=stale
    )
    parties = Party.objects.count()

    page = client.get(run_url(run)).content.decode()
    response = client.post(run_url(run, "again/"))

    assert "This import stopped part-way" in page
    assert "Run again" in page
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert Party.objects.count() == parties


def test_a_finished_run_cannot_be_run_again(signed_in: SignIn, owner: User) -> None:
    client = signed_in(owner)
    run = imported(client)

    page = client.post(run_url(run, "again/"), follow=True).content.decode()

    assert "only a stopped run can be run again" in page


def test_undo_from_the_page_and_twice_is_refused(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    run = imported(client)

    first = client.post(run_url(run, "undo/"), follow=True).content.decode()
    second = client.post(run_url(run, "undo/"), follow=True).content.decode()

    assert "Undone" in first
    assert "Archived 2 people, 1 organisation; removed 1 note" in first
    assert f"Import #{run.pk} was already undone on" in second
    assert not Party.objects.visible_to(owner).exists()


def test_the_customers_an_undo_archived_come_back_from_its_page(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    run = imported(client)
    client.post(run_url(run, "undo/"))

    undone = client.get(run_url(run)).content.decode()
    restored = client.post(run_url(run, "restore/"), follow=True).content.decode()

    assert "Archived by the undo" in undone
    assert "Jane Example" in undone
    assert "3 customers are back in every list" in restored
    assert "Archived by the undo" not in restored
    assert "Kept customers" not in restored
    assert "Undo import" not in restored
    assert Party.objects.visible_to(owner).count() == 3


def test_a_restored_archive_offers_no_undo(signed_in: SignIn, owner: User) -> None:
    client = signed_in(owner)
    run = imported(client)
    ImportRun.objects.filter(pk=run.pk).update(format="archive")

    page = client.get(run_url(run)).content.decode()
    refused = client.post(run_url(run, "undo/"), follow=True).content.decode()

    assert "Undo import" not in page
    assert "restored a whole archive into an empty install" in refused
    assert Party.objects.visible_to(owner).count() == 3


def test_staff_cannot_bring_back_what_an_undo_archived(
    signed_in: SignIn, owner: User, staff: User
) -> None:
    client = signed_in(owner)
    run = imported(client)
    client.post(run_url(run, "undo/"))

    response = signed_in(staff).post(run_url(run, "restore/"))

    assert response.status_code == 403
    assert not Party.objects.visible_to(owner).exists()


def test_commands_in_a_message_show_as_code(signed_in: SignIn, owner: User) -> None:
    client = signed_in(owner)
    run = imported(client)
    run.problems.append(
        {
            "file": "",
            "line": 0,
            "message": "Run `threadline imports` <now>",
            "skipped": True,
        }
    )
    run.save()

    page = client.get(run_url(run)).content.decode()

    assert "Run <code>threadline imports</code> &lt;now&gt;" in page


def test_staff_cannot_undo(signed_in: SignIn, owner: User, staff: User) -> None:
    run = imported(signed_in(owner))

    response = signed_in(staff).post(run_url(run, "undo/"))

    assert response.status_code == 403
    run.refresh_from_db()
    assert run.status == RunStatus.DONE


def test_all_problems_download_as_csv_safe_for_spreadsheets(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    run = imported(client)
    run.problems.append(
        {"file": "", "line": 9, "message": "=HYPERLINK(1)", "skipped": True}
    )
    run.save()

    response = client.get(
        reverse("web:export_import_problems", args=[run.public_id, "csv"])
    )

    text = b"".join(response.streaming_content).decode().removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert response["Content-Type"].startswith("text/csv")
    assert rows[0] == ["File", "Line", "Outcome", "Problem"]
    assert rows[1][:3] == ["contacts.csv", "3", "row skipped"]
    assert rows[2][3] == "'=HYPERLINK(1)"


def test_history_marks_a_run_that_added_nothing(
    signed_in: SignIn, owner: User, tmp_path: Path
) -> None:
    client = signed_in(owner)
    imported(client)
    again = tmp_path / "again" / "contacts.csv"
    again.parent.mkdir()
    again.write_bytes(CONTACTS)
    assert not any(importer.import_path(again).created.values())

    page = client.get(IMPORTS).content.decode()

    assert page.count("run-chip-nothing") == 1
    assert page.count(">Nothing new</span>") == 1
    assert page.count(">Imported</span>") == 1


def test_history_lists_every_run_with_who_and_what(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    run = imported(client)

    page = client.get(IMPORTS).content.decode()

    assert run_url(run) in page
    assert "Olivia Owner" in page
    assert "Created 2 people, 1 organisation" in page
    assert "1 problem, 1 record skipped" in page
    assert "Imported" in page


def test_a_mailbox_names_its_problems_by_message(
    signed_in: SignIn, owner: User
) -> None:
    client = signed_in(owner)
    mailbox = (
        b"From jane@example.com Mon Mar  2 09:00:00 2026\n"
        b"From: Jane Example <jane@example.com>\nTo: office@example.com\n"
        b"Subject: Boiler\nMessage-ID: <one@example.com>\n\nIt rattles.\n\n"
        b"From nobody Mon Mar  2 10:00:00 2026\n"
        b"Subject: No one\nMessage-ID: <two@example.com>\n\nNo addresses.\n"
    )
    check_url = upload(client, mailbox, "inbox.mbox")["Location"]

    check = client.get(check_url).content.decode()
    client.post(check_url + "start/")
    run = ImportRun.objects.get()
    page = client.get(run_url(run)).content.decode()
    download = client.get(
        reverse("web:export_import_problems", args=[run.public_id, "csv"])
    )

    assert "message 2" in check
    assert "message 2" in page
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows[0][:2] == ["\ufeffFile", "Message"]
    assert ["inbox.mbox", "2"] in [row[:2] for row in rows[1:]], rows
