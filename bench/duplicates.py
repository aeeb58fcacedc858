"""Measure how long finding duplicate candidates takes on a large record.

    .venv/bin/python bench/duplicates.py                  # 100k parties
    .venv/bin/python bench/duplicates.py --parties 20000  # quicker
    .venv/bin/python bench/duplicates.py --use-database-url

The record is built with bulk inserts in a throw-away data directory: people
with emails (a company domain or free mail), phones and addresses, most of
them working at one of the organisations, plus planted duplicates (a typo in
the name, the same email in other capitals, the same phone) and households
that share a phone and an address. It then times a full pass of the finder,
a second full pass (nothing new), and a pass scoped to 500 parties, as after
an import, and reports how many planted duplicates were found.
"""

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIRST = [
    "Aaron",
    "Abigail",
    "Adam",
    "Aisha",
    "Alan",
    "Alice",
    "Amir",
    "Amy",
    "Ana",
    "Andre",
    "Angela",
    "Anna",
    "Arjun",
    "Ben",
    "Bianca",
    "Carla",
    "Carlos",
    "Chen",
    "Chloe",
    "Chris",
    "Clara",
    "Daniel",
    "Dana",
    "David",
    "Diego",
    "Elena",
    "Eli",
    "Emma",
    "Eric",
    "Eva",
    "Fatima",
    "Felix",
    "Fiona",
    "Frank",
    "Grace",
    "Hana",
    "Hugo",
    "Ian",
    "Ines",
    "Isaac",
    "Ivan",
    "Jack",
    "Jana",
    "Jane",
    "Jason",
    "Jin",
    "John",
    "Jonas",
    "Jose",
    "Julia",
    "Karim",
    "Kate",
    "Kofi",
    "Lara",
    "Leo",
    "Lena",
    "Liam",
    "Lina",
    "Luca",
    "Lucy",
    "Maria",
    "Mark",
    "Marta",
    "Max",
    "Mei",
    "Mia",
    "Mohamed",
    "Nadia",
    "Nina",
    "Noah",
    "Olga",
    "Omar",
    "Oscar",
    "Paul",
    "Paula",
    "Pedro",
    "Priya",
    "Rafael",
    "Rosa",
    "Ruth",
    "Sam",
    "Sara",
    "Sofia",
    "Tom",
    "Uma",
    "Victor",
    "Vera",
    "Yusuf",
    "Zara",
    "Zoe",
]
LAST = [
    "Abbott",
    "Adams",
    "Ahmed",
    "Alvarez",
    "Bauer",
    "Becker",
    "Bianchi",
    "Brown",
    "Campbell",
    "Carter",
    "Chen",
    "Clarke",
    "Costa",
    "Davies",
    "Dias",
    "Diaz",
    "Dubois",
    "Evans",
    "Fischer",
    "Fontaine",
    "Garcia",
    "Gomez",
    "Gonzalez",
    "Green",
    "Hall",
    "Hansen",
    "Harris",
    "Hoffmann",
    "Hughes",
    "Ibrahim",
    "Ito",
    "Jansen",
    "Jensen",
    "Johnson",
    "Jones",
    "Kaya",
    "Khan",
    "Kim",
    "King",
    "Klein",
    "Kowalski",
    "Lambert",
    "Larsen",
    "Lee",
    "Lewis",
    "Lopez",
    "Martin",
    "Meyer",
    "Miller",
    "Moreau",
    "Morris",
    "Muller",
    "Murphy",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "Park",
    "Patel",
    "Perez",
    "Petrov",
    "Popescu",
    "Reyes",
    "Ricci",
    "Roberts",
    "Rossi",
    "Santos",
    "Schmidt",
    "Schulz",
    "Silva",
    "Singh",
    "Smith",
    "Sousa",
    "Suzuki",
    "Tanaka",
    "Taylor",
    "Thomas",
    "Torres",
    "Wagner",
    "Walker",
    "Weber",
    "White",
    "Williams",
    "Wilson",
    "Wong",
    "Wright",
    "Young",
    "Zhang",
]
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com")
STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue")
PLANTED_SHARE = 0.02
HOUSEHOLD_SHARE = 0.03


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--use-database-url", action="store_true")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="threadline-bench-dup-"))
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "threadline.settings"
    os.environ["THREADLINE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("THREADLINE_LOG_LEVEL", "WARNING")
    if not args.use_database_url:
        os.environ.pop("DATABASE_URL", None)

    import django

    django.setup()
    try:
        run(args.parties, args.seed)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run(parties: int, seed: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"Building {parties:,} parties ({connection.vendor})")
    started = time.perf_counter()
    planted = build(parties, random.Random(seed))
    print(f"Built in {time.perf_counter() - started:.0f} s")

    from threadline.parties.duplicates import find_duplicates
    from threadline.parties.models import DuplicateCandidate, Party

    first = _timed("full pass", find_duplicates)
    _timed("second full pass", find_duplicates)
    some = list(Party.objects.order_by("-id").values_list("pk", flat=True)[:500])
    _timed("pass over 500 parties", lambda: find_duplicates(some))

    pairs = set(DuplicateCandidate.objects.values_list("first_id", "second_id"))
    found = sum(1 for pair in planted if pair in pairs)
    print(
        f"Planted duplicates found: {found:,} of {len(planted):,}; "
        f"pairs stored: {len(pairs):,} ({first.found:,} on the first pass)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak memory of the process: {peak:,.0f} MB")


def _timed(label: str, job: Any) -> Any:
    started, cpu = time.perf_counter(), time.process_time()
    result = job()
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    # CPU time beside wall time: a busy machine stretches the second only.
    print(f"{label}: {wall:.1f} s ({used:.1f} s of CPU) — {result}")
    return result


def build(count: int, rng: random.Random) -> list[tuple[int, int]]:
    """Insert the record; return the planted duplicate pairs (low id first)."""
    from django.utils import timezone

    from threadline.parties.models import (
        ContactPoint,
        Party,
        PartyKind,
        Relationship,
        RelationshipKind,
    )
    from threadline.parties.names import fold

    now = timezone.now()
    organisations = max(count // 100, 1)
    domains = [f"company{n}.example-firm.com" for n in range(organisations)]
    rows: list[dict[str, Any]] = []
    for n in range(organisations):
        rows.append({"name": f"Company {n} Ltd", "kind": PartyKind.ORGANISATION})
    planted_rows: list[tuple[int, int]] = []
    while len(rows) < count:
        person = _person(rng, organisations, domains)
        rows.append(person)
        roll = rng.random()
        if roll < PLANTED_SHARE and len(rows) < count:
            planted_rows.append((len(rows) - 1, len(rows)))
            rows.append(_variant(person, rng))
        elif roll < PLANTED_SHARE + HOUSEHOLD_SHARE and len(rows) < count:
            rows.append(_relative(person, rng))

    created = Party.objects.bulk_create(
        [
            Party(
                public_id=uuid.uuid4(),
                kind=row["kind"],
                display_name=row["name"],
                sort_name=fold(row["name"]),
                stage_changed_at=now,
            )
            for row in rows
        ],
        batch_size=5_000,
    )
    ids = [party.pk for party in created]
    points, links = [], []
    for index, row in enumerate(rows):
        for kind, value in row.get("points", []):
            points.append(
                ContactPoint(
                    public_id=uuid.uuid4(),
                    party_id=ids[index],
                    kind=kind,
                    raw=value,
                    value=value,
                    is_primary=True,
                )
            )
        if row.get("works_at") is not None:
            links.append(
                Relationship(
                    public_id=uuid.uuid4(),
                    from_party_id=ids[index],
                    to_party_id=ids[row["works_at"]],
                    kind=RelationshipKind.WORKS_AT,
                )
            )
    ContactPoint.objects.bulk_create(points, batch_size=5_000)
    Relationship.objects.bulk_create(links, batch_size=5_000)
    return [(min(ids[a], ids[b]), max(ids[a], ids[b])) for a, b in planted_rows]


def _person(
    rng: random.Random, organisations: int, domains: list[str]
) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    employer = rng.randrange(organisations) if rng.random() < 0.6 else None
    domain = domains[employer] if employer is not None else rng.choice(FREE_MAIL)
    local = f"{first}.{last}{rng.randrange(10_000)}".lower()
    points = [("email", f"{local}@{domain}")]
    if rng.random() < 0.8:
        points.append(("phone", f"+1{rng.randrange(2_000_000_000, 9_999_999_999)}"))
    if rng.random() < 0.4:
        street = rng.choice(STREETS)
        points.append(("address", f"{rng.randrange(1, 300)} {street}, Springfield"))
    return {
        "name": f"{first} {last}",
        "kind": "person",
        "points": points,
        "works_at": employer,
    }


def _variant(person: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The same person written again: a typo, or one shared contact point."""
    name = person["name"]
    if rng.random() < 0.5 and len(name) > 4:
        cut = rng.randrange(1, len(name) - 2)
        name = name[:cut] + name[cut + 1] + name[cut] + name[cut + 2 :]
    shared = [rng.choice(person["points"])]
    return {**person, "name": name, "points": shared}


def _relative(person: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Someone living with the person: another first name, the same phone
    and address."""
    last = person["name"].split()[-1]
    shared = [point for point in person["points"] if point[0] != "email"]
    return {
        "name": f"{rng.choice(FIRST)} {last}",
        "kind": "person",
        "points": shared,
        "works_at": None,
    }


if __name__ == "__main__":
    main()
