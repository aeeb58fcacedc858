from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from threadline.accounts.models import User
from threadline.parties.models import Party, PinnedFact
from threadline.parties.services import pin_fact
from threadline.timeline.actors import Actor


def test_staff_pins_a_fact_that_shows_in_the_brief(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    client = signed_in(staff)

    client.post(
        reverse("web:fact_pin", args=[jane.public_id]),
        {"text": "Allergic to cats", "category": "preference"},
    )
    page = client.get(reverse("web:party", args=[jane.public_id])).content.decode()

    assert PinnedFact.objects.filter(party=jane, text="Allergic to cats").exists()
    assert "Allergic to cats" in page


def test_staff_unpins_a_fact(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    fact = pin_fact(jane, Actor.for_user(staff), "Old fact")

    signed_in(staff).post(
        reverse("web:fact_unpin", args=[jane.public_id, fact.public_id])
    )

    fact.refresh_from_db()
    assert fact.unpinned_at is not None


def test_viewer_cannot_pin(
    signed_in: Callable[[User], Client], viewer: User, jane: Party
) -> None:
    response = signed_in(viewer).post(
        reverse("web:fact_pin", args=[jane.public_id]), {"text": "Nope"}
    )

    assert response.status_code == 403
    assert not PinnedFact.objects.exists()
