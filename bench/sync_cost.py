"""Measure what synchronous=FULL costs a write on the embedded SQLite default.

    .venv/bin/python bench/sync_cost.py [--events 500]

Records events one transaction at a time through record_event, as the web
app does, once with synchronous=FULL (the default) and once with NORMAL,
each in a fresh data directory, and prints the writes per second of each.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = """
import os, time
import django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from threadline.parties.services import create_party
from threadline.timeline.actors import Actor
from threadline.timeline.services import record_event
with connection.cursor() as cursor:
    cursor.execute("PRAGMA synchronous=" + os.environ["SYNC_MODE"])
actor = Actor.system("bench")
party = create_party(actor, display_name_text="Bench Party")
count = int(os.environ["EVENTS"])
started = time.perf_counter()
for number in range(count):
    record_event(party, "note", f"note {number}", actor=actor)
elapsed = time.perf_counter() - started
print(f"{count / elapsed:.0f} {elapsed / count * 1000:.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()

    print(f"{'synchronous':<12} {'writes/s':>9} {'ms/write':>9}")
    for mode in ("FULL", "NORMAL"):
        rate, per_write = _measure(mode, args.events).split()
        print(f"{mode:<12} {rate:>9} {per_write:>9}")


def _measure(mode: str, events: int) -> str:
    with tempfile.TemporaryDirectory(prefix="threadline-sync-") as data_dir:
        env = {
            **os.environ,
            "THREADLINE_DATA_DIR": data_dir,
            "DJANGO_SETTINGS_MODULE": "threadline.settings",
            "SYNC_MODE": mode,
            "EVENTS": str(events),
            "THREADLINE_LOG_LEVEL": "WARNING",
        }
        env.pop("DATABASE_URL", None)
        result = subprocess.run(
            [sys.executable, "-c", CHILD],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]


if __name__ == "__main__":
    main()
