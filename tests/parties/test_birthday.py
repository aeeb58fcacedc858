"""Birthdays: a date, plausible, kept through create and update."""

import datetime as dt

import pytest

from threadline.errors import InvalidInput
from threadline.parties.services import create_party, update_party
from threadline.timeline.actors import Actor

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


def test_a_party_is_created_with_its_birthday() -> None:
    party = create_party(
        ACTOR, display_name_text="Ana Test", birthday=dt.date(1979, 12, 25)
    )

    assert party.birthday == dt.date(1979, 12, 25)


@pytest.mark.parametrize("day", [dt.date(1800, 1, 1), dt.date(2999, 1, 1)])
def test_an_implausible_birthday_is_refused_and_nothing_changes(day: dt.date) -> None:
    party = create_party(ACTOR, display_name_text="Ana Test")

    with pytest.raises(InvalidInput, match="not a plausible birthday"):
        update_party(party, ACTOR, birthday=day)

    party.refresh_from_db()
    assert party.birthday is None
