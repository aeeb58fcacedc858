"""Your account: one's own name and time zone, beside the password link."""

from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from threadline.accounts.models import User

PROFILE = reverse("accounts:profile")


def test_page_links_to_the_password_change(
    signed_in: Callable[[User], Client], viewer: User
) -> None:
    page = signed_in(viewer).get(PROFILE).content.decode()

    assert reverse("accounts:password_change") in page


def test_time_zone_is_saved_and_shown(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    client = signed_in(staff)

    response = client.post(PROFILE, {"name": "Sam", "time_zone": "Asia/Tokyo"})
    page = client.get(PROFILE)

    staff.refresh_from_db()
    assert response.status_code == 302
    assert staff.time_zone == "Asia/Tokyo"
    assert '<option value="Asia/Tokyo" selected>' in page.content.decode()


def test_unknown_time_zone_is_refused(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    response = signed_in(staff).post(PROFILE, {"name": "Sam", "time_zone": "Mars/X"})

    staff.refresh_from_db()
    assert response.status_code == 400
    assert staff.time_zone == ""


def test_signed_out_visitor_is_sent_to_sign_in(client: Client) -> None:
    response = client.get(PROFILE)

    assert response.status_code == 302
    assert reverse("accounts:login") in response.url
