"""An import run by one person leaves the restricted customers hidden from
them alone, in every format, and its report names nothing of them."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.mail.conftest import build_message
from threadline.accounts.models import User
from threadline.mail.models import UnknownSender
from threadline.parties.models import Party
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import record_event
from threadline.transfer import uploads
from threadline.transfer.importer import import_path
from threadline.transfer.report import ImportReport
from threadline.transfer.undo import undo_import
from threadline.transfer.visibility import HIDDEN_MATCH

pytestmark = pytest.mark.django_db

SECRET = "harriet@example.com"


@pytest.fixture
def hidden(make_party, owner: User, staff: User) -> Party:
    """Harriet, open to Sam alone: the manager may not see her."""
    party = make_party("Hidden Harriet", emails=[SECRET])
    restrict_party(party, Actor.for_user(owner), restricted=True, users=[staff])
    return party


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def timeline(party: Party) -> list[str]:
    return list(Event.objects.filter(party=party).values_list("kind", flat=True))


def problems(report: ImportReport) -> str:
    return " ".join(problem.message for problem in report.problems)


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_contact_row_with_a_hidden_customers_email_is_left_alone(
    tmp_path, hidden, manager, dry_run
):
    before = timeline(hidden)
    path = write(tmp_path, "probe.csv", f"name,email,notes\nProbe,{SECRET},probe\n")

    report = import_path(path, user=manager, dry_run=dry_run)

    assert HIDDEN_MATCH in problems(report)
    assert "Harriet" not in problems(report)
    assert report.rows_used == 0
    assert not report.created
    assert timeline(hidden) == before
    assert Party.objects.count() == 1


def test_an_id_imported_before_as_a_hidden_customer_is_not_named(
    tmp_path, make_party, owner, staff, manager
):
    path = write(tmp_path, "legacy.csv", "id,name,email\nL1,Hidden Harriet,h@x.com\n")
    import_path(path, source="legacy")
    harriet = Party.objects.get(display_name="Hidden Harriet")
    restrict_party(harriet, Actor.for_user(owner), restricted=True, users=[staff])
    probe = write(tmp_path, "probe.csv", "id,name,email\nL1,Zed Probe,z@x.com\n")

    report = import_path(probe, source="legacy", user=manager, dry_run=True)

    assert problems(report).endswith(HIDDEN_MATCH)
    assert "Harriet" not in problems(report)


def test_a_new_person_at_a_hidden_organisation_is_left_alone(
    tmp_path, make_party, owner, staff, manager
):
    works = make_party("Hidden Works", kind="organisation")
    restrict_party(works, Actor.for_user(owner), restricted=True, users=[staff])
    before = timeline(works)
    path = write(
        tmp_path,
        "staff.csv",
        "name,email,company\n"
        "Ann Probe,ann@example.com,HIDDEN WORKS\n"
        "Bo Open,bo@example.com,Open Works\n",
    )

    report = import_path(path, user=manager)

    assert problems(report) == HIDDEN_MATCH
    assert report.rows_used == 1
    assert timeline(works) == before
    assert not Party.objects.filter(display_name="Ann Probe").exists()
    assert Party.objects.filter(display_name="Open Works").exists()


def test_events_for_a_hidden_customer_are_not_recorded(tmp_path, hidden, manager):
    before = timeline(hidden)
    path = write(
        tmp_path,
        "calls.csv",
        "date,type,email,summary\n"
        f"2025-03-03 10:00,call,{SECRET},Asked about her account\n"
        "2025-03-03 11:00,call,open@example.com,Booked a visit\n",
    )

    report = import_path(path, user=manager)

    assert HIDDEN_MATCH in problems(report)
    assert report.created[Kind.CALL] == 1
    assert timeline(hidden) == before


def test_a_calendar_event_with_a_hidden_attendee_is_not_booked(
    tmp_path, hidden, manager
):
    path = write(
        tmp_path,
        "visits.ics",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:visit-1@example.com\r\n"
        "DTSTART:20250303T100000Z\r\nDTEND:20250303T110000Z\r\n"
        f"SUMMARY:Boiler service\r\nATTENDEE;CN=Harriet:mailto:{SECRET}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n",
    )

    report = import_path(path, user=manager)

    assert HIDDEN_MATCH in problems(report)
    assert Kind.BOOKING not in timeline(hidden)


def test_mail_to_a_hidden_customer_is_neither_recorded_nor_held(
    tmp_path, hidden, manager
):
    path = tmp_path / "mail.eml"
    path.write_bytes(
        build_message(
            sender=f"Harriet <{SECRET}>", to="desk@ourshop.example", subject="Hello"
        )
    )

    report = import_path(path, user=manager)

    assert HIDDEN_MATCH in problems(report)
    assert Kind.MESSAGE not in timeline(hidden)
    assert not UnknownSender.objects.exists()


def test_an_import_for_the_business_still_writes_to_restricted_customers(
    tmp_path, hidden
):
    path = write(tmp_path, "notes.csv", f"name,email,notes\nHarriet,{SECRET},VIP\n")

    report = import_path(path)

    assert report.problems == []
    assert Kind.NOTE in timeline(hidden)


def test_the_check_page_of_an_upload_names_nothing_hidden(
    client: Client, hidden, manager, settings, tmp_path, monkeypatch
):
    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(uploads, "in_background", lambda work, name: work())
    client.force_login(manager)
    content = f"name,email,notes\nProbe,{SECRET},probe\n".encode()

    answer = client.post(
        reverse("web:imports"),
        {"file": SimpleUploadedFile("probe.csv", content)},
        follow=True,
    )

    page = answer.content.decode()
    assert "restricted and not open to you" in page
    assert "Harriet" not in page


def test_a_conflict_with_a_restricted_customer_does_not_name_them(
    tmp_path, owner, staff
):
    path = write(tmp_path, "old.csv", "id,name,email\n1,Secret Rest,sr@example.com\n")
    import_path(path, source="old-crm")
    secret = Party.objects.get(display_name="Secret Rest")
    restrict_party(secret, Actor.for_user(owner), restricted=True, users=[staff])
    again = write(tmp_path, "again.csv", "id,name,email\n1,Zed Other,zo@example.com\n")

    report = import_path(again, source="old-crm")

    assert problems(report).startswith(
        "conflict: '1' was imported before as a restricted customer, not 'Zed Other'"
    )


def test_the_page_of_an_undone_import_keeps_hidden_customers_unnamed(
    client: Client, tmp_path, owner, staff, manager
):
    path = write(tmp_path, "ks.csv", "name,email\nKept Secret,ks@example.com\n")
    run = import_path(path).run
    assert run is not None
    kept = Party.objects.get(display_name="Kept Secret")
    record_event(kept, Kind.NOTE, "Worked on since", actor=Actor.for_user(staff))
    restrict_party(kept, Actor.for_user(owner), restricted=True, users=[owner])
    undo_import(run, Actor.for_user(owner))
    page = reverse("web:import_run", args=[run.public_id])

    client.force_login(manager)
    seen_by_manager = client.get(page).content.decode()
    client.force_login(owner)
    seen_by_owner = client.get(page).content.decode()

    assert "Kept Secret" not in seen_by_manager
    assert "Kept Secret" in seen_by_owner
