"""Reading CSV files as they come, in any common encoding and delimiter,
and Excel workbooks through the same table.

A file is read twice, both times streamed: a first pass proves it decodes and
parses and counts its rows, so that a broken file is refused before anything
is written; the second pass yields the rows to import.

The first pass also notes lines to report: a line of a UTF-8 file that is in
a legacy encoding (read as such, that line alone) and a row that opens a
quote and never closes it (left out, and the lines it swallowed read again
as rows).
"""

import codecs
import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TextIO

import charset_normalizer

from threadline.errors import InvalidInput, ThreadlineError
from threadline.transfer import workbook
from threadline.transfer.dates import ColumnDates

logger = logging.getLogger(__name__)

SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
DELIMITERS = ",;\t"
# A workbook has no delimiter: its cells are apart already.
DELIMITER_NAMES = {
    ",": "comma",
    ";": "semicolon",
    "\t": "tab",
    "|": "pipe",
    "": "cell",
}
# Excel writes "sep=;" as the first line to declare the delimiter.
EXCEL_SEPARATOR = re.compile(r"sep=([,;\t|])\r?(?:\n|$)")
# Notes pasted from emails can be long; a runaway quote still stops here.
FIELD_LIMIT = 8 * 1024 * 1024
# What Excel and older systems write when a file is not UTF-8. Detection is
# limited to them because a short sample "looks like" many other code pages.
LEGACY_ENCODINGS = ["cp1252", "latin_1"]
LEGACY_LINE = (
    "this line is not UTF-8 like the rest of the file; it was read as %s, "
    "so check its accented letters"
)
UNTERMINATED = (
    "unterminated quote; nothing was imported from this row, and the lines "
    "after it were read as rows of their own"
)
UNSAVED_FORMULA = (
    "a formula here has no saved result (the file was written by a program, "
    "not saved in a spreadsheet), so its cell was read as empty; open the file "
    "in a spreadsheet, save it, and import it again"
)
UTF16_ENCODINGS = ["utf_16_le", "utf_16_be"]
# A quoted field that swallows this many lines shaped like rows is a quote
# left open, even when a stray quote further down closes it.
SWALLOWED_ROWS = 2
ENCODING_NAMES = {
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "utf_16_le": "UTF-16 LE",
    "utf_16_be": "UTF-16 BE",
    "cp1252": "Windows-1252",
    "latin_1": "Latin-1",
}


class FileChanged(ThreadlineError):
    """The file changed or went away after it was checked."""

    code = "file_changed"


@dataclass(frozen=True)
class Notice:
    """A line the first pass found worth reporting."""

    line: int
    message: str
    skipped: bool


@dataclass(frozen=True)
class Table:
    """A CSV file or a workbook's sheet whose header and size are known."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    # Data rows, counting those left out for an unterminated quote.
    row_count: int
    # Lines before the header: Excel's "sep=;" line, when present.
    preamble: int = 0
    # The encoding of the lines of a UTF-8 file that are not UTF-8.
    fallback: str = ""
    notices: tuple[Notice, ...] = ()
    # The file's size and modification time when it was checked.
    stamp: tuple[int, int] = (0, 0)
    # For a workbook: the sheet read, and how many sheets the file has.
    sheet: str = ""
    sheets: int = 0
    # What each column's values show about how its dates are written.
    dates: tuple[ColumnDates, ...] = ()

    @property
    def description(self) -> str:
        if self.sheet:
            return self._sheet_description()
        name = ENCODING_NAMES.get(self.encoding, self.encoding)
        delimiter = DELIMITER_NAMES[self.delimiter]
        if self.fallback:
            legacy = ENCODING_NAMES.get(self.fallback, self.fallback)
            name = f"{name} with some lines in {legacy}"
        return f"{name}, {delimiter}-separated"

    def _sheet_description(self) -> str:
        text = f"Excel workbook, sheet {self.sheet!r}"
        if self.sheets > 1:
            text += f" (the first with data of {self.sheets} sheets; only it was read)"
        if self.preamble:
            text += f", header on row {self.preamble + 1}"
        return text

    @property
    def skipped_rows(self) -> int:
        return sum(1 for notice in self.notices if notice.skipped)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield each usable data row with the physical line it starts on.

        Raises FileChanged if the file is not the one that was checked.
        """
        if _stamp(self.path) != self.stamp:
            raise FileChanged(f"{self.path.name} changed after it was checked.")
        if self.sheet:
            yield from self._sheet_rows()
            return
        try:
            yield from self._parsed_rows()
        except (OSError, csv.Error, UnicodeDecodeError) as error:
            raise FileChanged(
                f"{self.path.name} could no longer be read: {error}."
            ) from error

    def _sheet_rows(self) -> Iterator[tuple[int, list[str]]]:
        try:
            yield from workbook.sheet_rows(self.path, self.sheet, self.preamble + 1)
        except workbook.READ_ERRORS as error:
            raise FileChanged(
                f"{self.path.name} could no longer be read: {error}."
            ) from error

    def _parsed_rows(self) -> Iterator[tuple[int, list[str]]]:
        with _Lines(self.path, self.encoding, self.fallback) as lines:
            rows = _parse(lines, self.delimiter, self.preamble)
            next(rows, None)
            for start, cells in rows:
                if cells is not None:
                    yield start, cells


def open_table(path: Path, encoding: str | None = None) -> Table:
    """Detect how the file is written and check that all of it can be read.

    Raises InvalidInput for a missing, empty, binary or malformed file. A
    workbook is read from its first sheet with data; `encoding` does not
    apply to it.
    """
    _require_file(path)
    stamp = _stamp(path)
    if workbook.is_workbook(path):
        return _open_workbook(path, stamp)
    sample = _sample(path)
    chosen = _checked_encoding(encoding) if encoding else detect_encoding(sample)
    chosen, fallback = _verified(path, chosen, explicit=bool(encoding))

    text = _decoded_sample(sample, chosen)
    declared = EXCEL_SEPARATOR.match(text)
    if declared:
        delimiter, preamble = declared.group(1), 1
    else:
        delimiter, preamble = sniff_delimiter(text), 0
    csv.field_size_limit(FIELD_LIMIT)
    scan = _scan(path, chosen, fallback, delimiter, preamble)
    logger.debug("Read %s as %s with %r", path.name, chosen, delimiter)
    return Table(
        path,
        chosen,
        delimiter,
        scan.header,
        scan.rows,
        preamble,
        fallback,
        tuple(scan.notices),
        stamp,
        dates=tuple(scan.dates),
    )


def _open_workbook(path: Path, stamp: tuple[int, int]) -> Table:
    scan = workbook.scan_workbook(path)
    logger.debug("Read %s from its sheet %r", path.name, scan.sheet)
    return Table(
        path,
        encoding="",
        delimiter="",
        header=scan.header,
        row_count=scan.rows,
        preamble=scan.header_row - 1,
        stamp=stamp,
        sheet=scan.sheet,
        sheets=scan.sheets,
        dates=tuple(scan.dates),
        notices=tuple(
            Notice(row, UNSAVED_FORMULA, False) for row in scan.unsaved_formulas
        ),
    )


def detect_encoding(sample: bytes) -> str:
    """Name the encoding of a file from its first bytes."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        return _utf16_without_bom(sample)
    if _is_utf8(sample):
        return "utf-8-sig"
    return _legacy_encoding(sample)


def sniff_delimiter(text: str) -> str:
    """Find the delimiter among comma, semicolon and tab.

    The sniffer's answer is checked against the header line, where a real
    delimiter always appears; a single-column file falls back to a comma.
    """
    header_counts = _counts_outside_quotes(text.split("\n", 1)[0])
    try:
        sniffed = csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and header_counts[sniffed] > 0:
        return sniffed

    best = max(DELIMITERS, key=lambda candidate: header_counts[candidate])
    return best if header_counts[best] > 0 else ","


def _require_file(path: Path) -> None:
    if not path.exists():
        raise InvalidInput(f"There is no file {path}.")
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file.")
    if path.stat().st_size == 0:
        raise InvalidInput(f"{path.name} is empty.")


def _stamp(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except OSError as error:
        raise FileChanged(f"{path.name} went away after it was checked.") from error
    return status.st_size, status.st_mtime_ns


def _sample(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(SAMPLE_BYTES)


def _checked_encoding(name: str) -> str:
    try:
        info = codecs.lookup(name)
    except LookupError as error:
        raise InvalidInput(f"{name!r} is not an encoding Python knows.") from error
    return "utf-8-sig" if info.name == "utf-8" else info.name


def _utf16_without_bom(sample: bytes) -> str:
    """UTF-16 text is mostly Latin script, so about every other byte is NUL;
    a few NULs in other text mean a binary or damaged file."""
    match = None
    if sample.count(0) * 5 >= len(sample):
        found = charset_normalizer.from_bytes(sample, cp_isolation=UTF16_ENCODINGS)
        match = found.best()
    if match is None or _looks_binary(str(match)):
        raise InvalidInput(
            "This is not a text file: it contains NUL bytes. "
            "Export the data as CSV and import that."
        )
    return match.encoding


def _is_utf8(sample: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _legacy_encoding(sample: bytes) -> str:
    match = charset_normalizer.from_bytes(sample, cp_isolation=LEGACY_ENCODINGS).best()
    if match is not None:
        return match.encoding
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return "latin_1"
    return "cp1252"


def _verified(path: Path, encoding: str, *, explicit: bool) -> tuple[str, str]:
    """Decode the whole file and return its encoding and a per-line fallback.

    If detected UTF-8 breaks late, a file with UTF-8 text elsewhere keeps it
    and reads only its broken lines in a legacy encoding; a file with no
    UTF-8 text at all is read wholly in the legacy encoding.
    """
    if not explicit and encoding in LEGACY_ENCODINGS:
        # A legacy byte early on makes the sample look legacy.
        encoding = "utf-8-sig"
    failed_at = _first_undecodable_chunk(path, encoding)
    if failed_at is None:
        return encoding, ""
    if explicit or encoding != "utf-8-sig":
        raise InvalidInput(
            f"{path.name} cannot be read as "
            f"{ENCODING_NAMES.get(encoding, encoding)}; give the right one with "
            "--encoding."
        )

    utf8_text, broken = _utf8_lines(path)
    legacy = _legacy_encoding(broken)
    if utf8_text:
        return encoding, legacy
    if _first_undecodable_chunk(path, legacy) is None:
        return legacy, ""
    return "latin_1", ""


def _utf8_lines(path: Path) -> tuple[bool, bytes]:
    """Say whether any line is non-ASCII UTF-8; return the lines that are not."""
    utf8_text, broken = False, bytearray()
    with path.open("rb") as handle:
        for raw in handle:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                if len(broken) < SAMPLE_BYTES:
                    broken += raw
                continue
            utf8_text = utf8_text or not raw.isascii()
    return utf8_text, bytes(broken)


def _first_undecodable_chunk(path: Path, encoding: str) -> bytes | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk, final=False)
            except UnicodeDecodeError:
                return chunk
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return b""
    return None


def _decoded_sample(sample: bytes, encoding: str) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample)
    if _looks_binary(text):
        raise InvalidInput(
            "This does not look like a CSV file: it is full of control characters."
        )
    complete = text.rsplit("\n", 1)[0] if "\n" in text else text
    return complete.lstrip("\ufeff")


def _looks_binary(text: str) -> bool:
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\r\n\f")
    return "\x00" in text or controls > max(2, len(text) // 100)


def _counts_outside_quotes(line: str) -> dict[str, int]:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return counts


@dataclass
class _Scan:
    header: list[str] = field(default_factory=list)
    rows: int = 0
    notices: list[Notice] = field(default_factory=list)
    dates: list[ColumnDates] = field(default_factory=list)


def _scan(
    path: Path, encoding: str, fallback: str, delimiter: str, preamble: int
) -> _Scan:
    scan = _Scan()
    with _Lines(path, encoding, fallback) as lines:
        rows = _parse(lines, delimiter, preamble)
        try:
            _, header = next(rows, (0, None))
            scan.header = _header(header or [])
            scan.dates = [ColumnDates() for _ in scan.header]
            for start, cells in rows:
                scan.rows += 1
                if cells is None:
                    scan.notices.append(Notice(start, UNTERMINATED, True))
                    continue
                for evidence, cell in zip(scan.dates, cells, strict=False):
                    evidence.observe(cell, start)
        except csv.Error as error:
            raise InvalidInput(
                f"{path.name} line {lines.number} is not valid CSV: {error}."
            ) from error

    legacy = ENCODING_NAMES.get(fallback, fallback)
    scan.notices += [Notice(line, LEGACY_LINE % legacy, False) for line in lines.legacy]
    scan.notices.sort(key=lambda notice: notice.line)
    if not any(scan.header):
        raise InvalidInput(f"{path.name} has no header row naming its columns.")
    return scan


def _header(cells: list[str]) -> list[str]:
    """The header's names, without the empty columns a spreadsheet leaves at
    its end ("a,b,c,,,")."""
    names = [cell.strip().lstrip("\ufeff") for cell in cells]
    while names and not names[-1]:
        names.pop()
    return names


class _Lines:
    """A file's decoded physical lines, numbered; lines can be put back.

    With a fallback encoding, each line is decoded on its own: as UTF-8, or
    when that fails as the fallback, remembering the line's number.
    """

    def __init__(self, path: Path, encoding: str, fallback: str) -> None:
        self.path, self.encoding, self.fallback = path, encoding, fallback
        self.number = 0
        self.taken: list[str] = []
        self.legacy: list[int] = []
        self._back: list[str] = []
        self._handle: BinaryIO | TextIO | None = None
        self._source: Iterator[str] = iter(())

    def __enter__(self) -> "_Lines":
        if self.fallback:
            binary = self.path.open("rb")
            self._handle, self._source = binary, self._decoded(binary)
        else:
            text = self.path.open(encoding=self.encoding, newline="")
            self._handle, self._source = text, iter(text)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.close()

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = self._back.pop() if self._back else next(self._source)
        self.number += 1
        self.taken.append(line)
        return line

    def put_back(self, lines: list[str]) -> None:
        self._back.extend(reversed(lines))
        self.number -= len(lines)

    def _decoded(self, handle: BinaryIO) -> Iterator[str]:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                self.legacy.append(number)
                yield raw.decode(self.fallback, errors="replace")


def _parse(
    lines: _Lines, delimiter: str, preamble: int
) -> Iterator[tuple[int, list[str] | None]]:
    """Yield each non-blank row, the header first, with the line it starts on.

    A row that leaves a quote open comes as None, and the lines it swallowed
    after its first are read again as rows.
    """
    for _ in range(preamble):
        next(lines, None)
    reader = csv.reader(lines, delimiter=delimiter)
    columns = 0
    while True:
        lines.taken = []
        start = lines.number + 1
        cells = next(reader, None)
        if cells is None:
            return
        if _left_open(lines.taken, delimiter, columns):
            lines.put_back(lines.taken[1:])
            yield start, None
            continue
        columns = columns or len(cells)
        if any(cell.strip() for cell in cells):
            yield start, cells


def _left_open(taken: list[str], delimiter: str, columns: int) -> bool:
    """Say whether a row's lines open a quote that was never meant to span
    them: one still open at the end of the file, or one that ran through
    lines shaped like rows until a stray quote further down closed it."""
    if '"' not in taken[0]:
        return False
    if _open_at_end("".join(taken), delimiter):
        return True
    if columns < 3:
        return False
    shaped = sum(line.count(delimiter) >= columns - 1 for line in taken[1:])
    return shaped >= SWALLOWED_ROWS


def _open_at_end(text: str, delimiter: str) -> bool:
    quoted, field_start, index = False, True, 0
    while index < len(text):
        char = text[index]
        if quoted and char == '"' and text[index + 1 : index + 2] == '"':
            index += 1
        elif quoted and char == '"':
            quoted = False
        elif not quoted:
            quoted = char == '"' and field_start
            field_start = char in (delimiter, "\r", "\n")
        index += 1
    return quoted
