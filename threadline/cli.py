"""The `threadline` command: Django's management commands with our settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "threadline.settings")
    from django.core.management import execute_from_command_line

    from threadline.config import ConfigurationError

    try:
        execute_from_command_line([sys.argv[0], *sys.argv[1:]])
    except ConfigurationError as error:
        sys.stderr.write(f"Threadline cannot start: {error}\n")
        raise SystemExit(2) from error


if __name__ == "__main__":
    main()
