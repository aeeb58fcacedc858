"""Excel workbooks read like CSV files: the first sheet with data, cells as
the text a person would type."""

import datetime as dt
import zipfile

import pytest
from openpyxl import Workbook

from threadline.errors import InvalidInput
from threadline.parties.models import ContactKind, ContactPoint, Party
from threadline.transfer.importer import import_path
from threadline.transfer.reading import open_table
from threadline.transfer.workbook import OLE_SIGNATURE, cell_text


def save(tmp_path, rows, *, name="contacts.xlsx", before=(), formats=None):
    """Write a workbook whose first data sheet holds `rows`, after empty
    sheets named in `before`."""
    book = Workbook()
    sheet = book.active
    for title in before:
        sheet.title = title
        sheet = book.create_sheet("People")
    for row in rows:
        sheet.append(row)
    for cell, number_format in (formats or {}).items():
        sheet[cell].number_format = number_format
    path = tmp_path / name
    book.save(path)
    return path


def rows_of(path):
    return [cells for _, cells in open_table(path).rows()]


def test_cells_come_out_as_typed_text(tmp_path):
    path = save(
        tmp_path,
        [
            ["name", "phone", "birthday", "seen", "share", "zip", "vip"],
            [
                "Jane Example",
                4915112345678,
                dt.date(1985, 3, 12),
                dt.datetime(2025, 1, 2, 14, 30),
                0.1 + 0.2,
                1234,
                True,
            ],
        ],
        formats={"F2": "00000"},
    )

    assert rows_of(path) == [
        [
            "Jane Example",
            "4915112345678",
            "1985-03-12",
            "2025-01-02T14:30:00",
            "0.3",
            "01234",
            "TRUE",
        ]
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [(12.0, "12"), (12.5, "12.5"), (None, ""), (dt.time(9, 5), "09:05:00")],
)
def test_cell_text(value, text):
    assert cell_text(value) == text


def test_empty_trailing_columns_and_rows_are_dropped(tmp_path):
    path = save(
        tmp_path,
        [
            ["name", "email", None, None],
            ["Jane Example", "jane@example.com", None, ""],
            [None, None, None, None],
            ["Raj Sample", "raj@example.com"],
            [None],
            [None],
        ],
    )

    table = open_table(path)

    assert table.header == ["name", "email"]
    assert table.row_count == 2
    assert list(table.rows()) == [
        (2, ["Jane Example", "jane@example.com"]),
        (4, ["Raj Sample", "raj@example.com"]),
    ]


def test_first_sheet_with_data_is_read_and_named(tmp_path):
    path = save(tmp_path, [["name"], ["Jane Example"]], before=["Cover", "Notes"])

    table = open_table(path)

    assert table.sheet == "People"
    assert "sheet 'People'" in table.description
    assert "of 3 sheets" in table.description
    assert rows_of(path) == [["Jane Example"]]


def test_a_title_line_above_the_header_is_skipped(tmp_path):
    path = save(
        tmp_path,
        [["Customer list, March"], [], ["name", "email"], ["Jane", "j@example.com"]],
    )

    table = open_table(path)

    assert table.header == ["name", "email"]
    assert "header on row 3" in table.description
    assert list(table.rows()) == [(4, ["Jane", "j@example.com"])]


def test_a_workbook_with_only_empty_sheets_is_refused(tmp_path):
    path = save(tmp_path, [])

    with pytest.raises(InvalidInput, match="no sheet with data"):
        open_table(path)


def test_a_damaged_workbook_is_refused_clearly(tmp_path):
    path = save(tmp_path, [["name"], ["Jane Example"]])
    path.write_bytes(path.read_bytes()[:400])

    with pytest.raises(InvalidInput, match="cannot be read as an Excel workbook"):
        open_table(path)


def test_a_zip_that_is_no_workbook_is_refused(tmp_path):
    path = tmp_path / "contacts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")

    with pytest.raises(InvalidInput, match="save it again as .xlsx"):
        open_table(path)


def test_a_password_protected_workbook_says_to_remove_the_password(tmp_path):
    # An encrypted workbook is an OLE compound file holding this stream.
    path = tmp_path / "contacts.xlsx"
    stream_name = "EncryptedPackage".encode("utf-16-le")
    path.write_bytes(OLE_SIGNATURE + b"\0" * 1000 + stream_name + b"\0" * 100)

    with pytest.raises(InvalidInput, match="protected with a password"):
        open_table(path)


def test_an_old_xls_workbook_asks_for_xlsx_or_csv(tmp_path):
    path = tmp_path / "contacts.xls"
    path.write_bytes(OLE_SIGNATURE + b"\0" * 2000)

    with pytest.raises(InvalidInput, match=r"Excel 97-2003 workbook \(.xls\)"):
        open_table(path)


def test_a_workbook_renamed_to_csv_is_still_read(tmp_path):
    path = save(tmp_path, [["name"], ["Jane Example"]], name="contacts.csv")

    assert open_table(path).sheet == "Sheet"


@pytest.mark.django_db
def test_a_workbook_imports_people_with_numbers_and_dates_intact(tmp_path):
    path = save(
        tmp_path,
        [
            ["First Name", "Last Name", "Mobile", "Birthday"],
            ["Jane", "Example", 2025550143, dt.datetime(1985, 3, 12)],
        ],
    )

    report = import_path(path)

    jane = Party.objects.get()
    phone = ContactPoint.objects.get(party=jane, kind=ContactKind.PHONE)
    assert (jane.display_name, jane.birthday) == ("Jane Example", dt.date(1985, 3, 12))
    assert (phone.raw, phone.value) == ("2025550143", "+12025550143")
    assert report.description == "Excel workbook, sheet 'Sheet'"
    assert report.problems == []
