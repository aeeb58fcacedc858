"""threadline import FILE [--mapping NAME|FILE] [--dry-run]: bring data in."""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threadline.errors import ThreadlineError
from threadline.transfer.importer import import_path
from threadline.transfer.mapping import shipped_mappings
from threadline.transfer.progress import BarProgress, NoProgress, Progress
from threadline.transfer.report import ImportReport


class Command(BaseCommand):
    help = (
        "Import contacts from a CSV file (Google, Outlook, Thunderbird or any "
        "file with common column names), or the Maven CRM sales data set from "
        "its folder. A second run of the same file creates nothing new."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        names = ", ".join(sorted(shipped_mappings()))
        parser.add_argument("file", help="a CSV file, or a data set's folder")
        parser.add_argument(
            "--mapping",
            help=f"a shipped mapping ({names}) or a JSON mapping file; "
            "without it, the columns are recognised by their names",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="report what would be created and which rows cannot be used; "
            "change nothing",
        )
        parser.add_argument(
            "--encoding",
            help="the file's text encoding, when detection guesses wrong",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"]).expanduser()
        try:
            report = import_path(
                path,
                mapping=options["mapping"],
                dry_run=options["dry_run"],
                encoding=options["encoding"],
                progress=self._progress(),
            )
        except ThreadlineError as error:
            raise CommandError(f"{error.message} Nothing was imported.") from error
        self._print(report)

    def _progress(self) -> Progress:
        if self.stdout.isatty():
            return BarProgress(sys.stdout)
        return NoProgress()

    def _print(self, report: ImportReport) -> None:
        self.stdout.write(f"Read {report.file}: {report.description}.")
        self.stdout.write(f"Mapping: {report.mapping}.")
        if report.columns:
            columns = ", ".join(f"{name} → {target}" for name, target in report.columns)
            self.stdout.write(f"Columns: {columns}.")
        if report.ignored_columns:
            self.stdout.write(
                "Not imported: " + ", ".join(report.ignored_columns) + "."
            )
        for problem in report.problems:
            self.stdout.write(str(problem))

        used = f"{report.rows_used:,} of {report.rows:,} rows usable"
        skipped = f", {report.skipped:,} skipped" if report.skipped else ""
        if report.dry_run:
            self.stdout.write(f"Dry run: {used}{skipped}; nothing was changed.")
            self.stdout.write(f"Would create: {report.created_text()}.")
        else:
            self.stdout.write(f"Imported {used}{skipped}.")
            self.stdout.write(self.style.SUCCESS(f"Created: {report.created_text()}."))
