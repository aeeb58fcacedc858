"""A person erased at their request is not brought back by importing again
the files they came from; other rows of those files still import."""

from pathlib import Path

import pytest

from tests.mail.conftest import build_message
from threadline.accounts.models import User
from threadline.mail.models import UnknownSender
from threadline.mail.services import ERASED_MAIL
from threadline.parties.models import ContactPoint, Party
from threadline.parties.privacy import erase_person
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.importer import ERASED_ROW, import_path

pytestmark = pytest.mark.django_db

CONTACTS = (
    "name,email,notes\n"
    "Otto Keep,otto@example.com,Gate code 4411\n"
    "Ada Stay,ada@example.com,\n"
)


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    return path


def erase(name: str, manager: User) -> None:
    party = Party.objects.get(display_name=name)
    erase_person(party, Actor.for_user(manager), "Asked by phone")


def test_a_second_run_of_the_file_skips_the_erased_person(contacts, manager):
    import_path(contacts)
    erase("Otto Keep", manager)
    people = Party.objects.count()

    report = import_path(contacts)

    assert [(p.line, p.message) for p in report.problems] == [(2, ERASED_ROW)]
    assert Party.objects.count() == people
    assert not Party.objects.filter(display_name="Otto Keep").exists()
    assert report.rows_used == 1


def test_a_file_keyed_by_ids_skips_the_erased_person_too(tmp_path, manager):
    path = tmp_path / "crm.csv"
    path.write_text("id,name,email\nC1,Otto Keep,otto@example.com\n", "utf-8")
    import_path(path, source="old-crm")
    erase("Otto Keep", manager)

    report = import_path(path, source="old-crm")

    assert [p.message for p in report.problems] == [ERASED_ROW]
    assert not Party.objects.filter(display_name="Otto Keep").exists()


def test_events_naming_the_erased_contact_id_are_not_recorded(tmp_path, manager):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,name,email\nC1,Otto Keep,otto@example.com\n", "utf-8")
    import_path(contacts, source="shop")
    erase("Otto Keep", manager)
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "event_id,contact_id,date,type,summary\n"
        "E1,C1,2025-03-03 10:00,call,Asked for a visit\n",
        encoding="utf-8",
    )

    report = import_path(calls, source="shop")

    assert [p.message for p in report.problems] == [ERASED_ROW]
    assert not Event.objects.filter(kind=Kind.CALL).exists()


def test_a_customer_download_taken_before_the_erasure_brings_nothing_back(
    tmp_path, manager
):
    import_path(write_contacts(tmp_path, "Otto Keep,otto@example.com,\n"))
    otto = Party.objects.get(display_name="Otto Keep")
    download = tmp_path / "download.csv"
    download.write_text(
        f"Name,Email,Threadline id\nOtto Keep,otto@example.com,{otto.public_id}\n",
        encoding="utf-8",
    )
    erase("Otto Keep", manager)

    report = import_path(download)

    assert [p.message for p in report.problems] == [ERASED_ROW]
    assert not ContactPoint.objects.filter(party=otto).exists()


def write_contacts(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "first.csv"
    path.write_text("name,email,notes\n" + rows, encoding="utf-8")
    return path


@pytest.mark.parametrize("extra_rows", [0, 3])
def test_another_file_naming_the_erased_person_by_email_leaves_them_out(
    tmp_path, manager, extra_rows
):
    import_path(write_contacts(tmp_path, "Otto Keep,otto@example.com,\n"))
    erase("Otto Keep", manager)
    other = tmp_path / "other.csv"
    rows = "".join(f"New {n},new{n}@example.com\n" for n in range(extra_rows))
    other.write_text(
        f"Full name,E-mail\nO. Keep,OTTO@example.com\n{rows}", encoding="utf-8"
    )

    report = import_path(other)

    assert [(p.line, p.message) for p in report.problems] == [(2, ERASED_ROW)]
    assert not ContactPoint.objects.filter(value="otto@example.com").exists()
    assert report.rows_used == extra_rows


def test_mail_of_an_erased_person_is_not_held_again(tmp_path, manager, make_party):
    otto = make_party("Otto Keep", emails=["otto@example.com"])
    erase_person(otto, Actor.for_user(manager), "Asked by phone")
    mail = tmp_path / "mail.eml"
    mail.write_bytes(
        build_message(sender="Otto Keep <otto@example.com>", to="desk@example.org")
    )

    report = import_path(mail)

    assert [p.message for p in report.problems] == [ERASED_MAIL]
    assert not UnknownSender.objects.exists()
