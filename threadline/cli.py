"""The `threadline` command: Django's management commands with our settings."""

import os
import sys

# Commands that run for long and report as they go; the others print their
# own outcome, and their routine log lines would only bury it.
SERVICES = frozenset({"serve"})


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "threadline.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in SERVICES:
        os.environ.setdefault("THREADLINE_LOG_LEVEL", "WARNING")
    from django.core.management import execute_from_command_line

    from threadline.config import ConfigurationError

    try:
        execute_from_command_line([sys.argv[0], *sys.argv[1:]])
    except ConfigurationError as error:
        sys.stderr.write(f"Threadline cannot start: {error}\n")
        raise SystemExit(2) from error


if __name__ == "__main__":
    main()
