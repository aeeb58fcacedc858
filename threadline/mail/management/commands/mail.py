"""threadline mail sync [--mailbox NAME] | threadline mail status."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from threadline.config import ConfigurationError
from threadline.mail.imap import (
    ImapSettings,
    SyncBusy,
    SyncFailed,
    SyncResult,
    configured_mailboxes,
    is_stale,
    sync_mailbox,
)
from threadline.mail.models import Mailbox


class Command(BaseCommand):
    help = (
        "Sync the configured IMAP mailboxes onto the customers' timelines "
        "(sync), or show how each mailbox's last sync went (status)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        sync = actions.add_parser(
            "sync",
            help="fetch new messages; safe to run again at any time, e.g. from cron",
        )
        sync.add_argument(
            "--mailbox",
            metavar="NAME",
            help="sync only this mailbox (main, or the lower-cased suffix of its "
            "THREADLINE_IMAP_HOST_<SUFFIX> variable)",
        )
        actions.add_parser("status", help="each mailbox's last sync and error")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            self._status()
            return
        mailboxes = self._chosen(options["mailbox"])
        failures = [settings.name for settings in mailboxes if not self._sync(settings)]
        if failures:
            raise CommandError("The sync failed for: " + ", ".join(failures) + ".")

    def _chosen(self, name: str | None) -> list[ImapSettings]:
        try:
            mailboxes = configured_mailboxes()
        except ConfigurationError as error:
            raise CommandError(str(error)) from error
        if not mailboxes:
            raise CommandError(
                "No mailbox is configured. Set THREADLINE_IMAP_HOST, "
                "THREADLINE_IMAP_USER and THREADLINE_IMAP_PASSWORD."
            )
        if name is None:
            return mailboxes
        chosen = [settings for settings in mailboxes if settings.name == name.lower()]
        if not chosen:
            known = ", ".join(settings.name for settings in mailboxes)
            raise CommandError(f"No mailbox is called {name!r}; configured: {known}.")
        return chosen

    def _sync(self, settings: ImapSettings) -> bool:
        try:
            result = sync_mailbox(settings)
        except SyncBusy as error:
            self.stdout.write(f"{settings.name}: {error.message}")
            return True
        except SyncFailed as error:
            self.stderr.write(f"{settings.name}: {error.message}")
            return False
        self.stdout.write(_summary(settings, result))
        for uid, reason in result.skipped:
            self.stdout.write(f"  UID {uid} skipped: {reason}")
        return True

    def _status(self) -> None:
        mailboxes = list(Mailbox.objects.all())
        if not mailboxes:
            self.stdout.write(self._none_synced())
        for mailbox in mailboxes:
            self.stdout.write(_status_line(mailbox))

    def _none_synced(self) -> str:
        try:
            configured = [settings.name for settings in configured_mailboxes()]
        except ConfigurationError as error:
            return (
                f"No mailbox has been synced yet, and the settings are wrong: {error}"
            )
        if not configured:
            return (
                "No mailbox is configured. Set THREADLINE_IMAP_HOST, "
                "THREADLINE_IMAP_USER and THREADLINE_IMAP_PASSWORD, then run "
                "`threadline mail sync`."
            )
        return (
            f"No mailbox has been synced yet ({', '.join(configured)} configured); "
            "run `threadline mail sync`."
        )


def _summary(settings: ImapSettings, result: SyncResult) -> str:
    return (
        f"{settings.name} ({settings.username} {settings.folder}): "
        f"{result.fetched} new, {result.events} recorded on timelines, "
        f"{result.held} held for triage, {len(result.skipped)} skipped."
    )


def _status_line(mailbox: Mailbox) -> str:
    last = (
        timezone.localtime(mailbox.last_success_at).strftime("%Y-%m-%d %H:%M")
        if mailbox.last_success_at
        else "never"
    )
    line = (
        f"{mailbox.name} ({mailbox.username} {mailbox.folder}): last good sync {last}"
    )
    line += f", {mailbox.messages_waiting} waiting"
    if is_stale(mailbox):
        line += " - STOPPED: no good sync for over a day"
    if mailbox.last_error:
        line += f"\n  last error: {mailbox.last_error}"
    return line
