"""Preparing parties for the batch path, and carrying them between processes."""

import datetime as dt
import pickle

import pytest

from threadline.parties import contact_points
from threadline.parties.bulk import NewParty, create_parties, prepare_party
from threadline.parties.contact_points import normalise_phone
from threadline.parties.models import ContactKind, Party
from threadline.search.models import SearchTerm
from threadline.search.services import party_terms
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def new_person() -> NewParty:
    return NewParty(
        given_name="Zoë",
        family_name="Okafor",
        emails=["Zoe.Okafor@Example.com"],
        phones=[("+44 20 7946 0018", "work")],
        addresses=["1 Mill Lane, Leeds"],
        tags=["VIP", " "],
        source="import:people.csv",
        external_id="id:7",
        fields={"stage": "customer", "birthday": dt.date(1980, 5, 17)},
    )


def test_a_prepared_party_comes_back_from_a_pickle_as_it_went() -> None:
    prepared = prepare_party(new_person(), WHEN)

    back = pickle.loads(pickle.dumps(prepared))

    assert back == prepared
    assert back.pk is None


def test_a_prepared_party_holds_only_what_the_driver_takes() -> None:
    """Plain values cross between processes cheaply; a model object, an id
    object or a choice's member would cost a reader far more to load."""
    prepared = prepare_party(new_person(), WHEN)

    values = [*prepared.row, *prepared.created.row]
    values += [value for point in prepared.points for value in point]

    plain = (str, int, bool, type(None), dt.date, dt.datetime)
    assert {type(value) for value in values} <= set(plain)


def test_a_party_prepared_elsewhere_is_created_as_one_prepared_here() -> None:
    prepared = pickle.loads(pickle.dumps(prepare_party(new_person(), WHEN)))

    (pk,) = create_parties(Actor.system("test"), [prepared])

    party = Party.objects.get(pk=pk)
    assert (party.display_name, party.stage) == ("Zoë Okafor", "customer")
    assert party.created_at == WHEN
    assert sorted(point.value for point in party.contact_points.all()) == [
        "+442079460018",
        "1 Mill Lane, Leeds",
        "zoe.okafor@example.com",
    ]
    assert [tag.name for tag in party.tags.all()] == ["vip"]
    created = Event.objects.get(party=party, kind=Kind.PROFILE_CHANGE)
    assert created.occurred_at == WHEN
    changed = [change["field"] for change in created.payload["changes"]]
    assert changed == ["display_name", "stage", "birthday"] + ["contact_point"] * 3 + [
        "tag"
    ]
    terms = set(SearchTerm.objects.filter(party=party).values_list("term", flat=True))
    assert {"zoe", "okafor", "zoe.okafor@example.com", "2079460018"} <= terms


@pytest.mark.parametrize(
    ("typed", "region"),
    [
        ("020 7946 0018", "GB"),
        ("06 6988 1234", "IT"),
        ("(212) 555-0143", "US"),
        ("+49 30 901820 ext. 12", "DE"),
        ("1047", "GB"),
    ],
)
def test_a_phone_just_read_has_the_search_keys_of_one_parsed_afresh(
    typed: str, region: str
) -> None:
    value = normalise_phone(typed, region).value
    remembered = party_terms("", [(ContactKind.PHONE, value)])

    contact_points._RECENT_NUMBERS.clear()

    assert party_terms("", [(ContactKind.PHONE, value)]) == remembered
