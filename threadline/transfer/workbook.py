"""Reading Excel workbooks (.xlsx, .xlsm) as tables of text, row by row.

openpyxl's read-only mode streams each sheet's XML, so memory does not grow
with the number of rows; only the workbook's table of distinct strings is
held whole. Cells come out as the text a person would type: dates as ISO
dates, whole numbers without ".0" (a phone or an id stored as a number),
and numbers formatted with leading zeros ("00000") keep them.

Before openpyxl sees a workbook, every part is checked against what no
spreadsheet holds: more unpacked bytes than any workbook we take, a part
packed as tightly as a zip bomb, a cell of text far past Excel's limit.
openpyxl would hold such a cell in memory whole.
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
from xml.parsers import expat

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
# zipfile stops a part at the size the archive declares for it, so the
# declared sizes bound what reading can unpack. 100,000 contacts in 8 columns
# written by openpyxl pack 43 MB of XML into 5 MB (8.4:1); a sheet of one
# value repeated, as compressible as real cells get, packs 26:1. Even at that
# a 50 MB upload unpacks to 1.3 GB, under this limit.
MAX_INFLATED_BYTES = 2 * 1024**3
# Worksheets pack at 8:1 to 26:1: every cell names its own reference, which
# deflate cannot repeat. One long run of a single letter packs at 1,000:1.
# Small parts are exempt: a styles.xml bloated with Excel's maximum of 64,000
# identical cell formats packs tightly too, but stays a few MB.
MAX_PACKING_RATIO = 200
PACKING_CHECKED_BYTES = 16 * 1024 * 1024
# Excel holds 32,767 characters in a cell and Google Sheets 50,000; Excel
# writes a carriage return as the seven characters "_x000D_". Twice Excel's
# limit leaves room for both and still keeps a cell to a few hundred KB.
EXCEL_CELL_CHARS = 32_767
MAX_CELL_CHARS = 2 * EXCEL_CELL_CHARS
# A tag, with its attributes, that expat has to hold whole before it can
# report it; real ones are a few KB at most (a long list of cell ranges).
MAX_MARKUP_BYTES = 1024 * 1024
# The elements a string with several formatted runs is made of: openpyxl
# joins the runs' text into one value, so their text counts as one cell.
# Names are matched as written: resolving namespaces makes the scan half as
# slow again. A writer that prefixes them ("x:t") has each run counted alone.
RUN_ELEMENTS = frozenset(
    [
        "t",
        "r",
        "rPr",
        "rPh",
        "phoneticPr",
        "rFont",
        "charset",
        "family",
        "b",
        "i",
        "strike",
        "outline",
        "shadow",
        "condense",
        "extend",
        "color",
        "sz",
        "u",
        "vertAlign",
        "scheme",
    ]
)
REFUSED = (
    "{name} {problem}, so it is damaged or not a spreadsheet. Open it in Excel "
    "or LibreOffice and save it again, or export the sheet as CSV."
)
LONG_CELL = (
    f"holds a cell of over {EXCEL_CELL_CHARS:,} characters, more than Excel allows"
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
    # Rows with a formula cell whose result the file does not hold.
    unsaved_formulas: list[int] = field(default_factory=list)


def is_workbook(path: Path) -> bool:
    """Say whether the file is a workbook, by its name or its first bytes."""
    if path.suffix.lower() in SUFFIXES:
        return True
    with path.open("rb") as handle:
        start = handle.read(len(OLE_SIGNATURE))
    return start.startswith(ZIP_SIGNATURE) or start == OLE_SIGNATURE


def scan_workbook(path: Path) -> SheetScan:
    """Find the first sheet with data, its header, and count its rows.

    Raises InvalidInput for a damaged, encrypted or old-format workbook, for
    one that holds what no spreadsheet does, and for one with no data.
    """
    _refuse_compound_file(path)
    try:
        refuse_bomb(path)
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

    Raises one of READ_ERRORS if the file cannot be read any more, and
    InvalidInput, before the first row, if it now holds what no spreadsheet
    does.
    """
    refuse_bomb(path)
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


def refuse_bomb(path: Path) -> None:
    """Refuse a workbook that would unpack to more than openpyxl should hold.

    Raises InvalidInput for too many unpacked bytes, a part packed like a zip
    bomb, a cell over MAX_CELL_CHARS or a tag over MAX_MARKUP_BYTES, and one
    of READ_ERRORS if the file is no zip archive.
    """
    with zipfile.ZipFile(path) as archive:
        parts = archive.infolist()
        _refuse_inflation(path, parts)
        for part in parts:
            _refuse_long_text(path, archive, part)


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


def _refuse_inflation(path: Path, parts: list[zipfile.ZipInfo]) -> None:
    inflated = sum(part.file_size for part in parts)
    if inflated > MAX_INFLATED_BYTES:
        raise _refusal(
            path,
            f"would unpack to more than {MAX_INFLATED_BYTES // 1024**3} GB",
            inflated=inflated,
        )

    packed = sum(part.compress_size for part in parts)
    sizes = [(part.file_size, part.compress_size) for part in parts]
    for size, packed_size in [*sizes, (inflated, packed)]:
        if _packed_like_a_bomb(size, packed_size):
            raise _refusal(
                path,
                f"unpacks to {size // max(packed_size, 1):,} times its size, "
                "far more than any spreadsheet does",
                inflated=size,
            )


def _packed_like_a_bomb(size: int, packed_size: int) -> bool:
    most_a_spreadsheet_unpacks = MAX_PACKING_RATIO * max(packed_size, 1)
    return size > PACKING_CHECKED_BYTES and size > most_a_spreadsheet_unpacks


def _refuse_long_text(
    path: Path, archive: zipfile.ZipFile, part: zipfile.ZipInfo
) -> None:
    """Stream one part through expat, stopping at the first over-long text.

    A part expat cannot parse is left to openpyxl, whose parser is expat
    too: it refuses the part if it ever reads it.
    """
    parser = expat.ParserCreate()
    parser.buffer_text = True
    # Attributes as a list cost less to build than a dict; none is read.
    parser.ordered_attributes = True
    counter = _TextLength()
    parser.StartElementHandler = counter.start
    parser.CharacterDataHandler = counter.add
    fed = 0
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                parser.Parse(chunk, False)
                fed += len(chunk)
                if fed - parser.CurrentByteIndex > MAX_MARKUP_BYTES:
                    raise _refusal(
                        path,
                        f"holds a tag over {MAX_MARKUP_BYTES // 1024**2} MB long, "
                        "which no spreadsheet has",
                        part=part.filename,
                    )
    except _CellTooLong:
        raise _refusal(path, LONG_CELL, part=part.filename) from None
    except expat.ExpatError:
        logger.debug("%s in %s is no XML", part.filename, path.name, exc_info=True)


class _CellTooLong(Exception):
    """A run of text longer than a cell may hold."""


class _TextLength:
    """Counts the text of the current cell value, across expat's callbacks.

    Any tag but those inside a string of formatted runs starts a new count,
    so the count is the length of one text node or of one string's runs.
    """

    def __init__(self) -> None:
        self.chars = 0

    def start(self, name: str, attributes: list[str]) -> None:
        if name not in RUN_ELEMENTS:
            self.chars = 0

    def add(self, text: str) -> None:
        self.chars += len(text)
        if self.chars > MAX_CELL_CHARS:
            raise _CellTooLong


def _refusal(path: Path, problem: str, **context: object) -> InvalidInput:
    logger.warning("Refused workbook %s: it %s", path.name, problem, extra=context)
    return InvalidInput(REFUSED.format(name=path.name, problem=problem))


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
                    # openpyxl names no public attribute for the sheet's part.
                    part: str = getattr(worksheet, "_worksheet_path", "")
                    scan.unsaved_formulas = _rows_with_unsaved_formulas(path, part)
                    return scan
        finally:
            workbook.close()
    return SheetScan()


def _rows_with_unsaved_formulas(path: Path, part: str) -> list[int]:
    """The rows holding a formula with no saved result, as a file written by
    a program rather than saved by a spreadsheet has: they read as empty."""
    found = _FormulaCells()
    if not part:
        return found.rows
    parser = expat.ParserCreate()
    parser.StartElementHandler = found.start
    parser.EndElementHandler = found.end
    parser.CharacterDataHandler = found.text
    with zipfile.ZipFile(path) as archive, archive.open(part) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    return found.rows


class _FormulaCells:
    """Follows a sheet's cells as expat reads them, noting the rows of
    formula cells that hold no value."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.row = 0
        self.formula = False
        self.value = ""
        self.in_value = False

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        name = tag.rpartition(":")[2]
        if name == "row":
            self.row = int(attributes.get("r", self.row + 1))
        elif name == "c":
            self.formula, self.value = False, ""
        elif name == "f":
            self.formula = True
        elif name == "v":
            self.in_value = True

    def text(self, data: str) -> None:
        if self.in_value:
            self.value += data

    def end(self, tag: str) -> None:
        name = tag.rpartition(":")[2]
        if name == "v":
            self.in_value = False
        elif name == "c" and self.formula and not self.value.strip():
            self._note_row()

    def _note_row(self) -> None:
        if not self.rows or self.rows[-1] != self.row:
            self.rows.append(self.row)


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
