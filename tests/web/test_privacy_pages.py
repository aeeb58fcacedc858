"""The party page's data request: a copy of everything, or erasure."""

import json
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from threadline.accounts.models import User
from threadline.parties.models import Party, PartyKind
from threadline.parties.privacy import erase_person
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event

SignIn = Callable[[User], Client]


def page(party: Party) -> str:
    return reverse("web:data_request", args=[party.public_id])


def test_owners_and_managers_find_the_data_request_on_the_party_page(
    signed_in: SignIn, jane: Party, manager: User, staff: User
) -> None:
    link = page(jane)

    assert link in signed_in(manager).get(f"/customers/{jane.public_id}/").text
    assert link not in signed_in(staff).get(f"/customers/{jane.public_id}/").text


@pytest.mark.parametrize("who", ["staff", "viewer"])
def test_staff_and_viewers_are_refused(
    signed_in: SignIn, jane: Party, who: str, request: pytest.FixtureRequest
) -> None:
    client = signed_in(request.getfixturevalue(who))
    export = reverse("web:data_export", args=[jane.public_id])

    assert client.get(page(jane)).status_code == 403
    assert client.get(export).status_code == 403
    answer = client.post(page(jane), {"reason": "x", "confirm_name": "Jane Example"})
    assert answer.status_code == 403
    assert not Event.objects.filter(kind=Kind.ERASURE).exists()


def test_the_page_offers_a_copy_and_a_guarded_erasure(
    signed_in: SignIn, jane: Party, owner: User
) -> None:
    answer = signed_in(owner).get(page(jane))

    assert answer.status_code == 200
    assert "Download their data" in answer.text
    assert "Type Jane Example" in answer.text
    assert "cannot be undone" in answer.text


def test_the_copy_downloads_as_a_json_file(
    signed_in: SignIn, jane: Party, manager: User
) -> None:
    answer = signed_in(manager).get(reverse("web:data_export", args=[jane.public_id]))

    assert answer.status_code == 200
    assert answer["Content-Disposition"].startswith("attachment;")
    assert answer["Cache-Control"] == "no-store"
    document = json.loads(answer.content)
    assert document["person"]["display_name"] == "Jane Example"
    assert {p["value"] for p in document["contact_points"]} == {
        "jane@example.com",
        "+14155550134",
    }


def test_a_wrong_name_erases_nothing(
    signed_in: SignIn, jane: Party, owner: User
) -> None:
    answer = signed_in(owner).post(
        page(jane), {"reason": "Asked by email", "confirm_name": "Jane"}
    )

    assert answer.status_code == 400
    assert "That is not the name" in answer.text
    assert Party.objects.get(pk=jane.pk).display_name == "Jane Example"


def test_typing_the_name_erases_and_returns_to_the_shell(
    signed_in: SignIn, jane: Party, manager: User
) -> None:
    client = signed_in(manager)

    answer = client.post(
        page(jane), {"reason": "Asked by email", "confirm_name": "jane example"}
    )

    assert answer.status_code == 302
    assert answer["Location"] == f"/customers/{jane.public_id}/"
    shell = Party.objects.get(pk=jane.pk)
    assert shell.display_name.startswith("Erased person")
    erasure = Event.objects.get(party=jane, kind=Kind.ERASURE)
    assert erasure.payload["reason"] == "Asked by email"
    assert "was erased" in client.get(answer["Location"]).text


def test_an_erased_person_shows_when_and_no_form(
    signed_in: SignIn, jane: Party, owner: User
) -> None:
    erase_person(jane, Actor.for_user(owner), "Asked in person")

    answer = signed_in(owner).get(page(jane))

    assert "Erased on" in answer.text and "Olivia Owner" in answer.text
    assert "confirm_name" not in answer.text


def test_an_organisation_is_not_erased_here(
    signed_in: SignIn, make_party: Callable[..., Party], owner: User
) -> None:
    company = make_party("Acme Ltd", kind=PartyKind.ORGANISATION)

    answer = signed_in(owner).get(page(company))

    assert "Only a person" in answer.text
    assert "confirm_name" not in answer.text


def test_a_restricted_customer_stays_hidden(
    signed_in: SignIn, jane: Party, owner: User, manager: User
) -> None:
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    assert signed_in(manager).get(page(jane)).status_code == 404
