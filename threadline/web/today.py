"""What a member of staff needs to act on today, in a fixed number of queries."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from threadline.accounts.models import User
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.parties.models import Party, Stage
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event

logger = logging.getLogger(__name__)

QUIET_AFTER = dt.timedelta(days=90)
# Each list is bounded, one more row is read to tell that more are waiting:
# Today is a to-do list, not a report. Follow-up rows
# carry their own forms and cost the most to render, so fewer of them show.
LIST_LIMIT = 25
# Rows are read with only the columns the page shows: converting every
# timestamp of every listed party cost more than the queries themselves.
LISTED_PARTY_FIELDS = ("public_id", "display_name")
FOLLOW_UP_LIMIT = 20


@dataclass(frozen=True)
class FollowUpRow:
    """A follow-up as a row on a page, whichever query it came from."""

    public_id: str
    summary: str
    due_at: dt.datetime
    overdue: bool
    assignee_name: str
    party_name: str
    party_public_id: str

    @classmethod
    def from_model(cls, follow_up: FollowUp, now: dt.datetime) -> "FollowUpRow":
        """Build a row; the follow-up's party and assignee must be preloaded."""
        return cls(
            public_id=str(follow_up.public_id),
            summary=follow_up.summary,
            due_at=follow_up.due_at,
            overdue=follow_up.due_at < now,
            assignee_name=follow_up.assignee.display_name,
            party_name=follow_up.party.display_name,
            party_public_id=str(follow_up.party.public_id),
        )


@dataclass(frozen=True)
class Today:
    now: dt.datetime
    overdue: list[FollowUpRow]
    due_today: list[FollowUpRow]
    awaiting_reply: list[Party]
    bookings: list[Event]
    gone_quiet: list[Party]
    more_follow_ups: bool = False
    more_awaiting_reply: bool = False
    more_bookings: bool = False
    more_gone_quiet: bool = False

    @property
    def follow_up_count(self) -> int:
        return len(self.overdue) + len(self.due_today)


def today_for(user: User, now: dt.datetime | None = None) -> Today:
    """Collect the user's day: six queries, whatever the size of the record."""
    moment = now or timezone.now()
    start = timezone.localtime(moment).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    end = start + dt.timedelta(days=1)
    visible = Party.objects.visible_to(user)

    mine = (
        FollowUp.objects.filter(
            _party_visible(user), assignee=user, status=FollowUpStatus.OPEN
        )
        .select_related("party", "assignee")
        .only(
            "public_id",
            "summary",
            "due_at",
            "party__public_id",
            "party__display_name",
            "assignee__name",
            "assignee__email",
        )
    )
    overdue = _rows(mine.filter(due_at__lt=moment), moment)
    due_today = _rows(mine.filter(due_at__gte=moment, due_at__lt=end), moment)
    awaiting: list[Party] = list(
        visible.filter(awaiting_reply_since__isnull=False)
        .annotate(last_inbound=_last_inbound_summary())
        .select_related("owner")
        .only(
            *LISTED_PARTY_FIELDS, "awaiting_reply_since", "owner__name", "owner__email"
        )
        .order_by("awaiting_reply_since", "id")[: LIST_LIMIT + 1]
    )
    bookings = _bookings(user, start, end)
    quiet = list(
        visible.filter(
            owner=user,
            stage=Stage.CUSTOMER,
            last_interaction_at__lt=moment - QUIET_AFTER,
        )
        .only(*LISTED_PARTY_FIELDS, "last_interaction_at")
        .order_by("last_interaction_at", "id")[: LIST_LIMIT + 1]
    )
    logger.debug("Today for %s: %d overdue", user.public_id, len(overdue))
    return Today(
        now=moment,
        overdue=overdue[:FOLLOW_UP_LIMIT],
        due_today=due_today[:FOLLOW_UP_LIMIT],
        more_follow_ups=max(len(overdue), len(due_today)) > FOLLOW_UP_LIMIT,
        awaiting_reply=awaiting[:LIST_LIMIT],
        more_awaiting_reply=len(awaiting) > LIST_LIMIT,
        bookings=bookings[:LIST_LIMIT],
        more_bookings=len(bookings) > LIST_LIMIT,
        gone_quiet=quiet[:LIST_LIMIT],
        more_gone_quiet=len(quiet) > LIST_LIMIT,
    )


def _rows(follow_ups: QuerySet[FollowUp], now: dt.datetime) -> list[FollowUpRow]:
    """One more row than is shown, so the page can say there are more."""
    ordered = follow_ups.order_by("due_at", "id")[: FOLLOW_UP_LIMIT + 1]
    return [FollowUpRow.from_model(follow_up, now) for follow_up in ordered]


def _party_visible(user: User) -> Exists:
    """Whether a row's party is visible to the user, checked row by row.

    A correlated EXISTS lets SQLite walk the row's own index (assignee and due
    time, or kind and schedule) and look each party up by key, where
    `party__in=visible` would first list every visible party.
    """
    return Exists(Party.objects.visible_to(user).filter(pk=OuterRef("party_id")))


def _last_inbound_summary() -> Subquery:
    """What the party last wrote, read per listed party through the
    (party, kind, occurred_at) index."""
    inbound = Event.objects.effective().filter(
        party=OuterRef("pk"), kind=Kind.MESSAGE, direction="inbound"
    )
    return Subquery(inbound.order_by("-occurred_at", "-id").values("summary")[:1])


def _bookings(user: User, start: dt.datetime, end: dt.datetime) -> list[Event]:
    bookings = (
        Event.objects.effective()
        .filter(_party_visible(user))
        .filter(kind=Kind.BOOKING, scheduled_for__gte=start, scheduled_for__lt=end)
        .select_related("party")
        .only(
            "scheduled_for",
            "summary",
            "payload",
            "party__public_id",
            "party__display_name",
        )
        .order_by("scheduled_for", "id")[: LIST_LIMIT + 1]
    )
    return [event for event in bookings if event.payload.get("status") != "cancelled"]
