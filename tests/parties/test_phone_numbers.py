"""Reading phone numbers as typed: dialable ones in E.164, the rest kept."""

import pytest

from threadline.parties.contact_points import normalise_phone
from threadline.transfer.contacts import build_contact
from threadline.transfer.mapping import Target


@pytest.mark.parametrize(
    ("typed", "region", "value"),
    [
        ("(202) 555-0143", "US", "+12025550143"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+49 30 901820", "US", "+4930901820"),
        ("0049 30 901820", "GB", "+4930901820"),
        # Written with its country code, a number is taken as given, even
        # in a range the library does not know as in use.
        ("+44 7700 900123", "US", "+447700900123"),
    ],
)
def test_a_number_of_its_region_is_dialable(typed, region, value) -> None:
    parts = normalise_phone(typed, region)

    assert (parts.value, parts.dialable, parts.doubt) == (value, True, "")


@pytest.mark.parametrize(
    ("typed", "region"),
    [("03456-78910", "US"), ("0160-45678910", "US"), ("07700 900000", "US")],
)
def test_a_number_of_another_country_read_in_the_region_is_kept_with_a_doubt(
    typed, region
) -> None:
    """A German or British number typed without its code, in a file read as
    American, is no American number: it is not made into a wrong +1 one."""
    parts = normalise_phone(typed, region)

    assert not parts.dialable
    assert parts.value == "".join(char for char in typed if char.isdigit())
    assert f"not a phone number in {region}" in parts.doubt
    assert "THREADLINE_DEFAULT_REGION" in parts.doubt


@pytest.mark.parametrize(("typed", "region"), [("1047", "GB"), ("555-0123", "US")])
def test_an_internal_or_local_number_is_kept_without_a_doubt(typed, region) -> None:
    parts = normalise_phone(typed, region)

    assert (parts.dialable, parts.doubt) == (False, "")


def test_an_imported_row_warns_of_a_number_it_could_not_read(settings) -> None:
    settings.DEFAULT_REGION = "US"
    plan = [Target("full_name"), Target("phone")]

    contact = build_contact(2, ["Karl Beispiel", "0151 23456789"], plan)

    assert [point.value for point in contact.phones] == ["015123456789"]
    assert any(
        "'0151 23456789' is not a phone number in US" in w for w in contact.warnings
    )


@pytest.mark.django_db
def test_an_undialable_number_shows_as_typed(make_party) -> None:
    party = make_party("Ann Lee", phones=["+123456789", "555-0143"])

    shown = sorted(point.display for point in party.contact_points.all())

    assert shown == ["+123456789", "555-0143"]
