"""Writing lists as CSV and XLSX that a spreadsheet opens safely.

A CSV cell has no type: text that a spreadsheet would run as a formula (it
starts with =, +, - or @, also after spaces, tabs or line breaks) is written
with a single quote in front, so it shows as the text it is. The cost: a
phone number written "+1 202 555 0199" reads "'+1 202 555 0199" there
(Threadline's own import drops the quote again).

An XLSX cell has a type: every text is written as a text cell, which a
spreadsheet shows as written and never runs, so it needs no quote and a
phone number reads as it is. Numbers, dates and times keep their types in
both, so a negative amount stays a number.

The JSON Lines archive writes its values raw; only these two formats are
meant for spreadsheets.
"""

import csv
import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import BinaryIO

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

logger = logging.getLogger(__name__)

Cell = str | int | float | Decimal | dt.date | dt.datetime | bool | None
# What a spreadsheet reads as the start of a formula; the full-width forms
# count too, since some East Asian spreadsheets take them alike.
FORMULA_STARTS = frozenset("=+-@＝＋－＠")
# Spaces, tabs, line breaks and the other control characters some
# spreadsheets skip before they look for a formula.
LEADING_BLANKS = "".join(map(chr, range(32))) + " "
DATE_TIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
# openpyxl's write-only sheets accept at most this many characters per
# sheet name.
SHEET_TITLE_CHARS = 31
CSV_ROWS_PER_CHUNK = 100
# Header words of columns that hold sentences or long values.
WIDE_COLUMNS = frozenset(
    {
        "address",
        "addresses",
        "booking",
        "customer",
        "email",
        "emails",
        "name",
        "notes",
        "problem",
        "reasons",
        "summary",
    }
)


def neutralise(value: Cell) -> Cell:
    """Return text a spreadsheet would run as a formula with a quote in
    front; anything else unchanged."""
    if not isinstance(value, str):
        return value
    if value.lstrip(LEADING_BLANKS)[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def unneutralise(text: str) -> str:
    """The text neutralise was given, for a value read back from a download:
    so that a phone written "'+1 202 555 0199" imports as its number."""
    if text[:1] == "'" and text[1:].lstrip(LEADING_BLANKS)[:1] in FORMULA_STARTS:
        return text[1:]
    return text


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """Yield a CSV file in pieces, for a streaming response.

    It starts with a byte order mark, which is how Excel knows the file is
    UTF-8 and shows accented names as written.
    """
    buffer = _Lines()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(title) for title in header])
    yield "\ufeff" + buffer.take()
    for count, row in enumerate(rows, 1):
        writer.writerow([_csv_text(value) for value in row])
        if count % CSV_ROWS_PER_CHUNK == 0:
            yield buffer.take()
    yield buffer.take()


def write_xlsx(
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    stream: BinaryIO,
    *,
    title: str = "Export",
) -> int:
    """Write one sheet to `stream` in openpyxl's write-only mode, which keeps
    memory flat however many rows there are; return the number of rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(title))
    for number, text in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = _width(text)
    # A write-only sheet writes its views and columns with the first row.
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([_header_cell(sheet, text, bold) for text in header])
    count = 0
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
        count += 1
    workbook.save(stream)
    return count


def _width(header: str) -> float:
    """A column's width in characters, guessed from its header since the
    rows are streamed: text columns wide enough to read, short ones snug."""
    words = set(header.casefold().split())
    if words & WIDE_COLUMNS:
        return 36
    return min(max(len(header) + 4, 12), 30)


class _Lines:
    """A file-like sink that hands back what csv.writer wrote."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return str(neutralise(value))
    return str(value)


def _header_cell(sheet: WriteOnlyWorksheet, text: str, font: Font) -> SheetCell:
    cell = _text_cell(sheet, text)
    cell.font = font
    return cell


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Cell) -> SheetCell:
    if isinstance(value, dt.datetime):
        # Spreadsheets have no time zones: the time is written as the
        # reader's wall clock.
        cell = WriteOnlyCell(sheet, value=_local(value).replace(tzinfo=None))
        cell.number_format = DATE_TIME_FORMAT
        return cell
    if isinstance(value, dt.date):
        midnight = dt.datetime.combine(value, dt.time())
        cell = WriteOnlyCell(sheet, value=midnight)
        cell.number_format = DATE_FORMAT
        return cell
    if isinstance(value, str):
        return _text_cell(sheet, value)
    if isinstance(value, Decimal):
        # A sheet stores every number as a double; amounts to the cent fit.
        return WriteOnlyCell(sheet, value=float(value))
    return WriteOnlyCell(sheet, value=value)


def _text_cell(sheet: WriteOnlyWorksheet, text: str) -> SheetCell:
    """A cell that holds the text as text, even one that starts with "=",
    which openpyxl would otherwise write as a formula."""
    # XML cannot hold most control characters; openpyxl refuses them.
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", text))
    cell.data_type = "s"
    return cell


def _local(moment: dt.datetime) -> dt.datetime:
    if timezone.is_naive(moment):
        return moment
    return timezone.localtime(moment)


def _sheet_title(title: str) -> str:
    cleaned = "".join(char for char in title if char not in "[]:*?/\\")
    return cleaned[:SHEET_TITLE_CHARS].strip() or "Export"
