"""Files damaged on their way in: mixed encodings, open quotes, mixed
delimiters, and files that change while they are imported."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from threadline.parties.models import Party
from threadline.transfer.reading import FileChanged, open_table

pytestmark = pytest.mark.django_db


def run_import(*args: str) -> str:
    out = io.StringIO()
    call_command("import", *args, stdout=out)
    return out.getvalue()


def names() -> list[str]:
    return sorted(Party.objects.values_list("display_name", flat=True))


@pytest.mark.parametrize("rows_before", [3, 3000])
def test_one_latin_1_line_in_utf8_leaves_the_utf8_names_alone(tmp_path, rows_before):
    path = tmp_path / "contacts.csv"
    filler = "".join(f"Person {n},p{n}@example.com\n" for n in range(rows_before))
    path.write_bytes(
        "name,email\nZoë Ünal,zoe@example.com\n".encode()
        + filler.encode()
        + "Jürgen Müller,jm@example.com\n".encode("latin-1")
    )

    output = run_import(str(path))

    assert "UTF-8 with some lines in Windows-1252, comma-separated" in output
    assert Party.objects.filter(display_name="Zoë Ünal").exists()
    assert Party.objects.filter(display_name="Jürgen Müller").exists()
    assert (
        f"line {rows_before + 3}: this line is not UTF-8 like the rest of the file"
        in output
    )


def test_a_legacy_file_with_no_utf8_is_read_wholly_as_legacy(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes("name\nZoë\nJürgen\n".encode("cp1252"))

    table = open_table(path)

    assert (table.encoding, table.notices) == ("cp1252", ())


def test_unterminated_quote_skips_its_row_and_keeps_the_rest(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text('name,email\n"Open Quote,x@example.com\nNext,y@example.com\n')

    output = run_import(str(path))

    assert "line 2: unterminated quote" in output
    assert "(row skipped)" in output
    assert names() == ["Next"]


def test_quote_closed_by_a_stray_quote_rows_later_is_still_unterminated(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(
        "name,email,city\n"
        '"Open,a@example.com,Bonn\n'
        "Two,b@example.com,Köln\n"
        "Three,c@example.com,Ulm\n"
        'Fo"ur,d@example.com,Kiel\n'
    )

    output = run_import(str(path))

    assert "line 2: unterminated quote" in output
    assert names() == ['Fo"ur', "Three", "Two"]


def test_quoted_notes_over_several_lines_are_not_an_open_quote(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text('name,notes\nAnna,"first line\nsecond, line\nthird"\n')

    output = run_import(str(path))

    assert "unterminated" not in output
    assert names() == ["Anna"]


def test_mixed_delimiters_in_the_header_are_refused(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("name;email,phone\nAnna;a@example.com,+49 30 1234567\n")

    with pytest.raises(CommandError, match="mixes delimiters.*'name;email'"):
        run_import(str(path))
    assert names() == []


def test_a_file_deleted_after_checking_is_a_clear_error(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("name\nAnna\n")
    table = open_table(path)
    path.unlink()

    with pytest.raises(FileChanged, match="went away after it was checked"):
        list(table.rows())


def test_a_file_changed_after_checking_is_a_clear_error(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("name\nAnna\n")
    table = open_table(path)
    path.write_text('name\n"Anna\nBen\nCarl"x"\n')

    with pytest.raises(FileChanged, match="changed after it was checked"):
        list(table.rows())


def test_the_command_exits_with_a_message_when_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "contacts.csv"
    path.write_text("name\nAnna\n")
    real_open = open_table

    def open_then_delete(*args: object, **kwargs: object) -> object:
        table = real_open(*args, **kwargs)  # type: ignore[arg-type]
        path.unlink()
        return table

    monkeypatch.setattr("threadline.transfer.importer.open_table", open_then_delete)

    with pytest.raises(CommandError, match="run the import again"):
        run_import(str(path))
    assert names() == []
