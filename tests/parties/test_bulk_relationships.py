"""Adding relationships in a batch writes what add_relationship writes."""

import pytest

from threadline.errors import InvalidInput, NotFound
from threadline.parties.bulk import NewRelationship, add_relationships
from threadline.parties.models import Relationship
from threadline.parties.services import add_relationship, restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event

pytestmark = pytest.mark.django_db


def linked_events() -> list[tuple[str, str, str]]:
    """Each link's events: party, summary and payload, less the link's id."""
    events = []
    for event in Event.objects.filter(summary__startswith="Linked:"):
        change = event.payload["changes"][0]
        link = {key: value for key, value in change["new"].items() if key != "id"}
        events.append((event.party.display_name, event.summary, str(link)))
    return sorted(events)


def written() -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    return list(Relationship.objects.values_list("kind", "role")), linked_events()


def test_a_batch_writes_the_links_and_events_of_add_relationship(make_party, staff):
    actor = Actor.for_user(staff)
    jane, acme = make_party("Jane Example"), make_party("Acme Ltd", kind="organisation")
    add_relationship(jane, acme, actor, "works_at", role=" Buyer ")
    one_by_one = written()
    Relationship.objects.all().delete()
    Event.objects.filter(summary__startswith="Linked:").delete()

    links = add_relationships(
        actor, [NewRelationship(jane, acme, "works_at", role=" Buyer ")]
    )

    assert written() == one_by_one
    assert one_by_one[0] == [("works_at", "Buyer")]
    assert len(one_by_one[1]) == 2
    assert links[0].pk == Relationship.objects.get(from_party=jane).pk


def test_a_batch_with_one_refused_link_writes_nothing(make_party, staff):
    actor = Actor.for_user(staff)
    jane, acme = make_party("Jane Example"), make_party("Acme Ltd", kind="organisation")

    with pytest.raises(InvalidInput):
        add_relationships(
            actor,
            [
                NewRelationship(jane, acme, "works_at"),
                NewRelationship(acme, acme, "works_at"),
            ],
        )

    assert not Relationship.objects.exists()
    assert not Event.objects.filter(summary__startswith="Linked:").exists()


def test_a_batch_naming_a_hidden_party_writes_nothing(make_party, owner, staff):
    jane, acme = make_party("Jane Example"), make_party("Acme Ltd", kind="organisation")
    restrict_party(acme, Actor.for_user(owner), restricted=True, users=[owner])

    with pytest.raises(NotFound):
        add_relationships(
            Actor.for_user(staff), [NewRelationship(jane, acme, "works_at")]
        )

    assert not Relationship.objects.exists()
