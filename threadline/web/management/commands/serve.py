"""threadline serve: collect the static files, then serve the app with waitress."""

import gc
import logging
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.wsgi import get_wsgi_application
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from waitress import create_server

from threadline.accounts.services import issue_setup_token, needs_setup

logger = logging.getLogger(__name__)

# Addresses that mean "every interface": a browser cannot open them.
ANY_INTERFACE = {"", "0.0.0.0", "::"}


def public_url(host: str, port: int) -> str:
    """Return the address a browser on this machine opens to reach the app."""
    shown = "127.0.0.1" if host in ANY_INTERFACE else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def setup_banner(host: str, port: int) -> str:
    """Return the first-run message with a one-time owner setup link, or ""
    when an active owner exists. Issues a new token each time it is needed."""
    if not needs_setup():
        return ""

    token = issue_setup_token()
    link = f"{public_url(host, port)}/accounts/setup/{token}/"
    return (
        "No owner account exists yet. Open this one-time link to create it:\n"
        f"  {link}\n"
        "(or run: threadline createuser EMAIL --role owner)"
    )


def _unapplied_migrations() -> bool:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    targets = executor.loader.graph.leaf_nodes()
    return bool(executor.migration_plan(targets))


class Command(BaseCommand):
    help = "Serve Threadline with waitress. Stop it with Ctrl-C."

    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--port", type=int, default=None, help="Default: $PORT, else 8000."
        )
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args: Any, **options: Any) -> None:
        host = options["host"]
        port = options["port"] if options["port"] is not None else settings.PORT
        self.check(display_num_errors=False)
        if _unapplied_migrations():
            raise CommandError(
                "The database is not up to date. Run `threadline migrate` first."
            )
        call_command("collectstatic", interactive=False, verbosity=0)

        server = create_server(
            get_wsgi_application(), host=host, port=port, threads=options["threads"]
        )
        # Objects made at start-up live for the whole process; keeping them out
        # of the collector's scans removes its pauses from slow requests.
        gc.freeze()
        banner = setup_banner(host, port)
        if banner:
            self.stdout.write(self.style.WARNING(banner))
        self.stdout.write(f"Threadline is serving on {public_url(host, port)}/")
        self.stdout.write("Press Ctrl-C to stop.")
        logger.debug("Serving on %s:%s", host, port)

        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
        self.stdout.write("Stopped.")
