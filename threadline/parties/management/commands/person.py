"""threadline person export|erase QUERY: answer a data-protection request."""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threadline.accounts.models import User
from threadline.errors import ThreadlineError
from threadline.parties.models import Party
from threadline.parties.names import fold
from threadline.parties.privacy import erase_person, write_person_export
from threadline.search.services import find_one_party
from threadline.timeline.actors import Actor


class Command(BaseCommand):
    help = (
        "Answer a person's data-protection request: export everything held "
        "about them as one JSON file, or erase their personal data for good. "
        "The person is found by name, email or phone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        export = actions.add_parser(
            "export", help="write everything held about the person to a JSON file"
        )
        export.add_argument("query", help="a name, an email or a phone")
        export.add_argument(
            "--out", required=True, help="the JSON file to write (must not exist)"
        )
        export.add_argument("--as", dest="as_user", help=AS_HELP)

        erase = actions.add_parser(
            "erase",
            help="replace the person's personal data for good; their shell, "
            "links and counts stay",
        )
        erase.add_argument("query", help="a name, an email or a phone")
        erase.add_argument(
            "--reason",
            required=True,
            help="why, without personal details (e.g. 'request by email, 3 March')",
        )
        erase.add_argument(
            "--yes",
            action="store_true",
            help="do not ask to type the name to confirm (for scripts)",
        )
        erase.add_argument("--as", dest="as_user", help=AS_HELP)

    def handle(self, *args: Any, **options: Any) -> None:
        actor = _actor(options["as_user"])
        try:
            party = find_one_party(options["query"], actor.user, include_archived=True)
            if options["action"] == "export":
                self._export(party, actor, Path(options["out"]).expanduser())
            else:
                self._erase(party, actor, options["reason"], options["yes"])
        except ThreadlineError as error:
            raise CommandError(error.message) from error

    def _export(self, party: Party, actor: Actor, path: Path) -> None:
        try:
            # "x" refuses to overwrite a file someone may still need.
            with path.open("x", encoding="utf-8") as stream:
                write_person_export(party, actor, stream)
        except FileExistsError as error:
            raise CommandError(
                f"{path} exists already; give a new file name."
            ) from error
        except OSError as error:
            path.unlink(missing_ok=True)
            raise CommandError(f"Cannot write {path}: {error.strerror}.") from error
        self.stdout.write(
            self.style.SUCCESS(f"Wrote everything held about {party} to {path}.")
        )

    def _erase(self, party: Party, actor: Actor, reason: str, confirmed: bool) -> None:
        if not confirmed:
            self._confirm(party)
        name = party.display_name
        counts = erase_person(party, actor, reason)
        erased = "; ".join(
            f"{key.replace('_', ' ')}: {count}" for key, count in counts.items()
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Erased {name}, now shown as {party.display_name} ({erased})."
            )
        )

    def _confirm(self, party: Party) -> None:
        if not sys.stdin.isatty():
            raise CommandError(
                "Erasure is permanent: add --yes to confirm when not at a terminal."
            )
        self.stdout.write(
            f"This permanently erases the personal data of {party.display_name}."
        )
        typed = input("Type their name to confirm: ")
        if fold(typed) != fold(party.display_name):
            raise CommandError("The name did not match; nothing was erased.")


AS_HELP = "the email of the owner or manager answering the request"


def _actor(email: str | None) -> Actor:
    if not email:
        return Actor.system("data-protection request at the command line")
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        raise CommandError(f"No active user has the email {email!r}.")
    return Actor.for_user(user)
