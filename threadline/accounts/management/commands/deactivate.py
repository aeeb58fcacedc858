"""threadline deactivate EMAIL: stop a user signing in, keep their history."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from threadline.accounts.models import User
from threadline.accounts.services import deactivate_user, hand_over
from threadline.errors import ThreadlineError
from threadline.timeline.actors import Actor


class Command(BaseCommand):
    help = (
        "Deactivate a user. With --hand-over-to, first move their customers, "
        "open threads and open follow-ups to another user."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--hand-over-to", metavar="EMAIL")

    def handle(self, *args: Any, **options: Any) -> None:
        leaving = _user(options["email"])
        actor = Actor.system("command line")
        try:
            with transaction.atomic():
                moved = 0
                if options["hand_over_to"]:
                    successor = _user(options["hand_over_to"])
                    moved = hand_over(leaving, successor, actor)
                deactivate_user(leaving, actor)
        except ThreadlineError as error:
            raise CommandError(f"{error.message} Nothing was changed.") from error

        if options["hand_over_to"]:
            self.stdout.write(f"Handed over work on {moved} customers.")
        self.stdout.write(
            f"Deactivated {leaving.email}; their name stays on what they recorded."
        )


def _user(email: str) -> User:
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise CommandError(f"No user has the email {email!r}.")
    return user
