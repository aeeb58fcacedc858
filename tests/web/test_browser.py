"""A receptionist's path through the app in a real Chromium, driven by Playwright."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from tests.conftest import PASSWORD
from threadline.accounts.models import User
from threadline.followups.services import create_follow_up
from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed at /usr/bin/chromium",
    ),
]


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread, and Django
    # refuses database calls from a thread with a running loop unless told.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()
        # Database calls made while Playwright's loop runs have connections
        # of their own, which nothing else closes; an open one keeps
        # PostgreSQL from dropping the test database at the end.
        connections.close_all()


def test_receptionist_finds_a_customer_by_phone_and_logs_a_call(
    live_server: Any,
    transactional_db: None,
    browser_page: Any,
    staff: User,
    jane: Party,
) -> None:
    create_follow_up(
        jane,
        Actor.for_user(staff),
        "Ring back about the Friday slot",
        dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
        staff,
    )
    page = browser_page

    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")

    page.keyboard.press("/")
    page.keyboard.type("(415) 555-0134")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/customers/{jane.public_id}/")
    page.wait_for_selector("#quick-log")

    warning = page.locator(".warnings .warning-danger").first
    assert "Ring back about the Friday slot" in warning.inner_text()
    assert "URGENT" in warning.inner_text().upper()

    page.keyboard.press("l")
    page.keyboard.type("Rang about the Friday slot, booked it")
    page.select_option("#id_direction", "outbound")
    page.click("#quick-log button[type=submit]")

    first = page.locator("#timeline .event").first
    first.get_by_text("Rang about the Friday slot, booked it").wait_for()
    assert "CALL" in first.inner_text().upper()
    assert Event.objects.filter(
        party=jane, kind="call", summary="Rang about the Friday slot, booked it"
    ).exists()
