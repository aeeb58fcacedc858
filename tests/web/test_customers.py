from collections.abc import Callable

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.web.conftest import htmx
from threadline.accounts.models import User
from threadline.parties.models import Party
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor


def test_customers_page_lists_parties(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = signed_in(staff).get(reverse("web:customers"))

    assert response.status_code == 200
    assert "Jane Example" in response.content.decode()
    assert "+1 415-555-0134" in response.content.decode()


def test_search_finds_a_phone_typed_another_way(
    signed_in: Callable[[User], Client],
    staff: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    make_party("Someone Else", phones=["+1 212 555 0199"])

    response = signed_in(staff).get(reverse("web:customers"), {"q": "(415) 555-0134"})

    page = response.content.decode()
    assert "Jane Example" in page
    assert "Someone Else" not in page


def test_search_answers_htmx_with_the_results_only(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = signed_in(staff).get(
        reverse("web:customers"), {"q": "jane"}, **htmx("customer-results")
    )

    page = response.content.decode()
    assert 'id="customer-results"' in page
    assert "<html" not in page
    assert "Jane Example" in page


def test_filters_by_stage_owner_and_tag(
    signed_in: Callable[[User], Client],
    staff: User,
    other_staff: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    make_party("Lead Larry", stage="lead", owner=other_staff, tags=["vip"])
    client = signed_in(staff)

    by_stage = client.get(reverse("web:customers"), {"stage": "lead"}).content.decode()
    mine = client.get(reverse("web:customers"), {"owner": "me"}).content.decode()
    by_tag = client.get(reverse("web:customers"), {"tag": "vip"}).content.decode()

    assert "Lead Larry" in by_stage and "Jane Example" not in by_stage
    assert "Jane Example" in mine and "Lead Larry" not in mine
    assert "Lead Larry" in by_tag and "Jane Example" not in by_tag


def test_customers_are_paginated(
    signed_in: Callable[[User], Client], staff: User, make_party: Callable[..., Party]
) -> None:
    for n in range(30):
        make_party(f"Customer {n:02d}")

    first = signed_in(staff).get(reverse("web:customers"))
    second = signed_in(staff).get(reverse("web:customers"), {"page": 2})

    assert "Customer 00" in first.content.decode()
    assert "Customer 29" not in first.content.decode()
    assert "Customer 29" in second.content.decode()


def test_restricted_party_is_not_listed_for_an_outsider(
    signed_in: Callable[[User], Client], owner: User, outsider: User, jane: Party
) -> None:
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    listing = signed_in(outsider).get(reverse("web:customers"))
    search = signed_in(outsider).get(reverse("web:customers"), {"q": "jane"})

    assert "Jane Example" not in listing.content.decode()
    assert "Jane Example" not in search.content.decode()


def test_header_search_jumps_to_a_single_match(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = signed_in(staff).get(
        reverse("web:customers"), {"q": "415 555 0134", "go": "1"}
    )

    assert response["Location"] == reverse("web:party", args=[jane.public_id])


def test_header_search_lists_several_matches(
    signed_in: Callable[[User], Client],
    staff: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    make_party("Jane Other")

    response = signed_in(staff).get(reverse("web:customers"), {"q": "jane", "go": "1"})

    assert response.status_code == 200
    assert "Jane Other" in response.content.decode()


def test_customer_list_costs_the_same_queries_for_more_customers(
    signed_in: Callable[[User], Client], staff: User, make_party: Callable[..., Party]
) -> None:
    client = signed_in(staff)
    for n in range(3):
        make_party(f"Few {n}", phones=[f"+1 415 555 01{n:02d}"], tags=["vip"])
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("web:customers"))

    for n in range(20):
        make_party(f"Many {n}", phones=[f"+1 415 555 02{n:02d}"], tags=["new"])
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("web:customers"))

    assert len(many) == len(few)


def test_unknown_tag_is_ignored_while_the_search_still_applies(
    signed_in: Callable[[User], Client],
    staff: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    make_party("Someone Else")

    response = signed_in(staff).get(
        reverse("web:customers"), {"q": "jane", "tag": "no-such-tag"}
    )

    page = response.content.decode()
    assert "Jane Example" in page
    assert "Someone Else" not in page


def test_names_are_escaped_in_the_list(
    signed_in: Callable[[User], Client], staff: User, make_party: Callable[..., Party]
) -> None:
    make_party("<script>alert('list')</script>", tags=["<b>tag</b>"])

    page = signed_in(staff).get(reverse("web:customers")).content.decode()

    assert "<script>alert" not in page
    assert "<b>tag</b>" not in page
    assert "&lt;script&gt;" in page
