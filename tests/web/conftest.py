"""Helpers for the web app's tests: signed-in clients and a small record."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from threadline.accounts.models import User
from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client: Client) -> Callable[[User], Client]:
    def sign_in(user: User) -> Client:
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def jane(make_party: Callable[..., Party], staff: User) -> Party:
    return make_party(
        "Jane Example",
        phones=["+1 415 555 0134"],
        emails=["jane@example.com"],
        stage="customer",
        owner=staff,
        actor=Actor.for_user(staff),
    )


def bulk_events(party: Party, count: int, start: dt.datetime) -> None:
    """Insert `count` calls quickly, one minute apart, ending before `start`."""
    Event.objects.bulk_create(
        [
            Event(
                party=party,
                kind=Kind.CALL,
                occurred_at=start - dt.timedelta(minutes=n + 1),
                occurred_tz="UTC",
                summary=f"Call number {n}",
                payload={"direction": "outbound"},
                direction="outbound",
                actor_kind="system",
                actor_label="bulk",
            )
            for n in range(count)
        ],
        batch_size=2000,
    )


def htmx(target: str = "") -> dict[str, Any]:
    headers = dict(HTMX)
    if target:
        headers["HTTP_HX_TARGET"] = target
    return headers
