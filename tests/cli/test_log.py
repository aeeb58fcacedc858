"""threadline log: recording an event on a customer from the shell."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from threadline.followups.models import FollowUp
from threadline.parties.models import Party
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event


def log(*args: str) -> str:
    out = StringIO()
    call_command("log", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def jane(make_party: Callable[..., Party]) -> Party:
    return make_party(
        given_name="Jane",
        family_name="Example",
        emails=["jane@example.com"],
        phones=["+1 415 555 0101"],
    )


@pytest.fixture
def janet(make_party: Callable[..., Party]) -> Party:
    return make_party(given_name="Janet", family_name="Exampleton")


def interactions(party: Party) -> list[Event]:
    return list(party.events.exclude(kind="profile_change"))


def test_log_records_an_inbound_call_found_by_phone_in_another_format(
    jane: Party,
) -> None:
    output = log(
        "(415) 555-0101", "call", "Asked about a boiler", "--field", "direction=inbound"
    )

    [event] = interactions(jane)
    assert event.kind == "call"
    assert event.direction == "inbound"
    assert event.actor_label == "command line"
    assert "Recorded call on Jane Example" in output


def test_log_records_a_quote_with_amount_and_currency(jane: Party) -> None:
    log(
        "jane@example.com",
        "quote",
        "New boiler",
        "--field",
        "amount=450.00",
        "--field",
        "currency=eur",
        "--at",
        "2026-03-02T14:30+01:00",
    )

    [event] = interactions(jane)
    assert Decimal(event.payload["amount"]) == Decimal("450.00")
    assert event.payload["currency"] == "EUR"
    assert event.occurred_at == dt.datetime(2026, 3, 2, 13, 30, tzinfo=dt.UTC)


def test_log_reads_a_time_without_offset_in_the_default_zone(
    jane: Party, settings: Any
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"

    log("Jane Example", "note", "Left a card", "--at", "2026-07-01T09:00")

    [event] = interactions(jane)
    assert event.occurred_at == dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC)


def test_log_as_a_user_records_them_as_the_actor(jane: Party, staff: Any) -> None:
    log("jane", "message", "Sent the quote", "--as", staff.email)

    [event] = interactions(jane)
    assert event.actor_user == staff


def test_log_as_a_viewer_changes_nothing(jane: Party, viewer: Any) -> None:
    with pytest.raises(CommandError, match="Viewers"):
        log("jane", "note", "Hello", "--as", viewer.email)

    assert interactions(jane) == []


def test_log_creates_a_follow_up_through_the_follow_up_service(
    jane: Party, staff: Any
) -> None:
    log(
        "jane",
        "follow_up",
        "Call back about the quote",
        "--field",
        "due=2026-03-04",
        "--field",
        f"assignee={staff.email}",
    )

    follow_up = FollowUp.objects.get(party=jane)
    assert follow_up.assignee == staff
    assert jane.events.filter(kind="follow_up").count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jane", "calll", "x"], "not a kind of event"),
        (["jane", "profile_change", "x"], "written by Threadline itself"),
        (
            ["jane", "quote", "x", "--field", "amount=4,50", "--field", "currency=EUR"],
            "amount",
        ),
        (
            ["jane", "quote", "x", "--field", "amount=450", "--field", "currency=XYZ"],
            "currency",
        ),
        (["jane", "call", "x", "--field", "colour=red"], "no field 'colour'"),
        (["jane", "call", "x", "--field", "direction"], "NAME=VALUE"),
        (["jane", "call", "x", "--field", "direction=sideways"], "direction"),
        (["jane", "call", "x", "--at", "next tuesday"], "not a date"),
        (["jane", "call", "x", "--as", "nobody@example.com"], "No member of staff"),
        (["jane", "follow_up", "x"], "due"),
    ],
)
def test_log_rejects_bad_input_and_changes_nothing(
    jane: Party, args: list[str], message: str
) -> None:
    before = Event.objects.count()

    with pytest.raises(CommandError, match=message):
        log(*args)

    assert Event.objects.count() == before
    assert not FollowUp.objects.exists()


def test_log_on_an_unknown_party_changes_nothing(jane: Party) -> None:
    before = Event.objects.count()

    with pytest.raises(CommandError, match="No customer matches"):
        log("Bob", "call", "Hello")

    assert Event.objects.count() == before


def test_log_on_an_ambiguous_query_lists_the_candidates(
    jane: Party, janet: Party
) -> None:
    before = Event.objects.count()

    with pytest.raises(CommandError) as raised:
        log("jan", "call", "Hello")

    assert "Jane Example" in str(raised.value)
    assert "Janet Exampleton" in str(raised.value)
    assert Event.objects.count() == before


def test_log_prefers_the_party_whose_name_matches_exactly(
    jane: Party, make_party: Callable[..., Party]
) -> None:
    make_party(given_name="Jane", family_name="Examples")

    log("Jane Example", "note", "Exact match wins")

    assert len(interactions(jane)) == 1


def test_log_hides_restricted_parties_from_a_user_without_access(
    jane: Party, owner: Any, outsider: Any
) -> None:
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    with pytest.raises(CommandError, match="No customer matches"):
        log("jane@example.com", "note", "Hello", "--as", outsider.email)


def test_log_reads_a_plain_date_as_the_start_of_that_local_day(
    jane: Party, settings: Any
) -> None:
    settings.TIME_ZONE = "America/New_York"

    log("jane@example.com", "visit", "Serviced the boiler", "--at", "2026-02-10")

    [event] = interactions(jane)
    assert event.occurred_at == dt.datetime(2026, 2, 10, 5, 0, tzinfo=dt.UTC)


def test_quote_without_currency_takes_the_business_currency(settings, make_party):
    from io import StringIO

    from django.core.management import call_command

    from threadline.timeline.models import Event

    settings.DEFAULT_CURRENCY = "GBP"
    make_party("Currency Test", emails=["currency@example.com"])

    call_command(
        "log",
        "currency@example.com",
        "quote",
        "Boiler",
        "--field",
        "amount=450",
        stdout=StringIO(),
    )

    assert Event.objects.get(kind="quote").payload["currency"] == "GBP"
