"""threadline createuser EMAIL --role ROLE: add a member of staff."""

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threadline.accounts.models import Role
from threadline.accounts.services import create_user
from threadline.errors import ThreadlineError


class Command(BaseCommand):
    help = "Create a user. Asks for the password unless --password-stdin is given."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--role", choices=Role.values, default=Role.STAFF)
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from the first line of standard input.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = self._password(options["password_stdin"])
        try:
            user = create_user(
                options["email"], password, role=options["role"], name=options["name"]
            )
        except ThreadlineError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Created {user.role} {user.email}. They can sign in now.")

    def _password(self, from_stdin: bool) -> str:
        if from_stdin:
            return sys.stdin.readline().rstrip("\n")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password again: "):
            raise CommandError("The two passwords differ; nothing was created.")
        return first
