"""Photos from address books: kept through set_photo, never fetched."""

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from threadline.accounts.models import User
from threadline.errors import InvalidInput, NotAllowed
from threadline.parties.models import Party
from threadline.parties.services import PHOTO_MAX_BYTES, set_photo
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.importer import import_path

pytestmark = pytest.mark.django_db

# The smallest PNG and GIF a viewer accepts: one transparent pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
GIF = base64.b64decode("R0lGODlhAQABAAAAACH5BAEAAAAALAAAAAABAAEAAAIBAAA=")


def test_set_photo_keeps_the_picture_and_records_its_size_not_its_bytes(
    make_party: Callable[..., Party],
) -> None:
    party = make_party("Ines Costa")

    set_photo(party, Actor.system("test"), PNG, "image/png")

    party.refresh_from_db()
    assert bytes(party.photo) == PNG
    assert party.photo_type == "image/png"
    event = Event.objects.filter(party=party, kind=Kind.PROFILE_CHANGE).latest("id")
    assert event.summary == "Added a photo"
    assert event.payload["changes"] == [
        {"field": "photo", "old": None, "new": {"type": "image/png", "bytes": len(PNG)}}
    ]


def test_set_photo_with_the_same_picture_records_nothing(
    make_party: Callable[..., Party],
) -> None:
    party = make_party("Ines Costa")
    set_photo(party, Actor.system("test"), PNG, "image/png")
    events = Event.objects.count()

    set_photo(party, Actor.system("test"), PNG, "image/png")

    assert Event.objects.count() == events


def test_set_photo_with_no_bytes_removes_the_picture(
    make_party: Callable[..., Party],
) -> None:
    party = make_party("Ines Costa")
    set_photo(party, Actor.system("test"), PNG, "image/png")

    set_photo(party, Actor.system("test"), b"", "")

    party.refresh_from_db()
    assert party.photo is None
    assert party.photo_type == ""
    latest = Event.objects.filter(party=party).latest("id")
    assert latest.summary == "Removed the photo"


@pytest.mark.parametrize(
    ("data", "declared", "message"),
    [
        (b"%PDF-1.7 not a picture", "image/png", "reads as 'unknown'"),
        (PNG, "image/jpeg", "declared 'image/jpeg' and reads as 'image/png'"),
        (b"\xff\xd8\xff" + b"0" * PHOTO_MAX_BYTES, "image/jpeg", "smaller than 512 KB"),
    ],
)
def test_set_photo_refuses_what_is_not_a_small_picture(
    make_party: Callable[..., Party], data: bytes, declared: str, message: str
) -> None:
    party = make_party("Ines Costa")

    with pytest.raises(InvalidInput, match=message):
        set_photo(party, Actor.system("test"), data, declared)

    party.refresh_from_db()
    assert party.photo is None


def test_a_viewer_cannot_set_a_photo(
    make_party: Callable[..., Party], viewer: User
) -> None:
    party = make_party("Ines Costa")

    with pytest.raises(NotAllowed):
        set_photo(party, Actor.for_user(viewer), PNG, "image/png")


def write_card(folder: Path, photo_line: str) -> Path:
    path = folder / "photo.vcf"
    text = f"BEGIN:VCARD\nVERSION:3.0\nFN:Ines Costa\n{photo_line}\nEND:VCARD\n"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    return path


@pytest.mark.parametrize(
    "photo_line",
    [
        "PHOTO;ENCODING=b;TYPE=PNG:" + base64.b64encode(PNG).decode(),
        "PHOTO:data:image/png;base64," + base64.b64encode(PNG).decode(),
        "PHOTO;ENCODING=BASE64;TYPE=GIF:" + base64.b64encode(GIF).decode(),
    ],
    ids=["3.0 inline", "4.0 data URI", "2.1 base64"],
)
def test_an_inline_photo_is_imported(tmp_path: Path, photo_line: str) -> None:
    report = import_path(write_card(tmp_path, photo_line))

    party = Party.objects.get()
    assert report.problems == []
    assert party.photo_type in {"image/png", "image/gif"}
    assert bytes(party.photo) in {PNG, GIF}


def test_a_photo_link_is_reported_and_not_fetched(tmp_path: Path) -> None:
    link = "PHOTO;VALUE=uri:https://images.example/ines.jpg"

    report = import_path(write_card(tmp_path, link))

    assert Party.objects.get().photo is None
    [problem] = report.problems
    assert not problem.skipped
    assert "photo is a link (https://images.example/ines.jpg), not fetched" in (
        problem.message
    )


def test_an_import_keeps_a_photo_staff_already_chose(tmp_path: Path) -> None:
    gif = "PHOTO:data:image/gif;base64," + base64.b64encode(GIF).decode()
    import_path(write_card(tmp_path, gif))
    party = Party.objects.get()
    set_photo(party, Actor.system("test"), PNG, "image/png")

    import_path(write_card(tmp_path, gif + "\nNOTE:changed"))

    party.refresh_from_db()
    assert bytes(party.photo) == PNG
