"""threadline restore QUERY | --import N: bring archived customers back."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threadline.errors import ThreadlineError
from threadline.parties.services import restore_party
from threadline.search.services import find_one_party
from threadline.timeline.actors import Actor
from threadline.transfer.undo import restore_undone_import


class Command(BaseCommand):
    help = (
        "Bring back a customer that was archived, for instance by the undo of "
        "the import that created them, into every list and search; or, with "
        "--import N, every customer the undo of import N archived. What the "
        "undo took off their timelines stays taken off; each restore is "
        "recorded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "query", nargs="?", help="a name, an email, a phone or an id"
        )
        parser.add_argument(
            "--import",
            dest="run",
            type=int,
            metavar="N",
            help="every customer the undo of import N archived (threadline imports "
            "lists the numbers)",
        )
        parser.add_argument(
            "--reason",
            default="restored from the command line",
            help="why, as the timeline will show it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if (options["query"] is None) == (options["run"] is None):
            raise CommandError(
                "Name one customer, or give --import N for every customer the "
                "undo of import N archived. Nothing was changed."
            )
        if options["run"] is not None:
            self._restore_undone_import(options["run"], options["reason"])
            return

        try:
            party = find_one_party(options["query"], include_archived=True)
        except ThreadlineError as error:
            raise CommandError(f"{error.message} Nothing was changed.") from error
        if party.archived_at is None:
            raise CommandError(
                f"{party.display_name} is not archived. Nothing was changed."
            )

        if party.merged_into_id is not None:
            raise CommandError(
                f"{party.display_name} was merged into another customer; undo the "
                "merge from that customer's timeline instead. Nothing was changed."
            )

        restore_party(party, Actor.system("command line"), options["reason"])
        self.stdout.write(
            self.style.SUCCESS(f"Restored {party.display_name}: back in every list.")
        )

    def _restore_undone_import(self, number: int, reason: str) -> None:
        """Restore the customers still archived by the undo of import
        `number`; run again after an interruption, it does the rest."""
        try:
            total = restore_undone_import(number, Actor.system("command line"), reason)
        except ThreadlineError as error:
            raise CommandError(f"{error.message} Nothing was changed.") from error
        if not total:
            raise CommandError(
                f"No customer is archived by the undo of import #{number}; "
                "`threadline imports` lists the imports and their undos. Nothing "
                "was changed."
            )

        plural = "customer" if total == 1 else "customers"
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {total:,} {plural} the undo of import #{number} "
                "archived: back in every list. The entries the undo took off "
                "their timelines stay off."
            )
        )
