from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from threadline.accounts.models import User
from threadline.parties.models import ContactPoint, Party


def test_staff_adds_a_phone_in_any_format(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = signed_in(staff).post(
        reverse("web:point_add", args=[jane.public_id]),
        {"kind": "phone", "raw": "(212) 555-0199", "label": "work"},
    )

    assert response.status_code == 302
    point = jane.contact_points.get(value="+12125550199")
    assert point.label == "work"


def test_bad_email_is_a_form_error(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = signed_in(staff).post(
        reverse("web:point_add", args=[jane.public_id]),
        {"kind": "email", "raw": "not-an-email"},
    )

    assert response.status_code == 400
    assert "is not an email address" in response.content.decode()


def test_staff_removes_a_contact_point(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    point = jane.contact_points.get(kind="email")

    signed_in(staff).post(
        reverse("web:point_remove", args=[jane.public_id, point.public_id])
    )

    assert not ContactPoint.objects.filter(pk=point.pk).exists()


def test_viewer_cannot_add_or_remove(
    signed_in: Callable[[User], Client], viewer: User, jane: Party
) -> None:
    client = signed_in(viewer)
    point = jane.contact_points.get(kind="email")

    added = client.post(
        reverse("web:point_add", args=[jane.public_id]),
        {"kind": "phone", "raw": "(212) 555-0199"},
    )
    removed = client.post(
        reverse("web:point_remove", args=[jane.public_id, point.public_id])
    )

    assert added.status_code == 403
    assert removed.status_code == 403
    assert jane.contact_points.count() == 2
