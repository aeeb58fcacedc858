"""Pages for mail: unknown senders to triage, and the mailboxes' health.

Everyone signed in may read them; adding or ignoring a sender needs write
access, which the services check (a viewer is answered 403).
"""

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from threadline.errors import InvalidInput, NotFound
from threadline.mail.health import mailbox_health
from threadline.mail.models import SenderStatus, UnknownSender
from threadline.mail.parsing import ParsedMessage
from threadline.mail.services import (
    add_sender_as_new_party,
    add_sender_to_party,
    ignore_sender,
)
from threadline.parties.access import party_for_write
from threadline.timeline.actors import Actor
from threadline.web.errors import staff_view
from threadline.web.http import StaffRequest

logger = logging.getLogger(__name__)

# The triage list is a to-do list: the newest first, a page of them.
SENDERS_SHOWN = 50
MESSAGES_SHOWN = 20
PREVIEW_CHARS = 240


@staff_view
def senders(request: StaffRequest) -> HttpResponse:
    """Addresses that wrote to us, or that we wrote to, with no customer."""
    waiting = UnknownSender.objects.waiting()
    shown = list(waiting[:SENDERS_SHOWN])
    total = len(shown) if len(shown) < SENDERS_SHOWN else waiting.count()
    context = {
        "senders": shown,
        "total": total,
        "more": total - len(shown),
    }
    return render(request, "mail/senders.html", context)


@staff_view
def sender_detail(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    sender = _sender(public_id)
    held = sender.messages.order_by("-occurred_at", "-id")[:MESSAGES_SHOWN]
    context = {
        "sender": sender,
        "held": [_preview(item.message) for item in held],
        "waiting": sender.status == SenderStatus.WAITING,
    }
    return render(request, "mail/sender_detail.html", context)


@staff_view
@require_POST
def sender_add_new(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    sender = _sender(public_id)
    actor = Actor.for_user(request.user)
    try:
        party = add_sender_as_new_party(
            sender, actor, name=request.POST.get("name", "")
        )
    except InvalidInput as error:
        messages.error(request, error.message)
        return redirect("web:mail_sender", public_id=sender.public_id)
    messages.success(
        request, f"Added {party.display_name} with {_count(sender)} on the timeline."
    )
    return redirect("web:party", public_id=party.public_id)


@staff_view
@require_POST
def sender_add_existing(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    sender = _sender(public_id)
    chosen = request.POST.get("other", "")
    if not chosen:
        messages.error(request, "Search for the customer and pick one first.")
        return redirect("web:mail_sender", public_id=sender.public_id)
    party = party_for_write(request.user, chosen)
    try:
        add_sender_to_party(sender, party, Actor.for_user(request.user))
    except InvalidInput as error:
        messages.error(request, error.message)
        return redirect("web:mail_sender", public_id=sender.public_id)
    messages.success(
        request,
        f"Added {sender.address} to {party.display_name} with {_count(sender)}.",
    )
    return redirect("web:party", public_id=party.public_id)


@staff_view
@require_POST
def sender_ignore(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    sender = _sender(public_id)
    try:
        ignore_sender(sender, Actor.for_user(request.user))
    except InvalidInput as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"Ignored {sender.address}; later mail from it is not kept."
        )
    return redirect("web:mail_senders")


@staff_view
def mailboxes(request: StaffRequest) -> HttpResponse:
    """Each mailbox's sync health, so a stopped sync is never read as quiet."""
    health = mailbox_health()
    context = {
        "rows": health.rows,
        "configuration_error": health.configuration_error,
        "waiting_senders": UnknownSender.objects.waiting().count(),
        "tab": "mailboxes",
    }
    return render(request, "mail/mailboxes.html", context)


def _sender(public_id: uuid.UUID) -> UnknownSender:
    sender = UnknownSender.objects.filter(public_id=public_id).first()
    if sender is None:
        raise NotFound("No such sender.")
    return sender


def _count(sender: UnknownSender) -> str:
    count = sender.message_count
    return "1 email" if count == 1 else f"{count} emails"


@dataclass(frozen=True)
class HeldPreview:
    subject: str
    occurred_at: dt.datetime
    preview: str
    attachments: int


def _preview(data: dict[str, object]) -> HeldPreview:
    message = ParsedMessage.from_json(dict(data))
    text = " ".join(message.body.split())
    if len(text) > PREVIEW_CHARS:
        text = text[:PREVIEW_CHARS].rsplit(" ", 1)[0] + "…"
    return HeldPreview(
        subject=message.subject or "(no subject)",
        occurred_at=message.occurred_at,
        preview=text,
        attachments=len(message.attachments),
    )
