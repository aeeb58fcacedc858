"""Syncing an IMAP folder through a fake client that answers like imapclient's."""

import datetime as dt
import socket
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from tests.mail.conftest import build_message
from threadline.mail.imap import (
    ImapSettings,
    SyncBusy,
    SyncFailed,
    configured_mailboxes,
    is_stale,
    sync_mailbox,
)
from threadline.mail.models import Mailbox, UnknownSender
from threadline.parties.models import Party
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event

pytestmark = pytest.mark.django_db

SETTINGS = ImapSettings(
    name="main",
    suffix="",
    host="imap.example.com",
    port=993,
    username="sales@example.com",
    password="secret",
)


class FakeImap:
    """A folder on a pretend server: UIDs, a UIDVALIDITY and failures to order."""

    def __init__(self, messages: dict[int, bytes], validity: int = 7) -> None:
        self.folders = {"INBOX": (validity, dict(messages))}
        self.fail_on_fetch: int | None = None
        self.fetches = 0
        self.logged_out = False

    def select_folder(self, folder: str, readonly: bool = False) -> dict[bytes, Any]:
        if folder not in self.folders:
            raise IMAPClientError(f"select failed: Mailbox doesn't exist: {folder}")
        self.selected = folder
        return {b"UIDVALIDITY": self.folders[folder][0], b"EXISTS": 1}

    def search(self, criteria: Any = "ALL", charset: str | None = None) -> list[int]:
        assert criteria[0] == "UID"
        low = int(criteria[1].split(":")[0])
        uids = sorted(self.folders[self.selected][1])
        # Like a real server: "n:*" includes the last message even below n.
        return [uid for uid in uids if uid >= low] or uids[-1:]

    def fetch(self, messages: list[int], data: list[bytes]) -> dict[int, Any]:
        assert b"BODY.PEEK[]" in data
        self.fetches += 1
        if self.fail_on_fetch == self.fetches:
            raise IMAPClientAbortError("socket error: EOF")
        folder = self.folders[self.selected][1]
        return {
            uid: {
                b"BODY[]": folder[uid],
                b"INTERNALDATE": dt.datetime(2025, 3, 4, 9, 0, tzinfo=dt.UTC),
                b"SEQ": index,
            }
            for index, uid in enumerate(messages, start=1)
            if uid in folder
        }

    def logout(self) -> None:
        self.logged_out = True


def _inbox(count: int) -> dict[int, bytes]:
    return {
        uid: build_message(
            message_id=f"<m{uid}@example.net>", subject=f"Question {uid}"
        )
        for uid in range(1, count + 1)
    }


def _opener(client: Any) -> Callable[[ImapSettings], Any]:
    return lambda settings: client


def _failing(error: BaseException) -> Callable[[ImapSettings], Any]:
    def open_client(settings: ImapSettings) -> Any:
        raise error

    return open_client


@pytest.fixture
def jane(make_party: Callable[..., Party]) -> Party:
    return make_party("Jane Example", emails=["jane@example.net"])


def _messages(party: Party) -> list[Event]:
    return list(Event.objects.filter(party=party, kind=Kind.MESSAGE))


def test_sync_records_new_messages_and_keeps_health(jane):
    client = FakeImap(_inbox(3))

    result = sync_mailbox(SETTINGS, open_client=_opener(client))

    assert result.fetched == 3
    assert len(_messages(jane)) == 3
    mailbox = Mailbox.objects.get()
    assert (mailbox.uid_validity, mailbox.last_uid) == (7, 3)
    assert mailbox.messages_waiting == 0
    assert mailbox.last_success_at is not None
    assert mailbox.last_error == ""
    assert client.logged_out
    assert _messages(jane)[0].actor_label == "mail sync of main"


def test_a_second_sync_fetches_only_newer_uids(jane):
    client = FakeImap(_inbox(2))
    sync_mailbox(SETTINGS, open_client=_opener(client))
    client.folders["INBOX"][1][3] = build_message(message_id="<m3@example.net>")

    result = sync_mailbox(SETTINGS, open_client=_opener(client))

    assert result.fetched == 1
    assert len(_messages(jane)) == 3


def test_nothing_new_fetches_nothing(jane):
    client = FakeImap(_inbox(2))
    sync_mailbox(SETTINGS, open_client=_opener(client))

    result = sync_mailbox(SETTINGS, open_client=_opener(client))

    assert result.fetched == 0
    assert len(_messages(jane)) == 2


def test_a_sync_killed_in_the_middle_resumes_where_it_stopped(jane):
    client = FakeImap(_inbox(5))
    client.fail_on_fetch = 2

    with pytest.raises(SyncFailed, match="closed the connection"):
        sync_mailbox(SETTINGS, open_client=_opener(client), batch_size=2)

    mailbox = Mailbox.objects.get()
    assert mailbox.last_uid == 2
    assert mailbox.messages_waiting == 3
    assert len(_messages(jane)) == 2
    client.fail_on_fetch = None
    client.fetches = 0

    result = sync_mailbox(SETTINGS, open_client=_opener(client), batch_size=2)

    assert result.fetched == 3
    assert len(_messages(jane)) == 5
    mailbox.refresh_from_db()
    assert (mailbox.last_uid, mailbox.messages_waiting, mailbox.last_error) == (
        5,
        0,
        "",
    )


def test_changed_uidvalidity_reads_the_folder_again_without_doubling(jane):
    client = FakeImap(_inbox(3))
    sync_mailbox(SETTINGS, open_client=_opener(client))
    renumbered = {uid + 100: raw for uid, raw in _inbox(3).items()}
    client.folders["INBOX"] = (8, renumbered)

    result = sync_mailbox(SETTINGS, open_client=_opener(client))

    assert result.fetched == 3
    assert len(_messages(jane)) == 3
    assert Mailbox.objects.get().uid_validity == 8


def test_unknown_senders_are_held_over_imap_too(db):
    client = FakeImap(_inbox(2))

    result = sync_mailbox(SETTINGS, open_client=_opener(client))

    assert result.held == 2
    assert UnknownSender.objects.get().message_count == 2


def test_an_unusable_message_is_skipped_with_its_uid(jane):
    inbox = _inbox(2)
    inbox[2] = b"Subject: no addresses at all\r\n\r\nhello\r\n"
    client = FakeImap(inbox)

    result = sync_mailbox(SETTINGS, open_client=_opener(client))

    assert result.skipped == [(2, "no sender or recipient address could be read")]
    assert Mailbox.objects.get().last_uid == 2


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (LoginError("[AUTHENTICATIONFAILED] Invalid credentials"), "password"),
        (socket.gaierror(-2, "Name or service not known"), "could not be found"),
        (ConnectionRefusedError(111, "Connection refused"), "refused the connection"),
        (TimeoutError("timed out"), "unreachable"),
    ],
)
def test_connection_errors_are_stored_in_words_to_act_on(db, error, words):
    with pytest.raises(SyncFailed) as raised:
        sync_mailbox(SETTINGS, open_client=_failing(error))

    mailbox = Mailbox.objects.get()
    assert words in mailbox.last_error
    assert mailbox.last_error == raised.value.message
    assert mailbox.last_attempt_at is not None
    assert mailbox.last_success_at is None


def test_missing_folder_names_the_variable_to_fix(db):
    client = FakeImap(_inbox(1))
    settings = ImapSettings(**{**SETTINGS.__dict__, "folder": "Kunden"})

    with pytest.raises(SyncFailed):
        sync_mailbox(settings, open_client=_opener(client))

    error = Mailbox.objects.get().last_error
    assert "'Kunden' does not exist" in error
    assert "THREADLINE_IMAP_FOLDER" in error


def test_a_failed_sync_keeps_the_last_success(jane, now):
    sync_mailbox(SETTINGS, open_client=_opener(FakeImap(_inbox(1))))

    with pytest.raises(SyncFailed):
        sync_mailbox(SETTINGS, open_client=_failing(LoginError("no")))

    mailbox = Mailbox.objects.get()
    assert mailbox.last_success_at is not None
    assert not is_stale(mailbox)
    assert is_stale(mailbox, now + dt.timedelta(days=2))


def test_mailboxes_are_configured_by_suffix(monkeypatch):
    monkeypatch.setenv("THREADLINE_IMAP_HOST", "imap.example.com")
    monkeypatch.setenv("THREADLINE_IMAP_USER", "desk@example.com")
    monkeypatch.setenv("THREADLINE_IMAP_PASSWORD", "pw")
    monkeypatch.setenv("THREADLINE_IMAP_HOST_SALES", "mail.example.org")
    monkeypatch.setenv("THREADLINE_IMAP_USER_SALES", "sales@example.org")
    monkeypatch.setenv("THREADLINE_IMAP_PASSWORD_SALES", "pw2")
    monkeypatch.setenv("THREADLINE_IMAP_SSL_SALES", "off")
    monkeypatch.setenv("THREADLINE_IMAP_FOLDER_SALES", "Customers")

    main, sales = configured_mailboxes()

    assert (main.name, main.port, main.ssl, main.folder) == ("main", 993, True, "INBOX")
    assert (sales.name, sales.port, sales.ssl, sales.folder) == (
        "sales",
        143,
        False,
        "Customers",
    )


def test_the_command_says_when_nothing_is_configured(db, monkeypatch):
    monkeypatch.delenv("THREADLINE_IMAP_HOST", raising=False)

    with pytest.raises(CommandError, match="No mailbox is configured"):
        call_command("mail", "sync")


def test_status_says_alike_when_nothing_is_configured(db, monkeypatch, capsys):
    monkeypatch.delenv("THREADLINE_IMAP_HOST", raising=False)

    call_command("mail", "status")

    assert capsys.readouterr().out.startswith("No mailbox is configured. Set")


def test_status_of_a_configured_mailbox_never_synced_says_to_sync(
    db, monkeypatch, capsys
):
    monkeypatch.setenv("THREADLINE_IMAP_HOST", "imap.example.com")
    monkeypatch.setenv("THREADLINE_IMAP_USER", "desk@example.com")
    monkeypatch.setenv("THREADLINE_IMAP_PASSWORD", "pw")

    call_command("mail", "status")

    assert "main configured); run `threadline mail sync`" in capsys.readouterr().out


def test_the_command_reports_a_failed_mailbox(db, monkeypatch, capsys):
    monkeypatch.setenv("THREADLINE_IMAP_HOST", "imap.invalid")
    monkeypatch.setenv("THREADLINE_IMAP_USER", "desk@example.com")
    monkeypatch.setenv("THREADLINE_IMAP_PASSWORD", "pw")
    monkeypatch.setattr(
        "threadline.mail.imap.connect", _failing(socket.gaierror(-2, "unknown"))
    )

    with pytest.raises(CommandError, match="failed for: main"):
        call_command("mail", "sync")

    call_command("mail", "status")
    output = capsys.readouterr()
    assert "imap.invalid could not be found" in output.err
    assert "last good sync never" in output.out
    assert "last error: The host imap.invalid could not be found" in output.out
    # A mailbox tried a minute ago has not gone a day without mail.
    assert "STOPPED" not in output.out

    Mailbox.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    call_command("mail", "status")
    assert "STOPPED: no good sync for over a day" in capsys.readouterr().out


def test_a_second_sync_stands_aside_while_one_runs(jane, now):
    Mailbox.objects.create(name="main", sync_alive_at=now - dt.timedelta(minutes=1))

    with pytest.raises(SyncBusy, match="stood aside"):
        sync_mailbox(SETTINGS, open_client=_opener(FakeImap(_inbox(2))))

    assert not _messages(jane)
    assert Mailbox.objects.get().last_error == ""


def test_a_sync_silent_for_long_is_taken_over(jane, now):
    Mailbox.objects.create(name="main", sync_alive_at=now - dt.timedelta(hours=1))

    sync_mailbox(SETTINGS, open_client=_opener(FakeImap(_inbox(2))))

    assert len(_messages(jane)) == 2
    assert Mailbox.objects.get().sync_alive_at is None
