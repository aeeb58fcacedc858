import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.test import Client
from django.urls import reverse

from tests.web.conftest import htmx
from threadline.accounts.models import User
from threadline.followups.models import FollowUp
from threadline.parties.models import Party
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event


def _log(
    client: Client, party: Party, headers: dict[str, Any] | None = None, **data: Any
):
    return client.post(
        reverse("web:log_event", args=[party.public_id]), data, **(headers or {})
    )


def test_quick_log_records_a_call_through_the_service(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = _log(
        signed_in(staff),
        jane,
        kind="call",
        summary="Rang about Friday",
        direction="inbound",
    )

    assert response.status_code == 302
    event = Event.objects.get(party=jane, kind="call")
    assert event.summary == "Rang about Friday"
    assert event.direction == "inbound"
    assert event.actor_user == staff
    jane.refresh_from_db()
    assert jane.last_interaction_at == event.occurred_at


def test_quick_log_under_htmx_answers_with_the_new_event_on_top(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = _log(
        signed_in(staff), jane, htmx("quick-log"), kind="note", summary="Gate code 4411"
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.index('id="timeline"') < page.index("Gate code 4411")
    first_event = page.index('class="event ')
    assert first_event < page.index("Gate code 4411") < page.index('hx-swap-oob="true"')
    assert "is-new" in page
    assert "<html" not in page


def test_quick_log_records_a_quote_with_its_money(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    _log(
        signed_in(staff),
        jane,
        kind="quote",
        summary="Annual service",
        amount="450.00",
        currency="usd",
    )

    event = Event.objects.get(party=jane, kind="quote")
    assert Decimal(event.payload["amount"]) == Decimal("450.00")
    assert event.payload["currency"] == "USD"


def test_quick_log_creates_a_follow_up(
    signed_in: Callable[[User], Client],
    staff: User,
    other_staff: User,
    jane: Party,
    now: dt.datetime,
) -> None:
    due = (now + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    _log(
        signed_in(staff),
        jane,
        kind="follow_up",
        summary="Send the invoice",
        due_at=due,
        assignee=other_staff.pk,
    )

    follow_up = FollowUp.objects.get(party=jane)
    assert follow_up.assignee == other_staff
    assert Event.objects.filter(party=jane, kind="follow_up").exists()


def test_missing_amount_shows_a_form_error_and_records_nothing(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = _log(
        signed_in(staff), jane, htmx("quick-log"), kind="payment", summary="Paid"
    )

    assert response["HX-Retarget"] == "#quick-log"
    assert "needs an amount" in response.content.decode()
    assert not Event.objects.filter(party=jane, kind="payment").exists()


def test_service_rejection_shows_beside_the_field(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = _log(
        signed_in(staff),
        jane,
        kind="quote",
        summary="Quote",
        amount="10.00",
        currency="XYZ",
    )

    assert response.status_code == 400
    assert "ISO 4217" in response.content.decode()
    assert not Event.objects.filter(party=jane, kind="quote").exists()


def test_viewer_cannot_log(
    signed_in: Callable[[User], Client], viewer: User, jane: Party
) -> None:
    response = _log(signed_in(viewer), jane, kind="note", summary="Sneaky")

    assert response.status_code == 403
    assert not Event.objects.filter(party=jane, kind="note").exists()


def test_outsider_cannot_log_on_a_restricted_party(
    signed_in: Callable[[User], Client], owner: User, outsider: User, jane: Party
) -> None:
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    response = _log(signed_in(outsider), jane, kind="note", summary="Sneaky")

    assert response.status_code == 404
