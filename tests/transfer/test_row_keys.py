"""Keying rows: ids are kept per source system, values are keyed anywhere."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from threadline.parties.models import ContactPoint, Party

pytestmark = pytest.mark.django_db


def run_import(*args: str) -> str:
    out = io.StringIO()
    call_command("import", *args, stdout=out)
    return out.getvalue()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def two_systems(tmp_path: Path) -> tuple[Path, Path]:
    first = write(
        tmp_path / "sysA" / "contacts.csv",
        "id,name,email\n1,Alice Alpha,alice@a.example\n2,Bob Beta,bob@a.example\n",
    )
    second = write(
        tmp_path / "sysB" / "contacts.csv",
        "id,name,email\n1,Carol Gamma,carol@b.example\n2,Dan Delta,dan@b.example\n",
    )
    return first, second


def emails_of(name: str) -> set[str]:
    return set(
        ContactPoint.objects.filter(party__display_name=name).values_list(
            "value", flat=True
        )
    )


def test_same_ids_under_another_name_are_conflicts_not_merges(two_systems):
    first, second = two_systems
    run_import(str(first))

    output = run_import(str(second))

    assert "line 2: conflict: '1' was imported before as 'Alice Alpha'" in output
    assert "import it with --source NAME (row skipped)" in output
    assert emails_of("Alice Alpha") == {"alice@a.example"}
    assert emails_of("Bob Beta") == {"bob@a.example"}
    assert not Party.objects.filter(display_name="Carol Gamma").exists()


def test_source_keeps_two_systems_ids_apart(two_systems):
    first, second = two_systems
    run_import(str(first), "--source", "system A")

    output = run_import(str(second), "--source", "system B")

    assert "Created: 2 people" in output
    assert emails_of("Carol Gamma") == {"carol@b.example"}
    assert emails_of("Alice Alpha") == {"alice@a.example"}


def test_second_run_with_the_same_source_creates_nothing(two_systems):
    first, _ = two_systems
    run_import(str(first), "--source", "system A")

    output = run_import(str(first), "--source", "system A")

    assert "Created: nothing new." in output
    assert Party.objects.count() == 2


def test_a_typo_in_a_known_id_still_updates_the_same_person(tmp_path):
    path = write(tmp_path / "contacts.csv", "id,name,phone\n7,Jon Smith,\n")
    run_import(str(path))
    write(path, "id,name,phone\n7,John Smith,+1 202 555 0100\n")

    output = run_import(str(path))

    assert "conflict" not in output
    assert Party.objects.count() == 1


def test_same_rows_without_ids_under_a_new_name_add_no_one(tmp_path):
    text = "name,company\nAnna Ohne Mail,Example Bakery\nBen Ohne Mail,\n"
    run_import(str(write(tmp_path / "one.csv", text)))
    before = Party.objects.count()

    run_import(str(write(tmp_path / "renamed.csv", text)))

    assert Party.objects.count() == before


def test_a_blank_source_is_refused(two_systems):
    first, _ = two_systems

    with pytest.raises(Exception, match="--source needs a name"):
        run_import(str(first), "--source", "  ")


def test_a_similar_name_with_another_email_is_still_a_conflict(tmp_path):
    first = write(
        tmp_path / "a" / "contacts.csv", "id,name,email\n1,Anna Adams,anna@a.example\n"
    )
    second = write(
        tmp_path / "e" / "contacts.csv", "id,name,email\n1,Jane Adams,jane@e.example\n"
    )
    run_import(str(first))

    output = run_import(str(second))

    assert "conflict" in output
    assert emails_of("Anna Adams") == {"anna@a.example"}


def test_a_typo_in_a_name_is_the_same_person(tmp_path):
    first = write(tmp_path / "a" / "contacts.csv", "id,name\n1,Jon Smith\n")
    second = write(
        tmp_path / "b" / "contacts.csv", "id,name,phone\n1,John Smith,+1 202 555 0143\n"
    )
    run_import(str(first))

    output = run_import(str(second))

    assert "conflict" not in output
    assert Party.objects.filter(display_name__endswith="Smith").count() == 1
