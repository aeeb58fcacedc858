"""Each mailbox's sync health, configured or only remembered, as Settings
shows it and downloads it."""

import logging
from dataclasses import dataclass

from django.utils import timezone

from threadline.config import ConfigurationError
from threadline.mail.imap import configured_mailboxes, is_stale
from threadline.mail.models import Mailbox

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailboxRow:
    """A mailbox as Settings shows it, configured or only remembered."""

    name: str
    account: str
    folder: str
    mailbox: Mailbox | None
    configured: bool
    stale: bool


@dataclass(frozen=True)
class MailboxHealth:
    """Every mailbox, and what is wrong with the mail settings, if anything."""

    rows: list[MailboxRow]
    configuration_error: str


def mailbox_health() -> MailboxHealth:
    """The configured mailboxes first, then those no longer configured; one
    query however many there are."""
    configuration_error = ""
    try:
        configured = configured_mailboxes()
    except ConfigurationError as error:
        configured, configuration_error = [], str(error)
    stored = {mailbox.name: mailbox for mailbox in Mailbox.objects.all()}

    now = timezone.now()
    rows = []
    for settings in configured:
        mailbox = stored.get(settings.name)
        rows.append(
            MailboxRow(
                name=settings.name,
                account=f"{settings.username} on {settings.host}",
                folder=settings.folder,
                mailbox=mailbox,
                configured=True,
                stale=mailbox is None or is_stale(mailbox, now),
            )
        )
    names = {row.name for row in rows}
    rows += [
        MailboxRow(
            name=mailbox.name,
            account=f"{mailbox.username} on {mailbox.host}",
            folder=mailbox.folder,
            mailbox=mailbox,
            configured=False,
            stale=False,
        )
        for mailbox in stored.values()
        if mailbox.name not in names
    ]
    return MailboxHealth(rows, configuration_error)
