"""Reading CSV files as they come: any common encoding and delimiter.

A file is read twice, both times streamed: a first pass proves it decodes and
parses and counts its rows, so that a broken file is refused before anything
is written; the second pass yields the rows to import.
"""

import codecs
import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import charset_normalizer

from threadline.errors import InvalidInput

logger = logging.getLogger(__name__)

SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
DELIMITERS = ",;\t"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Excel writes "sep=;" as the first line to declare the delimiter.
EXCEL_SEPARATOR = re.compile(r"sep=([,;\t|])\r?(?:\n|$)")
# Notes pasted from emails can be long; a runaway quote still stops here.
FIELD_LIMIT = 8 * 1024 * 1024
# What Excel and older systems write when a file is not UTF-8. Detection is
# limited to them because a short sample "looks like" many other code pages.
LEGACY_ENCODINGS = ["cp1252", "latin_1"]
UTF16_ENCODINGS = ["utf_16_le", "utf_16_be"]
ENCODING_NAMES = {
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "utf_16_le": "UTF-16 LE",
    "utf_16_be": "UTF-16 BE",
    "cp1252": "Windows-1252",
    "latin_1": "Latin-1",
}


@dataclass(frozen=True)
class Table:
    """A CSV file whose encoding, delimiter, header and size are known."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    row_count: int
    # Lines before the header: Excel's "sep=;" line, when present.
    preamble: int = 0

    @property
    def description(self) -> str:
        name = ENCODING_NAMES.get(self.encoding, self.encoding)
        delimiter = DELIMITER_NAMES[self.delimiter]
        return f"{name}, {delimiter}-separated"

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield each data row with the physical line it starts on."""
        with self.path.open(encoding=self.encoding, newline="") as handle:
            _skip_lines(handle, self.preamble)
            reader = csv.reader(handle, delimiter=self.delimiter)
            next(reader, None)
            line = self.preamble + reader.line_num
            for cells in reader:
                start, line = line + 1, self.preamble + reader.line_num
                if any(cell.strip() for cell in cells):
                    yield start, cells


def open_table(path: Path, encoding: str | None = None) -> Table:
    """Detect how the file is written and check that all of it can be read.

    Raises InvalidInput for a missing, empty, binary or malformed file.
    """
    _require_file(path)
    sample = _sample(path)
    chosen = _checked_encoding(encoding) if encoding else detect_encoding(sample)
    chosen = _verified(path, chosen, explicit=bool(encoding))

    text = _decoded_sample(sample, chosen)
    declared = EXCEL_SEPARATOR.match(text)
    if declared:
        delimiter, preamble = declared.group(1), 1
    else:
        delimiter, preamble = sniff_delimiter(text), 0
    csv.field_size_limit(FIELD_LIMIT)
    header, row_count = _scan(path, chosen, delimiter, preamble)
    logger.debug("Read %s as %s with %r", path.name, chosen, delimiter)
    return Table(path, chosen, delimiter, header, row_count, preamble)


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


def _verified(path: Path, encoding: str, *, explicit: bool) -> str:
    """Decode the whole file; if UTF-8 breaks late, detect again from there."""
    failed_at = _first_undecodable_chunk(path, encoding)
    if failed_at is None:
        return encoding
    if explicit or encoding != "utf-8-sig":
        raise InvalidInput(
            f"{path.name} cannot be read as "
            f"{ENCODING_NAMES.get(encoding, encoding)}; give the right one with "
            "--encoding."
        )

    fallback = _legacy_encoding(failed_at)
    if _first_undecodable_chunk(path, fallback) is None:
        return fallback
    return "latin_1"


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


def _scan(
    path: Path, encoding: str, delimiter: str, preamble: int
) -> tuple[list[str], int]:
    rows = 0
    with path.open(encoding=encoding, newline="") as handle:
        _skip_lines(handle, preamble)
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader, [])
            for cells in reader:
                rows += any(cell.strip() for cell in cells)
        except csv.Error as error:
            raise InvalidInput(
                f"{path.name} line {preamble + reader.line_num} is not valid CSV: "
                f"{error}."
            ) from error
    header = [cell.strip().lstrip("\ufeff") for cell in header]
    if not any(header):
        raise InvalidInput(f"{path.name} has no header row naming its columns.")
    return header, rows


def _skip_lines(handle: TextIO, count: int) -> None:
    for _ in range(count):
        handle.readline()
