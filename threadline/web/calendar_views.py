"""Calendars out: a party's bookings and follow-ups as a download, and each
person's feed that calendar apps subscribe to.

The feed has no sign-in: calendar apps cannot sign in, so the secret in its
address is the credential. It answers 404 for an unknown or turned-off
secret and for a deactivated person, so a leaked address dies with the
account or when its owner makes a new one.
"""

import logging
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from threadline.accounts.services import user_for_calendar_token
from threadline.parties.access import party_for_read
from threadline.parties.models import Party
from threadline.transfer.calendar_export import (
    feed_items,
    party_items,
    write_calendar,
)
from threadline.web.errors import staff_view
from threadline.web.http import StaffRequest

logger = logging.getLogger(__name__)

CALENDAR_TYPE = "text/calendar; charset=utf-8"
# Calendar apps poll a feed every few minutes to hours; a short cache spares
# the database without keeping a moved booking stale for long.
FEED_CACHE = "private, max-age=300"


@staff_view
@require_GET
def party_calendar(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    """Download a party's bookings and open follow-ups as an .ics file."""
    party = party_for_read(request.user, public_id)
    body = write_calendar(
        party_items(party),
        name=f"{party.display_name} · Threadline",
        link=_party_link(request),
    )
    name = slugify(party.display_name) or "customer"
    response = HttpResponse(body, content_type=CALENDAR_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}-calendar.ics"'
    return response


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A person's feed: their open follow-ups and the bookings they may see."""
    user = user_for_calendar_token(token)
    if user is None:
        logger.debug("Calendar feed asked for with an unknown address")
        missing = HttpResponseNotFound("No such calendar.", content_type="text/plain")
        # The address is a credential: Django would log every 404 with its
        # path at warning level, and apps keep polling a renewed address.
        missing._has_been_logged = True  # type: ignore[attr-defined]
        return missing
    logger.debug("Calendar feed fetched for account %s", user.public_id)

    body = write_calendar(
        feed_items(user),
        name=f"Threadline · {user.display_name}",
        link=_party_link(request),
    )
    response = HttpResponse(body, content_type=CALENDAR_TYPE)
    response["Content-Disposition"] = 'inline; filename="threadline.ics"'
    response["Cache-Control"] = FEED_CACHE
    return response


def feed_address(request: HttpRequest, token: str) -> str:
    """The full address of a feed, to paste into a calendar app."""
    return request.build_absolute_uri(reverse("web:calendar_feed", args=[token]))


def _party_link(request: HttpRequest) -> Callable[[Party], str]:
    """The full address of a party's page, as seen from this request."""

    def link(party: Party) -> str:
        path = reverse("web:party", kwargs={"public_id": party.public_id})
        return request.build_absolute_uri(path)

    return link
