"""Exporting vCard 3.0, and importing it back into an empty record."""

import base64
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest
import vobject

from threadline.accounts.models import User
from threadline.parties.models import (
    ContactKind,
    Party,
    PartyKind,
    Relationship,
    RelationshipKind,
)
from threadline.parties.services import (
    add_contact_point,
    add_relationship,
    create_party,
    pin_fact,
    restrict_party,
    set_photo,
)
from threadline.timeline.actors import Actor
from threadline.transfer.importer import import_path
from threadline.transfer.vcard_export import write_vcards

pytestmark = pytest.mark.django_db

SETUP = Actor.system("test setup")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def build_record() -> Party:
    acme = create_party(SETUP, kind=PartyKind.ORGANISATION, display_name_text="Acme")
    umit = create_party(
        SETUP,
        given_name="Ümit",
        family_name="Örnek",
        emails=[("umit@example.com", "home"), ("u.ornek@acme.example", "work")],
        phones=[("+49 170 5550123", "mobile"), ("+49 30 5550199", "work fax")],
        addresses=[("Hauptstraße 5, 10115 Berlin, Germany", "home")],
        tags=["vip", "boiler, gas"],
        birthday=dt.date(1984, 7, 9),
    )
    add_contact_point(umit, SETUP, ContactKind.PHONE, "+49 30 5550100", label="desk")
    add_relationship(umit, acme, SETUP, RelationshipKind.WORKS_AT, role="Buyer")
    pin_fact(umit, SETUP, "Prefers calls after 3pm")
    pin_fact(umit, SETUP, "Dog in the garden")
    set_photo(umit, SETUP, PNG, "image/png")
    return umit


def snapshot() -> dict[str, object]:
    people = {}
    for party in Party.objects.order_by("id"):
        people[party.display_name] = {
            "kind": party.kind,
            "names": (party.given_name, party.family_name),
            "points": sorted(
                (point.kind, point.value, point.label)
                for point in party.contact_points.all()
            ),
            "tags": sorted(party.tags.values_list("name", flat=True)),
            "birthday": party.birthday,
            "photo": bytes(party.photo or b""),
        }
    return people


def export_all() -> str:
    stream = io.StringIO()
    write_vcards(Party.objects.order_by("id"), stream)
    return stream.getvalue()


def test_export_then_import_into_an_empty_record_gives_the_same_parties(
    tmp_path: Path,
) -> None:
    build_record()
    before = snapshot()
    path = tmp_path / "everyone.vcf"
    path.write_text(export_all(), encoding="utf-8")
    Relationship.objects.all().delete()
    for party in Party.objects.all():
        party.events.all().delete()
        party.delete()

    report = import_path(path)

    assert report.problems == []
    assert snapshot() == before
    works_at = Relationship.objects.get()
    assert (works_at.to_party.display_name, works_at.role) == ("Acme", "Buyer")


def test_a_card_carries_uid_org_title_note_and_typed_points() -> None:
    umit = build_record()

    card = vobject.readOne(export_all().split("END:VCARD")[1] + "END:VCARD\r\n")

    assert card.version.value == "3.0"
    assert card.uid.value == str(umit.public_id)
    assert card.n.value.given == "Ümit"
    assert card.org.value == ["Acme"]
    assert card.title.value == "Buyer"
    assert card.bday.value == "1984-07-09"
    assert card.categories.value == ["boiler, gas", "vip"]
    assert card.note.value == "Prefers calls after 3pm\nDog in the garden"
    phones = {tel.value: tel.params.get("TYPE", []) for tel in card.contents["tel"]}
    assert phones["+49 170 5550123"] == ["CELL", "PREF"]
    assert phones["+49 30 5550199"] == ["WORK", "FAX"]
    assert card.photo.value == PNG


def test_an_employer_the_viewer_cannot_see_stays_off_the_card(
    owner: User, outsider: User
) -> None:
    umit = build_record()
    acme = Party.objects.get(kind=PartyKind.ORGANISATION)
    restrict_party(acme, Actor.for_user(owner), restricted=True)

    stream = io.StringIO()
    write_vcards(Party.objects.filter(pk=umit.pk), stream, viewer=outsider)

    assert "Acme" not in stream.getvalue()
    assert "Ümit" in stream.getvalue()


def test_the_export_reads_a_fixed_number_of_queries(
    django_assert_max_num_queries: Callable[..., object],
) -> None:
    build_record()
    for number in range(5):
        create_party(
            SETUP,
            display_name_text=f"Person {number}",
            emails=[f"p{number}@example.com"],
        )

    with django_assert_max_num_queries(6):
        export_all()


def test_a_person_known_by_one_name_keeps_it_in_the_structured_name() -> None:
    create_party(SETUP, display_name_text="Prince", emails=["p@example.com"])

    card = vobject.readOne(export_all())

    assert card.fn.value == "Prince"
    assert (card.n.value.given, card.n.value.family) == ("Prince", "")


def test_the_download_imported_again_finds_every_customer_by_its_uid(
    tmp_path: Path,
) -> None:
    build_record()
    create_party(SETUP, display_name_text="Ralf Rastral", addresses=["1 Way"])
    before = snapshot()
    path = tmp_path / "everyone.vcf"
    path.write_text(export_all(), encoding="utf-8")

    report = import_path(path)

    assert dict(report.created) == {"import record": Party.objects.count()}
    assert report.rows_used == Party.objects.count()
    assert snapshot() == before


def test_a_uid_of_another_system_finds_no_one(tmp_path: Path) -> None:
    path = tmp_path / "other.vcf"
    path.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:5d2f1c9e-0b1a-4c33-9d2e-1f0a2b3c4d5e\r\n"
        "FN:Ralf Rastral\r\nN:Rastral;Ralf;;;\r\nEND:VCARD\r\n",
        encoding="utf-8",
    )

    report = import_path(path)

    assert report.problems == []
    assert Party.objects.get().display_name == "Ralf Rastral"
