import datetime as dt
from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from tests.web.conftest import bulk_events, htmx
from threadline.accounts.models import User
from threadline.followups.services import create_follow_up
from threadline.parties.models import Party
from threadline.parties.services import pin_fact, restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event
from threadline.timeline.services import record_event, redact_event


def _page(client: Client, party: Party, **params: str) -> str:
    response = client.get(reverse("web:party", args=[party.public_id]), params)
    assert response.status_code == 200
    return response.content.decode()


def test_party_page_shows_the_brief_and_the_timeline(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    record_event(jane, "call", "Talked about the boiler", actor=Actor.for_user(staff))
    pin_fact(jane, Actor.for_user(staff), "Dog in the garden", "preference")

    page = _page(signed_in(staff), jane)

    assert "Jane Example" in page
    assert "+1 415-555-0134" in page
    assert "Dog in the garden" in page
    assert "Talked about the boiler" in page
    assert 'id="quick-log"' in page


def test_a_booking_on_the_timeline_says_when_and_where_it_is_for(
    signed_in: Callable[[User], Client], staff: User, jane: Party, settings
) -> None:
    settings.TIME_ZONE = "Europe/London"
    record_event(
        jane,
        "booking",
        "Annual boiler service",
        actor=Actor.for_user(staff),
        payload={"starts_at": "2026-12-07T09:00:00+00:00", "site": "12 Mill Lane"},
    )
    record_event(
        jane,
        "invoice",
        "Invoice INV-9",
        actor=Actor.for_user(staff),
        payload={"amount": "300.00", "currency": "GBP", "due_on": "2026-12-20"},
    )

    page = _page(signed_in(staff), jane)

    assert "· for <time" in page
    assert "Mon 7 Dec 2026, 09:00</time> at 12 Mill Lane" in page
    assert "· due 2026-12-20" in page


def test_a_booking_to_come_is_open_work_on_the_brief(
    signed_in: Callable[[User], Client], staff: User, jane: Party, settings
) -> None:
    settings.TIME_ZONE = "Europe/London"
    starts = dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=6)
    record_event(
        jane,
        "booking",
        "Boiler service visit",
        actor=Actor.for_user(staff),
        payload={"starts_at": starts.isoformat(), "site": "12 Mill Lane"},
    )

    page = _page(signed_in(staff), jane)
    open_work = page[page.index('id="h-open"') : page.index('id="h-facts"')]

    assert "Boiler service visit" in open_work
    assert "at 12 Mill Lane" in open_work
    assert "Nothing open" not in open_work


def test_overdue_follow_up_is_a_warning_in_words(
    signed_in: Callable[[User], Client], staff: User, jane: Party, now: dt.datetime
) -> None:
    create_follow_up(
        jane, Actor.for_user(staff), "Ring back", now - dt.timedelta(days=2), staff
    )

    page = _page(signed_in(staff), jane)

    warnings = page[page.index('class="warnings"') : page.index('class="brief-next"')]
    assert "warning-danger" in warnings
    assert "Urgent" in warnings
    assert "Ring back" in warnings


def test_user_text_is_escaped(
    signed_in: Callable[[User], Client],
    staff: User,
    make_party: Callable[..., Party],
) -> None:
    evil = make_party("<script>alert('name')</script>", stage="customer")
    actor = Actor.for_user(staff)
    record_event(
        evil,
        "note",
        "<script>alert('summary')</script>",
        actor=actor,
        body="<img src=x onerror=alert(1)>",
    )
    pin_fact(evil, actor, "<b>bold</b> fact")

    page = _page(signed_in(staff), evil)

    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in page


def test_outsider_gets_404_on_a_restricted_party(
    signed_in: Callable[[User], Client], owner: User, outsider: User, jane: Party
) -> None:
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    response = signed_in(outsider).get(reverse("web:party", args=[jane.public_id]))

    assert response.status_code == 404
    assert "Jane Example" not in response.content.decode()


def test_viewer_sees_no_write_buttons(
    signed_in: Callable[[User], Client], viewer: User, jane: Party
) -> None:
    record_event(jane, "call", "A call", actor=Actor.system("test"))

    page = _page(signed_in(viewer), jane)

    assert "Jane Example" in page
    assert 'id="quick-log"' not in page
    assert "Edit details" not in page
    assert "Pin a fact" not in page
    assert "Correct or remove" not in page


def test_timeline_pages_back_with_an_older_link(
    signed_in: Callable[[User], Client], staff: User, jane: Party, now: dt.datetime
) -> None:
    bulk_events(jane, 45, now)
    client = signed_in(staff)

    first = _page(client, jane)
    cursor = first.split("before=")[1].split('"')[0].replace("&amp;", "&")
    older = client.get(
        reverse("web:party", args=[jane.public_id]),
        {"before": cursor},
        **htmx("timeline-more"),
    ).content.decode()

    assert "Call number 0<" in first
    assert "Call number 29<" not in first
    assert "Call number 29<" in older
    assert "Call number 0<" not in older
    assert "<html" not in older


def test_timeline_filters_by_kind(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    actor = Actor.for_user(staff)
    record_event(jane, "call", "Phoned about the leak", actor=actor)
    record_event(jane, "note", "Prefers mornings", actor=actor)

    fragment = (
        signed_in(staff)
        .get(
            reverse("web:party", args=[jane.public_id]),
            {"kind": "note"},
            **htmx("timeline"),
        )
        .content.decode()
    )

    assert "Prefers mornings" in fragment
    assert "Phoned about the leak" not in fragment


def test_as_of_shows_the_past_with_a_banner(
    signed_in: Callable[[User], Client], staff: User, jane: Party, now: dt.datetime
) -> None:
    record_event(jane, "call", "Recent call", actor=Actor.for_user(staff))
    yesterday = (now - dt.timedelta(days=1)).date().isoformat()

    page = _page(signed_in(staff), jane, as_of=yesterday)

    assert "Looking back" in page
    assert "Recent call" not in page
    assert 'id="quick-log"' not in page


def test_a_bad_as_of_date_is_explained(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    page = _page(signed_in(staff), jane, as_of="yesterday")

    assert "is not a date" in page


def test_as_of_shows_an_entry_removed_later(
    signed_in: Callable[[User], Client], staff: User, jane: Party, now: dt.datetime
) -> None:
    actor = Actor.for_user(staff)
    two_days_ago = now - dt.timedelta(days=2)
    call, _ = record_event(
        jane, "call", "Call later removed", actor=actor, occurred_at=two_days_ago
    )
    # Recorded back then: recorded_at is set on insert, so the test moves it.
    Event.objects.filter(pk=call.pk).update(recorded_at=two_days_ago)
    redact_event(call, actor=actor, reason="wrong customer")
    yesterday = (now - dt.timedelta(days=1)).date().isoformat()

    then = _page(signed_in(staff), jane, as_of=yesterday)
    today = _page(signed_in(staff), jane)

    assert "Call later removed" in then
    assert "Call later removed" not in today


def test_a_note_whose_text_is_its_summary_shows_it_once(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    actor = Actor.for_user(staff)
    record_event(jane, "note", "Gate code 4411", actor=actor, body="Gate code 4411")
    record_event(jane, "note", "Prefers mornings", actor=actor, body="Not Mondays.")

    page = _page(signed_in(staff), jane)

    assert page.count("Gate code 4411") == 1
    assert "Prefers mornings" in page
    assert "Not Mondays." in page
