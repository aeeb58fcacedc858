"""A party's access: restricting it to named people and teams, and opening it
again, from its page."""

from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from threadline.accounts.models import Team, User
from threadline.parties.models import Party
from threadline.timeline.models import Event

CUSTOMERS = reverse("web:customers")


def _access_url(party: Party) -> str:
    return reverse("web:party_access", args=[party.public_id])


def _party_url(party: Party) -> str:
    return reverse("web:party", args=[party.public_id])


def test_manager_restricts_a_party_to_a_team(
    signed_in: Callable[[User], Client],
    manager: User,
    other_staff: User,
    outsider: User,
    jane: Party,
) -> None:
    team = Team.objects.create(name="Plumbers")
    team.members.add(other_staff)

    response = signed_in(manager).post(
        _access_url(jane), {"access": "named", "teams": [team.pk]}
    )

    jane.refresh_from_db()
    assert response.status_code == 302
    assert jane.restricted
    assert Event.objects.filter(party=jane, kind="access_change").exists()
    assert signed_in(other_staff).get(_party_url(jane)).status_code == 200
    assert signed_in(outsider).get(_party_url(jane)).status_code == 404


def test_restricted_party_is_gone_from_the_outsiders_list(
    signed_in: Callable[[User], Client],
    manager: User,
    outsider: User,
    jane: Party,
) -> None:
    signed_in(manager).post(_access_url(jane), {"access": "named"})
    # A client of their own, so the manager's "saved" message stays behind.
    otto = Client()
    otto.force_login(outsider)

    page = otto.get(CUSTOMERS).content.decode()

    assert "Jane Example" not in page
    assert otto.get(_access_url(jane)).status_code == 404


def test_restricted_badge_shows_in_the_brief_and_the_list(
    signed_in: Callable[[User], Client], manager: User, jane: Party
) -> None:
    client = signed_in(manager)
    client.post(_access_url(jane), {"access": "named"})

    brief = client.get(_party_url(jane)).content.decode()
    listing = client.get(CUSTOMERS).content.decode()

    assert "chip-restricted" in brief
    assert "chip-restricted" in listing


def test_named_user_sees_the_party(
    signed_in: Callable[[User], Client],
    owner: User,
    other_staff: User,
    jane: Party,
) -> None:
    signed_in(owner).post(
        _access_url(jane), {"access": "named", "users": [other_staff.pk]}
    )

    assert signed_in(other_staff).get(_party_url(jane)).status_code == 200


def test_opening_a_party_again_shows_it_to_everyone(
    signed_in: Callable[[User], Client], manager: User, outsider: User, jane: Party
) -> None:
    client = signed_in(manager)
    client.post(_access_url(jane), {"access": "named"})

    client.post(_access_url(jane), {"access": "everyone"})

    jane.refresh_from_db()
    assert not jane.restricted
    assert signed_in(outsider).get(_party_url(jane)).status_code == 200


def test_staff_cannot_change_access(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    client = signed_in(staff)

    page = client.get(_party_url(jane)).content.decode()
    response = client.post(_access_url(jane), {"access": "named"})

    jane.refresh_from_db()
    assert _access_url(jane) not in page
    assert response.status_code == 403
    assert not jane.restricted


def test_access_link_shows_for_managers(
    signed_in: Callable[[User], Client], manager: User, jane: Party
) -> None:
    page = signed_in(manager).get(_party_url(jane)).content.decode()

    assert _access_url(jane) in page
