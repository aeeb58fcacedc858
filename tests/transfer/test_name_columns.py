"""A name column read as written: "Last, First" turned round, a suffix kept."""

import pytest

from threadline.transfer.contacts import build_contact
from threadline.transfer.mapping import Target

PLAN = [Target("full_name")]


@pytest.mark.parametrize(
    ("written", "given", "family", "shown"),
    [
        ("van der Berg, Anna", "Anna", "van der Berg", "Anna van der Berg"),
        ("Smith, John", "John", "Smith", "John Smith"),
        ("John Smith, Jr.", "", "", "John Smith, Jr."),
        ("Anna Lee, MD", "", "", "Anna Lee, MD"),
        ("Karl Otto, III", "", "", "Karl Otto, III"),
    ],
)
def test_a_comma_turns_a_name_round_unless_a_suffix_follows_it(
    written: str, given: str, family: str, shown: str
) -> None:
    contact = build_contact(2, [written], PLAN)

    assert (contact.given_name, contact.family_name) == (given, family)
    assert contact.person_name == shown
