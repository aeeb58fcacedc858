"""Settings → Users: the list, adding people, roles and deactivation."""

from collections.abc import Callable

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import PASSWORD
from threadline.accounts.models import Team, User
from threadline.parties.models import Party
from threadline.timeline.models import Event

USERS = reverse("web:settings_users")
NEW_PERSON = {
    "name": "Nora New",
    "email": "Nora@Example.com",
    "role": "staff",
    "password": "a long pass phrase 1",
}


def _role_url(user: User) -> str:
    return reverse("web:settings_user_role", args=[user.public_id])


def _deactivate_url(user: User) -> str:
    return reverse("web:settings_user_deactivate", args=[user.public_id])


def test_everyone_signed_in_sees_the_people_read_only(
    signed_in: Callable[[User], Client], owner: User, viewer: User
) -> None:
    response = signed_in(viewer).get(USERS)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Olivia Owner" in page
    assert "Add a person" not in page


def test_manager_adds_a_user(
    signed_in: Callable[[User], Client], manager: User
) -> None:
    response = signed_in(manager).post(USERS, NEW_PERSON)

    assert response.status_code == 302
    nora = User.objects.get(email="nora@example.com")
    assert (nora.name, nora.role) == ("Nora New", "staff")
    assert nora.check_password(NEW_PERSON["password"])


def test_staff_cannot_add_a_user(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    response = signed_in(staff).post(USERS, NEW_PERSON)

    assert response.status_code == 403
    assert not User.objects.filter(email="nora@example.com").exists()


def test_a_manager_is_not_offered_the_owner_role(
    signed_in: Callable[[User], Client], manager: User
) -> None:
    response = signed_in(manager).post(USERS, {**NEW_PERSON, "role": "owner"})

    assert response.status_code == 400
    assert not User.objects.filter(email="nora@example.com").exists()


def test_a_weak_password_and_a_taken_email_show_on_the_form(
    signed_in: Callable[[User], Client], manager: User, staff: User
) -> None:
    client = signed_in(manager)

    weak = client.post(USERS, {**NEW_PERSON, "password": "short"})
    taken = client.post(USERS, {**NEW_PERSON, "email": "SAM@example.com"})

    assert weak.status_code == 400
    assert "too short" in weak.content.decode()
    assert taken.status_code == 400
    assert "already has an account" in taken.content.decode()


def test_user_text_is_escaped_on_the_list(
    signed_in: Callable[[User], Client], owner: User
) -> None:
    User.objects.create_user("x@example.com", PASSWORD, name="<b>Bold</b>")

    page = signed_in(owner).get(USERS).content.decode()

    assert "<b>Bold</b>" not in page
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page


def test_owner_changes_a_role(
    signed_in: Callable[[User], Client], owner: User, staff: User
) -> None:
    response = signed_in(owner).post(_role_url(staff), {"role": "manager"})

    staff.refresh_from_db()
    assert response.status_code == 302
    assert staff.role == "manager"


def test_last_owner_cannot_be_demoted(
    signed_in: Callable[[User], Client], owner: User
) -> None:
    response = signed_in(owner).post(_role_url(owner), {"role": "manager"})

    owner.refresh_from_db()
    assert response.status_code == 400
    assert "at least one active owner" in response.content.decode()
    assert owner.role == "owner"


def test_manager_cannot_demote_an_owner(
    signed_in: Callable[[User], Client], owner: User, manager: User
) -> None:
    response = signed_in(manager).post(_role_url(owner), {"role": "staff"})

    owner.refresh_from_db()
    assert response.status_code == 403
    assert owner.role == "owner"


def test_staff_cannot_change_roles(
    signed_in: Callable[[User], Client], staff: User, other_staff: User
) -> None:
    response = signed_in(staff).post(_role_url(other_staff), {"role": "manager"})

    assert response.status_code == 403


def test_last_owner_cannot_be_deactivated(
    signed_in: Callable[[User], Client], owner: User, manager: User
) -> None:
    response = signed_in(manager).post(_deactivate_url(owner), {"hand_to": ""})

    owner.refresh_from_db()
    assert response.status_code == 400
    assert "at least one active owner" in response.content.decode()
    assert owner.is_active


def test_deactivation_with_handover_moves_parties_and_records_it(
    signed_in: Callable[[User], Client],
    manager: User,
    staff: User,
    other_staff: User,
    jane: Party,
) -> None:
    response = signed_in(manager).post(
        _deactivate_url(staff), {"hand_to": other_staff.pk}
    )

    jane.refresh_from_db()
    staff.refresh_from_db()
    assert response.status_code == 302
    assert not staff.is_active
    assert jane.owner == other_staff
    handover = Event.objects.get(party=jane, kind="handover")
    assert handover.payload["to_user"] == "Sasha Staff"


def test_refused_deactivation_hands_nothing_over(
    signed_in: Callable[[User], Client], owner: User, manager: User, jane: Party
) -> None:
    jane.owner = owner
    jane.save(update_fields=["owner"])

    response = signed_in(manager).post(_deactivate_url(owner), {"hand_to": manager.pk})

    jane.refresh_from_db()
    assert response.status_code == 400
    assert jane.owner == owner
    assert not Event.objects.filter(party=jane, kind="handover").exists()


def test_staff_cannot_deactivate(
    signed_in: Callable[[User], Client], staff: User, other_staff: User
) -> None:
    response = signed_in(staff).post(_deactivate_url(other_staff), {"hand_to": ""})

    other_staff.refresh_from_db()
    assert response.status_code == 403
    assert other_staff.is_active


def test_user_page_shows_the_forms_only_to_managers(
    signed_in: Callable[[User], Client], manager: User, staff: User, viewer: User
) -> None:
    url = reverse("web:settings_user", args=[viewer.public_id])

    as_staff = signed_in(staff).get(url).content.decode()
    as_manager = signed_in(manager).get(url).content.decode()

    assert "Change role" not in as_staff
    assert "Change role" in as_manager
    assert "Deactivate" in as_manager


def test_users_list_queries_stay_flat(
    signed_in: Callable[[User], Client], owner: User
) -> None:
    client = signed_in(owner)
    team = Team.objects.create(name="Plumbers")
    _add_people(3, team)
    with CaptureQueriesContext(connection) as few:
        client.get(USERS)

    _add_people(20, team, start=3)
    with CaptureQueriesContext(connection) as many:
        response = client.get(USERS)

    assert response.status_code == 200
    assert len(many) == len(few)


def _add_people(count: int, team: Team, start: int = 0) -> None:
    for n in range(start, start + count):
        person = User.objects.create_user(f"p{n}@example.com", PASSWORD, name=f"P {n}")
        team.members.add(person)
