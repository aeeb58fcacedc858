"""Reading CSV files whatever their encoding, delimiter and line breaks."""

import codecs

import pytest

from threadline.errors import InvalidInput
from threadline.transfer.importer import import_path
from threadline.transfer.reading import SAMPLE_BYTES, open_table

NAMES = (
    "name,email,city\n"
    "Zoë Exemplär,zoe@example.de,Köln\n"
    "José Ejemplo,jose@example.com,Málaga\n"
)


def rows_of(path):
    return [cells for _, cells in open_table(path).rows()]


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("cp1252", b""),
        ("latin-1", b""),
    ],
)
def test_accented_names_decode_in_every_common_encoding(tmp_path, encoding, prefix):
    path = tmp_path / "contacts.csv"
    path.write_bytes(prefix + NAMES.encode(encoding))

    table = open_table(path)

    assert table.header == ["name", "email", "city"]
    assert rows_of(path) == [
        ["Zoë Exemplär", "zoe@example.de", "Köln"],
        ["José Ejemplo", "jose@example.com", "Málaga"],
    ]


def test_windows_1252_quotes_are_not_read_as_latin_1_controls(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes("name\nFrançois ‘Frank’ Test\n".encode("cp1252"))

    assert rows_of(path) == [["François ‘Frank’ Test"]]


def test_legacy_bytes_after_the_sample_still_decode(tmp_path):
    path = tmp_path / "contacts.csv"
    filler = "".join(
        f"Person {n},p{n}@example.com\n" for n in range(SAMPLE_BYTES // 20)
    )
    path.write_bytes(
        ("name,email\n" + filler + "Zoë Exemplär,zoe@example.de\n").encode("cp1252")
    )

    assert rows_of(path)[-1] == ["Zoë Exemplär", "zoe@example.de"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_detected_with_other_delimiters_inside_values(tmp_path, delimiter):
    path = tmp_path / "contacts.csv"
    row = ["Jane Example", '"Example, Sons; Co"', '"1.234,50"']
    path.write_text(
        delimiter.join(["name", "company", "revenue"])
        + "\n"
        + delimiter.join(row)
        + "\n",
        encoding="utf-8",
    )

    table = open_table(path)

    assert table.delimiter == delimiter
    assert rows_of(path) == [["Jane Example", "Example, Sons; Co", "1.234,50"]]


def test_single_column_file_reads_as_comma_separated(tmp_path):
    path = tmp_path / "emails.csv"
    path.write_text("Primary Email\na@example.com\nb@example.com\n", encoding="utf-8")

    assert rows_of(path) == [["a@example.com"], ["b@example.com"]]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_numbers_count_physical_lines_inside_quotes(tmp_path, newline):
    path = tmp_path / "notes.csv"
    text = newline.join(
        ["name,notes", 'Jane,"one', "two", 'three"', "", "Raj,short", ""]
    )
    path.write_bytes(text.encode("utf-8"))

    lines = [line for line, _ in open_table(path).rows()]

    assert lines == [2, 6]


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="There is no file"):
        open_table(tmp_path / "nowhere.csv")


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(InvalidInput, match="empty"):
        open_table(path)


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" * 20,
        bytes(range(256)) * 4,
    ],
)
def test_binary_file_is_refused(tmp_path, content):
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)

    with pytest.raises(InvalidInput, match="not"):
        open_table(path)


def test_wrong_explicit_encoding_is_refused(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes("name\nZoë\n".encode("cp1252"))

    with pytest.raises(InvalidInput, match="cannot be read as UTF-8"):
        open_table(path, encoding="utf-8")


def test_excel_separator_line_declares_the_delimiter(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("sep=;\r\nname;email\r\nJane, Example;jane@example.com\r\n")

    table = open_table(path)

    assert (table.delimiter, table.header) == (";", ["name", "email"])
    assert list(table.rows()) == [(3, ["Jane, Example", "jane@example.com"])]


def test_text_with_a_stray_nul_byte_is_refused_not_read_as_utf16(tmp_path):
    path = tmp_path / "damaged.csv"
    path.write_bytes(
        b"name,email\nJane Example,jane@example.com\x00\nRaj,r@example.org\n"
    )

    with pytest.raises(InvalidInput, match="NUL bytes"):
        open_table(path)


def test_empty_trailing_columns_are_dropped_from_the_header(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("name,email,,,\nJane Example,jane@example.com,,,\nRaj,,,\n")

    table = open_table(path)

    assert table.header == ["name", "email"]
    assert rows_of(path) == [
        ["Jane Example", "jane@example.com", "", "", ""],
        ["Raj", "", "", ""],
    ]


@pytest.mark.django_db
def test_empty_trailing_columns_import_without_complaint(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(
        codecs.BOM_UTF8
        + b"name,email,,,\r\n"
        + b"Jane Example,jane@example.com,,,\r\n"
        + b"Raj Sample,,,,,\r\n"
    )

    report = import_path(path)

    assert report.problems == []
    assert report.ignored_columns == []
    assert report.rows_used == 2
