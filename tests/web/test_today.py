import datetime as dt
from collections.abc import Callable

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from threadline.accounts.models import User
from threadline.accounts.services import create_team, set_team_members
from threadline.followups.services import create_follow_up
from threadline.parties.models import Party
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.services import record_event
from threadline.web.today import FOLLOW_UP_LIMIT


def _fill_day(party: Party, user: User, now: dt.datetime) -> None:
    actor = Actor.for_user(user)
    create_follow_up(
        party, actor, "Call back about the quote", now - dt.timedelta(1), user
    )
    create_follow_up(
        party, actor, "Send the invoice", now + dt.timedelta(minutes=1), user
    )
    record_event(
        party,
        "message",
        "Can you come on Friday?",
        actor=actor,
        payload={"direction": "inbound"},
    )
    record_event(
        party,
        "booking",
        "Boiler check",
        actor=actor,
        # Noon is today whenever the test runs; a time near midnight is not.
        payload={"starts_at": timezone.localtime(now).replace(hour=12).isoformat()},
    )


def test_today_shows_my_follow_ups_messages_and_bookings(
    signed_in: Callable[[User], Client], staff: User, jane: Party, now: dt.datetime
) -> None:
    _fill_day(jane, staff, now)

    response = signed_in(staff).get(reverse("web:today"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Call back about the quote" in page
    assert "Overdue" in page
    assert "Can you come on Friday?" in page
    assert "Waiting for our reply" in page
    assert "Boiler check" in page


def test_today_shows_an_all_day_booking_without_a_time(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    today = dt.datetime.now(tz=dt.UTC).date()
    record_event(
        jane,
        "booking",
        "Site survey",
        actor=Actor.for_user(staff),
        payload={
            "starts_at": dt.datetime.combine(today, dt.time.min, dt.UTC).isoformat(),
            "all_day": True,
            "first_day": today.isoformat(),
        },
    )

    page = signed_in(staff).get(reverse("web:today")).content.decode()

    assert "Site survey" in page
    assert '<span class="time">All day</span>' in page


def test_today_lists_my_customers_gone_quiet(
    signed_in: Callable[[User], Client],
    staff: User,
    make_party: Callable[..., Party],
    now: dt.datetime,
) -> None:
    quiet = make_party("Quiet Quentin", stage="customer", owner=staff)
    record_event(
        quiet,
        "visit",
        "Serviced the boiler",
        actor=Actor.system("test"),
        occurred_at=now - dt.timedelta(days=200),
    )

    response = signed_in(staff).get(reverse("web:today"))

    assert "Quiet Quentin" in response.content.decode()


def test_today_hides_restricted_parties_from_outsiders(
    signed_in: Callable[[User], Client],
    owner: User,
    outsider: User,
    jane: Party,
    now: dt.datetime,
) -> None:
    _fill_day(jane, owner, now)
    # Assigned while the outsider's team could see the party; leaving the team
    # must hide it from their Today.
    actor = Actor.for_user(owner)
    team = create_team("Night shift", actor)
    set_team_members(team, [outsider], actor)
    restrict_party(jane, actor, restricted=True, teams=[team])
    create_follow_up(
        jane, Actor.system("test"), "Secret follow-up", now - dt.timedelta(1), outsider
    )
    set_team_members(team, [], actor)

    response = signed_in(outsider).get(reverse("web:today"))

    page = response.content.decode()
    assert "Jane Example" not in page
    assert "Secret follow-up" not in page
    assert "Boiler check" not in page


def test_today_costs_the_same_queries_with_more_work(
    signed_in: Callable[[User], Client],
    staff: User,
    make_party: Callable[..., Party],
    now: dt.datetime,
) -> None:
    client = signed_in(staff)
    _fill_day(make_party("First", owner=staff), staff, now)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("web:today"))

    for n in range(5):
        _fill_day(make_party(f"Party {n}", owner=staff), staff, now)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("web:today"))

    assert len(many) == len(few)


def test_a_long_backlog_shows_the_oldest_and_says_there_is_more(
    signed_in: Callable[[User], Client], staff: User, jane: Party, now: dt.datetime
) -> None:
    actor = Actor.for_user(staff)
    for n in range(FOLLOW_UP_LIMIT + 3):
        create_follow_up(
            jane, actor, f"Backlog item {n:02d}", now - dt.timedelta(days=n + 1), staff
        )

    page = signed_in(staff).get(reverse("web:today")).content.decode()

    assert f"Backlog item {FOLLOW_UP_LIMIT + 2:02d}" in page  # the oldest
    assert "Backlog item 00" not in page
    assert "More are waiting" in page


def test_what_customers_wrote_is_escaped(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    record_event(
        jane,
        "message",
        "<script>alert('inbound')</script>",
        actor=Actor.for_user(staff),
        payload={"direction": "inbound"},
    )

    page = signed_in(staff).get(reverse("web:today")).content.decode()

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;inbound&#x27;)" in page


def test_today_says_when_a_list_has_more_than_it_shows(client, staff, make_party):
    from threadline.timeline.actors import Actor
    from threadline.timeline.services import record_event
    from threadline.web.today import LIST_LIMIT

    for number in range(LIST_LIMIT + 1):
        party = make_party(f"Waiting {number:02d}")
        record_event(
            party,
            "message",
            "Hello?",
            actor=Actor.for_user(staff),
            payload={"direction": "inbound"},
        )
    client.force_login(staff)

    page = client.get("/").content.decode()

    assert f"{LIST_LIMIT}+" in page
