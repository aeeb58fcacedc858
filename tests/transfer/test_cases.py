"""The handed CSV cases: each stands for a kind of fault other CRMs had."""

import csv
import io

import pytest
from django.urls import reverse

from tests.transfer.conftest import DATA
from threadline.parties.models import ContactKind, ContactPoint, Party, PartyKind
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.importer import import_path
from threadline.transfer.reading import open_table

pytestmark = pytest.mark.django_db


def emails_of(party: Party) -> list[str]:
    return [point.raw for point in party.contact_points.filter(kind=ContactKind.EMAIL)]


def record_of_parties() -> dict[str, list[tuple[str, str]]]:
    """Each party's name with its contact points, as a round trip keeps them."""
    return {
        party.display_name: sorted(party.contact_points.values_list("kind", "raw"))
        for party in Party.objects.all()
    }


def test_leading_bom_is_stripped_so_the_first_column_is_email():
    report = import_path(DATA / "csv_bom_first_column_email.csv")

    assert report.columns[0] == ("email", "email")
    people = {party.display_name: emails_of(party) for party in Party.objects.all()}
    assert people == {
        "Jane Example": ["jane@example.com"],
        "Raj Sample": ["raj.sample@example.org"],
    }


def test_semicolons_delimit_and_quoted_semicolons_stay_in_their_value():
    table = open_table(DATA / "csv_semicolon_delimited_contacts.csv")
    rows = [cells for _, cells in table.rows()]

    assert table.delimiter == ";"
    assert len(table.header) == 5
    assert [len(cells) for cells in rows] == [5, 5]
    assert rows[1][1] == "Muster; GmbH"
    assert rows[0][4] == "1.234,50"


def test_semicolon_file_imports_both_contacts_with_german_headers():
    report = import_path(DATA / "csv_semicolon_delimited_contacts.csv")

    assert report.ignored_columns == ["Umsatz"]
    max_ = Party.objects.get(given_name="Max")
    assert max_.family_name == "Muster; GmbH"
    assert emails_of(max_) == ["max@example.de"]
    assert Party.objects.count() == 2


def test_quoted_newlines_keep_three_contacts_and_their_notes():
    report = import_path(DATA / "csv_quoted_newline_notes.csv")

    assert report.rows == 3
    assert Party.objects.count() == 3
    jane = Party.objects.get(display_name="Jane Example")
    note = Event.objects.get(party=jane, kind=Kind.NOTE)
    assert note.body == (
        'Met at the 2024 fair.\nPrefers calls after 3pm.\nAsked for a quote, ref "Q-17"'
    )
    walk_in = Party.objects.get(display_name="No Email Person")
    assert walk_in.contact_points.count() == 0
    assert Event.objects.get(party=walk_in, kind=Kind.NOTE).body == (
        "Walk-in customer\nwithout an email address"
    )


def test_quoted_newlines_do_not_shift_line_numbers():
    table = open_table(DATA / "csv_quoted_newline_notes.csv")

    assert [line for line, _ in table.rows()] == [2, 5, 7]


def test_windows_1252_names_decode_without_mojibake():
    import_path(DATA / "csv_cp1252_accented_names.csv")

    names = set(Party.objects.values_list("display_name", flat=True))
    assert names == {"Juan José Ejemplo", "Zoë Exemplär", "François ‘Frank’ Test"}
    assert not any("Ã" in name or "\ufffd" in name for name in names)


def test_names_survive_a_round_trip_through_the_customer_download(
    tmp_path, client, manager
):
    import_path(DATA / "csv_cp1252_accented_names.csv")
    before = record_of_parties()
    client.force_login(manager)
    response = client.get(reverse("web:export", args=["csv"]))
    exported = tmp_path / "customers.csv"
    exported.write_bytes(b"".join(response.streaming_content))

    report = import_path(exported)

    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    assert {row["Name"] for row in rows} == set(before)
    assert (report.rows_used, report.problems) == (3, [])
    assert "person" not in report.created
    assert "contact point" not in report.created
    assert record_of_parties() == before
    assert set(before) == {"Juan José Ejemplo", "Zoë Exemplär", "François ‘Frank’ Test"}


def test_email_spelled_three_ways_is_one_contact_with_the_first_spelling():
    report = import_path(DATA / "csv_email_case_duplicates.csv")

    assert report.created["person"] == 1
    jane = Party.objects.get()
    assert jane.display_name == "Jane Example"
    assert emails_of(jane) == ["jane.example@example.com"]
    imports = Event.objects.filter(party=jane, kind=Kind.IMPORT)
    assert sorted(event.payload["row"] for event in imports) == [2, 3, 4]


@pytest.mark.parametrize(
    ("name", "value", "extension"),
    [
        ("Jane Example", "+12025550143", "543"),
        ("Raj Sample", "+14155550178", "204"),
        ("Ana Test", "+493055501234", "12"),
        ("Front Desk", "+12025550100", "77"),
    ],
)
def test_phone_extensions_are_split_from_the_number(name, value, extension):
    import_path(DATA / "csv_phone_extensions.csv")

    phone = ContactPoint.objects.get(party__display_name=name)
    assert (phone.value, phone.extension, phone.dialable) == (value, extension, True)


def test_internal_phone_number_is_kept_and_flagged_not_dialable():
    import_path(DATA / "csv_phone_extensions.csv")

    phone = ContactPoint.objects.get(party__display_name="Internal Line")
    assert (phone.raw, phone.value, phone.dialable) == ("1047", "1047", False)


def test_phone_keeps_its_raw_form():
    import_path(DATA / "csv_phone_extensions.csv")

    phone = ContactPoint.objects.get(party__display_name="Front Desk")
    assert phone.raw == "+1 202-555-0100,,77"


def test_single_names_read_cleanly_and_particles_stay_in_the_surname():
    import_path(DATA / "csv_single_names.csv")

    people = {
        party.display_name: (party.given_name, party.family_name)
        for party in Party.objects.filter(kind=PartyKind.PERSON)
    }
    assert people == {
        "Teller": ("", "Teller"),
        "Sukarno": ("Sukarno", ""),
        "Jane Example": ("Jane", "Example"),
        "Anna van der Berg": ("Anna", "van der Berg"),
    }
    for name in people:
        assert "None" not in name
        assert name == " ".join(name.split())
