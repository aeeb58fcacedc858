"""Cutting a vCard file into cards, one at a time, as text vobject can read.

Address books write vCards loosely, so the file is read as bytes and each
card is mended before vobject sees it: folded lines are joined (also where a
fold splits a UTF-8 character), version 2.1 base64 that continues without
indentation is joined, empty parameters ("PREF;:") are dropped, and every
line is decoded on its own: UTF-8 when it is, else the charset the line or
its card declares, else the legacy code page given (Windows-1252 by default).
A file that starts with a UTF-16 byte order mark is read as UTF-16.
"""

import codecs
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

logger = logging.getLogger(__name__)

LEGACY_ENCODING = "cp1252"
CHARSET = re.compile(rb";\s*CHARSET=\"?([\w.:-]+)", re.IGNORECASE)
QUOTED_PRINTABLE = re.compile(rb"QUOTED-PRINTABLE", re.IGNORECASE)
BASE64 = re.compile(rb";(?:ENCODING=)?(?:B|BASE64)\b", re.IGNORECASE)
PROPERTY_START = re.compile(rb"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)?[;:]")
# BEGIN and END may carry a group name ("home.BEGIN:VCARD").
BEGIN_LINE = re.compile(rb"^(?:[\w-]+\.)?BEGIN:VCARD$", re.IGNORECASE)
END_LINE = re.compile(rb"^(?:[\w-]+\.)?END:VCARD$", re.IGNORECASE)
BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=]+")
UTF8_NAMES = frozenset({"utf-8", "utf8"})


@dataclass
class RawCard:
    """One card's lines, unfolded and decoded, with where they were found.

    `number` counts cards from 1; `line` is the file line of BEGIN:VCARD.
    A card whose END:VCARD never came is kept with `closed` false.
    """

    number: int
    line: int
    lines: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    closed: bool = False


@dataclass(frozen=True)
class StrayText:
    """Text outside any card, which no address book means to write."""

    line: int
    text: str


def read_cards(
    stream: BinaryIO, encoding: str | None = None
) -> Iterator[RawCard | StrayText]:
    """Yield the file's cards in order, and each run of text between them."""
    grouped = _group(_logical_lines(_physical_lines(stream)))
    for number_or_stray in grouped:
        if isinstance(number_or_stray, StrayText):
            yield number_or_stray
            continue
        yield _decoded(number_or_stray, encoding)


def count_cards(stream: BinaryIO) -> int:
    """Count the cards of a file cheaply, for the progress bar."""
    return sum(
        1 for _, line in _physical_lines(stream) if BEGIN_LINE.match(line.strip())
    )


@dataclass
class _ByteCard:
    number: int
    line: int
    lines: list[bytes] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    closed: bool = False


def _physical_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, bytes without the line break) from the file."""
    start = stream.read(4)
    if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        # UTF-16 files are small phone exports; read whole, then as UTF-8.
        text = (start + stream.read()).decode("utf-16", "replace")
        lines: Iterable[bytes] = (
            line.encode("utf-8") for line in text.splitlines(keepends=True)
        )
    else:
        lines = _joined_start(start.removeprefix(codecs.BOM_UTF8), stream)
    for number, line in enumerate(lines, 1):
        yield number, line.rstrip(b"\r\n")


def _joined_start(start: bytes, stream: BinaryIO) -> Iterator[bytes]:
    first = start + stream.readline()
    if first:
        yield first
    yield from stream


def _logical_lines(lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """Join folded lines; yield (number of the first line, joined bytes).

    Quoted-printable soft breaks are kept as a line break inside the joined
    line, which vobject reads the same way. A blank line after a soft break
    ends the value only if a property follows it: some phones write a blank
    line after every soft break, others end a value with "=" and a blank.
    """
    current: bytearray | None = None
    start = 0
    soft_break = base64 = blank = False
    for number, line in lines:
        if current is not None:
            if soft_break and not line.strip():
                blank = True
                continue
            if soft_break and not (blank and PROPERTY_START.match(line)):
                current += b"\n" + line
                soft_break, blank = line.endswith(b"="), False
                continue
            blank = False
            if line[:1] in (b" ", b"\t"):
                current += line[1:]
                soft_break = _is_quoted_printable(current) and line.endswith(b"=")
                continue
            if base64 and BASE64_TEXT.fullmatch(line):
                # Version 2.1 lets base64 run on unindented lines until a
                # blank one.
                current += line
                continue
            yield start, _without_open_break(current)
            current = None
        if not line.strip():
            continue
        current, start = bytearray(line), number
        soft_break = _is_quoted_printable(current) and line.endswith(b"=")
        base64 = bool(BASE64.search(_head(line)))
    if current is not None:
        yield start, _without_open_break(current)


def _without_open_break(line: bytearray) -> bytes:
    """Drop a soft break that ends a value, which vobject would otherwise
    take as joining the next property to it."""
    if line.endswith(b"=") and _is_quoted_printable(line):
        return bytes(line[:-1])
    return bytes(line)


def _group(lines: Iterable[tuple[int, bytes]]) -> Iterator[_ByteCard | StrayText]:
    """Cut logical lines into cards; cards nested in a 2.1 AGENT stay inside."""
    card: _ByteCard | None = None
    depth = number = 0
    stray: StrayText | None = None
    for start, line in lines:
        word = line.strip()
        if BEGIN_LINE.match(word):
            if depth == 0:
                number += 1
                card = _ByteCard(number=number, line=start)
            depth += 1
        if card is None:
            stray = stray or StrayText(start, line[:60].decode("utf-8", "replace"))
            continue
        if stray is not None:
            yield stray
            stray = None
        card.lines.append(line)
        card.starts.append(start)
        if END_LINE.match(word):
            depth -= 1
            if depth == 0:
                card.closed = True
                yield card
                card = None
    if stray is not None:
        yield stray
    if card is not None:
        yield card


def _decoded(card: _ByteCard, encoding: str | None) -> RawCard:
    fallback = encoding or _declared_charset(card.lines) or LEGACY_ENCODING
    return RawCard(
        number=card.number,
        line=card.line,
        lines=[_mended(_decode(line, fallback)) for line in card.lines],
        starts=card.starts,
        closed=card.closed,
    )


def _declared_charset(lines: list[bytes]) -> str:
    """The first legacy charset a line of the card declares, if any."""
    for line in lines:
        match = CHARSET.search(_head(line))
        if match and _known_codec(match.group(1)):
            name = match.group(1).decode("ascii").lower()
            if name not in UTF8_NAMES:
                return name
    return ""


def _decode(line: bytes, fallback: str) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        pass
    match = CHARSET.search(_head(line))
    declared = match.group(1).decode("ascii") if match else ""
    for name in (declared, fallback):
        if not name or not _known_codec(name.encode("ascii")):
            continue
        try:
            return line.decode(name)
        except UnicodeDecodeError:
            continue
    return line.decode(
        fallback if _known_codec(fallback.encode()) else "latin-1", "replace"
    )


def _mended(line: str) -> str:
    """Drop empty parameters, as in "ADR;HOME;PREF;:", which vobject refuses,
    and escape the comma of a data URI, where vobject would cut the value."""
    head, colon, value = line.partition(":")
    if not colon:
        return line
    if value[:5].lower() == "data:" and head.upper().endswith("PHOTO"):
        value = re.sub(r"(?<!\\),", r"\\,", value)
    if '"' not in head and ";" in head:
        head = re.sub(";{2,}", ";", head).rstrip(";")
    return head + colon + value


def _head(line: bytes) -> bytes:
    """The property name and parameters: everything before the first colon."""
    return line.split(b":", 1)[0]


def _is_quoted_printable(line: bytearray) -> bool:
    return bool(QUOTED_PRINTABLE.search(_head(bytes(line))))


def _known_codec(name: bytes) -> bool:
    try:
        codecs.lookup(name.decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        return False
    return True
