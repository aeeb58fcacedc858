"""CSV and XLSX exports: formulas shown as text, numbers kept as numbers."""

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from threadline.transfer.spreadsheet import (
    FORMULA_STARTS,
    LEADING_BLANKS,
    Cell,
    csv_chunks,
    neutralise,
    unneutralise,
    write_xlsx,
)


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example","Click")',
        "+1 202 555 0199",
        "-2+3",
        "@SUM(A1:A2)",
        "  =1+1",
        "\t=1+1",
        "\r\n@cmd",
        "\n-1",
    ],
)
def test_text_a_spreadsheet_would_run_gets_a_quote(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["Jane Example", "a=b", "", "1 + 1", "'=1"])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert neutralise(text) == text


@pytest.mark.parametrize("value", [-12, -0.5, Decimal("-19.99"), 0, None, True])
def test_numbers_and_empty_cells_keep_their_type(value: Cell) -> None:
    assert neutralise(value) is value


@given(st.text())
def test_neutralised_text_never_starts_a_formula(text: str) -> None:
    result = neutralise(text)

    assert isinstance(result, str)
    dangerous = text.lstrip(LEADING_BLANKS)[:1] in FORMULA_STARTS
    assert result == ("'" + text if dangerous else text)
    assert result.lstrip(LEADING_BLANKS)[:1] not in FORMULA_STARTS


@given(st.text(alphabet=st.sampled_from(" \t\r\n=+-@a1'"), max_size=12))
def test_neutralising_twice_changes_nothing_more(text: str) -> None:
    once = neutralise(text)

    assert neutralise(once) == once


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_csv_starts_with_a_byte_order_mark_and_quotes_formulas() -> None:
    rows = [["=cmd|' /C calc'!A0", Decimal("-19.99"), dt.date(2026, 3, 1), None]]

    text = "".join(csv_chunks(["Name", "Amount", "Day", "Note"], rows))

    assert text.startswith("\ufeff")
    assert read_csv(text) == [
        ["Name", "Amount", "Day", "Note"],
        ["'=cmd|' /C calc'!A0", "-19.99", "2026-03-01", ""],
    ]


def test_csv_streams_in_pieces() -> None:
    rows = ([f"row {n}"] for n in range(250))

    pieces = list(csv_chunks(["Name"], rows))

    assert len(pieces) == 4
    assert len(read_csv("".join(pieces))) == 251


def test_xlsx_keeps_numbers_and_times_and_writes_formulas_as_text(settings) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    moment = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    rows: list[list[object]] = [
        ["=1+1", Decimal("-42.50"), moment, "+1 202 555 0199"],
        ["a\x01b", 3, None, ""],
    ]
    stream = io.BytesIO()

    count = write_xlsx(
        ["Name", "Amount", "When", "Phone"], rows, stream, title="Customers: all"
    )

    sheet = load_workbook(io.BytesIO(stream.getvalue())).active
    assert count == 2
    assert sheet.title == "Customers all"
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    local = dt.datetime(2026, 3, 1, 10, 30)
    assert values[1] == ["=1+1", -42.5, local, "+1 202 555 0199"]
    assert [sheet["A2"].data_type, sheet["D2"].data_type] == ["s", "s"]
    assert values[2][0] == "ab"


def test_xlsx_holds_its_header_in_view_with_readable_column_widths() -> None:
    stream = io.BytesIO()

    write_xlsx(["Name", "Tags", "Threadline id"], [["Ann Lee", "vip", "x"]], stream)

    sheet = load_workbook(io.BytesIO(stream.getvalue())).active
    widths = [sheet.column_dimensions[column].width for column in "ABC"]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.bold
    assert widths == [36, 12, 17]


@pytest.mark.parametrize("text", ["=1+1", " \n@SUM(A1)", "-2+3", "+cmd|' /C calc'!A0"])
def test_an_xlsx_text_that_looks_like_a_formula_is_stored_as_a_text(text) -> None:
    """A text cell's value is written inline as a string, with no formula
    element: a spreadsheet shows it and never runs it."""
    stream = io.BytesIO()

    write_xlsx(["Name"], [[text]], stream)

    with zipfile.ZipFile(io.BytesIO(stream.getvalue())) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    assert sheet.count('t="inlineStr"') == 2


@given(st.text().filter(lambda text: not text.startswith("'")))
def test_a_neutralised_value_reads_back_as_it_was(text: str) -> None:
    assert unneutralise(str(neutralise(text))) == text


@pytest.mark.parametrize("text", ["'quoted'", "'", "'Brien", "''=1"])
def test_a_quote_before_anything_but_a_formula_is_kept(text: str) -> None:
    assert unneutralise(text) == text
