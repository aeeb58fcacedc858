from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from threadline.accounts.models import User


def test_sign_in_page_renders(client: Client, db: None) -> None:
    response = client.get(reverse("accounts:login"))

    assert response.status_code == 200
    assert b"Sign in" in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_pages_ask_a_stranger_to_sign_in(client: Client, db: None) -> None:
    response = client.get(reverse("web:today"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_staff_signs_in_and_lands_on_today(client: Client, staff: User) -> None:
    response = client.post(
        reverse("accounts:login"),
        {"username": "sam@example.com", "password": PASSWORD},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("web:today")
    assert b"Today" in response.content


def test_wrong_password_is_refused_with_a_message(client: Client, staff: User) -> None:
    response = client.post(
        reverse("accounts:login"),
        {"username": "sam@example.com", "password": "not the password"},
    )

    assert response.status_code == 200
    assert b"do not match" in response.content


def test_sign_out_ends_the_session(client: Client, staff: User) -> None:
    client.force_login(staff)

    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert client.get(reverse("web:today")).status_code == 302


def test_password_change_works(client: Client, staff: User) -> None:
    client.force_login(staff)
    new = "a brand new passphrase 42"

    page = client.get(reverse("accounts:password_change"))
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )

    assert page.status_code == 200
    assert response["Location"] == reverse("accounts:password_change_done")
    staff.refresh_from_db()
    assert staff.check_password(new)


def test_first_visitor_is_pointed_to_the_setup_link(client: Client, db: None) -> None:
    response = client.get(reverse("accounts:login"))

    assert b"has no owner yet" in response.content


def test_no_setup_hint_once_an_owner_exists(client: Client, owner: User) -> None:
    response = client.get(reverse("accounts:login"))

    assert b"has no owner yet" not in response.content


def test_an_expired_session_under_htmx_reloads_the_whole_page(
    client: Client, db: None
) -> None:
    response = client.get(
        reverse("web:customers"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/customers/?q=jane",
    )

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("accounts:login"))
    assert "next=/customers/%3Fq%3Djane" in response["HX-Redirect"]
