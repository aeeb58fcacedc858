"""Syncing IMAP folders onto the timelines, incrementally and resumably.

Each configured mailbox remembers the highest UID it has recorded under the
folder's UIDVALIDITY. A sync asks only for newer UIDs, fetches them in
batches and commits each batch together with the new high-water mark, so a
sync killed in the middle resumes after the last whole batch. When the
server announces another UIDVALIDITY, its UIDs mean other messages: the
folder is read again, and the messages' Message-IDs keep anything from
being recorded twice.

Mailboxes are configured from the environment: THREADLINE_IMAP_HOST, _PORT,
_USER, _PASSWORD, _FOLDER (INBOX) and _SSL (on); a second mailbox uses the
same names with a suffix, such as THREADLINE_IMAP_HOST_SALES.
"""

import datetime as dt
import logging
import os
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from threadline import config
from threadline.errors import ThreadlineError
from threadline.mail.models import Mailbox
from threadline.mail.parsing import parse_message
from threadline.mail.services import OwnAddresses, own_addresses, record_message
from threadline.timeline.actors import Actor

logger = logging.getLogger(__name__)

# Messages per fetch and per commit: a few megabytes of mail at most, and
# about a second of writing on SQLite.
BATCH_SIZE = 50
TIMEOUT_SECONDS = 30
# A mailbox whose last good sync is older than this is shown as stopped.
STALE_AFTER = dt.timedelta(days=1)
# A running sync commits a batch well within this; one silent for longer
# was killed, and the next sync may take over.
SYNC_SILENT_AFTER = dt.timedelta(minutes=10)


class SyncFailed(ThreadlineError):
    """The sync stopped; the message says what to do about it."""

    code = "mail_sync_failed"


class SyncBusy(ThreadlineError):
    """Another sync of the same mailbox is running; this one did nothing."""

    code = "mail_sync_busy"


class FolderMissing(Exception):
    """The configured folder does not exist on the server."""


@dataclass(frozen=True)
class ImapSettings:
    """One mailbox's connection, as configured in the environment."""

    name: str
    suffix: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    ssl: bool = True

    def variable(self, part: str) -> str:
        return f"THREADLINE_IMAP_{part}{self.suffix}"


class ImapClient(Protocol):
    """The part of imapclient's IMAPClient a sync uses (tests pass a fake)."""

    def select_folder(self, folder: str, readonly: bool = False) -> dict[bytes, Any]:
        """Open `folder`; its status includes b"UIDVALIDITY"."""

    def search(self, criteria: Any = "ALL", charset: str | None = None) -> list[int]:
        """The UIDs matching `criteria`."""

    def fetch(self, messages: Sequence[int], data: Sequence[bytes]) -> dict[int, Any]:
        """Each UID's requested data items."""

    def logout(self) -> Any:
        """Close the session."""


Connect = Callable[[ImapSettings], ImapClient]


@dataclass
class SyncResult:
    """What one mailbox's sync did."""

    mailbox: Mailbox
    fetched: int = 0
    events: int = 0
    held: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


def configured_mailboxes() -> list[ImapSettings]:
    """Every mailbox configured in the environment, by name."""
    return [_settings(suffix) for suffix in config.imap_suffixes()]


def connect(settings: ImapSettings) -> ImapClient:
    """Open and sign in to the real server."""
    client = IMAPClient(
        settings.host, port=settings.port, ssl=settings.ssl, timeout=TIMEOUT_SECONDS
    )
    # Keep INTERNALDATE's own offset instead of this machine's local time.
    client.normalise_times = False
    client.login(settings.username, settings.password)
    return client


def sync_mailbox(
    settings: ImapSettings,
    *,
    open_client: Connect | None = None,
    batch_size: int = 0,
) -> SyncResult:
    """Record the folder's new messages; raise SyncFailed saying what to fix.

    Whatever happens, the mailbox's health (last attempt, last success,
    messages waiting, last error) is stored for the Settings page. Raises
    SyncBusy, changing nothing, while another sync of the mailbox runs.
    """
    mailbox = _start(settings)
    result = SyncResult(mailbox)
    client = None
    try:
        client = (open_client or connect)(settings)
        _sync(client, settings, result, batch_size or BATCH_SIZE)
    except (OSError, IMAPClientError, FolderMissing) as error:
        message = describe_error(error, settings)
        _fail(mailbox, message)
        raise SyncFailed(message) from error
    except Exception as error:
        # Anything else is a fault here, not in the mailbox: keep it visible
        # on the Settings page, then let it surface with its traceback.
        _fail(mailbox, f"The sync stopped unexpectedly ({type(error).__name__}).")
        raise
    finally:
        if client is not None:
            _logout(client)
        Mailbox.objects.filter(pk=mailbox.pk).update(sync_alive_at=None)
    _succeed(mailbox, result)
    return result


def is_stale(mailbox: Mailbox, now: dt.datetime | None = None) -> bool:
    """Whether the last good sync is too old to trust a quiet inbox.

    A mailbox that never synced counts from when it was first tried: within
    its first day it shows its error, not an alarm of a day without mail.
    """
    moment = now or timezone.now()
    since = mailbox.last_success_at or mailbox.created_at
    return moment - since > STALE_AFTER


def describe_error(error: BaseException, settings: ImapSettings) -> str:
    """Say what went wrong in words that tell a person what to change."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(error, LoginError):
        return (
            f"{settings.host} refused the user name or password for "
            f"{settings.username}. Check {settings.variable('USER')} and "
            f"{settings.variable('PASSWORD')}; some providers need an app password."
        )
    if isinstance(error, FolderMissing):
        return (
            f"The folder {settings.folder!r} does not exist on {settings.host}. "
            f"Check {settings.variable('FOLDER')}; folder names are case-sensitive."
        )
    if isinstance(error, socket.gaierror):
        return (
            f"The host {settings.host} could not be found. "
            f"Check {settings.variable('HOST')} and this machine's network."
        )
    if isinstance(error, ConnectionRefusedError):
        return (
            f"{where} refused the connection. Check {settings.variable('PORT')}: "
            "IMAP listens on 993 with SSL and on 143 without."
        )
    if isinstance(error, TimeoutError):
        return (
            f"{where} did not answer within {TIMEOUT_SECONDS} seconds: the host is "
            "unreachable from here, or a firewall blocks the port."
        )
    if isinstance(error, ssl.SSLError):
        return (
            f"The secure connection to {where} failed ({error.reason or error}). "
            f"Check {settings.variable('SSL')} and {settings.variable('PORT')}."
        )
    if isinstance(error, IMAPClientAbortError):
        return (
            f"{settings.host} closed the connection during the sync. What was "
            "fetched is kept; the next sync continues from there."
        )
    if isinstance(error, OSError):
        return f"Could not reach {where} ({error}). Check the host and the network."
    return f"{settings.host} answered with an error: {error}."


def _settings(suffix: str) -> ImapSettings:
    def variable(part: str) -> str:
        return f"THREADLINE_IMAP_{part}{suffix}"

    secure = config.env_bool(variable("SSL"), True)
    settings = ImapSettings(
        name=suffix.lstrip("_").lower() or "main",
        suffix=suffix,
        host=config.env_str(variable("HOST"), ""),
        port=config.env_int(variable("PORT"), 993 if secure else 143),
        username=config.env_str(variable("USER"), ""),
        password=os.environ.get(variable("PASSWORD"), ""),
        folder=config.env_str(variable("FOLDER"), "INBOX"),
        ssl=secure,
    )
    if not settings.username or not settings.password:
        raise config.ConfigurationError(
            f"{variable('HOST')} is set, so {variable('USER')} and "
            f"{variable('PASSWORD')} must be set too."
        )
    return settings


def _start(settings: ImapSettings) -> Mailbox:
    mailbox, _ = Mailbox.objects.get_or_create(name=settings.name)
    _claim(mailbox)
    mailbox.refresh_from_db()
    mailbox.host = settings.host
    mailbox.username = settings.username
    if mailbox.folder != settings.folder:
        # Another folder's UIDs mean nothing here: read it from the start.
        mailbox.uid_validity = None
        mailbox.last_uid = 0
    mailbox.folder = settings.folder
    mailbox.last_attempt_at = timezone.now()
    mailbox.save()
    return mailbox


def _claim(mailbox: Mailbox) -> None:
    now = timezone.now()
    free = Q(sync_alive_at__isnull=True) | Q(sync_alive_at__lt=now - SYNC_SILENT_AFTER)
    claimed = Mailbox.objects.filter(free, pk=mailbox.pk).update(sync_alive_at=now)
    if not claimed:
        mailbox.refresh_from_db()
        assert mailbox.sync_alive_at is not None
        since = timezone.localtime(mailbox.sync_alive_at).strftime("%H:%M")
        raise SyncBusy(
            f"Another sync of {mailbox.name} is running (last batch at {since}); "
            "this one stood aside."
        )


def _sync(
    client: ImapClient, settings: ImapSettings, result: SyncResult, batch_size: int
) -> None:
    mailbox = result.mailbox
    _select(client, mailbox)
    uids = _new_uids(client, mailbox)
    mailbox.messages_waiting = len(uids)
    mailbox.save(update_fields=["uid_validity", "last_uid", "messages_waiting"])

    own = own_addresses()
    actor = Actor.system(f"mail sync of {settings.name}")
    for start in range(0, len(uids), batch_size):
        batch = uids[start : start + batch_size]
        fetched = client.fetch(batch, [b"BODY.PEEK[]", b"INTERNALDATE"])
        with transaction.atomic():
            for uid in batch:
                _record(uid, fetched.get(uid), own, actor, result)
            mailbox.last_uid = batch[-1]
            mailbox.messages_waiting = len(uids) - start - len(batch)
            mailbox.messages_skipped += sum(
                1 for uid, _ in result.skipped if uid in batch
            )
            mailbox.sync_alive_at = timezone.now()
            mailbox.save(
                update_fields=[
                    "last_uid",
                    "messages_waiting",
                    "messages_skipped",
                    "sync_alive_at",
                ]
            )
        result.fetched += len(batch)
        logger.debug("Mailbox %s: recorded up to UID %d", mailbox.name, batch[-1])


def _select(client: ImapClient, mailbox: Mailbox) -> None:
    try:
        status = client.select_folder(mailbox.folder, readonly=True)
    except IMAPClientError as error:
        raise FolderMissing(str(error)) from error
    validity = int(status[b"UIDVALIDITY"])
    if mailbox.uid_validity != validity:
        if mailbox.uid_validity is not None:
            logger.warning(
                "Mailbox %s: UIDVALIDITY changed from %s to %s; reading it again",
                mailbox.name,
                mailbox.uid_validity,
                validity,
            )
        mailbox.uid_validity = validity
        mailbox.last_uid = 0


def _new_uids(client: ImapClient, mailbox: Mailbox) -> list[int]:
    # "n:*" always matches the folder's last message, even below n.
    found = client.search(["UID", f"{mailbox.last_uid + 1}:*"])
    return sorted(uid for uid in found if uid > mailbox.last_uid)


def _record(
    uid: int,
    data: dict[bytes, Any] | None,
    own: OwnAddresses,
    actor: Actor,
    result: SyncResult,
) -> None:
    raw = (data or {}).get(b"BODY[]")
    if not isinstance(raw, bytes):
        result.skipped.append((uid, "the server sent no content (deleted meanwhile?)"))
        return
    try:
        message = parse_message(
            raw, received_at=_aware((data or {}).get(b"INTERNALDATE"))
        )
    except Exception as error:
        # The parser raises many kinds of error on broken mail; each costs
        # only its message, which is reported with its UID.
        logger.warning("Mailbox %s: UID %d unreadable", result.mailbox.name, uid)
        result.skipped.append((uid, f"the message could not be read ({error})"))
        return
    try:
        with transaction.atomic():
            outcome = record_message(
                message, actor, own=own, origin=f"{result.mailbox.name} UID {uid}"
            )
    except ThreadlineError as error:
        result.skipped.append((uid, error.message))
        return
    result.events += outcome.events
    result.held += outcome.held


def _aware(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _succeed(mailbox: Mailbox, result: SyncResult) -> None:
    mailbox.last_success_at = timezone.now()
    mailbox.last_error = ""
    mailbox.save(update_fields=["last_success_at", "last_error", "updated_at"])
    logger.info(
        "Mailbox %s synced: %d fetched, %d recorded, %d held, %d skipped",
        mailbox.name,
        result.fetched,
        result.events,
        result.held,
        len(result.skipped),
    )


def _fail(mailbox: Mailbox, message: str) -> None:
    mailbox.last_error = message[:500]
    mailbox.save(update_fields=["last_error", "updated_at"])
    logger.warning("Mailbox %s sync failed: %s", mailbox.name, message)


def _logout(client: ImapClient) -> None:
    try:
        client.logout()
    except (OSError, IMAPClientError):
        logger.debug("Logout after the sync failed; the session is dropped anyway")
