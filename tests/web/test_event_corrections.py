from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from tests.web.conftest import htmx
from threadline.accounts.models import User
from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event
from threadline.timeline.services import record_event


@pytest.fixture
def call(jane: Party, staff: User) -> Event:
    event, _ = record_event(
        jane, "call", "Rang about Tusday", actor=Actor.for_user(staff)
    )
    return event


def test_correcting_an_event_shows_the_new_version(
    signed_in: Callable[[User], Client], staff: User, jane: Party, call: Event
) -> None:
    client = signed_in(staff)

    response = client.post(
        reverse("web:event_correct", args=[jane.public_id, call.public_id]),
        {"summary": "Rang about Tuesday", "body": ""},
        **htmx(),
    )
    page = client.get(reverse("web:party", args=[jane.public_id])).content.decode()

    assert "Rang about Tuesday" in response.content.decode()
    assert "Rang about Tusday" not in page
    assert Event.objects.filter(corrects=call).exists()


def test_redacting_needs_a_reason_and_hides_the_event(
    signed_in: Callable[[User], Client], staff: User, jane: Party, call: Event
) -> None:
    client = signed_in(staff)
    url = reverse("web:event_redact", args=[jane.public_id, call.public_id])

    refused = client.post(url, {"reason": ""})
    client.post(url, {"reason": "Logged on the wrong customer"})
    page = client.get(reverse("web:party", args=[jane.public_id])).content.decode()

    assert refused.status_code == 302
    assert "Rang about Tusday" not in page
    assert Event.objects.filter(corrects=call, kind="correction").count() == 1


def test_viewer_cannot_correct(
    signed_in: Callable[[User], Client], viewer: User, jane: Party, call: Event
) -> None:
    response = signed_in(viewer).post(
        reverse("web:event_correct", args=[jane.public_id, call.public_id]),
        {"summary": "Changed"},
    )

    assert response.status_code == 403
    assert not Event.objects.filter(corrects=call).exists()


def test_profile_changes_cannot_be_corrected_here(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    created = Event.objects.get(party=jane, kind="profile_change")

    response = signed_in(staff).post(
        reverse("web:event_redact", args=[jane.public_id, created.public_id]),
        {"reason": "tidy"},
    )

    assert response.status_code == 404


def test_correction_forms_load_inline_or_as_a_page(
    signed_in: Callable[[User], Client], staff: User, jane: Party, call: Event
) -> None:
    client = signed_in(staff)
    url = reverse("web:event", args=[jane.public_id, call.public_id])

    inline = client.get(url, **htmx()).content.decode()
    page = client.get(url).content.decode()

    assert "Corrected summary" in inline and "<html" not in inline
    assert "Corrected summary" in page and "<html" in page


def test_a_removed_entry_has_no_correction_forms(
    signed_in: Callable[[User], Client], staff: User, jane: Party, call: Event
) -> None:
    client = signed_in(staff)
    client.post(
        reverse("web:event_redact", args=[jane.public_id, call.public_id]),
        {"reason": "duplicate"},
    )

    response = client.get(reverse("web:event", args=[jane.public_id, call.public_id]))

    assert response.status_code == 404
