"""Settings › Mailboxes: each mailbox's health, a stopped sync in plain sight."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from threadline.mail.models import Mailbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_IMAP_HOST", "imap.example.com")
    monkeypatch.setenv("THREADLINE_IMAP_USER", "desk@example.com")
    monkeypatch.setenv("THREADLINE_IMAP_PASSWORD", "secret")


def _page(client: Client, user) -> str:
    client.force_login(user)
    return client.get(reverse("web:settings_mailboxes")).content.decode()


def test_a_healthy_mailbox_shows_its_last_sync_without_warning(
    client, staff, configured
):
    Mailbox.objects.create(
        name="main", last_success_at=timezone.now() - dt.timedelta(minutes=4)
    )

    page = _page(client, staff)

    assert "desk@example.com on imap.example.com" in page
    assert "Last good sync 4\xa0minutes ago" in page
    assert "Stopped" not in page


def test_an_old_success_warns_that_the_sync_stopped(client, staff, configured):
    now = timezone.now()
    Mailbox.objects.create(
        name="main",
        last_attempt_at=now,
        last_success_at=now - dt.timedelta(days=2),
        messages_waiting=12,
        last_error="imap.example.com refused the user name or password.",
    )

    page = _page(client, staff)

    assert "Stopped" in page
    assert "a quiet inbox here does not mean no one wrote" in page
    assert "refused the user name or password" in page
    assert "12 messages waiting" in page


def test_a_configured_mailbox_never_synced_says_so(client, staff, configured):
    page = _page(client, staff)

    assert "never synced successfully" in page


def test_a_bad_configuration_is_shown_not_crashed_on(client, staff, monkeypatch):
    monkeypatch.setenv("THREADLINE_IMAP_HOST", "imap.example.com")
    monkeypatch.delenv("THREADLINE_IMAP_USER", raising=False)

    page = _page(client, staff)

    assert "THREADLINE_IMAP_USER and THREADLINE_IMAP_PASSWORD must be set" in page


def test_without_mailboxes_the_page_says_how_to_set_one_up(client, viewer):
    page = _page(client, viewer)

    assert "No mailbox is set up" in page
