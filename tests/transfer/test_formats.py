"""Contact exports from Google, Outlook and Thunderbird import as they are."""

import pytest

from tests.transfer.conftest import DATA, corpus_path
from threadline.parties.models import ContactKind, Party, PartyKind
from threadline.timeline.kinds import Kind
from threadline.transfer.importer import import_path

pytestmark = pytest.mark.django_db


def points(party: Party, kind: str) -> list[str]:
    return list(party.contact_points.filter(kind=kind).values_list("value", flat=True))


def test_google_export_is_recognised_and_mapped_like_its_vcard():
    report = import_path(corpus_path("csv/roundcube_csv2vcard/gmail.csv"))

    assert report.mapping == "google"
    person = Party.objects.get(kind=PartyKind.PERSON)
    assert (person.given_name, person.family_name) == ("Firstname Middle", "Lastname")
    assert points(person, ContactKind.EMAIL) == [
        "home@aaa.pl",
        "work@email.pl",
        "unknown@email.com",
        "other@email.com",
    ]
    assert points(person, ContactKind.ADDRESS) == [
        "home_street, home_city, home_state, home_zip, home_country",
        "work_street, work_city, work_zip, work_country",
    ]
    assert sorted(person.tags.values_list("name", flat=True)) == ["test"]
    assert person.events.get(kind=Kind.NOTE).body == 'note"note'
    job = person.relationships_out.get()
    assert (job.to_party.display_name, job.role) == ("company", "jobtitle")


def test_google_placeholder_phones_are_reported_not_stored():
    report = import_path(corpus_path("csv/roundcube_csv2vcard/gmail.csv"))

    assert [problem.message for problem in report.problems][:2] == [
        "'pager' is not a phone number, left out",
        "'mainphone' is not a phone number, left out",
    ]
    assert not Party.objects.get(kind=PartyKind.PERSON).contact_points.filter(
        kind=ContactKind.PHONE
    )


def test_outlook_email_columns_make_one_contact_named_by_its_email():
    report = import_path(corpus_path("csv/roundcube_csv2vcard/outlook.csv"))

    assert report.mapping == "outlook"
    person = Party.objects.get()
    assert person.display_name == "test1@domain.tld"
    assert points(person, ContactKind.EMAIL) == [
        "test1@domain.tld",
        "test2@domain.tld",
        "test3@domain.tld",
    ]


def test_one_column_email_export_makes_one_contact_per_address():
    import_path(corpus_path("csv/roundcube_csv2vcard/email.csv"))

    names = list(Party.objects.order_by("id").values_list("display_name", flat=True))
    assert names == [f"test{n}@domain.tld" for n in range(1, 5)]


def test_full_outlook_export_maps_company_phones_address_and_categories():
    report = import_path(DATA / "outlook_export.csv")

    assert report.mapping == "outlook"
    ana = Party.objects.get(kind=PartyKind.PERSON)
    assert ana.display_name == "Ana Test"
    assert points(ana, ContactKind.PHONE) == ["+441134960000", "+447700900123"]
    assert points(ana, ContactKind.ADDRESS) == [
        "5 Market Square, Leeds, LS1 1AA, United Kingdom"
    ]
    assert sorted(ana.tags.values_list("name", flat=True)) == ["suppliers", "vip"]
    job = ana.relationships_out.get()
    assert (job.to_party.display_name, job.role) == (
        "Test & Sons Ltd",
        "Buyer (Purchasing)",
    )


def test_thunderbird_export_maps_both_emails_phones_and_addresses():
    report = import_path(DATA / "thunderbird_export.csv")

    assert report.mapping == "thunderbird"
    jane = Party.objects.get(display_name="Jane Example")
    assert points(jane, ContactKind.EMAIL) == [
        "jane@example.com",
        "jane.private@example.org",
    ]
    assert points(jane, ContactKind.PHONE) == ["+12025550143", "+12025550199"]
    assert points(jane, ContactKind.ADDRESS) == [
        "1 Example Street, Springfield, IL, 62701, USA"
    ]
    assert jane.events.get(kind=Kind.NOTE).body == (
        "Prefers email.\nInvoices go to the office."
    )
    raj = Party.objects.get(display_name="Raj Sample")
    assert points(raj, ContactKind.ADDRESS) == [
        "22 Sample Road, Flat 3, Oakland, 94601"
    ]


def test_address_written_on_several_lines_is_kept_as_one_line(tmp_path):
    path = tmp_path / "google.csv"
    path.write_text(
        "Name,E-mail 1 - Value,Address 1 - Formatted\n"
        'Jane Example,jane@example.com,"1 Main St\nSpringfield IL 62701\nUSA"\n'
    )

    import_path(path)

    jane = Party.objects.get()
    assert points(jane, ContactKind.ADDRESS) == ["1 Main St, Springfield IL 62701, USA"]
