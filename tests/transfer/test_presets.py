"""Shipped mappings for other products' contact exports: each is detected
from its own headers, and never from another product's."""

import datetime as dt

import pytest

from tests.transfer.conftest import DATA
from threadline.parties.models import ContactKind, Party
from threadline.transfer.importer import import_path
from threadline.transfer.mapping import detect_mapping, shipped_mappings
from threadline.transfer.reading import open_table

# Header rows as each product writes them, trimmed to the common columns.
HEADERS = {
    "hubspot": [
        "Record ID",
        "First Name",
        "Last Name",
        "Email",
        "Phone Number",
        "Contact owner",
        "Primary Associated Company ID",
        "Last Activity Date",
        "Lead Status",
        "Marketing contact status",
        "Create Date",
        "Associated Company",
        "Mobile Phone Number",
        "Lifecycle Stage",
        "Date of birth",
    ],
    "salesforce": [
        "Contact ID",
        "Salutation",
        "First Name",
        "Last Name",
        "Title",
        "Account Name",
        "Mailing Street",
        "Mailing City",
        "Mailing State/Province",
        "Mailing Zip/Postal Code",
        "Mailing Country",
        "Phone",
        "Mobile",
        "Email",
        "Birthdate",
        "Contact Owner",
        "Created Date",
    ],
    "salesforce-data-loader": [
        "Id",
        "AccountId",
        "LastName",
        "FirstName",
        "Salutation",
        "MailingStreet",
        "MailingCity",
        "MailingState",
        "MailingPostalCode",
        "MailingCountry",
        "Phone",
        "MobilePhone",
        "Email",
        "Title",
        "Birthdate",
        "OwnerId",
        "CreatedDate",
    ],
    "pipedrive": [
        "Person - ID",
        "Person - Name",
        "Person - First name",
        "Person - Last name",
        "Person - Label",
        "Person - Organization",
        "Person - Email - Work",
        "Person - Email - Home",
        "Person - Phone - Work",
        "Person - Phone - Mobile",
        "Person - Job title",
        "Person - Owner",
        "Person - Postal address",
        "Person - Person created",
    ],
}
GOOGLE_HEADER = [
    "First Name",
    "Middle Name",
    "Last Name",
    "Birthday",
    "Labels",
    "E-mail 1 - Label",
    "E-mail 1 - Value",
    "Phone 1 - Label",
    "Phone 1 - Value",
]
SHIPPED_EXPORTS = {
    "outlook": DATA / "outlook_export.csv",
    "thunderbird": DATA / "thunderbird_export.csv",
}
# Other CRMs' contact exports that share words with ours but none of them.
STRANGERS = [
    [
        "Record Id",
        "Contact Owner",
        "First Name",
        "Last Name",
        "Account Name",
        "Email",
        "Mobile",
        "Mailing Street",
        "Mailing City",
        "Mailing State",
        "Mailing Zip",
        "Created Time",
    ],
    ["name", "email", "phone", "company", "birthday"],
]


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_each_products_export_is_detected_as_its_own(name):
    found = detect_mapping(HEADERS[name])

    assert found is not None
    assert found.name == name


@pytest.mark.parametrize("name", sorted(SHIPPED_EXPORTS))
def test_the_older_presets_still_detect_their_exports(name):
    found = detect_mapping(open_table(SHIPPED_EXPORTS[name]).header)

    assert found is not None
    assert found.name == name


def test_google_still_detects_its_export():
    found = detect_mapping(GOOGLE_HEADER)

    assert found is not None
    assert found.name == "google"


@pytest.mark.parametrize("header", STRANGERS)
def test_an_export_of_another_crm_is_not_taken_for_one_we_ship(header):
    assert detect_mapping(header) is None


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_every_new_preset_names_the_documentation_it_follows(name):
    assert "Relied on: " in shipped_mappings()[name].description


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_every_column_of_a_preset_is_read_or_knowingly_left_out(name):
    mapping = shipped_mappings()[name]
    keys = {header.casefold() for header in mapping.columns}

    assert {header.casefold() for header in HEADERS[name]} <= keys


def write_export(tmp_path, header, row):
    path = tmp_path / "export.csv"
    cells = [f'"{cell}"' for cell in row]
    path.write_text(
        ",".join(f'"{cell}"' for cell in header) + "\n" + ",".join(cells) + "\n"
    )
    return path


@pytest.mark.django_db
def test_a_hubspot_export_imports_names_phones_stage_and_birthday(tmp_path):
    header = [
        "Record ID",
        "First Name",
        "Last Name",
        "Email",
        "Mobile Phone Number",
        "Lifecycle Stage",
        "Date of birth",
        "Create Date",
    ]
    row = [
        "5101",
        "Jane",
        "Example",
        "jane@example.com",
        "+1 202 555 0143",
        "Customer",
        "1985-03-12",
        "2024-01-02 10:00",
    ]

    report = import_path(write_export(tmp_path, header, row))

    jane = Party.objects.get()
    phone = jane.contact_points.get(kind=ContactKind.PHONE)
    assert report.mapping == "hubspot"
    assert (jane.display_name, jane.stage, jane.birthday) == (
        "Jane Example",
        "customer",
        dt.date(1985, 3, 12),
    )
    assert (phone.value, phone.label) == ("+12025550143", "mobile")


@pytest.mark.django_db
def test_a_pipedrive_export_imports_labelled_emails_and_the_organisation(tmp_path):
    header = [
        "Person - ID",
        "Person - Name",
        "Person - Organization",
        "Person - Email - Work",
        "Person - Email - Home",
        "Person - Phone - Mobile",
    ]
    row = ["7", "Raj Sample", "Example Ltd", "raj@example.com", "raj@home.example", ""]

    report = import_path(write_export(tmp_path, header, row))

    raj = Party.objects.get(display_name="Raj Sample")
    emails = dict(
        raj.contact_points.filter(kind=ContactKind.EMAIL).values_list("value", "label")
    )
    assert report.mapping == "pipedrive"
    assert emails == {"raj@example.com": "work", "raj@home.example": "home"}
    assert Party.objects.filter(display_name="Example Ltd").exists()


@pytest.mark.django_db
def test_a_salesforce_data_loader_export_reads_api_names(tmp_path):
    header = ["Id", "AccountId", "FirstName", "LastName", "MobilePhone", "Birthdate"]
    row = ["0035e000001", "0015e000001", "Ana", "Test", "+1 202 555 0150", "1979-12-25"]

    report = import_path(write_export(tmp_path, header, row))

    ana = Party.objects.get()
    assert report.mapping == "salesforce-data-loader"
    assert "AccountId" in report.ignored_columns
    assert (ana.display_name, ana.birthday) == ("Ana Test", dt.date(1979, 12, 25))


@pytest.mark.django_db
def test_a_google_export_keeps_every_numbered_phone_and_address(tmp_path):
    header = [
        *GOOGLE_HEADER,
        "Phone 7 - Label",
        "Phone 7 - Value",
        "Address 4 - Label",
        "Address 4 - Street",
        "Address 4 - City",
        "Address 4 - Postal Code",
    ]
    row = ["Ana", "", "Test", "", "", "", "", "", "", "Work", "+1 202 555 0150"]
    row += ["Home", "1 Main St", "Springfield", "62701"]

    report = import_path(write_export(tmp_path, header, row))

    ana = Party.objects.get()
    points = {
        (point.kind, point.label, point.value) for point in ana.contact_points.all()
    }
    assert report.mapping == "google"
    assert report.ignored_columns == []
    assert (ContactKind.PHONE, "Work", "+12025550150") in points
    assert (ContactKind.ADDRESS, "Home", "1 Main St, Springfield, 62701") in points
