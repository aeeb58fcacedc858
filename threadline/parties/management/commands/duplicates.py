"""threadline duplicates [find | list | counts]: the duplicate review queue."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threadline.parties.duplicates import candidate_counts, find_duplicates
from threadline.parties.models import CandidateStatus, DuplicateCandidate
from threadline.public_ids import short_id

DEFAULT_LIMIT = 20


class Command(BaseCommand):
    help = (
        "Find customers that may be the same person or organisation, list the "
        "pairs waiting for review, or count them. Pairs are reviewed and merged "
        "in the web app under Customers › Possible duplicates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION")
        actions.add_parser(
            "find",
            help="look through every customer for possible duplicates and "
            "store them for review; pairs marked 'not duplicates' stay so",
        )
        listing = actions.add_parser("list", help="show the pairs waiting for review")
        listing.add_argument(
            "--limit",
            type=int,
            default=DEFAULT_LIMIT,
            help=f"how many pairs to show, best first (default {DEFAULT_LIMIT})",
        )
        actions.add_parser("counts", help="count the pairs in each state")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options.get("action") or "counts"
        if action == "find":
            result = find_duplicates()
            self.stdout.write(self.style.SUCCESS(f"Checked: {result}."))
            self._counts()
        elif action == "list":
            self._list(options["limit"])
        else:
            self._counts()

    def _list(self, limit: int) -> None:
        if limit < 1:
            raise CommandError("--limit must be 1 or more.")
        pairs = (
            DuplicateCandidate.objects.filter(
                status=CandidateStatus.OPEN,
                first__archived_at__isnull=True,
                second__archived_at__isnull=True,
            )
            .select_related("first", "second")
            .order_by("-score", "id")
        )
        shown = 0
        for candidate in pairs[:limit]:
            shown += 1
            self.stdout.write(
                f"{candidate.score:>3}  {_named(candidate.first)}  /  "
                f"{_named(candidate.second)}"
            )
            for reason in candidate.reasons:
                self.stdout.write(f"     - {reason}")
        if not shown:
            self.stdout.write("No possible duplicates are waiting for review.")

    def _counts(self) -> None:
        counts = candidate_counts()
        self.stdout.write(
            f"Waiting for review: {counts[CandidateStatus.OPEN]:,}; "
            f"not duplicates: {counts[CandidateStatus.NOT_DUPLICATES]:,}; "
            f"merged: {counts[CandidateStatus.MERGED]:,}."
        )


def _named(party: Any) -> str:
    return f"{party.display_name} ({short_id(party.public_id)})"
