"""A row's notes that only repeat a party's pinned facts are not noted again."""

from collections.abc import Callable
from pathlib import Path

import pytest

from threadline.parties.models import Party
from threadline.parties.services import pin_fact
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.transfer.importer import import_path

pytestmark = pytest.mark.django_db

SETUP = Actor.system("test setup")


def import_notes(party: Party, notes: str, folder: Path) -> dict[str, int]:
    path = folder / "customers.csv"
    path.write_text(
        f'Name,Notes,Threadline id\n{party.display_name},"{notes}",{party.public_id}\n',
        encoding="utf-8",
    )
    return dict(import_path(path).created)


@pytest.fixture
def ruth(make_party: Callable[..., Party]) -> Party:
    ruth = make_party("Ruth Field")
    pin_fact(ruth, SETUP, "Prefers calls after 4pm")
    pin_fact(ruth, SETUP, "Gate code 4411")
    return ruth


def test_notes_that_are_the_pinned_facts_add_no_note(
    ruth: Party, tmp_path: Path
) -> None:
    created = import_notes(ruth, "Gate code 4411\nPrefers calls after 4pm", tmp_path)

    assert "note" not in created
    assert not ruth.events.filter(kind=Kind.NOTE).exists()


def test_notes_with_a_line_not_pinned_are_noted_whole(
    ruth: Party, tmp_path: Path
) -> None:
    notes = "Gate code 4411\nAsked for a quote in May"

    created = import_notes(ruth, notes, tmp_path)

    assert created["note"] == 1
    assert ruth.events.get(kind=Kind.NOTE).body == notes
