"""Rows put in the database driver's form ahead of writing, and written."""

import datetime as dt
import uuid

import pytest
import uuid_utils

from threadline.inserts import Inserter, RowForm
from threadline.parties.models import Party
from threadline.public_ids import new_bulk_public_id, new_public_id
from threadline.timeline.models import Event

pytestmark = pytest.mark.django_db

MIDNIGHT = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def test_an_id_has_one_form_however_it_is_given() -> None:
    standard = new_public_id()
    bulk = uuid_utils.UUID(str(new_bulk_public_id()))
    form = RowForm(Party, ("public_id",))

    for given in (standard, str(standard), standard.hex):
        assert form.of((given,)) == (standard.hex,)
    assert form.of((bulk,)) == (bulk.hex,)


def test_a_text_that_is_no_id_is_refused() -> None:
    with pytest.raises(ValueError):
        RowForm(Party, ("public_id",)).of(("not an id",))


def test_a_column_reuses_the_form_of_its_last_value_only_for_that_value() -> None:
    form = RowForm(Party, ("created_at", "birthday"))

    first = form.of((MIDNIGHT, dt.date(1980, 5, 17)))
    again = form.of((MIDNIGHT + dt.timedelta(hours=1), dt.date(1980, 5, 17)))

    assert first[0] != again[0]
    assert first[1] == again[1]


def test_a_time_given_in_another_zone_has_the_form_of_the_same_moment() -> None:
    form = RowForm(Party, ("created_at",))
    berlin = MIDNIGHT.astimezone(dt.timezone(dt.timedelta(hours=1)))

    assert form.of((MIDNIGHT,)) == form.of((berlin,))


def test_formed_rows_are_stored_as_the_orm_stores_them(make_party) -> None:
    party = make_party("Ann Lee")
    columns = ("public_id", "party", "kind", "occurred_at", "occurred_tz")
    columns += ("recorded_at", "summary", "body", "payload", "direction")
    columns += ("actor_kind", "actor_label", "source", "external_id")
    public_id = new_public_id()
    payload = {"file": "people.csv", "row": 2, "name": "Zoë"}
    row = (public_id, party.pk, "import", MIDNIGHT, "UTC", MIDNIGHT, "Imported")
    row += ("", payload, "", "import", "import", "import:people.csv", "id:7:import")
    inserter = Inserter(Event, columns)

    stored = inserter.insert_formed([inserter.form.of(row)])

    event = Event.objects.get(public_id=public_id)
    assert stored == 1
    assert (event.party_id, event.occurred_at, event.payload) == (
        party.pk,
        MIDNIGHT,
        payload,
    )
    assert isinstance(event.public_id, uuid.UUID)
