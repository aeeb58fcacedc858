"""threadline demo: fill an empty install with a lifelike service business."""

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from threadline.errors import ThreadlineError
from threadline.transfer.demo import (
    DEFAULT_CUSTOMERS,
    SEED,
    DemoSummary,
    Plan,
    apply_plan,
    build_plan,
)

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Fill an empty install with a generated heating and plumbing business: "
        "staff, customers, two years of history, and work due today. The same "
        "every time; a run that was interrupted resumes where it stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=DEFAULT_CUSTOMERS,
            help=f"How many people to generate (default {DEFAULT_CUSTOMERS}).",
        )
        parser.add_argument(
            "--password",
            help="Password for the demo owner; otherwise set one as printed.",
        )
        parser.add_argument("--seed", type=int, default=SEED, help="Random seed.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["customers"] < 10:
            raise CommandError("Use at least --customers 10.")
        plan = build_plan(
            options["customers"], options["seed"], settings.DEFAULT_REGION
        )
        started = time.monotonic()
        # A fresh data directory has no tables yet; the demo is for newcomers.
        call_command("migrate", interactive=False, verbosity=0)

        try:
            summary = apply_plan(
                plan,
                owner_password=options["password"],
                progress=self._progress if options["verbosity"] > 1 else None,
            )
        except ThreadlineError as error:
            raise CommandError(error.message) from error
        self._report(plan, summary, time.monotonic() - started, options["password"])

    def _progress(self, done: int, total: int) -> None:
        if done % 50 == 0 or done == total:
            self.stdout.write(f"  {done} of {total} parties")

    def _report(
        self, plan: Plan, summary: DemoSummary, seconds: float, password: str | None
    ) -> None:
        if summary.skipped_parties:
            self.stdout.write(
                f"Resumed: {summary.skipped_parties} parties were already there."
            )
        self.stdout.write(
            f"{plan.business}: wrote {summary.created_parties} parties "
            f"in {seconds:.1f} s."
        )
        width = max(len(name) for name in summary.counts)
        for name, count in summary.counts.items():
            self.stdout.write(f"  {name:<{width}}  {count:>6}")

        owner = plan.staff[0]
        self.stdout.write("")
        self.stdout.write("Staff (all sign in with their email):")
        for member in plan.staff:
            note = " (has left; deactivated)" if member.leaves else ""
            self.stdout.write(f"  {member.email:<28} {member.role}{note}")
        if password:
            self.stdout.write(f"Sign in as {owner.email} with the password you gave.")
        else:
            self.stdout.write(
                "No one has a password yet. Give the owner one with:\n"
                f"  threadline changepassword {owner.email}"
            )
