"""Settings → Teams: creating teams and choosing their members."""

from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from threadline.accounts.models import Team, User

TEAMS = reverse("web:settings_teams")


def _team_url(team: Team) -> str:
    return reverse("web:settings_team", args=[team.public_id])


def test_manager_creates_a_team(
    signed_in: Callable[[User], Client], manager: User
) -> None:
    response = signed_in(manager).post(TEAMS, {"name": "Night shift"})

    team = Team.objects.get()
    assert team.name == "Night shift"
    assert response.status_code == 302
    assert response.url == _team_url(team)


def test_a_duplicate_team_name_shows_on_the_form(
    signed_in: Callable[[User], Client], manager: User
) -> None:
    Team.objects.create(name="Night shift")

    response = signed_in(manager).post(TEAMS, {"name": "night SHIFT"})

    assert response.status_code == 400
    assert "already a team" in response.content.decode()


def test_staff_cannot_create_a_team(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    response = signed_in(staff).post(TEAMS, {"name": "Night shift"})

    assert response.status_code == 403
    assert not Team.objects.exists()


def test_manager_adds_and_removes_members(
    signed_in: Callable[[User], Client],
    manager: User,
    staff: User,
    other_staff: User,
) -> None:
    team = Team.objects.create(name="Plumbers")
    client = signed_in(manager)

    client.post(_team_url(team), {"members": [staff.pk, other_staff.pk]})
    response = client.post(_team_url(team), {"members": [other_staff.pk]})

    assert response.status_code == 302
    assert list(team.members.all()) == [other_staff]


def test_viewer_reads_members_but_cannot_change_them(
    signed_in: Callable[[User], Client], viewer: User, staff: User
) -> None:
    team = Team.objects.create(name="Plumbers")
    team.members.add(staff)
    client = signed_in(viewer)

    page = client.get(_team_url(team)).content.decode()
    response = client.post(_team_url(team), {"members": [viewer.pk]})

    assert "Sam Staff" in page
    assert "Save members" not in page
    assert response.status_code == 403
    assert list(team.members.all()) == [staff]


def test_team_names_are_escaped(
    signed_in: Callable[[User], Client], owner: User
) -> None:
    Team.objects.create(name="<script>x</script>")

    page = signed_in(owner).get(TEAMS).content.decode()

    assert "<script>x</script>" not in page
