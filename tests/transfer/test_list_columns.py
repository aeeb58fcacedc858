"""Columns listing several labelled values, one a line, as downloads write them."""

from pathlib import Path

import pytest

from threadline.parties.models import ContactKind, Party
from threadline.transfer.contacts import list_item
from threadline.transfer.importer import import_path

pytestmark = pytest.mark.django_db


def points_of(party: Party, kind: str) -> list[tuple[str, str, bool]]:
    points = party.contact_points.filter(kind=kind).order_by("id")
    return [(point.value, point.label, point.is_primary) for point in points]


def write_csv(folder: Path, text: str) -> Path:
    path = folder / "contacts.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_other_emails_and_phones_import_with_their_labels(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "Name,Email,Other emails,Phone,Other phones\n"
        'Ann Lee,ann@example.com,"work: ann@acme.example\nann@old.example",'
        '+1 415 555 0134,"mobile: +1 415 555 0199"\n',
    )

    report = import_path(path)

    assert report.problems == []
    ann = Party.objects.get()
    assert points_of(ann, ContactKind.EMAIL) == [
        ("ann@example.com", "", True),
        ("ann@acme.example", "work", False),
        ("ann@old.example", "", False),
    ]
    assert points_of(ann, ContactKind.PHONE) == [
        ("+14155550134", "", True),
        ("+14155550199", "mobile", False),
    ]


def test_an_address_with_a_colon_of_its_own_is_not_read_as_labelled(
    tmp_path: Path,
) -> None:
    listed = "\n".join(
        [list_item("", "Unit 4: 1 Main St, Springfield"), list_item("home", "2 Elm St")]
    )
    path = write_csv(tmp_path, f'Name,Other addresses\nAnn Lee,"{listed}"\n')

    import_path(path)

    assert points_of(Party.objects.get(), ContactKind.ADDRESS) == [
        ("Unit 4: 1 Main St, Springfield", "", True),
        ("2 Elm St", "home", False),
    ]


def test_a_value_that_is_not_an_email_is_left_out_with_a_warning(
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path, 'Name,Other emails\nAnn Lee,"work: not an email\nann@example.com"\n'
    )

    report = import_path(path)

    assert [p.message.split(":")[0] for p in report.problems] == [
        "'not an email' is not an email address"
    ]
    assert points_of(Party.objects.get(), ContactKind.EMAIL) == [
        ("ann@example.com", "", True)
    ]
