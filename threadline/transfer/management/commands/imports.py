"""threadline imports [--limit N] | --problems N | --undo N."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from threadline.errors import ThreadlineError
from threadline.timeline.actors import Actor
from threadline.transfer.history import State, recent_runs, view
from threadline.transfer.models import ImportRun
from threadline.transfer.report import Problem
from threadline.transfer.runs import MAX_PROBLEMS
from threadline.transfer.undo import undo_import
from threadline.transfer.uploads import run_file


class Command(BaseCommand):
    help = (
        "List recent imports with their state and what they created, or undo "
        "one: its entries are removed, the customers it created archived (unless "
        "someone has worked on them since) and what it added to others taken "
        "back. Every reversal is recorded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit",
            type=int,
            default=20,
            help="how many of the latest imports to list (default 20)",
        )
        parser.add_argument(
            "--problems",
            type=int,
            metavar="N",
            help="list every problem import #N reported, row by row",
        )
        parser.add_argument(
            "--undo",
            type=int,
            metavar="N",
            help="undo import #N, as listed; an undo that was interrupted "
            "finishes the rest",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["undo"] is not None:
            self._undo(options["undo"])
            return
        if options["problems"] is not None:
            self._problems(options["problems"])
            return
        if options["limit"] < 1:
            raise CommandError("--limit needs a number of 1 or more.")
        self._list(options["limit"])

    def _list(self, limit: int) -> None:
        runs = list(recent_runs()[:limit])
        if not runs:
            self.stdout.write("No imports yet. Import a file with `threadline import`.")
            return
        for run in runs:
            self.stdout.write(_line(run))

    def _problems(self, number: int) -> None:
        run = _run(number)
        if run.error:
            self.stdout.write(f"Import #{number} of {run.file} stopped: {run.error}")
        if not run.problems:
            if not run.error:
                self.stdout.write(
                    f"Import #{number} of {run.file} reported no problem."
                )
            return
        for stored in run.problems:
            self.stdout.write(str(Problem(**stored)))
        if len(run.problems) >= MAX_PROBLEMS:
            self.stdout.write(f"Only the first {MAX_PROBLEMS:,} problems were kept.")

    def _undo(self, number: int) -> None:
        run = _run(number)
        # The command line acts for the business, like the import itself.
        actor = Actor.system("command line")
        try:
            report = undo_import(run, actor)
        except ThreadlineError as error:
            raise CommandError(f"{error.message} Nothing was changed.") from error

        self.stdout.write(
            self.style.SUCCESS(f"Undid import #{number}: {report.undone_text()}.")
        )
        for name in report.kept:
            self.stdout.write(f"Kept {name}: someone has worked on it since.")
        for failure in report.failures:
            self.stdout.write(self.style.WARNING(f"Not reversed: {failure}"))


def _run(number: int) -> ImportRun:
    run = ImportRun.objects.filter(pk=number).first()
    if run is None:
        raise CommandError(
            f"There is no import #{number}; `threadline imports` lists them."
        )
    return run


def _line(run: ImportRun) -> str:
    shown = view(run)
    when = timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M")
    who = f" by {run.started_by.display_name}" if run.started_by else ""
    rows = f"{run.rows_used:,} of {run.rows:,} rows used"
    if shown.state in (State.RUNNING, State.INTERRUPTED):
        # Rows used are counted at the end; until then, how far it got.
        rows = f"{run.rows:,} of {run.rows_total:,} rows done"
    count = len(run.problems)
    problems = (
        f", {count:,} problem{'' if count == 1 else 's'} (--problems {run.pk})"
        if count
        else ""
    )
    line = (
        f"#{run.pk}  {when}  {run.file} ({run.format or 'csv'}){who}  "
        f"{shown.state}  {rows}{problems}; created {shown.created_text}"
    )
    if shown.state == "undone":
        line += f"; undone: {shown.undone_text}"
    return line + _what_to_do(shown.state, run)


def _what_to_do(state: str, run: ImportRun) -> str:
    if state == State.INTERRUPTED:
        # Only an upload keeps its file for the Imports page to run again.
        again = (
            "Run it again from the Imports page, or import the file again"
            if run_file(run) is not None
            else f"Import {run.file} again"
        )
        return (
            f"\n    Import #{run.pk} was interrupted at row {run.rows:,}: its process "
            f"ended. {again} (rows already in are not doubled), or undo it with "
            f"`threadline imports --undo {run.pk}`."
        )
    if state == State.UNDO_INTERRUPTED:
        return (
            f"\n    The undo of import #{run.pk} was interrupted: its process ended. "
            f"Run `threadline imports --undo {run.pk}` again to finish it."
        )
    return ""
