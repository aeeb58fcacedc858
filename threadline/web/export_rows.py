"""The rows of each list the web app lets people download.

Each reads through the same visible_to querysets as its page, without the
page's display limits, and yields plain rows a spreadsheet writer streams.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import islice

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.text import capfirst

from threadline.accounts.models import Team, User
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.mail.health import MailboxHealth
from threadline.mail.models import Mailbox, UnknownSender
from threadline.parties.models import (
    ContactKind,
    ContactPoint,
    DuplicateCandidate,
    Party,
    PinnedFact,
    Relationship,
    Stage,
)
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.contacts import list_item
from threadline.transfer.history import created_text, recent_runs, run_state
from threadline.transfer.models import ImportRun
from threadline.transfer.report import Problem
from threadline.transfer.spreadsheet import Cell
from threadline.transfer.vcard_export import exportable_parties
from threadline.web.duplicates_views import Side, pair_views
from threadline.web.timeline import timeline_page
from threadline.web.today import QUIET_AFTER

# Rows are read from the database this many at a time.
CHUNK = 500
# A timeline is read in pages of this size, each one indexed range scan.
TIMELINE_PAGE = 500

Row = list[Cell]
# The kinds of contact point a customer row holds, in its column order.
# Handles are left out: the importer has no column to read them from.
EXPORTED_POINTS = (ContactKind.EMAIL, ContactKind.PHONE, ContactKind.ADDRESS)


@dataclass(frozen=True)
class Table:
    """A list ready to write: its title, column names and rows."""

    title: str
    header: list[str]
    rows: Iterator[Row]


def customer_table(parties: QuerySet[Party], viewer: User) -> Table:
    """The customer list; `parties` comes filtered like the page.

    A row holds what the importer reads back: every email, phone and postal
    address, the current employer and role, and the pinned facts as notes.
    An employer the viewer may not see is left off.
    """
    header = [
        "Name",
        "Kind",
        "Stage",
        "Owner",
        "Company",
        "Job title",
        "Email",
        "Phone",
        "Address",
        "Other emails",
        "Other phones",
        "Other addresses",
        "Tags",
        "Birthday",
        "Notes",
        "Last contact",
        "Added",
        "Threadline id",
    ]
    rows = _customer_rows(exportable_parties(parties, viewer))
    return Table("Customers", header, rows)


def _customer_rows(parties: QuerySet[Party]) -> Iterator[Row]:
    for party in parties.iterator(chunk_size=CHUNK):
        points = _points_by_kind(party)
        employers: list[Relationship] = getattr(party, "employers", [])
        employer = employers[0] if employers else None
        facts: list[PinnedFact] = getattr(party, "current_facts", [])
        yield [
            party.display_name,
            party.get_kind_display(),
            party.get_stage_display(),
            party.owner.display_name if party.owner else "",
            employer.to_party.display_name if employer else "",
            employer.role if employer else "",
            *(_first(points[kind]) for kind in EXPORTED_POINTS),
            *(_others(points[kind]) for kind in EXPORTED_POINTS),
            ", ".join(tag.name for tag in party.tags.all()),
            party.birthday,
            "\n".join(fact.text for fact in facts),
            party.last_interaction_at,
            party.created_at,
            str(party.public_id),
        ]


def _points_by_kind(party: Party) -> dict[str, list[ContactPoint]]:
    """Each kind's contact points, the primary first, then as they were added."""
    points: dict[str, list[ContactPoint]] = defaultdict(list)
    for point in sorted(party.contact_points.all(), key=lambda p: not p.is_primary):
        points[point.kind].append(point)
    return points


def _first(points: list[ContactPoint]) -> str:
    return points[0].display if points else ""


def _others(points: list[ContactPoint]) -> str:
    """The points after the first, one a line, each after its label."""
    return "\n".join(list_item(point.label, point.display) for point in points[1:])


def timeline_table(party: Party, viewer: User, kind: str = "") -> Table:
    """A party's timeline, newest first, as the viewer's page shows it."""
    header = [
        "When",
        "What",
        "Direction",
        "Summary",
        "Details",
        "Amount",
        "Currency",
        "Recorded by",
    ]
    return Table("Timeline", header, _timeline_rows(party, viewer, kind))


def _timeline_rows(party: Party, viewer: User, kind: str) -> Iterator[Row]:
    page = timeline_page(party, kind=kind, size=TIMELINE_PAGE, viewer=viewer)
    while True:
        for event in page.events:
            payload = event.payload if isinstance(event.payload, dict) else {}
            yield [
                event.occurred_at,
                event.get_kind_display(),
                event.direction,
                event.summary,
                event.body,
                _amount(payload.get("amount")),
                payload.get("currency", "") or "",
                event.actor_label,
            ]
        if page.older is None:
            return
        page = timeline_page(
            party, kind=kind, before=page.older, size=TIMELINE_PAGE, viewer=viewer
        )


def follow_up_table(user: User, now: dt.datetime | None = None) -> Table:
    """The user's open follow-ups due by the end of today, overdue first."""
    moment = now or timezone.now()
    visible = Exists(Party.objects.visible_to(user).filter(pk=OuterRef("party_id")))
    follow_ups = (
        FollowUp.objects.filter(
            visible,
            assignee=user,
            status=FollowUpStatus.OPEN,
            due_at__lt=_end_of_day(moment),
        )
        .select_related("party", "assignee")
        .order_by("due_at", "id")
    )
    rows: Iterator[Row] = (
        [
            follow_up.due_at,
            follow_up.due_at < moment,
            follow_up.summary,
            follow_up.party.display_name,
            follow_up.assignee.display_name,
        ]
        for follow_up in follow_ups.iterator(chunk_size=CHUNK)
    )
    return Table(
        "My follow-ups", ["Due", "Overdue", "Follow-up", "Customer", "Assignee"], rows
    )


def awaiting_reply_table(user: User) -> Table:
    """Customers whose last message has no answer yet, longest waiting first."""
    inbound = Event.objects.effective().filter(
        party=OuterRef("pk"), kind=Kind.MESSAGE, direction="inbound"
    )
    parties = (
        Party.objects.visible_to(user)
        .filter(awaiting_reply_since__isnull=False)
        .annotate(
            last_inbound=Subquery(
                inbound.order_by("-occurred_at", "-id").values("summary")[:1]
            )
        )
        .select_related("owner")
        .order_by("awaiting_reply_since", "id")
    )
    rows: Iterator[Row] = (
        [
            party.display_name,
            party.awaiting_reply_since,
            getattr(party, "last_inbound", None) or "",
            party.owner.display_name if party.owner else "",
        ]
        for party in parties.iterator(chunk_size=CHUNK)
    )
    header = ["Customer", "Waiting since", "Last message", "Owner"]
    return Table("Waiting for our reply", header, rows)


def bookings_table(user: User, now: dt.datetime | None = None) -> Table:
    """Today's bookings on customers the user may see, cancelled ones left out."""
    moment = now or timezone.now()
    start = _start_of_day(moment)
    visible = Exists(Party.objects.visible_to(user).filter(pk=OuterRef("party_id")))
    bookings = (
        Event.objects.effective()
        .filter(visible)
        .filter(
            kind=Kind.BOOKING,
            scheduled_for__gte=start,
            scheduled_for__lt=_end_of_day(moment),
        )
        .select_related("party")
        .order_by("scheduled_for", "id")
    )
    rows: Iterator[Row] = (
        [
            "all day" if event.payload.get("all_day") else event.scheduled_for,
            event.party.display_name,
            event.summary,
            event.payload.get("site", ""),
        ]
        for event in bookings.iterator(chunk_size=CHUNK)
        if event.payload.get("status") != "cancelled"
    )
    return Table("Bookings today", ["Time", "Customer", "Booking", "Site"], rows)


def gone_quiet_table(user: User, now: dt.datetime | None = None) -> Table:
    """The user's customers with no contact in QUIET_AFTER, quietest first."""
    moment = now or timezone.now()
    parties = (
        Party.objects.visible_to(user)
        .filter(
            owner=user,
            stage=Stage.CUSTOMER,
            last_interaction_at__lt=moment - QUIET_AFTER,
        )
        .order_by("last_interaction_at", "id")
    )
    rows: Iterator[Row] = (
        [party.display_name, party.last_interaction_at]
        for party in parties.iterator(chunk_size=CHUNK)
    )
    return Table("Gone quiet", ["Customer", "Last contact"], rows)


def import_history_table() -> Table:
    """Every import run, newest first, as the Imports page lists them."""
    runs = recent_runs().defer("problems")
    rows: Iterator[Row] = (
        [
            run.started_at,
            run.file,
            (run.format or "csv").upper(),
            run.source,
            run.started_by.display_name if run.started_by else "command line",
            run_state(run),
            run.rows,
            run.rows_used,
            run.skipped,
            created_text(run.created),
            run.undone_at,
        ]
        for run in runs.iterator(chunk_size=CHUNK)
    )
    header = [
        "Started",
        "File",
        "Format",
        "Source",
        "Started by",
        "State",
        "Rows",
        "Rows used",
        "Rows skipped",
        "Created",
        "Undone",
    ]
    return Table("Imports", header, rows)


def import_problems_table(run: ImportRun) -> Table:
    """Every problem of an import run, in the order the file had them, by
    line, or by message for a mailbox."""
    rows: Iterator[Row] = (
        [
            str(problem.get("file") or run.file),
            problem["line"],
            Problem(**problem).outcome,
            str(problem["message"]),
        ]
        for problem in run.problems
    )
    units = {problem.get("unit") or "line" for problem in run.problems}
    where = "Message" if units == {"message"} else "Line"
    return Table("Problems", ["File", where, "Outcome", "Problem"], rows)


def duplicates_table(candidates: QuerySet[DuplicateCandidate], viewer: User) -> Table:
    """The duplicate review queue; `candidates` comes as the page reads it."""
    side = [
        "name",
        "stage",
        "owner",
        "restricted",
        "contact points",
        "works at",
        "timeline entries",
        "last contact",
        "Threadline id",
    ]
    header = [
        "Score",
        "Why",
        *(f"Left {column}" for column in side),
        *(f"Right {column}" for column in side),
        "Found",
    ]
    return Table("Possible duplicates", header, _duplicate_rows(candidates, viewer))


def _duplicate_rows(
    candidates: QuerySet[DuplicateCandidate], viewer: User
) -> Iterator[Row]:
    # Each batch of pairs reads both sides' details in a fixed number of
    # queries, the way one page of the queue does.
    pairs = candidates.iterator(chunk_size=CHUNK)
    while batch := list(islice(pairs, CHUNK)):
        for pair in pair_views(batch, viewer):
            yield [
                pair.candidate.score,
                "; ".join(capfirst(str(reason)) for reason in pair.candidate.reasons),
                *_side_cells(pair.left),
                *_side_cells(pair.right),
                pair.candidate.created_at,
            ]


def _side_cells(side: Side) -> Row:
    party = side.party
    return [
        party.display_name,
        party.get_stage_display(),
        party.owner.display_name if party.owner else "",
        party.restricted,
        "; ".join(
            f"{point.get_kind_display()} {point.display}" for point in side.points
        ),
        ", ".join(employer.display_name for employer in side.organisations),
        side.events,
        party.last_interaction_at,
        str(party.public_id),
    ]


def senders_table(senders: QuerySet[UnknownSender]) -> Table:
    """Unknown senders waiting for a decision, as the triage page lists them."""
    rows: Iterator[Row] = (
        [
            sender.name,
            sender.address,
            sender.message_count,
            sender.latest_subject,
            sender.latest_at,
        ]
        for sender in senders.iterator(chunk_size=CHUNK)
    )
    header = ["Name", "Address", "Emails", "Latest subject", "Latest email"]
    return Table("Unknown senders", header, rows)


def users_table(people: QuerySet[User]) -> Table:
    """Everyone who uses Threadline, with their role, state and teams."""
    rows: Iterator[Row] = (
        [
            person.display_name,
            person.email,
            person.get_role_display(),
            person.is_active,
            ", ".join(team.name for team in person.teams.all()),
            person.created_at,
            person.deactivated_at,
        ]
        for person in people.iterator(chunk_size=CHUNK)
    )
    header = ["Name", "Email", "Role", "Active", "Teams", "Added", "Deactivated"]
    return Table("Users", header, rows)


def teams_table(teams: QuerySet[Team]) -> Table:
    """Every team with its active members, as Settings lists them."""
    rows: Iterator[Row] = (
        [
            team.name,
            ", ".join(member.display_name for member in team.members.all()),
            team.created_at,
        ]
        for team in teams.iterator(chunk_size=CHUNK)
    )
    return Table("Teams", ["Team", "Members", "Added"], rows)


def mailboxes_table(health: MailboxHealth) -> Table:
    """Each mailbox's sync health, a stopped sync said in so many words."""
    rows: Iterator[Row] = (
        [
            row.name,
            row.account,
            row.folder,
            row.configured,
            row.stale,
            *_sync_cells(row.mailbox),
        ]
        for row in health.rows
    )
    header = [
        "Name",
        "Account",
        "Folder",
        "Configured",
        "Sync stopped",
        "Last good sync",
        "Last try",
        "Waiting to be fetched",
        "Could not be read",
        "Last error",
    ]
    return Table("Mailboxes", header, rows)


def _sync_cells(mailbox: Mailbox | None) -> Row:
    """A mailbox's sync record; blank for one that never synced."""
    if mailbox is None:
        return [None, None, None, None, ""]
    return [
        mailbox.last_success_at,
        mailbox.last_attempt_at,
        mailbox.messages_waiting,
        mailbox.messages_skipped,
        mailbox.last_error,
    ]


TODAY_TABLES = {
    "follow-ups": follow_up_table,
    "waiting": awaiting_reply_table,
    "bookings": bookings_table,
    "quiet": gone_quiet_table,
}


def _amount(value: object) -> Cell:
    """An amount as a number; the payload keeps it as text to stay exact."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return str(value)


def _start_of_day(moment: dt.datetime) -> dt.datetime:
    return timezone.localtime(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def _end_of_day(moment: dt.datetime) -> dt.datetime:
    return _start_of_day(moment) + dt.timedelta(days=1)
