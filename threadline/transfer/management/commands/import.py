"""threadline import FILE [--mapping NAME|FILE] [--source NAME] [--dry-run]."""

import sys
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threadline.errors import ThreadlineError
from threadline.transfer.importer import SUFFIXES, folder_files, import_path
from threadline.transfer.mapping import shipped_mappings
from threadline.transfer.progress import BarProgress, NoProgress, Progress
from threadline.transfer.reading import FileChanged
from threadline.transfer.report import ImportReport
from threadline.transfer.writing import checked_together


class Command(BaseCommand):
    help = (
        "Import customers or interactions from a CSV or Excel (.xlsx) file "
        "(Google, Outlook, Thunderbird, HubSpot, Salesforce, Pipedrive or any "
        "file with common column names), an address book (.vcf), a calendar "
        "(.ics) or email (.eml, .mbox); every file of a folder; the Maven CRM "
        "sales data set from its folder; or restore an archive folder written "
        "by `threadline export`. A second run of the same file creates nothing "
        "new. Ids in a file's id column are kept apart per source system: the "
        "file's name, or the name given with --source."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        names = ", ".join(sorted(shipped_mappings()))
        parser.add_argument(
            "file",
            help="a file; a folder, whose files are imported one by one in name "
            "order; an archive's folder; or the Maven CRM data set's folder",
        )
        parser.add_argument(
            "--mapping",
            help=f"a shipped mapping ({names}) or a JSON mapping file; "
            "without it, the columns are recognised by their names",
        )
        parser.add_argument(
            "--source",
            metavar="NAME",
            help="the system the file was exported from (e.g. 'old-shop' or "
            "'outlook-anna'); its id column is matched only against earlier "
            "imports from the same source. Without it the file's name is the "
            "source, so two systems' contacts.csv files need different names "
            "here: an id seen before with a clearly different name is reported "
            "as a conflict and skipped",
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
        files = folder_files(path, options["mapping"])
        if files is None:
            self._print(self._import(path, options))
            return

        if not files:
            kinds = ", ".join(sorted(SUFFIXES))
            raise CommandError(
                f"{path} holds no file Threadline imports ({kinds}), no archive "
                "and no data set. Nothing was imported."
            )
        self._say_what_is_left_out(path, files)
        refused: list[str] = []
        reports: list[ImportReport] = []
        together = checked_together() if options["dry_run"] else nullcontext()
        with together:
            for file in files:
                self._import_one_of(file, options, reports, refused)
        self._print_folder(path, reports, options["dry_run"])
        if refused:
            done = "checked" if options["dry_run"] else "imported"
            raise CommandError(
                f"{len(refused)} of {len(files)} files could not be {done}: "
                f"{', '.join(refused)}; the others were {done} as shown."
            )

    def _import_one_of(
        self,
        file: Path,
        options: dict[str, Any],
        reports: list[ImportReport],
        refused: list[str],
    ) -> None:
        """Import one file of a folder; a refused file does not stop the rest."""
        try:
            reports.append(self._import(file, options))
            self._print(reports[-1])
        except CommandError as error:
            self.stderr.write(f"{file.name}: {error}")
            refused.append(file.name)
        self.stdout.write("")

    def _print_folder(
        self, folder: Path, reports: list[ImportReport], dry_run: bool
    ) -> None:
        """The folder's totals, after each file's own report."""
        rows = sum(report.rows for report in reports)
        used = sum(report.rows_used for report in reports)
        skipped = sum(report.skipped for report in reports)
        created = sum((report.created for report in reports), Counter())
        useful = sum(1 for report in reports if any(report.created.values()))
        total = ImportReport(file=folder.name, created=created)
        verb = "would add" if dry_run else "added"
        self.stdout.write(
            f"{folder.name}: {len(reports):,} file{'s' if len(reports) != 1 else ''} "
            f"{'checked' if dry_run else 'imported'}, {useful:,} of them {verb} "
            f"something; {used:,} of {rows:,} rows usable, {skipped:,} skipped."
        )
        self.stdout.write(
            f"In all {'it would create' if dry_run else 'created'}: "
            f"{total.created_text()}."
        )

    def _say_what_is_left_out(self, folder: Path, files: list[Path]) -> None:
        """Name what a folder holds besides the files it imports, so that
        nothing is passed over without a word."""
        taken = set(files)
        others = sorted(child.name for child in folder.iterdir() if child not in taken)
        if others:
            self.stdout.write(
                f"Not imported from {folder.name}: {', '.join(others)} (folders, "
                "links and files of other kinds are left out)."
            )

    def _import(self, path: Path, options: dict[str, Any]) -> ImportReport:
        try:
            return import_path(
                path,
                mapping=options["mapping"],
                dry_run=options["dry_run"],
                encoding=options["encoding"],
                progress=self._progress(),
                source=options["source"],
            )
        except FileChanged as error:
            raise CommandError(self._changed(error, options["dry_run"])) from error
        except ThreadlineError as error:
            raise CommandError(f"{error.message} Nothing was imported.") from error

    def _changed(self, error: FileChanged, dry_run: bool) -> str:
        if dry_run:
            return f"{error.message} Nothing was changed."
        return (
            f"{error.message} Rows imported before it are complete; run the "
            "import again once the file is in place to import the rest."
        )

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
        if report.new_duplicates:
            pairs = "pair" if report.new_duplicates == 1 else "pairs"
            self.stdout.write(
                f"Possible duplicates to review: {report.new_duplicates:,} new "
                f"{pairs} (Customers › Possible duplicates in the web app, or "
                "`threadline duplicates list`)."
            )
