"""Undoing a whole import: what it reverses, what it keeps, and how it resumes."""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from tests.transfer.conftest import corpus_path
from threadline.errors import Conflict, NotAllowed
from threadline.followups.models import FollowUpStatus
from threadline.followups.services import create_follow_up
from threadline.parties.models import ContactPoint, Party, Relationship
from threadline.parties.services import add_contact_point, update_party
from threadline.threads.models import Thread, ThreadKind, ThreadStatus
from threadline.threads.services import open_thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import record_event
from threadline.transfer import undo
from threadline.transfer.events import import_events
from threadline.transfer.importer import import_contacts, import_path
from threadline.transfer.models import ImportRun, RunStatus
from threadline.transfer.reading import open_table
from threadline.transfer.report import ImportReport
from threadline.transfer.runs import (
    STALE_AFTER,
    finish_run,
    import_actor,
    running,
    start_run,
)
from threadline.transfer.undo import undo_import, undo_label

pytestmark = pytest.mark.django_db

CONTACTS = (
    "name,email,phone,company,job title,notes,tags\n"
    "Jane Example,jane@example.com,,Example Plumbing,Office manager,"
    "Call after 3pm,vip\n"
    "Raj Sample,raj@example.com,,Example Plumbing,Fitter,Has a dog,\n"
    "Ann Known,ann@example.com,+1 202 555 0143,,,Likes mornings,gold\n"
)


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    return path


@pytest.fixture
def ann(make_party) -> Party:
    """A customer who was in the record before the import."""
    return make_party("Ann Known", emails=["ann@example.com"], tags=["regular"])


def imported(path: Path) -> ImportRun:
    report = import_path(path)
    assert report.run is not None
    return report.run


def visible(owner) -> set[str]:
    return set(Party.objects.visible_to(owner).values_list("display_name", flat=True))


def test_undo_archives_the_parties_the_import_created(contacts, owner, ann):
    run = imported(contacts)

    report = undo_import(run, Actor.for_user(owner))

    assert visible(owner) == {"Ann Known"}
    assert report.undone["person"] == 2
    assert report.undone["organisation"] == 1
    jane = Party.objects.get(display_name="Jane Example")
    assert jane.archived_reason == f"import #{run.pk} undone"


@pytest.mark.parametrize("bulk", [True, False])
def test_new_rows_after_an_undo_work_at_a_new_company_not_the_archived_one(
    tmp_path, owner, bulk
):
    path = tmp_path / "staff.csv"
    path.write_text("name,email,company\nAl One,al@example.com,Acme Ltd\n")
    undo_import(imported(path), Actor.for_user(owner))
    path.write_text(
        "name,email,company\nAl One,al@example.com,Acme Ltd\n"
        "Cy Three,cy@example.com,Acme Ltd\n"
    )

    report = import_contacts(open_table(path), None, bulk=bulk)

    cy = Party.objects.get(display_name="Cy Three")
    [employer] = Relationship.objects.filter(from_party=cy)
    assert employer.to_party.archived_at is None
    assert report.created["organisation"] == 1
    assert Party.objects.filter(display_name="Acme Ltd").count() == 2


def test_undo_redacts_imported_notes_and_keeps_the_events(contacts, owner, ann):
    run = imported(contacts)
    before = Event.objects.count()

    undo_import(run, Actor.for_user(owner))

    notes = Event.objects.filter(kind=Kind.NOTE, actor_label=run.actor_label)
    assert notes.count() == 3
    assert not Event.objects.effective().filter(pk__in=notes).exists()
    assert Event.objects.count() > before


def test_undo_takes_back_what_it_added_to_a_party_that_existed(contacts, owner, ann):
    run = imported(contacts)
    assert ann.contact_points.count() == 2

    undo_import(run, Actor.for_user(owner))

    ann.refresh_from_db()
    assert ann.archived_at is None
    assert list(ann.contact_points.values_list("value", flat=True)) == [
        "ann@example.com"
    ]
    assert list(ann.tags.values_list("name", flat=True)) == ["regular"]


def test_undo_sets_back_a_field_the_import_filled_in(ann, owner):
    run = start_run("contacts.vcf", "vcard")
    with running(run):
        update_party(ann, import_actor("contacts.vcf"), birthday=dt.date(1980, 4, 2))
        update_party(ann, import_actor("contacts.vcf"), language="fr")
    finish_run(run, ImportReport(file="contacts.vcf"))
    update_party(ann, Actor.for_user(owner), language="de")

    report = undo_import(run, Actor.for_user(owner))

    ann.refresh_from_db()
    assert ann.birthday is None
    assert ann.language == "de"
    assert report.undone["field"] == 1


def test_every_reversal_is_recorded_as_the_undo_of_the_run(contacts, owner, ann):
    run = imported(contacts)

    undo_import(run, Actor.for_user(owner))

    reversals = Event.objects.filter(actor_label=undo_label(run))
    assert reversals.filter(kind=Kind.CORRECTION).count() == 3
    assert reversals.filter(summary__startswith="Archived: import #").count() == 3


def test_links_to_an_organisation_that_existed_are_ended(contacts, owner, make_party):
    plumbing = make_party("Example Plumbing", kind="organisation")
    run = imported(contacts)

    report = undo_import(run, Actor.for_user(owner))

    assert visible(owner) == {"Example Plumbing"}
    assert not Relationship.objects.filter(to_party=plumbing, ended_on=None).exists()
    assert report.undone["relationship"] == 2


def test_the_run_is_marked_undone_with_who_and_what(contacts, owner, ann):
    run = imported(contacts)

    undo_import(run, Actor.for_user(owner))

    run.refresh_from_db()
    assert run.status == RunStatus.UNDONE
    assert run.undone_by == owner
    assert run.undone_at is not None
    assert run.undone == {
        "person": 2,
        "organisation": 1,
        "note": 3,
        "contact point": 1,
        "tag": 1,
    }


def test_a_party_someone_has_worked_on_since_is_kept(contacts, owner, staff):
    run = imported(contacts)
    jane = Party.objects.get(display_name="Jane Example")
    record_event(jane, Kind.CALL, "Called back", actor=Actor.for_user(staff))

    report = undo_import(run, Actor.for_user(owner))

    assert "Jane Example" in report.kept
    assert "Jane Example" in visible(owner)
    assert list(undo.kept_parties(run)) == [jane]
    [job] = Relationship.objects.filter(from_party=jane)
    assert job.to_party.archived_at is not None
    assert job.ended_on is not None
    assert report.undone["relationship"] == 1


def test_undoing_twice_is_refused(contacts, owner, ann):
    run = imported(contacts)
    undo_import(run, Actor.for_user(owner))
    events = Event.objects.count()

    with pytest.raises(Conflict, match=rf"Import #{run.pk} was already undone on"):
        undo_import(run, Actor.for_user(owner))
    assert Event.objects.count() == events


def test_staff_may_not_undo_an_import(contacts, staff):
    run = imported(contacts)

    with pytest.raises(NotAllowed):
        undo_import(run, Actor.for_user(staff))
    assert visible(staff) >= {"Jane Example", "Raj Sample"}


def test_a_run_still_importing_cannot_be_undone(owner):
    run = start_run("big.csv", "csv")

    with pytest.raises(Conflict, match="still running"):
        undo_import(run, Actor.for_user(owner))


def test_a_run_whose_process_died_can_be_undone(contacts, owner):
    run = imported(contacts)
    stale = timezone.now() - STALE_AFTER - dt.timedelta(minutes=1)
    ImportRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, updated_at=stale
    )

    undo_import(run, Actor.for_user(owner))

    assert visible(owner) == set()


def test_an_interrupted_undo_finishes_the_rest_without_doubling(
    contacts, owner, ann, monkeypatch
):
    run = imported(contacts)
    monkeypatch.setattr(undo, "UNDO_BATCH", 3)
    saves = []
    save_progress = undo._save_progress

    def crash_on_second_batch(*args):
        saves.append(args)
        if len(saves) == 2:
            raise KeyboardInterrupt
        save_progress(*args)

    monkeypatch.setattr(undo, "_save_progress", crash_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        undo_import(run, Actor.for_user(owner))
    monkeypatch.undo()
    with pytest.raises(Conflict, match="being undone right now"):
        undo_import(run, Actor.for_user(owner))
    stale = timezone.now() - STALE_AFTER - dt.timedelta(minutes=1)
    ImportRun.objects.filter(pk=run.pk).update(updated_at=stale)

    undo_import(run, Actor.for_user(owner))

    redactions = Event.objects.filter(kind=Kind.CORRECTION)
    assert redactions.count() == 3
    assert len(set(redactions.values_list("corrects", flat=True))) == 3
    assert Event.objects.filter(summary__startswith="Archived:").count() == 3
    run.refresh_from_db()
    assert run.undone["note"] == 3
    assert run.status == RunStatus.UNDONE


def test_undo_cancels_follow_ups_and_closes_threads_it_opened(ann, owner, staff):
    run = start_run("calendar.ics", "icalendar")
    with running(run):
        actor = import_actor("calendar.ics")
        due = timezone.now() + dt.timedelta(days=2)
        follow_up = create_follow_up(ann, actor, "Send the quote", due, staff)
        thread = open_thread(ann, actor, ThreadKind.ENQUIRY, "New boiler")
    finish_run(run, ImportReport(file="calendar.ics"))

    report = undo_import(run, Actor.for_user(owner))

    follow_up.refresh_from_db()
    thread.refresh_from_db()
    assert follow_up.status == FollowUpStatus.CANCELLED
    assert thread.status == ThreadStatus.DONE
    assert report.undone["follow-up"] == report.undone["thread"] == 1


def test_a_thread_someone_has_worked_on_since_stays_open(ann, owner, staff):
    run = start_run("calendar.ics", "icalendar")
    with running(run):
        thread = open_thread(ann, import_actor("x"), ThreadKind.ENQUIRY, "New boiler")
    finish_run(run, ImportReport(file="calendar.ics"))
    record_event(
        ann, Kind.CALL, "Talked it through", actor=Actor.for_user(staff), thread=thread
    )

    report = undo_import(run, Actor.for_user(owner))

    thread.refresh_from_db()
    assert thread.is_open
    assert report.kept == ["thread 'New boiler'"]


def test_a_contact_point_removed_by_hand_since_is_left_alone(contacts, owner, ann):
    run = imported(contacts)
    ContactPoint.objects.filter(party=ann, kind="phone").delete()
    add_contact_point(ann, Actor.for_user(owner), "phone", "+1 202 555 0199")

    report = undo_import(run, Actor.for_user(owner))

    assert "contact point" not in report.undone
    assert ann.contact_points.filter(kind="phone").count() == 1


def test_undo_of_the_data_set_closes_its_deals_and_removes_its_quotes(tmp_path, owner):
    folder = small_data_set(tmp_path)
    run = imported(folder)
    threads = Thread.objects.filter(kind=ThreadKind.DEAL)
    assert threads.filter(status=ThreadStatus.OPEN).exists()
    assert Event.objects.filter(kind=Kind.QUOTE).exists()

    report = undo_import(run, Actor.for_user(owner))

    assert not threads.filter(status=ThreadStatus.OPEN).exists()
    assert not Event.objects.effective().filter(kind=Kind.QUOTE).exists()
    assert visible(owner) == set()
    assert (
        report.undone["thread"]
        == run.created["thread"] - (run.created["status change"])
    )


def small_data_set(tmp_path: Path) -> Path:
    """A few deals of the Maven data set and their accounts, from the corpus."""
    source = corpus_path("csv/maven_crm_sales")
    folder = tmp_path / "maven_crm_sales"
    folder.mkdir()
    for path in source.glob("*.csv"):
        (folder / path.name).write_bytes(path.read_bytes())

    deals = (folder / "sales_pipeline.csv").read_text(encoding="utf-8").splitlines()
    still_open = [line for line in deals if ",Engaging," in line][:4]
    kept = deals[:9] + still_open
    (folder / "sales_pipeline.csv").write_text("\n".join(kept) + "\n")
    accounts = (folder / "accounts.csv").read_text(encoding="utf-8").splitlines()
    used = [line for line in accounts[1:] if any(line.split(",")[0] in d for d in kept)]
    (folder / "accounts.csv").write_text("\n".join([accounts[0], *used]) + "\n")
    return folder


def test_undo_touches_nothing_another_import_wrote(contacts, owner, tmp_path):
    other = tmp_path / "suppliers.csv"
    other.write_text("name,email,notes\nSue Supplier,sue@example.com,Net 30\n")
    first = imported(contacts)
    imported(other)

    undo_import(first, Actor.for_user(owner))

    assert visible(owner) == {"Sue Supplier"}
    sue = Party.objects.get(display_name="Sue Supplier")
    assert Event.objects.effective().filter(party=sue, kind=Kind.NOTE).exists()


def test_undo_of_an_events_file_removes_every_interaction(owner):
    case = Path(__file__).parent / "data" / "csv_merge_duplicates_with_timeline.csv"
    run = imported(case)
    jane = Party.objects.get()
    assert Event.objects.effective().filter(party=jane, kind=Kind.CALL).exists()

    report = undo_import(run, Actor.for_user(owner))

    shown = Event.objects.effective().filter(party=jane)
    kinds = {"call", "quote", "message", "booking", "payment"}
    assert not shown.filter(kind__in=kinds).exists()
    assert sum(report.undone[kind] for kind in kinds) == 5
    assert visible(owner) == set()


@pytest.mark.parametrize("bulk", [True, False])
def test_reimporting_an_undone_events_file_says_its_rows_were_left_out(
    tmp_path, owner, ann, bulk
):
    path = tmp_path / "calls.csv"
    path.write_text(
        "date,type,email,summary\n"
        "2025-03-03 10:00,call,ann@example.com,Asked for a visit\n"
        "2025-03-04 10:00,call,ann@example.com,Booked the visit\n",
        encoding="utf-8",
    )
    first = import_path(path)
    assert first.run is not None
    undo_import(first.run, Actor.for_user(owner))

    table = open_table(path)
    report = import_events(table, None, bulk=bulk)

    assert report.rows_used == 0
    assert not report.created
    [problem] = report.problems
    assert problem.message.startswith(
        f"2 rows were imported before by import #{first.run.pk}, which was undone"
    )


def test_reimporting_an_undone_vcard_file_says_its_cards_were_left_out(tmp_path, owner):
    path = tmp_path / "phone.vcf"
    path.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo Park\r\nEMAIL:bo@example.com\r\n"
        "END:VCARD\r\n",
        encoding="utf-8",
    )
    run = imported(path)
    undo_import(run, Actor.for_user(owner))

    report = import_path(path)

    [problem] = report.problems
    assert problem.message.startswith(
        f"1 row was imported before by import #{run.pk}, which was undone"
    )


MAIL = (
    "From: Bo Park <bo@example.com>\r\nTo: office@brightwater.example\r\n"
    "Subject: Boiler noise\r\nMessage-ID: <noise-1@example.com>\r\n"
    "Date: Mon, 3 Mar 2025 10:00:00 +0000\r\n\r\nIt rattles again.\r\n"
)
CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:visit-1@example.com\r\nDTSTAMP:20250301T090000Z\r\n"
    "DTSTART:20250310T090000Z\r\nDTEND:20250310T100000Z\r\n"
    "SUMMARY:Boiler service\r\nATTENDEE;CN=Bo Park:mailto:bo@example.com\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.mark.parametrize(
    ("name", "text"), [("mail.eml", MAIL), ("diary.ics", CALENDAR)]
)
def test_reimporting_undone_mail_or_calendar_says_what_was_left_out(
    tmp_path, owner, make_party, name, text
):
    bo = make_party("Bo Park", emails=["bo@example.com"])
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    run = imported(path)
    undo_import(run, Actor.for_user(owner))
    entries = Event.objects.count()

    report = import_path(path)

    assert report.rows_used == 0
    assert not any(report.created.values())
    [problem] = report.problems
    assert problem.message.startswith(
        f"1 row was imported before by import #{run.pk}, which was undone"
    )
    assert Event.objects.count() == entries
    assert (
        not bo.events.filter(kind__in=[Kind.MESSAGE, Kind.BOOKING])
        .exclude(actor_label=run.actor_label)
        .exists()
    )


def test_mail_also_kept_by_an_import_not_undone_is_known_not_left_out(
    tmp_path, owner, make_party
):
    make_party("Bo Park", emails=["bo@example.com"])
    first, second = tmp_path / "first.eml", tmp_path / "second.eml"
    first.write_text(MAIL, encoding="utf-8")
    second.write_text(MAIL, encoding="utf-8")
    imported(first)
    undone = imported(second)
    undo_import(undone, Actor.for_user(owner))

    report = import_path(second)

    assert report.rows_used == 1
    assert not report.problems
