"""Importing vCards: versions 2.1 to 4.0, as phones and address books write them."""

import datetime as dt
from pathlib import Path

import pytest

from tests.transfer.conftest import CORPUS, DATA
from threadline.errors import InvalidInput
from threadline.parties.models import (
    ContactKind,
    Party,
    PartyKind,
    Relationship,
    RelationshipKind,
)
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.importer import detect_format, import_path

pytestmark = pytest.mark.django_db

VCARDS = DATA / "vcard"


def write_cards(folder: Path, *cards: str, name: str = "contacts.vcf") -> Path:
    path = folder / name
    path.write_bytes("".join(cards).replace("\n", "\r\n").encode())
    return path


def points(party: Party, kind: str) -> list[tuple[str, str]]:
    found = party.contact_points.filter(kind=kind).order_by("id")
    return [(point.value, point.label) for point in found]


FULL_CARD = """BEGIN:VCARD
VERSION:3.0
UID:card-anna-1
N:Berg;Anna;Maria;Dr.;
FN:Dr. Anna Maria Berg
ORG:Berg & Sons;Workshop
TITLE:Head of Repairs
EMAIL;TYPE=INTERNET,HOME:anna@example.com
EMAIL;TYPE=INTERNET,WORK,PREF:anna.berg@bergsons.example
TEL;TYPE=CELL,VOICE:+1 415 555 0134
TEL;TYPE=WORK,FAX:+1 415 555 0199
ADR;TYPE=HOME:;Flat 2;12 Elm Street;Springfield;IL;62701;USA
CATEGORIES:VIP,Boiler service
BDAY:1984-07-09
NOTE:Prefers calls after 3pm.\\nHas a dog.
END:VCARD
"""


def test_handed_case_decodes_quoted_printable_names_in_2_1_and_3_0():
    report = import_path(VCARDS / "vcard_qp_umlaut_names.vcf")

    assert report.rows == 2
    assert report.skipped == 0
    assert sorted(Party.objects.values_list("display_name", flat=True)) == [
        "José",
        "Ümit Örnek",
    ]
    umit = Party.objects.get(family_name="Örnek")
    assert umit.given_name == "Ümit"
    assert points(umit, ContactKind.PHONE) == [("+491705550123", "mobile")]
    assert points(umit, ContactKind.EMAIL) == [("umit@example.com", "")]


def test_a_card_keeps_names_points_labels_organisation_tags_birthday_and_note(
    tmp_path: Path,
):
    import_path(write_cards(tmp_path, FULL_CARD))

    anna = Party.objects.get(kind=PartyKind.PERSON)
    assert (anna.given_name, anna.family_name) == ("Anna Maria", "Berg")
    assert points(anna, ContactKind.EMAIL) == [
        ("anna@example.com", "home"),
        ("anna.berg@bergsons.example", "work"),
    ]
    assert points(anna, ContactKind.PHONE) == [
        ("+14155550134", "mobile"),
        ("+14155550199", "work fax"),
    ]
    assert points(anna, ContactKind.ADDRESS) == [
        ("12 Elm Street, Flat 2, Springfield, IL, 62701, USA", "home")
    ]
    assert sorted(anna.tags.values_list("name", flat=True)) == [
        "boiler service",
        "vip",
    ]
    assert anna.birthday == dt.date(1984, 7, 9)
    note = Event.objects.get(party=anna, kind=Kind.NOTE)
    assert note.body == "Prefers calls after 3pm.\nHas a dog."
    works_at = Relationship.objects.get(kind=RelationshipKind.WORKS_AT)
    assert works_at.to_party.display_name == "Berg & Sons"
    assert works_at.role == "Head of Repairs (Workshop)"


def test_importing_the_same_file_twice_doubles_nothing(tmp_path: Path):
    path = write_cards(tmp_path, FULL_CARD)
    import_path(path)
    events = Event.objects.count()

    again = import_path(path)

    assert again.created_text() == "nothing new"
    assert Party.objects.count() == 2
    assert Event.objects.count() == events


def test_the_uid_finds_the_party_even_when_the_card_changed(tmp_path: Path):
    import_path(write_cards(tmp_path, FULL_CARD))
    changed = FULL_CARD.replace("anna@example.com", "anna@new.example")

    import_path(write_cards(tmp_path, changed))

    anna = Party.objects.get(kind=PartyKind.PERSON)
    assert ("anna@new.example", "home") in points(anna, ContactKind.EMAIL)


def test_a_card_without_uid_is_keyed_by_its_content(tmp_path: Path):
    card = "BEGIN:VCARD\nVERSION:3.0\nFN:Nils Holm\nTEL:+46 8 555 0101\nEND:VCARD\n"
    import_path(write_cards(tmp_path, card, name="one.vcf"))

    report = import_path(write_cards(tmp_path, card, name="other-name.vcf"))

    assert report.created["person"] == report.created["contact point"] == 0
    assert Party.objects.filter(display_name="Nils Holm").count() == 1


def test_a_birthday_without_a_year_is_reported_as_not_kept(tmp_path: Path):
    card = FULL_CARD.replace("BDAY:1984-07-09", "BDAY:--0709")

    report = import_path(write_cards(tmp_path, card))

    assert Party.objects.get(kind=PartyKind.PERSON).birthday is None
    messages = [problem.message for problem in report.problems]
    assert any("'--0709' has no year" in message for message in messages)
    assert all(not problem.skipped for problem in report.problems)


def test_an_unreadable_card_is_reported_by_number_and_line_and_the_rest_import(
    tmp_path: Path,
):
    broken = "BEGIN:VCARD\nVERSION:3.0\nFN:Cut Short\n"
    good = "BEGIN:VCARD\nVERSION:3.0\nFN:Lena Park\nEND:VCARD\n"
    path = write_cards(tmp_path, good, "BEGIN:VCARD\nVERSION:3.0\nFN:Half", broken)

    report = import_path(path)

    assert list(Party.objects.values_list("display_name", flat=True)) == ["Lena Park"]
    assert report.rows == 2
    [problem] = report.problems
    assert problem.line == 5
    assert problem.skipped
    assert problem.message.startswith("card 2 could not be read")
    assert "END:VCARD" in problem.message


def test_a_property_vobject_cannot_read_is_left_out_alone(tmp_path: Path):
    card = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Omar Haddad\nEMAIL:omar@example.com\n"
        "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2w=\n"
        "END:VCARD\n"
    )

    report = import_path(write_cards(tmp_path, card))

    omar = Party.objects.get()
    assert points(omar, ContactKind.EMAIL) == [("omar@example.com", "")]
    [problem] = report.problems
    assert (problem.line, problem.skipped) == (1, False)
    assert "card 1: PHOTO on line 5 could not be read (damaged base64" in str(problem)


def test_a_garbled_property_is_named_printably_in_the_report(tmp_path: Path):
    card = "BEGIN:VCARD\nVERSION:3.0\nFN:Omar Haddad\nN\x00\x1b[2J:\x07\nEND:VCARD\n"

    report = import_path(write_cards(tmp_path, card))

    assert Party.objects.get().display_name == "Omar Haddad"
    [problem] = report.problems
    assert problem.message.startswith("card 1: N?[2J on line 4 could not be read (")
    assert problem.message.isprintable()


def test_a_card_with_nothing_to_import_is_skipped_with_its_number(tmp_path: Path):
    empty = "BEGIN:VCARD\nVERSION:3.0\nFN:\nEND:VCARD\n"

    report = import_path(write_cards(tmp_path, empty))

    [problem] = report.problems
    assert problem.skipped
    assert problem.message.startswith("card 1: no name, email, phone or company")


def test_a_company_card_becomes_an_organisation_with_its_email(tmp_path: Path):
    card = (
        "BEGIN:VCARD\nVERSION:4.0\nKIND:org\nFN:Acme Plumbing\nORG:Acme Plumbing\n"
        "EMAIL;TYPE=work:office@acme.example\nTEL;TYPE=work:+1 212 555 0100\n"
        "END:VCARD\n"
    )

    report = import_path(write_cards(tmp_path, card))

    acme = Party.objects.get()
    assert acme.kind == PartyKind.ORGANISATION
    assert points(acme, ContactKind.EMAIL) == [("office@acme.example", "work")]
    assert points(acme, ContactKind.PHONE) == [("+12125550100", "work")]
    assert report.created["contact point"] == 2


def test_apple_item_labels_and_folded_notes_are_read(tmp_path: Path):
    report = import_path(VCARDS / "ezvcard__gmail-single.vcf")

    greg = Party.objects.get(kind=PartyKind.PERSON)
    assert report.skipped == 0
    # 555 is no area code in use: the number is kept as typed, and said so.
    assert ("5555552222", "GRAND_CENTRAL") in points(greg, ContactKind.PHONE)
    assert any(
        "'555 555 2222' is not a phone number in US" in problem.message
        for problem in report.problems
    )
    assert ("321 Custom St, Custom City, TX, 98765, USA", "CustomAdrType") in points(
        greg, ContactKind.ADDRESS
    )
    note = Event.objects.get(party=greg, kind=Kind.NOTE)
    assert note.body.endswith("ACustomField: CustomField")
    assert greg.birthday == dt.date(1960, 9, 10)


def test_legacy_code_page_text_is_read_in_the_charset_the_card_declares():
    import_path(VCARDS / "folkerkinzel__MultiAnsiFilterTests__Greek.vcf")

    party = Party.objects.get()
    assert party.display_name == "Ευάγγελος Οδυσσέας Παπαθανασίου"


def test_unindented_base64_of_version_2_1_gives_the_photo():
    import_path(VCARDS / "folkerkinzel__Library_v2.vcf")

    party = Party.objects.get(kind=PartyKind.PERSON)
    assert party.photo_type == "image/jpeg"
    assert bytes(party.photo).startswith(b"\xff\xd8\xff")


def test_a_dry_run_counts_the_same_and_writes_nothing(tmp_path: Path):
    path = write_cards(tmp_path, FULL_CARD)

    dry = import_path(path, dry_run=True)

    assert Party.objects.count() == 0
    real = import_path(path)
    assert dry.created == real.created
    assert dry.rows_used == real.rows_used == 1


def test_a_file_without_cards_is_refused_with_a_way_out(tmp_path: Path):
    path = tmp_path / "contacts.vcf"
    path.write_text("Name,Email\nAda,ada@example.com\n")

    with pytest.raises(InvalidInput, match="holds no vCard"):
        import_path(path)


def test_a_vcard_without_the_suffix_is_recognised_by_its_first_line(tmp_path: Path):
    path = tmp_path / "export"
    path.write_bytes(b"\xef\xbb\xbfBEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n")

    assert detect_format(path) == "vcard"


CORPUS_CARDS = sorted((CORPUS / "vcard").glob("*.vcf")) if CORPUS.exists() else []


@pytest.mark.parametrize(
    "path", CORPUS_CARDS or [None], ids=lambda path: path.name if path else "absent"
)
def test_every_corpus_file_imports_or_is_refused_cleanly(path: Path | None):
    if path is None:
        pytest.skip(f"the shared corpus is not beside this clone ({CORPUS})")

    try:
        report = import_path(path)
    except InvalidInput as error:
        assert "holds no vCard" in error.message
        return

    assert report.rows_used + report.skipped == report.rows
    for problem in report.problems:
        assert problem.message.startswith("card ") or "outside any card" in (
            problem.message
        )


def test_an_unknown_encoding_is_refused_before_anything_is_written(tmp_path: Path):
    path = write_cards(tmp_path, FULL_CARD)

    with pytest.raises(InvalidInput, match="'klingon' is not an encoding"):
        import_path(path, encoding="klingon")

    assert Party.objects.count() == 0


def test_properties_not_imported_are_listed_and_a_lone_title_is_reported(
    tmp_path: Path,
):
    card = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Lena Park\nNICKNAME:Len\nTITLE:Surveyor\n"
        "URL:https://lena.example\nEND:VCARD\n"
    )

    report = import_path(write_cards(tmp_path, card))

    assert report.ignored_columns == ["NICKNAME", "URL"]
    [problem] = report.problems
    assert problem.message == (
        "card 1: job title 'Surveyor' without an organisation was left out"
    )
