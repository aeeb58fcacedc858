"""Measure importing contacts and events through the batch path.

    .venv/bin/python bench/transfer.py           # 100k contacts, 1M events
    .venv/bin/python bench/transfer.py --quick   # 2k contacts, 20k events

Generates a contacts CSV and an events CSV (each event names its contact by
the contact's id) in a temporary data directory, imports both with
`import_path` on the embedded SQLite default, and prints rows per second.

Each import is compared with a plain sqlite3 `executemany` of exactly the
rows it stored, into the same tables with the same indexes (a copy of the
database taken before the import), with the same pragmas as Threadline's
connection (WAL, synchronous=FULL, foreign keys on) and as many commits as
the import made. Only the executemany and commit calls are timed.

Memory is the resident set size of this process and of any it started
(the process reading a large contacts file), read from /proc every 50 ms by
a thread while the import runs (tracemalloc would slow the import it
measures): its peak growth over the size before the import, and its growth
at each quarter of the import's time, which stays level when the file is
streamed rather than loaded whole. The duplicate search that follows a real
import run is left out: it is not part of writing the rows.
"""

import argparse
import csv
import io
import math
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
SOURCE = "bench"
TARGET_RATIO = 0.35
GIVEN_NAMES = ("Ann", "Bo", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo")
FAMILY_NAMES = ("Lee", "Park", "Novak", "Silva", "Okafor", "Berg", "Khan", "Ito")
AREA_CODES = ("201", "212", "305", "312", "415", "503", "617", "702", "713", "917")
# Kinds of interaction and how often each occurs, with its summary.
EVENT_TYPES = {
    "call": (30, "Called about the service"),
    "email": (20, "Re: your appointment"),
    "sms": (8, "Running ten minutes late"),
    "note": (10, "Prefers morning visits"),
    "visit": (8, "Serviced the boiler"),
    "booking": (6, "Annual service booked"),
    "meeting": (3, "Walked through the quote"),
    "quote": (5, "Quote for a new boiler"),
    "invoice": (5, "Invoice for the service"),
    "payment": (5, "Paid by card"),
}
MONEY_TYPES = frozenset({"quote", "invoice", "payment"})
DIRECTED_TYPES = frozenset({"call", "email", "sms"})


@dataclass
class Measured:
    """One import's figures beside its plain executemany baseline."""

    name: str
    rows: int
    file_bytes: int
    seconds: float
    stored_rows: int
    raw_seconds: float
    memory: "MemorySamples"

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @property
    def raw_rate(self) -> float:
        return self.rows / self.raw_seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.raw_rate


@dataclass
class MemorySamples:
    """Resident set sizes taken while an import ran, in bytes."""

    before: int
    samples: list[int] = field(default_factory=list)

    @property
    def peak_growth(self) -> int:
        return max(self.samples, default=self.before) - self.before

    def quarter_growths(self) -> list[int]:
        """The growth at a quarter, half, three quarters and the end."""
        if not self.samples:
            return [0, 0, 0, 0]
        last = len(self.samples) - 1
        return [self.samples[last * step // 4] - self.before for step in (1, 2, 3, 4)]


PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SAMPLE_SECONDS = 0.05


def _resident_bytes() -> int:
    """The resident set of this process and of the processes it started (a
    large contacts file is read in one), together."""
    return sum(_resident_of(pid) for pid in _with_descendants(os.getpid()))


def _with_descendants(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except OSError:
            continue
        for child in children:
            found += _with_descendants(int(child))
    return found


def _resident_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES
    except OSError:
        # The process ended between listing it and reading it.
        return 0


@contextmanager
def _sampled_memory() -> Iterator[MemorySamples]:
    memory = MemorySamples(before=_resident_bytes())
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            memory.samples.append(_resident_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield memory
    finally:
        done.set()
        sampler.join()
        memory.samples.append(_resident_bytes())


def main() -> None:
    args = _arguments()
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    data_dir = Path(tempfile.mkdtemp(prefix="threadline-bench-transfer-"))
    _configure(data_dir)

    import django

    django.setup()
    try:
        run(args, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run")
    parser.add_argument("--contacts", type=int, help="contacts to import")
    parser.add_argument("--events", type=int, help="events to import")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.contacts = args.contacts or (2_000 if args.quick else 100_000)
    args.events = args.events or (20_000 if args.quick else 1_000_000)
    return args


def _configure(data_dir: Path) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "threadline.settings"
    os.environ["THREADLINE_DATA_DIR"] = str(data_dir)
    os.environ["THREADLINE_LOG_LEVEL"] = "WARNING"
    os.environ.pop("DATABASE_URL", None)


def run(args: argparse.Namespace, data_dir: Path) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    database = Path(connection.settings_dict["NAME"])
    random.seed(args.seed)
    contacts = _write_csv(
        data_dir / "contacts.csv", _contact_rows(args.contacts), CONTACT_HEADER
    )
    events = _write_csv(
        data_dir / "events.csv", _event_rows(args.events, args.contacts), EVENT_HEADER
    )
    print(
        f"SQLite {sqlite3.sqlite_version}, data in {data_dir}; contacts.csv "
        f"{_megabytes(contacts)}, events.csv {_megabytes(events)}"
    )

    results = [
        _measure("contacts", contacts, args.contacts, database),
        _measure("events", events, args.events, database),
    ]
    _print_table(results)


CONTACT_HEADER = ["id", "first_name", "last_name", "email", "phone", "city", "tags"]
CONTACT_HEADER += ["notes"]
EVENT_HEADER = ["event_id", "contact_ref", "type", "occurred_at", "summary"]
EVENT_HEADER += ["direction", "amount", "currency"]


def _contact_rows(count: int) -> Iterator[list[str]]:
    for number in range(count):
        given = random.choice(GIVEN_NAMES)
        family = random.choice(FAMILY_NAMES)
        area = AREA_CODES[number % len(AREA_CODES)]
        exchange = 200 + number // 10_000 % 800
        yield [
            f"C{number}",
            given,
            family,
            f"{given}.{family}.{number}@example.com".lower(),
            f"+1 {area} {exchange} {number % 10_000:04d}",
            "Springfield",
            "vip" if number % 10 == 0 else "",
            "Gate code 4411" if number % 5 == 0 else "",
        ]


def _event_rows(count: int, contacts: int) -> Iterator[list[str]]:
    names = list(EVENT_TYPES)
    weights = [weight for weight, _ in EVENT_TYPES.values()]
    start = 1_640_995_200  # 2022-01-01 00:00 UTC
    span = 3 * 365 * 86_400
    for number in range(count):
        kind = random.choices(names, weights)[0]
        stamp = time.gmtime(start + random.randrange(span))
        yield [
            f"E{number}",
            f"C{random.randrange(contacts)}",
            kind,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp),
            EVENT_TYPES[kind][1],
            random.choice(("in", "out")) if kind in DIRECTED_TYPES else "",
            f"{random.randrange(50, 5000)}.00" if kind in MONEY_TYPES else "",
            "EUR" if kind in MONEY_TYPES else "",
        ]


def _write_csv(path: Path, rows: Iterator[list[str]], header: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _measure(name: str, path: Path, rows: int, database: Path) -> Measured:
    from django.db import connection

    from threadline.parties.duplicates import FindResult
    from threadline.transfer import importer
    from threadline.transfer.importer import import_path
    from threadline.transfer.models import ImportRun
    from threadline.transfer.writing import BULK_ROWS

    connection.close()
    baseline = database.with_name(f"baseline-{name}.sqlite3")
    _copy(database, baseline)
    before = _last_rowids(database)

    after = before

    def skip_duplicates(run: ImportRun) -> FindResult:
        nonlocal after
        after = _last_rowids(database)
        return FindResult()

    # The duplicate search that follows a real run compares the customers it
    # touched; it is not part of writing rows, and is left out here.
    started = time.perf_counter()
    with (
        mock.patch.object(importer, "search_duplicates_after", skip_duplicates),
        _sampled_memory() as memory,
    ):
        report = import_path(path, source=SOURCE)
    seconds = time.perf_counter() - started
    if report.rows_used != rows:
        raise SystemExit(f"{name}: only {report.rows_used} of {rows} rows used")
    print(f"{name}: imported {report.created_text()} in {seconds:.1f} s")

    connection.close()
    commits = math.ceil(rows / BULK_ROWS)
    stored, raw_seconds = _plain_insert(database, baseline, before, after, commits)
    baseline.unlink()
    return Measured(
        name,
        rows,
        path.stat().st_size,
        seconds,
        stored,
        raw_seconds,
        memory,
    )


def _copy(database: Path, target: Path) -> None:
    source = sqlite3.connect(database)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def _last_rowids(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: db.execute(
                f'SELECT coalesce(max(rowid), 0) FROM "{table}"'
            ).fetchone()[0]
            for table in tables
        }


def _plain_insert(
    database: Path,
    baseline: Path,
    before: dict[str, int],
    after: dict[str, int],
    commits: int,
) -> tuple[int, float]:
    """Insert the rows the import stored into the copy taken before it, with
    executemany and `commits` commits; return the rows and the seconds."""
    source = sqlite3.connect(database)
    target = sqlite3.connect(baseline, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        target.execute(f"PRAGMA {pragma}")
    target.execute("PRAGMA cache_size=-65536")
    new = {
        table: source.execute(
            f'SELECT count(*) FROM "{table}" WHERE rowid > ? AND rowid <= ?',
            (last, after.get(table, last)),
        ).fetchone()[0]
        for table, last in before.items()
    }
    print("  stored: " + ", ".join(f"{t} {n:,}" for t, n in new.items() if n))
    total = sum(new.values())
    chunk = max(1, math.ceil(total / commits))
    seconds = 0.0
    # Parents before the rows that point at them.
    order = sorted(
        new, key=lambda table: (table != "parties_tag", table != "parties_party")
    )
    for table in order:
        if not new[table]:
            continue
        rows = source.execute(
            f'SELECT * FROM "{table}" WHERE rowid > ? AND rowid <= ? ORDER BY rowid',
            (before[table], after[table]),
        )
        width = len(rows.description)
        sql = f'INSERT INTO "{table}" VALUES ({", ".join("?" * width)})'
        while batch := rows.fetchmany(chunk):
            started = time.perf_counter()
            target.execute("BEGIN IMMEDIATE")
            target.executemany(sql, batch)
            target.execute("COMMIT")
            seconds += time.perf_counter() - started
    source.close()
    target.close()
    return total, seconds


def _print_table(results: list[Measured]) -> None:
    print()
    header = (
        f"{'import':<9} {'rows':>9} {'file':>8} {'seconds':>8} {'rows/s':>8} "
        f"{'stored':>9} {'raw s':>7} {'raw rows/s':>10} {'ratio':>6} "
        f"{'peak RSS +':>10}  {'RSS + at each quarter':<24}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        quarters = " ".join(
            f"{growth / 2**20:.0f}" for growth in result.memory.quarter_growths()
        )
        print(
            f"{result.name:<9} {result.rows:>9,} {_megabytes_of(result.file_bytes):>8} "
            f"{result.seconds:>8.1f} {result.rate:>8,.0f} {result.stored_rows:>9,} "
            f"{result.raw_seconds:>7.1f} {result.raw_rate:>10,.0f} "
            f"{result.ratio:>6.2f} {result.memory.peak_growth / 2**20:>7.1f} MiB"
            f"  {quarters} MiB"
        )
    print()
    print(
        "rows/s: file rows per second of import_path. stored: rows the import "
        "inserted\n(parties, contact points, events, search keys, tags). raw: "
        "a plain sqlite3 executemany\nof those stored rows into a copy of the "
        f"database taken before the import.\nratio: import rate over raw rate "
        f"(target {TARGET_RATIO}). peak RSS +: the most the resident\nset grew "
        "during the import; RSS + at each quarter: its growth a quarter,\nhalf, "
        "three quarters of the way through the import's time and at its end.\n"
        "The duplicate search that follows a real run is left out."
    )


def _megabytes(path: Path) -> str:
    return _megabytes_of(path.stat().st_size)


def _megabytes_of(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


if __name__ == "__main__":
    main()
