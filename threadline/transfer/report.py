"""What an import did, or would do: counts per kind and every row's problem."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadline.transfer.models import ImportRun

# How each created thing is named in the summary, singular and plural.
NOUNS = {
    "person": ("person", "people"),
    "organisation": ("organisation", "organisations"),
    "contact point": ("contact point", "contact points"),
    "relationship": ("works-at relationship", "works-at relationships"),
    "note": ("note", "notes"),
    "import record": ("import entry on a timeline", "import entries on timelines"),
    # Interactions from a file of events, by their kind.
    "call": ("call", "calls"),
    "message": ("message", "messages"),
    "meeting": ("meeting", "meetings"),
    "invoice": ("invoice", "invoices"),
    "payment": ("payment", "payments"),
    "visit": ("visit", "visits"),
    "user": ("staff user", "staff users"),
    "thread": ("deal thread", "deal threads"),
    "quote": ("quote", "quotes"),
    "status change": ("deal outcome", "deal outcomes"),
    "email": ("email", "emails"),
    "email thread": ("email conversation", "email conversations"),
    "held email": ("email held for triage", "emails held for triage"),
    "unknown sender": ("unknown sender", "unknown senders"),
    "household": ("household", "households"),
    "event": ("timeline event", "timeline events"),
    "record": ("other stored row", "other stored rows"),
    "booking": ("booking", "bookings"),
    "booking change": ("booking changed", "bookings changed"),
    "booking cancellation": ("booking cancelled", "bookings cancelled"),
    "cancelled occurrence": ("cancelled event left out", "cancelled events left out"),
}


# The reports made while a real run works; the first is the run's own.
_run_reports: ContextVar[list["ImportReport"] | None] = ContextVar(
    "run_reports", default=None
)


@contextmanager
def collecting_reports() -> Iterator[list["ImportReport"]]:
    """Collect the reports the importers called inside make, in order."""
    reports: list[ImportReport] = []
    token = _run_reports.set(reports)
    try:
        yield reports
    finally:
        _run_reports.reset(token)


def first_report() -> "ImportReport | None":
    """The first report collected so far: the run's own, made by the importer
    it called before any it hands parts of the work to."""
    reports = _run_reports.get()
    return reports[0] if reports else None


@dataclass(frozen=True)
class Problem:
    """A row that could not be used (skipped) or was used in part."""

    line: int
    message: str
    skipped: bool
    file: str = ""
    # How many rows it stands for: many for one reported once per file.
    rows: int = 1
    # What `line` counts: a file's lines, or the messages of a mailbox.
    unit: str = "line"

    def __str__(self) -> str:
        where = f"{self.unit} {self.line}"
        where = f"{self.file} {where}" if self.file else where
        if not self.line:
            # About the file, or about many of its rows at once.
            return f"{self.file or 'the file'}: {self.message}"
        return f"{where}: {self.message} ({self.outcome})"

    @property
    def outcome(self) -> str:
        record = "row" if self.unit == "line" else self.unit
        if self.skipped:
            return f"{record} skipped"
        return f"the rest of the {record} imported"


@dataclass
class ImportReport:
    """The outcome of one import, filled in as the rows go by."""

    file: str
    mapping: str = "automatic"
    description: str = ""
    dry_run: bool = False
    rows: int = 0
    rows_used: int = 0
    created: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    # The stored run of a real import, once it has finished.
    run: "ImportRun | None" = None
    # Pairs of possible duplicates the finished import put in the review queue.
    new_duplicates: int = 0
    # Rows left out because an import that was undone wrote them, by its number.
    undone_before: Counter[int] = field(default_factory=Counter)
    # What a problem's position counts: "line", or "message" in a mailbox.
    unit: str = "line"

    def __post_init__(self) -> None:
        # So a run's progress notes can store what it has created so far.
        reports = _run_reports.get()
        if reports is not None and not self.dry_run:
            reports.append(self)

    @property
    def skipped(self) -> int:
        return sum(problem.rows for problem in self.problems if problem.skipped)

    def report_undone_before(self) -> None:
        """Report the rows left out for an undone import, once per import."""
        for number, rows in sorted(self.undone_before.items()):
            plural = "row was" if rows == 1 else "rows were"
            message = (
                f"{rows:,} {plural} imported before by import #{number}, which was "
                "undone, so not imported again: an undo keeps what identifies "
                "each row. Bring back the customers it archived with `threadline "
                f"restore --import {number}` (or one with `threadline restore "
                "NAME`), and add again by hand what else should come back."
            )
            self.problems.append(Problem(0, message, True, self.file, rows))

    def problem(
        self, line: int, message: str, *, skipped: bool, file: str = ""
    ) -> None:
        self.problems.append(Problem(line, message, skipped, file, unit=self.unit))

    def created_text(self) -> str:
        """'2 people, 1 organisation', in a fixed order; 'nothing' when empty."""
        parts = []
        for key, (one, many) in NOUNS.items():
            count = self.created.get(key, 0)
            if count:
                parts.append(f"{count:,} {one if count == 1 else many}")
        return ", ".join(parts) or "nothing new"
