"""threadline log QUERY KIND SUMMARY: record an event on a party from the shell."""

import datetime as dt
import logging
import re
import typing
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from threadline.accounts.models import User
from threadline.errors import InvalidInput, ThreadlineError
from threadline.followups.services import create_follow_up
from threadline.parties.models import Party
from threadline.search.services import find_one_party
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import (
    INTERACTION_KINDS,
    PLAN_AHEAD,
    SCHEMAS,
    Kind,
    check_moment,
    field_names,
)
from threadline.timeline.services import record_event

logger = logging.getLogger(__name__)

LOGGABLE = [*INTERACTION_KINDS, Kind.FOLLOW_UP]
FOLLOW_UP_FIELDS = ("due", "assignee")
# A follow-up due on a plain date falls due at the end of that working day.
FOLLOW_UP_DUE_HOUR = 17
RELATIVE_DAYS = {"today": 0, "yesterday": -1, "tomorrow": 1}


class Command(BaseCommand):
    help = (
        "Record a call, message, note, meeting, booking, quote, invoice, payment, "
        "visit or follow-up on a customer found by name, email or phone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("query", help="A name, an email or a phone in any format.")
        parser.add_argument("kind", help="One of: " + ", ".join(LOGGABLE) + ".")
        parser.add_argument("summary", help="One line saying what happened.")
        parser.add_argument(
            "--at",
            help=(
                "When it happened: ISO 8601 such as 2026-03-02T14:30 or "
                "2026-03-02T14:30+01:00, a date, today or yesterday. Times "
                "without an offset are in THREADLINE_TIME_ZONE. Default: now."
            ),
        )
        parser.add_argument(
            "--field",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A field of the kind, e.g. direction=inbound or amount=450.00.",
        )
        parser.add_argument("--body", default="", help="Longer text for the event.")
        parser.add_argument(
            "--as",
            dest="as_email",
            metavar="EMAIL",
            help="Record it as this member of staff; only their customers match.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = _user(options["as_email"]) if options["as_email"] else None
        actor = Actor.for_user(user) if user else Actor.system("command line")
        kind = _kind(options["kind"])
        fields = _fields(kind, options["field"])
        occurred_at = parse_when(options["at"]) if options["at"] else None
        if kind == Kind.FOLLOW_UP and occurred_at is not None:
            raise CommandError("A follow-up has no --at; give --field due=WHEN.")
        party = find_party(options["query"], user)

        try:
            if kind == Kind.FOLLOW_UP:
                line = _log_follow_up(party, actor, options["summary"], fields, user)
            else:
                line = _log_event(party, actor, kind, options, fields, occurred_at)
        except InvalidInput as error:
            raise CommandError(_invalid(error, kind)) from error
        except ThreadlineError as error:
            raise CommandError(f"{error.message} Nothing was recorded.") from error
        self.stdout.write(line)


def find_party(query: str, user: User | None) -> Party:
    """Return the one party the query names, among those the user may see
    (every party without a user); CommandError names the candidates."""
    try:
        return find_one_party(query, user)
    except ThreadlineError as error:
        raise CommandError(f"{error.message} Nothing was recorded.") from error


def parse_when(text: str, default_hour: int = 0) -> dt.datetime:
    """Read an ISO 8601 time or date (or today, yesterday, tomorrow) as an
    aware datetime; naive input is in the default time zone."""
    value = text.strip().lower()
    zone = timezone.get_default_timezone()
    if value == "now":
        return timezone.now()
    if value in RELATIVE_DAYS:
        day = timezone.localdate() + dt.timedelta(days=RELATIVE_DAYS[value])
        return dt.datetime.combine(day, dt.time(default_hour), tzinfo=zone)

    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise CommandError(
            f"{text!r} is not a date or time. Write it as 2026-03-02, "
            "2026-03-02T14:30 or 2026-03-02T14:30+01:00."
        ) from error
    if re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", text.strip()):
        parsed = parsed.replace(hour=default_hour)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=zone)
    try:
        check_moment(parsed, latest=PLAN_AHEAD, field="")
    except InvalidInput as error:
        raise CommandError(error.message) from error
    return parsed


def _invalid(error: InvalidInput, kind: str) -> str:
    message = f"{error.message} Nothing was recorded."
    if kind != Kind.FOLLOW_UP and error.field in field_names(kind):
        message += f" Fix it with --field {error.field}=VALUE."
    if error.field in ("amount", "currency"):
        message += " For example: --field amount=450.00 --field currency=EUR."
    return message


def _user(email: str) -> User:
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise CommandError(f"No member of staff has the email {email!r}.")
    if not user.is_active:
        raise CommandError(f"{user.display_name}'s account is deactivated.")
    return user


def _kind(text: str) -> str:
    kind = text.strip().lower().replace("-", "_")
    if kind in LOGGABLE:
        return kind
    if kind in SCHEMAS:
        raise CommandError(
            f"{kind!r} entries are written by Threadline itself. "
            "Log one of: " + ", ".join(LOGGABLE) + "."
        )
    raise CommandError(
        f"{text!r} is not a kind of event. Log one of: " + ", ".join(LOGGABLE) + "."
    )


def _fields(kind: str, pairs: list[str]) -> dict[str, Any]:
    """Split NAME=VALUE pairs; names are checked here, values by the schema."""
    allowed = FOLLOW_UP_FIELDS if kind == Kind.FOLLOW_UP else field_names(kind)
    fields: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lower().replace("-", "_")
        if not sep or not name:
            raise CommandError(f"Write each field as NAME=VALUE, not {pair!r}.")
        if name not in allowed:
            listed = ", ".join(allowed) or "none"
            raise CommandError(f"A {kind} has no field {name!r}; its fields: {listed}.")
        fields[name] = _field_value(kind, name, value.strip())
    if "currency" in allowed and "amount" in fields:
        fields.setdefault("currency", settings.DEFAULT_CURRENCY)
    return fields


def _field_value(kind: str, name: str, value: str) -> Any:
    """Times are read like --at; everything else is left to the schema."""
    if kind == Kind.FOLLOW_UP:
        return value
    annotation = SCHEMAS[kind].model_fields[name].annotation
    if annotation is dt.datetime or dt.datetime in typing.get_args(annotation):
        return parse_when(value).isoformat()
    return value


def _log_event(
    party: Party,
    actor: Actor,
    kind: str,
    options: dict[str, Any],
    fields: dict[str, Any],
    occurred_at: dt.datetime | None,
) -> str:
    event, _ = record_event(
        party,
        kind,
        options["summary"],
        actor=actor,
        occurred_at=occurred_at,
        payload=fields,
        body=options["body"],
    )
    logger.debug("Logged a %s from the command line", kind)
    when = timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M %Z")
    details = ", ".join(
        f"{key}={value}"
        for key, value in event.payload.items()
        if value not in ("", None)
    )
    line = f"Recorded {event.get_kind_display().lower()} on {party.display_name} "
    line += f"at {when}: {event.summary}"
    return line + (f" ({details})" if details else "")


def _log_follow_up(
    party: Party,
    actor: Actor,
    summary: str,
    fields: dict[str, Any],
    user: User | None,
) -> str:
    if "due" not in fields:
        raise CommandError("A follow-up needs --field due=WHEN (e.g. due=2026-03-04).")
    due_at = parse_when(fields["due"], default_hour=FOLLOW_UP_DUE_HOUR)
    assignee = _user(fields["assignee"]) if "assignee" in fields else user
    if assignee is None:
        raise CommandError("Say who does it: --field assignee=EMAIL (or --as EMAIL).")

    follow_up = create_follow_up(party, actor, summary, due_at, assignee)
    logger.debug("Created a follow-up from the command line")
    due = timezone.localtime(follow_up.due_at).strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"Recorded follow-up on {party.display_name} for "
        f"{assignee.display_name}, due {due}: {follow_up.summary}"
    )
