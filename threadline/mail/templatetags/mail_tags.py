"""What Today says about mail: senders to sort out, syncs that stopped."""

from dataclasses import dataclass

from django import template
from django.utils import timezone

from threadline.mail.imap import is_stale
from threadline.mail.models import Mailbox, UnknownSender

register = template.Library()


@dataclass(frozen=True)
class MailNotices:
    waiting_senders: int
    stopped_mailboxes: list[str]

    def __bool__(self) -> bool:
        return bool(self.waiting_senders or self.stopped_mailboxes)


@register.simple_tag
def mail_notices() -> MailNotices:
    """Two small queries; both tables stay short."""
    now = timezone.now()
    waiting = UnknownSender.objects.waiting().count()
    stopped = [
        mailbox.username or mailbox.name
        for mailbox in Mailbox.objects.all()
        if is_stale(mailbox, now)
    ]
    return MailNotices(waiting, stopped)
