"""Excel workbooks read like CSV files: the first sheet with data, cells as
the text a person would type."""

import datetime as dt
import io
import logging
import zipfile

import pytest
from openpyxl import Workbook

from threadline.errors import InvalidInput
from threadline.parties.models import ContactKind, ContactPoint, Party
from threadline.transfer import workbook
from threadline.transfer.importer import import_path
from threadline.transfer.reading import open_table
from threadline.transfer.workbook import OLE_SIGNATURE, cell_text, sheet_rows

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SAVE_AGAIN = "open it in excel or libreoffice and save it again, or export the sheet"


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


def with_sheet(path, cells):
    """Replace the first sheet's XML by one row holding `cells`, raw XML that
    openpyxl would not write (it cuts strings at Excel's limit)."""
    book = path.read_bytes()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        with zipfile.ZipFile(io.BytesIO(book)) as source:
            for part in source.infolist():
                if part.filename != "xl/worksheets/sheet1.xml":
                    target.writestr(part, source.read(part))
        target.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'
            '<c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
            f'<row r="2">{cells}</row></sheetData></worksheet>',
        )
    return path


def inline(*runs):
    """A cell of inline text, in formatted runs when there are several."""
    if len(runs) == 1:
        return f'<c r="A2" t="inlineStr"><is><t>{runs[0]}</t></is></c>'
    texts = "".join(f"<r><rPr><b/></rPr><t>{run}</t></r>" for run in runs)
    return f'<c r="A2" t="inlineStr"><is>{texts}</is></c>'


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


@pytest.mark.django_db
def test_a_cell_longer_than_excel_allows_is_refused_before_anything_is_written(
    tmp_path, caplog
):
    path = with_sheet(
        save(tmp_path, [["name"]]), inline("A" * (workbook.MAX_CELL_CHARS + 1))
    )

    with caplog.at_level(logging.WARNING), pytest.raises(InvalidInput) as refused:
        import_path(path)

    assert refused.value.message.startswith(
        "contacts.xlsx holds a cell of over 32,767 characters, more than Excel "
        "allows, so it is damaged or not a spreadsheet."
    )
    assert SAVE_AGAIN in refused.value.message.lower()
    refusals = [r for r in caplog.records if r.name == "threadline.transfer.workbook"]
    assert [record.levelno for record in refusals] == [logging.WARNING]
    assert not Party.objects.exists()


def test_a_cell_as_long_as_google_sheets_allows_is_read(tmp_path):
    path = with_sheet(save(tmp_path, [["name"]]), inline("A" * 50_000))

    assert rows_of(path) == [["A" * 50_000]]


def test_formatted_runs_count_as_one_cell(tmp_path):
    half = "A" * (workbook.MAX_CELL_CHARS // 2 + 1)
    path = with_sheet(save(tmp_path, [["name"]]), inline(half, half))

    with pytest.raises(InvalidInput, match="holds a cell of over 32,767"):
        open_table(path)


def test_a_tag_longer_than_any_spreadsheet_has_is_refused(tmp_path):
    attribute = "A" * (2 * workbook.MAX_MARKUP_BYTES + 1)
    path = with_sheet(save(tmp_path, [["name"]]), f'<c r="A2" x="{attribute}"/>')

    with pytest.raises(InvalidInput, match="holds a tag over 1 MB long"):
        open_table(path)


def test_a_part_packed_like_a_zip_bomb_is_refused(tmp_path):
    path = with_sheet(
        save(tmp_path, [["name"]]), inline("A" * workbook.PACKING_CHECKED_BYTES)
    )

    with pytest.raises(InvalidInput) as refused:
        open_table(path)

    assert (
        "times its size, far more than any spreadsheet does, so it is damaged "
        "or not a spreadsheet." in refused.value.message
    )
    assert SAVE_AGAIN in refused.value.message.lower()


def test_a_workbook_that_unpacks_to_too_much_is_refused(tmp_path, monkeypatch):
    path = save(tmp_path, [["name"], ["Jane Example"]])
    unpacked = sum(part.file_size for part in zipfile.ZipFile(path).infolist())
    monkeypatch.setattr(workbook, "MAX_INFLATED_BYTES", unpacked - 1)

    with pytest.raises(InvalidInput, match="would unpack to more than"):
        open_table(path)


def test_a_workbook_is_checked_again_when_its_rows_are_read(tmp_path):
    path = with_sheet(
        save(tmp_path, [["name"]]), inline("A" * (workbook.MAX_CELL_CHARS + 1))
    )

    with pytest.raises(InvalidInput, match="holds a cell of over 32,767"):
        next(sheet_rows(path, "Sheet", header_row=1))


@pytest.mark.django_db
def test_a_formula_without_a_saved_result_is_reported_on_its_row(tmp_path):
    path = save(
        tmp_path,
        [
            ["name", "email", "notes"],
            ["Ann Lee", "ann@example.com", "=1+1"],
            ["Bo Park", "bo@example.com", "Calls after four"],
            ['=HYPERLINK("http://x","Cy")', "cy@example.com", ""],
        ],
    )

    report = import_path(path)

    assert [problem.line for problem in report.problems] == [2, 4]
    assert all("no saved result" in p.message for p in report.problems)
    assert report.rows_used == 3
