"""threadline restore QUERY: bring an archived customer back."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threadline.errors import ThreadlineError
from threadline.parties.services import restore_party
from threadline.search.services import find_one_party
from threadline.timeline.actors import Actor


class Command(BaseCommand):
    help = (
        "Bring back a customer that was archived, for instance by the undo of "
        "the import that created them, into every list and search. What the "
        "undo took off their timeline stays taken off; the restore is recorded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("query", help="a name, an email or a phone")
        parser.add_argument(
            "--reason",
            default="restored from the command line",
            help="why, as the timeline will show it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
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
