"""threadline export --format jsonl DIR: the whole database as an archive."""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threadline.errors import ThreadlineError
from threadline.transfer.archive import export_archive
from threadline.transfer.progress import BarProgress, NoProgress, Progress

FORMATS = ("jsonl",)


class Command(BaseCommand):
    help = (
        "Write the whole database (every customer, event, user and import run, "
        "with its ids and times) to a new folder of JSON Lines files with a "
        "manifest. `threadline import DIR` restores it into an empty install."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", help="a new or empty folder for the archive")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="jsonl",
            help="jsonl: one file per table, one JSON object per row",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        target = Path(options["folder"]).expanduser()
        try:
            manifest = export_archive(target, progress=self._progress())
        except ThreadlineError as error:
            raise CommandError(f"{error.message} Nothing was exported.") from error
        except OSError as error:
            raise CommandError(
                f"Cannot write the archive to {target}: {error.strerror or error}. "
                "Nothing was exported."
            ) from error

        rows = sum(entry["rows"] for entry in manifest["files"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported {rows:,} rows from {len(manifest['files'])} tables "
                f"to {target}."
            )
        )
        self.stdout.write(
            f"Restore it into an empty install with: threadline import {target}"
        )

    def _progress(self) -> Progress:
        if self.stdout.isatty():
            return BarProgress(sys.stdout)
        return NoProgress()
