"""Reading Excel workbooks (.xlsx, .xlsm) as tables of text, row by row.

openpyxl's read-only mode streams each sheet's XML, so memory does not grow
with the number of rows; only the workbook's table of distinct strings is
held whole. Cells come out as the text a person would type: dates as ISO
dates, whole numbers without ".0" (a phone or an id stored as a number),
and numbers formatted with leading zeros ("00000") keep them.
"""

import datetime as dt
import logging
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from threadline.errors import InvalidInput
from threadline.transfer.dates import ColumnDates

logger = logging.getLogger(__name__)

SUFFIXES = frozenset({".xlsx", ".xlsm"})
ZIP_SIGNATURE = b"PK\x03\x04"
# Excel 97-2003 workbooks, and any workbook saved with a password, are OLE
# compound files; an encrypted one holds a stream named EncryptedPackage.
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
CHUNK_BYTES = 1024 * 1024
# What a damaged or foreign file makes openpyxl, zipfile or the XML parser
# raise; each means the same to the user: the workbook cannot be read.
READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    ParseError,
    InvalidFileException,
    OSError,
)
# A sheet may open with a title line above its header ("Contacts 2024").
TITLE_ROWS = 5
ZERO_PADDED = re.compile(r"0+")
UNREADABLE = (
    "{name} cannot be read as an Excel workbook ({error}). Open it in Excel or "
    "LibreOffice and save it again as .xlsx, or export the sheet as CSV."
)


@dataclass
class SheetScan:
    """What a first pass over the first sheet with data found."""

    sheet: str = ""
    sheets: int = 0
    header: list[str] = field(default_factory=list)
    header_row: int = 0
    rows: int = 0
    dates: list[ColumnDates] = field(default_factory=list)


def is_workbook(path: Path) -> bool:
    """Say whether the file is a workbook, by its name or its first bytes."""
    if path.suffix.lower() in SUFFIXES:
        return True
    with path.open("rb") as handle:
        start = handle.read(len(OLE_SIGNATURE))
    return start.startswith(ZIP_SIGNATURE) or start == OLE_SIGNATURE


def scan_workbook(path: Path) -> SheetScan:
    """Find the first sheet with data, its header, and count its rows.

    Raises InvalidInput for a damaged, encrypted or old-format workbook and
    for one with no data.
    """
    _refuse_compound_file(path)
    try:
        scan = _scan(path)
    except READ_ERRORS as error:
        logger.debug("Cannot read %s as a workbook", path.name, exc_info=True)
        raise InvalidInput(
            UNREADABLE.format(name=path.name, error=_reason(error))
        ) from error
    if not scan.sheet:
        raise InvalidInput(f"{path.name} has no sheet with data: every sheet is empty.")
    return scan


def sheet_rows(
    path: Path, sheet: str, header_row: int
) -> Iterator[tuple[int, list[str]]]:
    """Yield each non-empty row after the header with its row number.

    Raises one of READ_ERRORS if the file cannot be read any more.
    """
    with path.open("rb") as handle:
        workbook = load_workbook(handle, read_only=True, data_only=True)
        try:
            worksheet = workbook[sheet]
            worksheet.reset_dimensions()
            for number, cells in enumerate(worksheet.iter_rows(), start=1):
                if number <= header_row:
                    continue
                texts = _texts(cells)
                if texts:
                    yield number, texts
        finally:
            workbook.close()


def cell_text(value: Any, number_format: str = "General") -> str:
    """The text a person would have typed for a cell's value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        if ZERO_PADDED.fullmatch(number_format):
            return str(value).zfill(len(number_format))
        return str(value)
    if isinstance(value, float):
        # Excel keeps 15 significant digits; more are noise from binary.
        return format(value, ".15g")
    return str(value)


def _refuse_compound_file(path: Path) -> None:
    with path.open("rb") as handle:
        if handle.read(len(OLE_SIGNATURE)) != OLE_SIGNATURE:
            return
        encrypted = _holds(handle, ENCRYPTED_STREAM)
    if encrypted:
        raise InvalidInput(
            f"{path.name} is protected with a password, so it cannot be read. "
            "Open it in Excel, remove the password (File > Info > Protect "
            "Workbook > Encrypt with Password, then clear it), save it and "
            "import it again."
        )
    raise InvalidInput(
        f"{path.name} is an Excel 97-2003 workbook (.xls), which Threadline "
        "does not read. Open it in Excel or LibreOffice and save it as .xlsx "
        "or CSV, then import that."
    )


def _holds(handle: Any, marker: bytes) -> bool:
    tail = b""
    while chunk := handle.read(CHUNK_BYTES):
        if marker in tail + chunk:
            return True
        tail = chunk[-len(marker) :]
    return False


def _scan(path: Path) -> SheetScan:
    with path.open("rb") as handle:
        workbook = load_workbook(handle, read_only=True, data_only=True)
        try:
            worksheets = sorted(
                workbook.worksheets, key=lambda sheet: sheet.sheet_state != "visible"
            )
            for worksheet in worksheets:
                worksheet.reset_dimensions()
                scan = _scan_sheet(worksheet.iter_rows())
                if scan.header:
                    scan.sheet = worksheet.title
                    scan.sheets = len(worksheets)
                    return scan
        finally:
            workbook.close()
    return SheetScan()


def _scan_sheet(rows: Iterator[tuple[Any, ...]]) -> SheetScan:
    scan = SheetScan()
    numbered = ((number, _texts(cells)) for number, cells in enumerate(rows, start=1))
    filled = ((number, texts) for number, texts in numbered if texts)
    for number, texts in filled:
        if not scan.header or _is_title(scan, texts):
            scan.header, scan.header_row = _header(texts), number
            scan.dates = [ColumnDates() for _ in scan.header]
            continue
        scan.rows += 1
        for index, text in enumerate(texts[: len(scan.header)]):
            scan.dates[index].observe(text, number)
    return scan


def _is_title(scan: SheetScan, texts: list[str]) -> bool:
    """A lone cell above a row of several is a title, not the header."""
    single = sum(1 for text in scan.header if text) == 1
    return (
        scan.rows == 0
        and single
        and scan.header_row <= TITLE_ROWS
        and sum(1 for text in texts if text) > 1
    )


def _header(texts: list[str]) -> list[str]:
    return [" ".join(text.split()) for text in texts]


def _texts(cells: tuple[Any, ...]) -> list[str]:
    """The row's cells as text, without the empty cells at its end."""
    texts = [
        cell_text(cell.value, getattr(cell, "number_format", "General"))
        for cell in cells
    ]
    while texts and not texts[-1].strip():
        texts.pop()
    return texts


def _reason(error: BaseException) -> str:
    if isinstance(error, zipfile.BadZipFile | InvalidFileException):
        return "it is not a complete .xlsx file"
    return f"{type(error).__name__}: {error}"
