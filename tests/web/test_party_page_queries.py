"""The party page costs the same number of SQL queries whatever the history."""

import datetime as dt
from collections.abc import Callable

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.web.conftest import bulk_events
from threadline.accounts.models import User
from threadline.parties.models import Party


def _count_queries(client: Client, party: Party) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("web:party", args=[party.public_id]))
    assert response.status_code == 200
    return len(queries)


def test_party_page_queries_do_not_grow_with_the_history(
    signed_in: Callable[[User], Client],
    staff: User,
    make_party: Callable[..., Party],
    now: dt.datetime,
) -> None:
    client = signed_in(staff)
    short = make_party("Short History", phones=["+1 415 555 0100"], owner=staff)
    long = make_party("Long History", phones=["+1 415 555 0101"], owner=staff)
    bulk_events(short, 10, now)
    bulk_events(long, 10_000, now)
    _count_queries(client, short)  # warm the session and caches alike

    assert _count_queries(client, long) == _count_queries(client, short)
