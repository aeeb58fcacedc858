"""Importing interactions: a CSV or XLSX file with one row per call, email,
meeting, booking, quote, invoice, payment, visit or note.

A file is read as events when it has a column for when each interaction
happened and one for its type, or when its mapping names them. Each row
lands on the party it names: by the contact id of an earlier contact import
from the same source, by email, or by phone with a name that agrees, the
same matching as contacts. A row whose party is not found but which gives a
name or an email creates that party through the contacts path; any other row
is reported with its line and reason.

Every row is an event keyed for idempotency: by its event id column under
the import's source, else by a hash of its values, so a second run of the
same file records nothing new. Times without a zone are read in the
business's zone (THREADLINE_TIME_ZONE).
"""

import datetime as dt
import hashlib
import logging
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Iterator
from copy import copy
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import Q

from threadline.errors import InvalidInput
from threadline.parties.models import ContactKind, ContactPoint, Party, PartyKind
from threadline.parties.names import fold
from threadline.timeline.bulk import (
    NewEvent,
    PreparedEvent,
    prepare_event,
    record_prepared,
    require_all_visible,
)
from threadline.timeline.kinds import CURRENCIES, Kind
from threadline.timeline.models import Event
from threadline.timeline.services import SUMMARY_MAX, record_event
from threadline.transfer.contacts import Contact, build_contact
from threadline.transfer.dates import (
    DAY_FIRST,
    DateProblem,
    parse_date,
    region_order,
)
from threadline.transfer.importer import ContactWriter, same_person
from threadline.transfer.mapping import (
    Mapping,
    Target,
    normalise_header,
    recognise,
)
from threadline.transfer.progress import NoProgress, Progress
from threadline.transfer.reading import Table
from threadline.transfer.report import ImportReport
from threadline.transfer.visibility import hidden_ids
from threadline.transfer.writing import (
    LeftOut,
    SkipRow,
    import_transaction,
    write_batches,
    write_one,
    write_rows,
)

logger = logging.getLogger(__name__)

# Events keyed by a hash of their row share one source whatever the file is
# called, so a renamed copy of the same file records nothing twice.
ROW_SOURCE = "import:rows"
EVENT_FIELDS = (
    "event_id",
    "contact_ref",
    "occurred_at",
    "event_type",
    "summary",
    "body",
    "direction",
    "amount",
    "currency",
)
_EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "event_id": (
        "id",
        "eventid",
        "eventref",
        "interactionid",
        "activityid",
        "externalid",
        "messageid",
    ),
    "contact_ref": (
        "contactref",
        "contactid",
        "customerid",
        "customerref",
        "customernumber",
        "customerno",
        "contactno",
        "clientno",
        "kundennr",
        "clientid",
        "clientref",
        "partyid",
        "partyref",
        "personid",
        "kundennummer",
    ),
    "occurred_at": (
        "occurredat",
        "date",
        "datetime",
        "timestamp",
        "time",
        "when",
        "happenedat",
        "eventdate",
        "eventtime",
        "activitydate",
        "interactiondate",
        "datum",
        "zeitpunkt",
    ),
    "event_type": (
        "type",
        "kind",
        "eventtype",
        "interactiontype",
        "activitytype",
        "eventkind",
        "typ",
        "art",
    ),
    "summary": ("summary", "subject", "title", "headline", "betreff"),
    "body": (
        "body",
        "notes",
        "note",
        "details",
        "description",
        "content",
        "text",
        "message",
        "comments",
        "notiz",
        "notizen",
        "beschreibung",
    ),
    "direction": ("direction", "inout", "richtung"),
    "amount": ("amount", "value", "total", "sum", "betrag", "summe"),
    "currency": ("currency", "currencycode", "wahrung", "devise"),
}
EVENT_ALIASES = {
    alias: name for name, aliases in _EVENT_ALIASES.items() for alias in aliases
}
PARTY_FIELDS = frozenset(
    {"full_name", "given_name", "middle_name", "family_name", "email", "phone"}
)
# Words a type column uses, folded, with the kind and message channel each
# means.
TYPE_WORDS: dict[str, tuple[str, str]] = {
    "call": (Kind.CALL, ""),
    "phone": (Kind.CALL, ""),
    "phone call": (Kind.CALL, ""),
    "telephone": (Kind.CALL, ""),
    "anruf": (Kind.CALL, ""),
    "email": (Kind.MESSAGE, "email"),
    "e-mail": (Kind.MESSAGE, "email"),
    "mail": (Kind.MESSAGE, "email"),
    "message": (Kind.MESSAGE, "email"),
    "sms": (Kind.MESSAGE, "sms"),
    "text": (Kind.MESSAGE, "sms"),
    "text message": (Kind.MESSAGE, "sms"),
    "whatsapp": (Kind.MESSAGE, "whatsapp"),
    "letter": (Kind.MESSAGE, "letter"),
    "brief": (Kind.MESSAGE, "letter"),
    "meeting": (Kind.MEETING, ""),
    "termin": (Kind.MEETING, ""),
    "booking": (Kind.BOOKING, ""),
    "appointment": (Kind.BOOKING, ""),
    "reservation": (Kind.BOOKING, ""),
    "buchung": (Kind.BOOKING, ""),
    "quote": (Kind.QUOTE, ""),
    "quotation": (Kind.QUOTE, ""),
    "estimate": (Kind.QUOTE, ""),
    "offer": (Kind.QUOTE, ""),
    "angebot": (Kind.QUOTE, ""),
    "invoice": (Kind.INVOICE, ""),
    "bill": (Kind.INVOICE, ""),
    "rechnung": (Kind.INVOICE, ""),
    "payment": (Kind.PAYMENT, ""),
    "paid": (Kind.PAYMENT, ""),
    "receipt": (Kind.PAYMENT, ""),
    "zahlung": (Kind.PAYMENT, ""),
    "visit": (Kind.VISIT, ""),
    "site visit": (Kind.VISIT, ""),
    "service visit": (Kind.VISIT, ""),
    "besuch": (Kind.VISIT, ""),
    "note": (Kind.NOTE, ""),
    "comment": (Kind.NOTE, ""),
    "notiz": (Kind.NOTE, ""),
}
DIRECTION_WORDS = {
    "inbound": "inbound",
    "in": "inbound",
    "incoming": "inbound",
    "received": "inbound",
    "eingehend": "inbound",
    "outbound": "outbound",
    "out": "outbound",
    "outgoing": "outbound",
    "sent": "outbound",
    "ausgehend": "outbound",
}
DIRECTED_KINDS = frozenset({Kind.CALL, Kind.MESSAGE})
MONEY_KINDS = frozenset({Kind.QUOTE, Kind.INVOICE, Kind.PAYMENT})
CURRENCY_SIGNS = {"€": "EUR", "£": "GBP", "¥": "JPY"}
# "EUR 1200", "1.200,50 EUR" written in a summary when no amount column has it.
AMOUNT_IN_TEXT = re.compile(
    r"\b(?P<before>[A-Z]{3})\s?(?P<amount>\d[\d.,']*\d|\d)"
    r"|(?P<number>\d[\d.,']*\d|\d)\s?(?P<after>[A-Z]{3})\b"
)
TIME_PART = re.compile(
    r"(?P<date>.+?)(?:[ T,]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"\s*(?P<half>[ap]\.?m\.?)?)?(?:\s*(?P<zone>Z|UTC|GMT|[+\-]\d{2}:?\d{2}))?",
    re.IGNORECASE,
)
# Seconds since 1970 as systems log them, in seconds or milliseconds.
EPOCH = re.compile(r"\d{10}|\d{13}")
# Distinct parties whose read contact is kept; memory stays flat in the
# file's size.
CONTACT_CACHE = 10_000
# A date without a time is placed at noon, so it shows on its own day in
# every zone within eleven hours of the business's.
DAY_TIME = dt.time(12, 0)


@dataclass
class EventRow:
    """What one row says happened, and to whom."""

    line: int
    contact: Contact
    kind: str = ""
    occurred_at: dt.datetime | None = None
    summary: str = ""
    body: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    external_id: str = ""
    error: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EventPlan:
    """Which column holds which event field, and the party columns' plan."""

    columns: dict[str, int]
    party: list[Target | None]

    @property
    def described(self) -> list[tuple[int, str]]:
        named = [(index, name) for name, index in self.columns.items()]
        named += [
            (index, str(target))
            for index, target in enumerate(self.party)
            if target is not None and target.field != "id"
        ]
        return sorted(named)


def plan_event_columns(header: list[str], mapping: Mapping | None) -> EventPlan:
    """Find the event fields and the party columns of an events file."""
    named = {
        normalise_header(column): target
        for column, target in (mapping.columns if mapping else {}).items()
    }
    columns: dict[str, int] = {}
    party: list[Target | None] = []
    for index, column in enumerate(header):
        key = normalise_header(column)
        target = named.get(key)
        name = target.field if target else _event_field(key)
        if name in EVENT_FIELDS and name not in columns:
            columns[name] = index
            party.append(Target("id") if name == "contact_ref" else None)
            continue
        target = target or recognise(column)
        wanted = target is not None and target.field in PARTY_FIELDS
        party.append(target if wanted else None)
    return EventPlan(columns, party)


def is_events_file(header: list[str], mapping: Mapping | None) -> bool:
    """Say whether a file's rows are interactions: it has a time and a type."""
    plan = plan_event_columns(header, mapping)
    return {"occurred_at", "event_type"} <= plan.columns.keys()


def is_events_mapping(mapping: Mapping | None) -> bool:
    fields = {target.field for target in (mapping.columns if mapping else {}).values()}
    return bool({"occurred_at", "event_type"} & fields)


def _event_field(key: str) -> str:
    if key in EVENT_ALIASES:
        return EVENT_ALIASES[key]
    for noun in ("event", "interaction", "activity"):
        rest = key.removeprefix(noun)
        if rest != key and rest in EVENT_ALIASES:
            return EVENT_ALIASES[rest]
    # "Customer no." or "client key" is the party's id, never the event's;
    # "contact type" says nothing about an interaction.
    for noun in ("contact", "customer", "client", "party", "person"):
        rest = key.removeprefix(noun)
        if rest != key and EVENT_ALIASES.get(rest) == "event_id":
            return "contact_ref"
    return ""


def import_events(
    table: Table,
    mapping: Mapping | None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    source: str = "",
    bulk: bool = True,
) -> ImportReport:
    """Import the rows of an events table; return what was (or would be) done.

    `bulk` writes a batch of rows with a few statements; without it each row
    goes through record_event on its own. Both give the same record.
    """
    plan = plan_event_columns(table.header, mapping)
    _require_columns(table, plan)
    report = ImportReport(
        file=table.path.name,
        mapping=mapping.name if mapping else "automatic",
        description=table.description,
        dry_run=dry_run,
        columns=[(table.header[index], name) for index, name in plan.described],
        ignored_columns=_ignored(table.header, plan),
    )
    for notice in table.notices:
        report.problem(notice.line, notice.message, skipped=notice.skipped)
    report.rows += table.skipped_rows
    shown = progress or NoProgress()

    shown.start(table.row_count, table.path.name)
    with import_transaction(dry_run):
        writer = EventWriter(table.path.name, report, source)
        reader = RowReader(plan, writer.source)
        rows = _counted(reader.rows(table.rows()), report)
        if bulk:
            write_batches(rows, writer, report, shown)
        else:
            write_rows(rows, writer.write, report, shown)
    _report_undirected(reader.undirected, report)
    report.report_undone_before()
    shown.finish()

    logger.info(
        "Import of events from %s: %d of %d rows used%s",
        table.path.name,
        report.rows_used,
        report.rows,
        " (dry run)" if dry_run else "",
    )
    return report


def _report_undirected(count: int, report: ImportReport) -> None:
    """Say how the file was read where rows said nothing of their direction."""
    if count:
        noun = "call or message" if count == 1 else "calls and messages"
        report.description += f"; {count:,} {noun} without a direction taken as by us"


def _require_columns(table: Table, plan: EventPlan) -> None:
    missing = [
        label
        for name, label in (
            ("occurred_at", "when it happened (a column such as 'occurred_at')"),
            ("event_type", "its type (a column such as 'type': call, email, ...)"),
        )
        if name not in plan.columns
    ]
    if missing:
        raise InvalidInput(
            f"{table.path.name} has no column for {' nor for '.join(missing)}. "
            "Name the columns so, or give a mapping with --mapping FILE.json."
        )
    if not any(target for target in plan.party):
        raise InvalidInput(
            f"None of the columns of {table.path.name} says whom each interaction "
            "was with: add a contact id, email, phone or name column."
        )


def _ignored(header: list[str], plan: EventPlan) -> list[str]:
    used = {index for index, _ in plan.described}
    used |= {index for index, target in enumerate(plan.party) if target}
    return [
        column for index, column in enumerate(header) if index not in used and column
    ]


def _counted(
    rows: Iterable[tuple[int, EventRow]], report: ImportReport
) -> Iterator[tuple[int, EventRow]]:
    for line, row in rows:
        report.rows += 1
        yield line, row


class RowReader:
    """Reads each row of an events file into an EventRow."""

    def __init__(self, plan: EventPlan, source: str) -> None:
        self.plan = plan
        self.source = source
        self.zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        # Day and month order of dates such as 03/04/2025: the region's.
        # Until the order is decided per column from the file's values, as
        # it is for birthdays.
        self.order = region_order(settings.DEFAULT_REGION)[0]
        self.party_columns = [
            index for index, target in enumerate(plan.party) if target is not None
        ]
        self.contacts: dict[tuple[str, ...], Contact] = {}
        # Calls and messages whose row says nothing of their direction.
        self.undirected = 0

    def rows(
        self, cells_by_line: Iterable[tuple[int, list[str]]]
    ) -> Iterator[tuple[int, EventRow]]:
        for line, cells in cells_by_line:
            yield line, self.read(line, cells)

    def read(self, line: int, cells: list[str]) -> EventRow:
        values = {
            name: cells[index].strip() if index < len(cells) else ""
            for name, index in self.plan.columns.items()
        }
        row = EventRow(line, self._contact(line, cells))
        row.source, row.external_id = self._key(values, cells)
        try:
            self._read_event(row, values)
        except (InvalidInput, DateProblem) as error:
            row.error = getattr(error, "message", str(error))
        return row

    def _contact(self, line: int, cells: list[str]) -> Contact:
        """The row's party columns as a contact, read once per distinct
        party: a customer's hundred events normalise its email once. The
        contact keeps the line of the first row that named the party."""
        party_cells = tuple(
            cells[index] if index < len(cells) else "" for index in self.party_columns
        )
        contact = self.contacts.get(party_cells)
        if contact is None:
            if len(self.contacts) >= CONTACT_CACHE:
                self.contacts.clear()
            contact = build_contact(line, cells, self.plan.party)
            self.contacts[party_cells] = contact
        return contact

    def _key(self, values: dict[str, str], cells: list[str]) -> tuple[str, str]:
        if values.get("event_id"):
            return self.source, "event:" + values["event_id"][:180]
        used = sorted(self.plan.columns.values()) + [
            index for index, target in enumerate(self.plan.party) if target
        ]
        canonical = "\x1f".join(
            " ".join(cells[index].split()) if index < len(cells) else ""
            for index in sorted(set(used))
        )
        return ROW_SOURCE, "row:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def _read_event(self, row: EventRow, values: dict[str, str]) -> None:
        row.kind, channel = _kind(values.get("event_type", ""))
        row.occurred_at = self._moment(values.get("occurred_at", ""))
        # The body is cleaned by record_event's own validation.
        row.body = values.get("body", "").replace("\r\n", "\n").strip()
        row.summary = _summary(values.get("summary", ""), row)
        written = values.get("direction", "")
        direction = _direction(written, row)
        if row.kind in DIRECTED_KINDS:
            row.payload["direction"] = direction or "outbound"
            self.undirected += not written
        if channel:
            row.payload["channel"] = channel
        if row.kind in MONEY_KINDS:
            row.payload |= _money(
                values.get("amount", ""), values.get("currency", ""), row
            )

    def _moment(self, text: str) -> dt.datetime:
        value = " ".join(text.split())
        if not value:
            raise InvalidInput("no date: say when the interaction happened")
        moment = _parse_moment(value, self.order)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment


@lru_cache(maxsize=256)
def _kind(text: str) -> tuple[str, str]:
    """The kind and message channel a type cell names; a file has a few."""
    word = fold(text).replace("_", " ")
    if word in TYPE_WORDS:
        kind, channel = TYPE_WORDS[word]
        return Kind(kind).value, channel
    if not word:
        raise InvalidInput(
            "no type: say what kind of interaction the row is (call, email, ...)"
        )
    known = ", ".join(sorted({name for name in TYPE_WORDS if " " not in name}))
    raise InvalidInput(f"type {text!r} is not one Threadline knows (use {known})")


def _summary(text: str, row: EventRow) -> str:
    summary = " ".join(text.split())
    if not summary and row.body:
        summary = row.body.splitlines()[0].strip()
    if not summary:
        summary = Kind(row.kind).label
    if len(summary) > SUMMARY_MAX:
        # The whole text stays in the body; the summary is its start.
        row.body = f"{summary}\n\n{row.body}".strip()
        summary = summary[: SUMMARY_MAX - 1].rstrip() + "…"
    return summary


def _direction(text: str, row: EventRow) -> str:
    if not text:
        return ""
    word = _folded(text)
    if word in DIRECTION_WORDS:
        return DIRECTION_WORDS[word]
    row.warnings.append(
        f"direction {text!r} is neither inbound nor outbound; recorded as by us"
    )
    return ""


@lru_cache(maxsize=256)
def _folded(text: str) -> str:
    return fold(text)


def _money(amount_text: str, currency_text: str, row: EventRow) -> dict[str, Any]:
    """Amount and currency of a quote, invoice or payment.

    Without an amount column, an amount written in the summary with its
    currency code ("Quote sent (EUR 1200)") is taken; else the amount is
    recorded as unknown.
    """
    currency = currency_text.strip().upper()
    if not amount_text:
        match = AMOUNT_IN_TEXT.search(row.summary)
        code = match and (match.group("before") or match.group("after"))
        if not match or code not in CURRENCIES:
            return {"amount": None, "currency": ""}
        amount_text = match.group("amount") or match.group("number")
        currency = currency or code
    for sign, code in CURRENCY_SIGNS.items():
        if sign in amount_text:
            currency = currency or code
            amount_text = amount_text.replace(sign, "")
    letters = re.findall(r"[A-Za-z]{3}", amount_text)
    if letters:
        currency = currency or letters[0].upper()
        amount_text = re.sub(r"[A-Za-z]+", "", amount_text)
    return {
        "amount": parse_amount(amount_text),
        "currency": currency or settings.DEFAULT_CURRENCY,
    }


def parse_amount(text: str) -> Decimal:
    """Read 1200, 1,200.50, 1.200,50 or 1 200 as a decimal amount."""
    digits = re.sub(r"[\s'\u00a0]", "", text)
    if "," in digits and "." in digits:
        decimal_mark = "," if digits.rfind(",") > digits.rfind(".") else "."
    elif "," in digits:
        decimal_mark = "," if re.search(r",\d{1,2}$", digits) else "."
    else:
        decimal_mark = "."
    thousands = "." if decimal_mark == "," else ","
    plain = digits.replace(thousands, "").replace(decimal_mark, ".")
    try:
        amount = Decimal(plain)
    except InvalidOperation as error:
        raise InvalidInput(f"amount {text!r} is not a number") from error
    if not amount.is_finite():
        raise InvalidInput(f"amount {text!r} is not a number")
    return amount


def _parse_moment(value: str, order: str) -> dt.datetime:
    """Read a time as ISO 8601, seconds since 1970, or a written date and
    time such as 03.04.2025 14:30 or 4/3/2025 2:30 pm."""
    if EPOCH.fullmatch(value):
        seconds = int(value) / (1000 if len(value) == 13 else 1)
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return _written_moment(value, order)
    if len(value) == len("2025-01-31"):
        return dt.datetime.combine(moment.date(), DAY_TIME)
    return moment


def _written_moment(value: str, order: str) -> dt.datetime:
    match = TIME_PART.fullmatch(value)
    if match is None:
        raise DateProblem(f"{value!r} is not a date and time")
    written = match.group("date")
    # 10.03.2025 is the tenth of March wherever dots are written.
    day = parse_date(written, DAY_FIRST if "." in written else order)
    if day is None:
        raise DateProblem(f"{value!r} is not a date and time")
    if match.group("hour") is None:
        moment = dt.datetime.combine(day, DAY_TIME)
    else:
        hour = int(match.group("hour"))
        half = (match.group("half") or "").lower()
        if half and not 1 <= hour <= 12:
            raise DateProblem(f"{value!r} has an hour that does not fit am or pm")
        if half:
            hour = hour % 12 + (12 if half.startswith("p") else 0)
        try:
            moment = dt.datetime.combine(
                day,
                dt.time(
                    hour, int(match.group("minute")), int(match.group("second") or 0)
                ),
            )
        except ValueError as error:
            raise DateProblem(f"{value!r} has no such time of day") from error
    zone = (match.group("zone") or "").upper()
    if zone in ("Z", "UTC", "GMT"):
        return moment.replace(tzinfo=dt.UTC)
    if zone:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment.replace(tzinfo=dt.timezone(sign * offset))
    return moment


class EventWriter:
    """Writes the events of one file, finding or creating their parties."""

    def __init__(self, file_name: str, report: ImportReport, source: str = "") -> None:
        self.contacts = ContactWriter(file_name, report, source)
        self.source = self.contacts.source
        self.actor = self.contacts.actor
        self.report = report

    def write(self, row: EventRow) -> None:
        """Write one row through record_event."""
        if row.error:
            raise SkipRow(row.error)

        party = self._party(row)
        event, created = record_event(
            party,
            row.kind,
            row.summary,
            actor=self.actor,
            occurred_at=row.occurred_at,
            payload=row.payload,
            body=row.body,
            source=row.source,
            external_id=row.external_id,
        )
        if created:
            self.report.created[row.kind] += 1
        elif event.actor_label in self.contacts.undone_runs:
            self.report.undone_before[self.contacts.undone_runs[event.actor_label]] += 1
            raise LeftOut("recorded before by an import that was undone")
        self._warn(row)

    def write_batch(self, batch: list[tuple[int, EventRow]]) -> None:
        """Write a batch: parties found with a few queries, events with one
        statement. A row whose party must be created or checked further
        goes through write on its own, after the rows before it."""
        found = _Parties(self.source, self.contacts.import_sources)
        found.load([row.contact for _, row in batch if not row.error])
        pending: list[tuple[EventRow, PreparedEvent]] = []
        for line, row in batch:
            party = None if row.error else found.resolve(row.contact)
            if party is None:
                self._flush(pending)
                pending = []
                write_one(line, row, self.write, self.report)
                continue
            try:
                prepared = prepare_event(_new_event(row, party))
            except InvalidInput as error:
                self.report.problem(line, error.message.rstrip("."), skipped=True)
                continue
            pending.append((row, prepared))
        self._flush(pending)

    def forget(self) -> None:
        self.contacts.forget()

    def _flush(self, pending: list[tuple[EventRow, PreparedEvent]]) -> None:
        if not pending:
            return
        require_all_visible(self.actor, {event.party_id for _, event in pending})
        created = record_prepared(self.actor, [event for _, event in pending])
        undone = self._undone_writers(
            [row for (row, _), new in zip(pending, created, strict=True) if not new]
        )
        for (row, _), new in zip(pending, created, strict=True):
            if new:
                self.report.created[row.kind] += 1
            elif (row.source, row.external_id) in undone:
                self.report.undone_before[undone[(row.source, row.external_id)]] += 1
                continue
            self.report.rows_used += 1
            self._warn(row)

    def _undone_writers(self, rows: list[EventRow]) -> dict[tuple[str, str], int]:
        """The rows among `rows`, recorded before, that an undone import
        recorded: the undo redacted them, and the key keeps them so."""
        undone_runs = self.contacts.undone_runs
        if not undone_runs or not rows:
            return {}
        keys = Q()
        for source in {row.source for row in rows}:
            ids = [row.external_id for row in rows if row.source == source]
            keys |= Q(source=source, external_id__in=ids)
        found = Event.objects.filter(keys, actor_label__in=list(undone_runs))
        return {
            (source, external_id): undone_runs[label]
            for source, external_id, label in found.values_list(
                "source", "external_id", "actor_label"
            )
        }

    def _party(self, row: EventRow) -> Party:
        contact = row.contact
        party = self.contacts.find_person(contact)
        if party is not None:
            return party
        if not contact.person_name and not contact.emails:
            raise SkipRow(_not_found(contact))
        # The contact read for an earlier row of the same party is shared.
        own = copy(contact)
        own.line = row.line
        return self.contacts.write(own)

    def _warn(self, row: EventRow) -> None:
        for warning in [*row.contact.warnings, *row.warnings]:
            self.report.problem(row.line, warning, skipped=False)


def _new_event(row: EventRow, party: Party) -> NewEvent:
    return NewEvent(
        party,
        row.kind,
        row.summary,
        source=row.source,
        external_id=row.external_id,
        occurred_at=row.occurred_at,
        payload=row.payload,
        body=row.body,
    )


def _not_found(contact: Contact) -> str:
    if contact.key.startswith("id:"):
        ref = contact.key.removeprefix("id:")
        return (
            f"no customer with contact id {ref!r} from an earlier import of the "
            "same source, and no name or email to create one; import the "
            "contacts first with the same --source"
        )
    return (
        "no customer with this phone, and no name or email to create one; add "
        "a name, email or contact id column"
    )


# What matching and validating an event need of its party.
PARTY_COLUMNS = (
    "id",
    "kind",
    "display_name",
    "sort_name",
    "given_name",
    "family_name",
    "time_zone",
    "restricted",
    "owner_id",
)


class _Parties:
    """The parties a batch's rows name, found with one query per kind of key,
    matched as ContactWriter.find_person matches one row."""

    def __init__(self, source: str, import_sources: list[str]) -> None:
        self.source = source
        self.import_sources = import_sources
        self.by_key: dict[str, Party] = {}
        self.points: dict[tuple[str, str], list[tuple[int, Party]]] = defaultdict(list)

    def load(self, contacts: list[Contact]) -> None:
        ids = {c.key for c in contacts if c.key.startswith("id:")}
        hashes = {c.key for c in contacts if c.key.startswith("row:")}
        fields = PARTY_COLUMNS
        for party in Party.objects.filter(source=self.source, external_id__in=ids).only(
            *fields, "external_id"
        ):
            self.by_key[party.external_id] = party
        if hashes:
            for party in (
                Party.objects.filter(
                    source__in=self.import_sources, external_id__in=hashes
                )
                .only(*fields, "external_id")
                .order_by("id")
            ):
                self.by_key.setdefault(party.external_id, party)

        emails = {p.value for c in contacts for p in c.emails}
        phones = {p.value for c in contacts for p in c.phones if p.dialable}
        for kind, values in ((ContactKind.EMAIL, emails), (ContactKind.PHONE, phones)):
            if not values:
                continue
            points = (
                ContactPoint.objects.filter(
                    kind=kind, value__in=values, party__kind=PartyKind.PERSON
                )
                .select_related("party")
                .only("id", "value", *(f"party__{name}" for name in fields))
                .order_by("id")
            )
            for point in points:
                self.points[(kind, point.value)].append((point.pk, point.party))
        self._forget_hidden()

    def _forget_hidden(self) -> None:
        """Leave customers hidden from the importer to the row-by-row path,
        which reports such rows without naming them."""
        found = [party.pk for party in self.by_key.values()]
        found += [party.pk for matches in self.points.values() for _, party in matches]
        hidden = hidden_ids(found)
        if not hidden:
            return
        self.by_key = {
            key: party for key, party in self.by_key.items() if party.pk not in hidden
        }
        for key, matches in self.points.items():
            self.points[key] = [m for m in matches if m[1].pk not in hidden]

    def resolve(self, contact: Contact) -> Party | None:
        """The party the row names, or None when the row needs the full path:
        nothing found, or an id whose name must be checked further."""
        party = self.by_key.get(contact.key)
        if party is not None:
            named = contact.full_name or contact.given_name or contact.family_name
            name = fold(contact.person_name) if named else ""
            if name and party.sort_name and not same_person(party, contact):
                return None
            return party

        by_email = [
            found
            for point in contact.emails
            for found in self.points.get((ContactKind.EMAIL, point.value), [])
        ]
        if by_email:
            return min(by_email, key=lambda found: found[0])[1]

        by_phone = sorted(
            found
            for point in contact.phones
            if point.dialable
            for found in self.points.get((ContactKind.PHONE, point.value), [])
        )
        for _, party in by_phone:
            if same_person(party, contact):
                return party
        return None
