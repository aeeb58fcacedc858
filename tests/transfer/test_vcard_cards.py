"""Cutting a vCard file into cards: mended, decoded, never a crash."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.transfer.vcard import ReadCard, _read
from threadline.transfer.vcard_cards import RawCard, StrayText, count_cards, read_cards

# Pieces of real and broken vCard lines, shuffled into files.
FRAGMENTS = [
    b"BEGIN:VCARD",
    b"END:VCARD",
    b"home.BEGIN:VCARD",
    b"VERSION:2.1",
    b"VERSION:3.0",
    b"VERSION:4.0",
    b"FN:Ada Lovelace",
    b"N:Lovelace;Ada;;;",
    b"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=9Cmit;=",
    b"=C3=96rnek",
    b"FN;CHARSET=windows-1252:Do\xeb",
    b"ORG;CHARSET=utf-8;ENCODING=QUOTED-PRINTABLE:=80=",
    b"PHOTO;ENCODING=BASE64;TYPE=JPEG:/9j/4AAQSkZJRg",
    b"AAQSkZJRgABAQ==",
    b"PHOTO:data:image/png;base64,iVBORw0KGgo=",
    b"PHOTO;VALUE=uri:https://example.com/a.jpg",
    b" folded continuation",
    b"\tfolded with a tab",
    b"TEL;CELL;PREF;:+1 202 555 0199",
    b"EMAIL;TYPE=INTERNET:ada@example.com",
    b"EMAIL:not an email",
    b"BDAY:--0517",
    b"BDAY:19723101",
    b"BDAY;VALUE=text:circa 1800",
    b"CATEGORIES:a,b\\,c",
    b"ADR;HOME:;;1 Main St;Town;;12345;Land",
    b"item1.X-ABLabel:_$!<Mobile>!$_",
    b"item1.TEL:+44 20 7946 0000",
    b"KIND:org",
    b'X-UNKNOWN;PARAM="quoted;value":x',
    b"garbage without a colon",
    b"",
    b"\xff\xfe\x00junk",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30))
def test_any_mix_of_lines_reads_without_an_exception(lines: list[bytes]) -> None:
    data = b"\r\n".join(lines)

    items = list(read_cards(io.BytesIO(data)))

    cards = [item for item in items if isinstance(item, RawCard)]
    assert all(isinstance(item, RawCard | StrayText) for item in items)
    assert [card.number for card in cards] == list(range(1, len(cards) + 1))
    assert len(cards) <= count_cards(io.BytesIO(data))
    for card in cards:
        read = _read(card)
        assert isinstance(read, ReadCard)
        assert (read.contact is None) == bool(read.error)


def test_a_fold_that_splits_a_character_still_reads_as_utf_8() -> None:
    name = "Jürgen".encode()
    data = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + name[:2] + b"\r\n " + name[2:]
    data += b"\r\nEND:VCARD\r\n"

    [card] = read_cards(io.BytesIO(data))

    assert isinstance(card, RawCard)
    assert card.lines[2] == "FN:Jürgen"


def test_a_utf_16_file_is_read() -> None:
    text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë\r\nEND:VCARD\r\n"
    data = "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")

    [card] = read_cards(io.BytesIO(data))

    assert isinstance(card, RawCard)
    assert card.lines[2] == "FN:Zoë"
