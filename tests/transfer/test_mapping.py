"""Recognising columns by their common names, and loading mappings."""

import pytest

from threadline.errors import InvalidInput
from threadline.transfer.mapping import (
    Target,
    detect_mapping,
    load_mapping,
    recognise,
    shipped_mappings,
)


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("email", Target("email")),
        ("E-Mail", Target("email")),
        ("E-mail Address", Target("email")),
        ("Email Address", Target("email")),
        ("Primary Email", Target("email")),
        ("contact_email", Target("email")),
        ("E-mail 2 Address", Target("email", "2")),
        ("First Name", Target("given_name")),
        ("given_name", Target("given_name")),
        ("Vorname", Target("given_name")),
        ("Nachname", Target("family_name")),
        ("Surname", Target("family_name")),
        ("Full Name", Target("full_name")),
        ("NAME", Target("full_name")),
        ("Telefon", Target("phone")),
        ("Mobile", Target("phone", "mobile")),
        ("Mobile Phone", Target("phone", "mobile")),
        ("Business Phone", Target("phone", "work")),
        ("Handy", Target("phone", "mobile")),
        ("Company", Target("company")),
        ("Organisation", Target("company")),
        ("Firma", Target("company")),
        ("Job Title", Target("job_title")),
        ("Street", Target("street")),
        ("Address line 2", Target("street")),
        ("Business Street", Target("street", "work")),
        ("Home ZipCode", Target("postcode", "home")),
        ("PLZ", Target("postcode")),
        ("Straße", Target("street")),
        ("Ort", Target("city")),
        ("Country/Region", Target("country")),
        ("Notes", Target("notes")),
        ("Categories", Target("tags")),
        ("Lifecycle stage", Target("stage")),
        ("Birthday", Target("birthday")),
        ("Date of birth", Target("birthday")),
        ("Geburtsdatum", Target("birthday")),
        ("Telefon geschäftlich", Target("phone", "work")),
        ("Tel. privat", Target("phone", "home")),
        ("Mobiltelefon", Target("phone", "mobile")),
        ("Straße geschäftlich", Target("street", "work")),
        ("Postleitzahl geschäftlich", Target("postcode", "work")),
        ("Land/Region geschäftlich", Target("country", "work")),
        ("E-Mail 2: Adresse", Target("email", "2")),
        ("Primäre E-Mail-Adresse", Target("email")),
        ("Sekundäre E-Mail-Adresse", Target("email", "other")),
        ("Anzeigename", Target("full_name")),
        ("Kategorien", Target("tags")),
        ("Mailing Street", Target("street")),
        ("Mailing State/Province", Target("region")),
        ("Mailing Zip/Postal Code", Target("postcode")),
        ("Account Name", Target("company")),
        ("Record ID", Target("id")),
        ("Phone Number", Target("phone")),
        ("Person - Name", Target("full_name")),
        ("Person - Email - Work", Target("email", "work")),
        ("Organization - Name", Target("company")),
        ("Other emails", Target("email_list")),
        ("Other phones", Target("phone_list")),
        ("Other addresses", Target("address_list")),
        ("Job title", Target("job_title")),
    ],
)
def test_common_headers_are_recognised(header, target):
    assert recognise(header) == target


@pytest.mark.parametrize("header", ["Umsatz", "Anniversary", "Web Page 1", ""])
def test_other_headers_are_not_guessed(header):
    assert recognise(header) is None


def test_shipped_mappings_are_listed_by_name():
    assert set(shipped_mappings()) >= {"google", "outlook", "thunderbird", "maven-crm"}


def test_export_format_is_detected_from_its_headers():
    header = ["First Name", "Last Name", "Display Name", "Primary Email"]
    header += ["Secondary Email", "Work Phone"]

    assert detect_mapping(header).name == "thunderbird"
    assert detect_mapping(["name", "email"]) is None


def test_mapping_file_with_an_unknown_field_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"columns": {"Kunde": "customer_name"}}')

    with pytest.raises(InvalidInput, match="'customer_name' is not a field"):
        load_mapping(str(path))


def test_mapping_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("columns: nope")

    with pytest.raises(InvalidInput, match="not a JSON mapping"):
        load_mapping(str(path))
