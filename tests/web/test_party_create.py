from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from threadline.accounts.models import User
from threadline.parties.models import Party
from threadline.timeline.models import Event


def _form(**overrides: str) -> dict[str, str]:
    return {
        "kind": "person",
        "given_name": "Nora",
        "family_name": "New",
        "display_name": "",
        "stage": "lead",
        "owner": "",
        "preferred_channel": "",
        "contact_hours": "",
        "language": "",
        "time_zone": "",
        "consent": "unknown",
        "tags": "vip, residential",
        "email": "nora@example.com",
        "phone": "(415) 555-0177",
        "address": "",
        **overrides,
    }


def test_new_customer_form_renders(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    response = signed_in(staff).get(reverse("web:party_new"))

    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content


def test_new_customer_is_created_through_the_service(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    response = signed_in(staff).post(reverse("web:party_new"), _form())

    party = Party.objects.get(display_name="Nora New")
    assert response["Location"] == reverse("web:party", args=[party.public_id])
    assert party.contact_points.filter(value="+14155550177").exists()
    assert sorted(tag.name for tag in party.tags.all()) == ["residential", "vip"]
    assert Event.objects.filter(party=party, kind="profile_change").exists()


def test_bad_email_shows_a_form_error(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    response = signed_in(staff).post(reverse("web:party_new"), _form(email="nope"))

    assert response.status_code == 200
    assert "is not an email address" in response.content.decode()
    assert not Party.objects.exists()


def test_viewer_cannot_create(
    signed_in: Callable[[User], Client], viewer: User
) -> None:
    response = signed_in(viewer).post(reverse("web:party_new"), _form())

    assert response.status_code == 403
    assert not Party.objects.exists()


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("(415) 555-0177", "phone", "(415) 555-0177"),
        ("nora@example.com", "email", "nora@example.com"),
        ("Nora New", "family_name", "New"),
    ],
)
def test_a_search_that_found_no_one_prefills_the_form(
    signed_in: Callable[[User], Client], staff: User, query: str, field: str, value: str
) -> None:
    response = signed_in(staff).get(reverse("web:party_new"), {"q": query})

    assert response.context["form"].initial[field] == value
