"""threadline brief QUERY: what to know before the next interaction."""

import datetime as dt
import json
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from threadline.accounts.models import User
from threadline.brief.rendering import brief_as_text
from threadline.brief.services import compute_brief
from threadline.errors import ThreadlineError
from threadline.search.services import find_one_party
from threadline.timeline.kinds import EARLIEST_YEAR


class Command(BaseCommand):
    help = "Show the brief of a customer found by name, email or phone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("query", help="a name, an email or a phone in any format")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument(
            "--as-of", help="show the brief as it stood on a date (YYYY-MM-DD)"
        )
        parser.add_argument(
            "--as", dest="as_user", help="the email of the user reading it"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = _user(options["as_user"])
        as_of = _end_of_day(options["as_of"]) if options["as_of"] else None
        try:
            party = find_one_party(options["query"], user)
        except ThreadlineError as error:
            raise CommandError(error.message) from error

        brief = compute_brief(party, viewer=user, as_of=as_of)
        if options["json"]:
            self.stdout.write(json.dumps(brief.to_dict(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(brief_as_text(brief))


def _user(email: str | None) -> User | None:
    if not email:
        return None
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        raise CommandError(f"No active user has the email {email!r}.")
    return user


def _end_of_day(text: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as error:
        raise CommandError(
            f"--as-of takes a date as YYYY-MM-DD, not {text!r}."
        ) from error
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    if not day.year >= EARLIEST_YEAR or day > timezone.localdate():
        raise CommandError(
            f"--as-of looks back: give a day between {EARLIEST_YEAR} and today."
        )
    return dt.datetime.combine(day, dt.time.max, tzinfo=zone)
