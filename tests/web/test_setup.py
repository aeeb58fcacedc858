from django.test import Client
from django.urls import reverse

from threadline.accounts.models import Role, User
from threadline.accounts.services import issue_setup_token


def _form(**overrides: str) -> dict[str, str]:
    return {
        "name": "Olive First",
        "email": "olive@example.com",
        "password": "a long enough passphrase",
        "password_again": "a long enough passphrase",
        **overrides,
    }


def test_setup_link_creates_the_owner_and_signs_in(client: Client, db: None) -> None:
    token = issue_setup_token()

    page = client.get(reverse("accounts:setup", args=[token]))
    response = client.post(reverse("accounts:setup", args=[token]), _form())

    assert page.status_code == 200
    assert response["Location"] == reverse("web:today")
    owner = User.objects.get(email="olive@example.com")
    assert owner.role == Role.OWNER
    assert client.get(reverse("web:today")).status_code == 200


def test_setup_link_works_only_once(client: Client, db: None) -> None:
    token = issue_setup_token()
    client.post(reverse("accounts:setup", args=[token]), _form())
    client.logout()

    response = client.post(
        reverse("accounts:setup", args=[token]), _form(email="mallory@example.com")
    )

    assert response.status_code == 410
    assert not User.objects.filter(email="mallory@example.com").exists()


def test_unknown_setup_token_is_refused(client: Client, db: None) -> None:
    response = client.get(reverse("accounts:setup", args=["made-up"]))

    assert response.status_code == 410


def test_weak_password_shows_as_a_form_error(client: Client, db: None) -> None:
    token = issue_setup_token()

    response = client.post(
        reverse("accounts:setup", args=[token]),
        _form(password="short", password_again="short"),
    )

    assert response.status_code == 200
    assert b"too short" in response.content
    assert not User.objects.exists()
