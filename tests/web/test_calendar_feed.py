"""The calendar feed: a secret address per person, no sign-in, only what
that person may see; and the party page's calendar download."""

import datetime as dt
import logging
from collections.abc import Callable

import icalendar
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from threadline.accounts.models import User
from threadline.accounts.services import deactivate_user, issue_calendar_token
from threadline.followups.services import create_follow_up
from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.services import record_event

SETTINGS = reverse("web:settings_calendar")


def feed_url(token: str) -> str:
    return reverse("web:calendar_feed", args=[token])


def book(party: Party, summary: str, days: int) -> None:
    starts = timezone.now() + dt.timedelta(days=days)
    record_event(
        party,
        Kind.BOOKING,
        summary,
        actor=Actor.system("test"),
        payload={"starts_at": starts.isoformat()},
    )


def summaries(response) -> set[str]:
    calendar = icalendar.Calendar.from_ical(response.content)
    return {str(event["SUMMARY"]) for event in calendar.walk("VEVENT")}


def test_feed_needs_no_sign_in_and_holds_my_work(
    client: Client, staff: User, other_staff: User, jane: Party
) -> None:
    book(jane, "Boiler service", days=3)
    book(jane, "Old visit", days=-40)
    book(jane, "Far ahead", days=400)
    due = timezone.now() + dt.timedelta(days=1)
    create_follow_up(jane, Actor.for_user(staff), "Send the quote", due, staff)
    create_follow_up(jane, Actor.for_user(staff), "Not mine", due, other_staff)
    token = issue_calendar_token(staff)

    response = client.get(feed_url(token))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert summaries(response) == {
        "Boiler service · Jane Example",
        "Follow-up: Send the quote · Jane Example",
    }
    assert "/customers/" in response.content.decode()


def test_restricted_parties_the_person_cannot_see_never_appear(
    client: Client, staff: User, outsider: User, jane: Party, make_party
) -> None:
    secret = make_party("Sealed Client", owner=staff)
    Party.objects.filter(pk=secret.pk).update(restricted=True)
    book(secret, "Private fitting", days=2)
    book(jane, "Boiler service", days=3)

    theirs = client.get(feed_url(issue_calendar_token(outsider)))
    owners = client.get(feed_url(issue_calendar_token(staff)))

    assert summaries(theirs) == {"Boiler service · Jane Example"}
    assert "Private fitting · Sealed Client" in summaries(owners)


def test_unknown_renewed_and_deactivated_feeds_are_not_found(
    client: Client, owner: User, staff: User
) -> None:
    first = issue_calendar_token(staff)
    second = issue_calendar_token(staff)

    assert client.get(feed_url("not-a-real-token-at-all")).status_code == 404
    assert client.get(feed_url(first)).status_code == 404
    assert client.get(feed_url(second[:-1] + "x")).status_code == 404
    assert client.get(feed_url(second)).status_code == 200
    deactivate_user(staff, Actor.for_user(owner))
    assert client.get(feed_url(second)).status_code == 404


def test_settings_creates_shows_renews_and_turns_off_the_feed(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    client = signed_in(staff)
    assert "Create my feed" in client.get(SETTINGS).content.decode()

    client.post(SETTINGS, {"action": "renew"})
    staff.refresh_from_db()
    first = staff.calendar_token
    page = client.get(SETTINGS).content.decode()
    assert f"http://testserver/calendar/{first}.ics" in page
    assert f"webcal://testserver/calendar/{first}.ics" in page
    assert "data-copy" in page

    client.post(SETTINGS, {"action": "renew"})
    staff.refresh_from_db()
    assert staff.calendar_token not in ("", first)
    assert client.get(feed_url(first)).status_code == 404

    client.post(SETTINGS, {"action": "off"})
    staff.refresh_from_db()
    assert staff.calendar_token == ""
    assert client.post(SETTINGS, {"action": "drop"}).status_code == 400


def test_party_page_offers_its_calendar_and_outsiders_get_none(
    signed_in: Callable[[User], Client], viewer: User, outsider: User, jane: Party
) -> None:
    book(jane, "Boiler service", days=3)
    url = reverse("web:party_calendar", args=[jane.public_id])
    client = signed_in(viewer)

    page = client.get(reverse("web:party", args=[jane.public_id])).content.decode()
    response = client.get(url)

    assert url in page
    assert response["Content-Disposition"] == (
        'attachment; filename="jane-example-calendar.ics"'
    )
    assert summaries(response) == {"Boiler service · Jane Example"}
    Party.objects.filter(pk=jane.pk).update(restricted=True)
    assert signed_in(outsider).get(url).status_code == 404


def test_feed_reads_the_same_few_queries_however_much_is_booked(
    client: Client, staff: User, jane: Party
) -> None:
    token = issue_calendar_token(staff)
    book(jane, "First visit", days=1)
    with CaptureQueriesContext(connection) as few:
        client.get(feed_url(token))
    for day in range(2, 12):
        book(jane, f"Visit {day}", days=day)
    due = timezone.now() + dt.timedelta(days=1)
    create_follow_up(jane, Actor.for_user(staff), "Send the quote", due, staff)

    with CaptureQueriesContext(connection) as many:
        response = client.get(feed_url(token))

    assert len(summaries(response)) == 12
    assert len(many) == len(few) <= 4


def test_a_refused_feed_address_stays_out_of_the_warning_log(
    client: Client, staff: User, caplog
) -> None:
    old = issue_calendar_token(staff)
    issue_calendar_token(staff)

    with caplog.at_level(logging.INFO):
        response = client.get(feed_url(old))

    assert response.status_code == 404
    assert old not in caplog.text
