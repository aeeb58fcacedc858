"""Event kinds and the schema of each kind's payload.

A payload is validated by its kind's pydantic model before it is stored, and
stored as JSON with money as a decimal string, so no float ever touches it.
"""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from babel.numbers import list_currencies
from django.db import models
from django.utils import timezone
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from threadline.errors import InvalidInput

CURRENCIES = frozenset(list_currencies())
EARLIEST_YEAR = 1900
# What happened is recorded when it happened: at most a day ahead, for clocks
# and time zones; plans (bookings, due dates) reach ten years ahead.
RECORD_AHEAD = dt.timedelta(days=1)
PLAN_AHEAD = dt.timedelta(days=3653)


def check_moment(value: dt.datetime, *, latest: dt.timedelta, field: str) -> None:
    """Raise InvalidInput for a time before 1900 or further ahead than allowed."""
    limit = timezone.now() + latest
    try:
        too_late = value.year > limit.year or value > limit
    except OverflowError:
        too_late = True
    if value.year < EARLIEST_YEAR or too_late:
        raise InvalidInput(
            f"{value.isoformat(timespec='minutes')} is out of range: give a time after "
            f"{EARLIEST_YEAR} and no later than {limit:%Y-%m-%d}.",
            field=field,
        )


class Kind(models.TextChoices):
    NOTE = "note", "Note"
    CALL = "call", "Call"
    MESSAGE = "message", "Message"
    MEETING = "meeting", "Meeting"
    BOOKING = "booking", "Booking"
    QUOTE = "quote", "Quote"
    INVOICE = "invoice", "Invoice"
    PAYMENT = "payment", "Payment"
    VISIT = "visit", "Visit"
    FOLLOW_UP = "follow_up", "Follow-up"
    STAGE_CHANGE = "stage_change", "Stage change"
    PROFILE_CHANGE = "profile_change", "Profile change"
    THREAD_CHANGE = "thread_change", "Thread change"
    ACCESS_CHANGE = "access_change", "Access change"
    HANDOVER = "handover", "Handover"
    IMPORT = "import", "Import"
    CORRECTION = "correction", "Correction"
    MERGE = "merge", "Merge"
    ERASURE = "erasure", "Erasure"


# What a person logs by hand; the rest are written by services.
INTERACTION_KINDS = (
    Kind.CALL,
    Kind.MESSAGE,
    Kind.NOTE,
    Kind.MEETING,
    Kind.BOOKING,
    Kind.QUOTE,
    Kind.INVOICE,
    Kind.PAYMENT,
    Kind.VISIT,
)
# Kinds where the business and the customer actually spoke or met.
CONTACT_KINDS = (Kind.CALL, Kind.MESSAGE, Kind.MEETING, Kind.VISIT)
# An inbound message recorded longer than this after it was sent is history
# (an old mailbox imported, a letter logged weeks later): it does not leave
# the customer waiting for a reply.
AWAITS_REPLY_WITHIN = dt.timedelta(days=7)


def awaits_reply(occurred_at: dt.datetime, recorded_at: dt.datetime) -> bool:
    """Whether an inbound message was recorded soon enough after it was sent
    to leave the customer waiting for a reply, unless one follows."""
    return recorded_at - occurred_at <= AWAITS_REPLY_WITHIN


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Money(Payload):
    # None only where the amount was never known: history imported from a
    # system that logged "invoice paid" without the sum. Then so is currency.
    amount: Decimal | None = Field(max_digits=14, decimal_places=2)
    currency: str = Field(default="", max_length=3)
    reference: str = Field(default="", max_length=100)

    @field_validator("amount")
    @classmethod
    def plain_amount(cls, value: Decimal | None) -> Decimal | None:
        """1e5 is stored as 100000.00, never in scientific notation."""
        if value is None:
            return None
        if not value.is_finite():
            raise ValueError("give a number such as 450.00")
        return value.quantize(Decimal("0.01"))

    @field_validator("currency")
    @classmethod
    def known_currency(cls, value: str) -> str:
        code = value.upper()
        if code and code not in CURRENCIES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return code

    @model_validator(mode="after")
    def currency_with_amount(self) -> "Money":
        if self.amount is not None and not self.currency:
            raise ValueError("give the currency of the amount, such as EUR")
        return self


Direction = Literal["inbound", "outbound"]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("give the time with its time zone or UTC offset")
    try:
        check_moment(value, latest=PLAN_AHEAD, field="")
    except InvalidInput as error:
        raise ValueError(error.message) from error
    return value


def _plausible_day(value: dt.date | None) -> dt.date | None:
    if value is not None and not EARLIEST_YEAR <= value.year <= _latest_year():
        raise ValueError(f"give a date between {EARLIEST_YEAR} and {_latest_year()}")
    return value


def _latest_year() -> int:
    return (timezone.now() + PLAN_AHEAD).year


class NotePayload(Payload):
    pass


class CallPayload(Payload):
    direction: Direction = "outbound"
    duration_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    outcome: Literal["", "answered", "no_answer", "voicemail"] = ""


class Attachment(Payload):
    name: str = Field(default="", max_length=300)
    type: str = Field(default="", max_length=100)
    size: int = Field(default=0, ge=0)


class MessagePayload(Payload):
    direction: Direction = "outbound"
    channel: Literal["email", "sms", "whatsapp", "letter", "other"] = "email"
    subject: str = Field(default="", max_length=300)
    # An email's own headers, as addresses written "Name <address>".
    sender: str = Field(default="", max_length=500)
    to: list[str] = []
    cc: list[str] = []
    message_id: str = Field(default="", max_length=300)
    attachments: list[Attachment] = []


class MeetingPayload(Payload):
    location: str = Field(default="", max_length=300)
    starts_at: dt.datetime | None = None

    @field_validator("starts_at")
    @classmethod
    def aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _aware(value)


class BookingPayload(Payload):
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    site: str = Field(default="", max_length=300)
    status: Literal["booked", "cancelled"] = "booked"
    # An all-day booking holds whole days wherever it is read (iCalendar's
    # floating dates): its first and last day, both included.
    all_day: bool = False
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    @field_validator("starts_at", "ends_at")
    @classmethod
    def aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _aware(value)

    @field_validator("first_day", "last_day")
    @classmethod
    def plausible(cls, value: dt.date | None) -> dt.date | None:
        return _plausible_day(value)

    @model_validator(mode="after")
    def days_in_order(self) -> "BookingPayload":
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise ValueError("ends_at is before starts_at")
        if self.all_day and self.first_day is None and self.starts_at is None:
            raise ValueError("an all-day booking needs its first_day")
        return self

    def occupied_days(self, zone: dt.tzinfo) -> list[dt.date]:
        """The days this booking blocks, read in `zone`; its end is exclusive,
        so a booking from midnight to midnight holds one day."""
        if self.all_day and self.first_day is not None:
            last = self.last_day or self.first_day
            span = max((last - self.first_day).days, 0)
            return [self.first_day + dt.timedelta(days=n) for n in range(span + 1)]
        if self.starts_at is None:
            return []
        first = self.starts_at.astimezone(zone)
        end = (self.ends_at or self.starts_at).astimezone(zone)
        last = end - dt.timedelta(microseconds=1) if end > first else first
        span = (last.date() - first.date()).days
        return [first.date() + dt.timedelta(days=n) for n in range(span + 1)]


class QuotePayload(Money):
    status: Literal["sent", "accepted", "declined"] = "sent"
    decide_by: dt.date | None = None

    @field_validator("decide_by")
    @classmethod
    def plausible(cls, value: dt.date | None) -> dt.date | None:
        return _plausible_day(value)


class InvoicePayload(Money):
    due_on: dt.date | None = None

    @field_validator("due_on")
    @classmethod
    def plausible(cls, value: dt.date | None) -> dt.date | None:
        return _plausible_day(value)


class PaymentPayload(Money):
    pass


class VisitPayload(Payload):
    site: str = Field(default="", max_length=300)
    outcome: str = Field(default="", max_length=300)


class Change(BaseModel):
    """One field's old and new value; for a collection, an item added or
    removed (old or new is then None)."""

    field: str
    old: Any = None
    new: Any = None


class ChangePayload(Payload):
    changes: list[Change]


class FollowUpPayload(Payload):
    follow_up: str
    action: Literal["created", "done", "rescheduled", "cancelled", "reassigned"]
    due_at: dt.datetime | None = None
    assignee: str = ""
    changes: list[Change] = []


class HandoverPayload(Payload):
    from_user: str
    to_user: str
    threads: int = 0
    follow_ups: int = 0


class ImportPayload(Payload):
    file: str
    row: int | None = None


class CorrectionPayload(Payload):
    reason: str = Field(min_length=1, max_length=500)
    redacted: bool = True


class MergePayload(Payload):
    """A merge seen from one side: this party took the other in ("merged"),
    went into it ("absorbed"), or a merge was reversed ("undone")."""

    action: Literal["merged", "absorbed", "undone"]
    other: str
    other_name: str = ""
    # Public ids of what moved, per kind of thing ("event", "contact_point",
    # ...), so an undo can move exactly those back.
    moved: dict[str, list[str]] = {}
    # For an undo: what the merge moved that was removed since, so could not
    # go back, in the same form.
    removed_since: dict[str, list[str]] = {}
    # For an undo: the merge event it reverses.
    merge: str = ""


class ErasurePayload(Payload):
    """A person's personal content was erased on request."""

    reason: str = Field(min_length=1, max_length=500)
    erased: dict[str, int] = {}
    # Digests of the person's emails and phones: parties/suppression.py.
    suppressed: list[str] = []


SCHEMAS: dict[str, type[Payload]] = {
    Kind.NOTE: NotePayload,
    Kind.CALL: CallPayload,
    Kind.MESSAGE: MessagePayload,
    Kind.MEETING: MeetingPayload,
    Kind.BOOKING: BookingPayload,
    Kind.QUOTE: QuotePayload,
    Kind.INVOICE: InvoicePayload,
    Kind.PAYMENT: PaymentPayload,
    Kind.VISIT: VisitPayload,
    Kind.FOLLOW_UP: FollowUpPayload,
    Kind.STAGE_CHANGE: ChangePayload,
    Kind.PROFILE_CHANGE: ChangePayload,
    Kind.THREAD_CHANGE: ChangePayload,
    Kind.ACCESS_CHANGE: ChangePayload,
    Kind.HANDOVER: HandoverPayload,
    Kind.IMPORT: ImportPayload,
    Kind.CORRECTION: CorrectionPayload,
    Kind.MERGE: MergePayload,
    Kind.ERASURE: ErasurePayload,
}


def validate_payload(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Return the payload as stored JSON, or raise InvalidInput naming the field."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        known = ", ".join(sorted(SCHEMAS))
        raise InvalidInput(f"{kind!r} is not an event kind. Use one of: {known}.")
    try:
        model = schema.model_validate(payload)
    except ValidationError as error:
        raise InvalidInput(_describe(kind, error), field=_first_field(error)) from error
    return model.model_dump(mode="json")


def field_names(kind: str) -> list[str]:
    return list(SCHEMAS[kind].model_fields)


def _describe(kind: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "payload"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(field_names(kind)) or "none"
            message = f"is not a field of a {kind} (fields: {allowed})"
        problems.append(f"{where} {message}")
    return f"Invalid {kind}: " + "; ".join(problems) + "."


def _first_field(error: ValidationError) -> str | None:
    errors = error.errors()
    if errors and errors[0]["loc"]:
        return str(errors[0]["loc"][0])
    return None
