from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from threadline.accounts.models import User
from threadline.parties.models import Party, Relationship
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor


def test_picker_finds_the_other_party(
    signed_in: Callable[[User], Client],
    staff: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    make_party("Acme Plumbing", kind="organisation")

    response = signed_in(staff).get(
        reverse("web:party_pick"), {"q": "acme", "exclude": str(jane.public_id)}
    )

    assert "Acme Plumbing" in response.content.decode()
    assert 'name="other"' in response.content.decode()


def test_picker_tells_two_people_of_one_name_apart_by_email(
    signed_in: Callable[[User], Client],
    staff: User,
    make_party: Callable[..., Party],
) -> None:
    make_party("John Doe", emails=["john.doe@hotmail.com"])
    make_party("John Doe", emails=["jdoe@example.com"], phones=["+1 202 555 0143"])

    page = (
        signed_in(staff)
        .get(reverse("web:party_pick"), {"q": "john doe"})
        .content.decode()
    )

    assert "john.doe@hotmail.com" in page
    assert "jdoe@example.com · +1 202-555-0143" in page


def test_staff_links_two_parties_and_ends_the_link(
    signed_in: Callable[[User], Client],
    staff: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    acme = make_party("Acme Plumbing", kind="organisation")
    client = signed_in(staff)

    client.post(
        reverse("web:link_add", args=[jane.public_id]),
        {"kind": "works_at", "other": str(acme.public_id), "role": "buyer"},
    )
    link = Relationship.objects.get(from_party=jane, to_party=acme)
    client.post(reverse("web:link_end", args=[jane.public_id, link.public_id]))

    link.refresh_from_db()
    assert link.role == "buyer"
    assert link.ended_on is not None


def test_cannot_link_to_a_party_out_of_sight(
    signed_in: Callable[[User], Client],
    owner: User,
    outsider: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    hidden = make_party("Hidden Household", kind="household")
    restrict_party(hidden, Actor.for_user(owner), restricted=True)

    response = signed_in(outsider).post(
        reverse("web:link_add", args=[jane.public_id]),
        {"kind": "household_member", "other": str(hidden.public_id)},
    )

    assert response.status_code == 400
    assert "Pick a party" in response.content.decode()
    assert not Relationship.objects.exists()


def test_viewer_cannot_link(
    signed_in: Callable[[User], Client],
    viewer: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    acme = make_party("Acme Plumbing", kind="organisation")

    response = signed_in(viewer).post(
        reverse("web:link_add", args=[jane.public_id]),
        {"kind": "works_at", "other": str(acme.public_id)},
    )

    assert response.status_code == 403
    assert not Relationship.objects.exists()
