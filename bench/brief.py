"""Measure the party page, the brief, search and Today on a large record.

    .venv/bin/python bench/brief.py            # 100k parties, 1M events
    .venv/bin/python bench/brief.py --quick    # 5k parties, 50k events
    .venv/bin/python bench/brief.py --large    # 1M parties, 10M events

The database is built with bulk inserts (not the services, which would take
hours) in its own data directory, on the embedded SQLite default unless
--use-database-url is given. Search keys are computed by the search
service's own key functions, so search finds what index_party would index.
Figures are warm-cache latencies in milliseconds; pass --data-dir to keep the
database and reuse it on the next run.
"""

import argparse
import datetime as dt
import gc
import io
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIG_PARTY_EVENTS = 10_000
TODAY_FOLLOW_UPS = 1_000
CHUNK = 20_000
WARM_UP_ROUNDS = 20
MIN_ROUNDS = 30
SCENARIO_BUDGET_SECONDS = 30.0
TARGETS_MS = {"party page": 30.0, "search": 50.0, "today": 30.0}
AREA_CODES = ("201", "212", "305", "312", "415", "503", "617", "702", "713", "917")
# Kinds of the background history and how often each occurs.
KIND_WEIGHTS = {
    "call": 30,
    "message": 25,
    "note": 10,
    "visit": 8,
    "booking": 6,
    "quote": 5,
    "invoice": 6,
    "payment": 6,
    "profile_change": 4,
}


def main() -> None:
    args = _arguments()
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="threadline-bench-"))
    _configure(data_dir, args.use_database_url)

    import django

    django.setup()
    try:
        run(args, data_dir)
    finally:
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def run(args: argparse.Namespace, data_dir: Path) -> None:
    from django.core.management import call_command
    from django.db import connection

    print(f"Data in {data_dir} ({connection.vendor})")
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    world = _existing_world(args.parties, args.events)
    if world is None:
        started = time.monotonic()
        world = build(args.parties, args.events, seed=args.seed, analyse=args.analyse)
        print(
            f"Built {args.parties:,} parties and {args.events:,} events "
            f"in {time.monotonic() - started:.0f} s"
        )
    else:
        print("Reusing the database already built with these sizes")
    measure(world, rounds=args.rounds, explain=args.explain)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--large", action="store_true", help="1M parties, 10M events")
    parser.add_argument("--quick", action="store_true", help="5k parties, 50k events")
    parser.add_argument("--rounds", type=int, default=300, help="timed runs each")
    parser.add_argument("--data-dir", help="keep the database here and reuse it")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--explain", action="store_true", help="always show the slowest queries"
    )
    parser.add_argument(
        "--analyse",
        action="store_true",
        help="run ANALYZE after building (Threadline itself does not)",
    )
    parser.add_argument(
        "--use-database-url",
        action="store_true",
        help="measure on DATABASE_URL instead of the embedded SQLite",
    )
    args = parser.parse_args()
    if args.large:
        args.parties, args.events = 1_000_000, 10_000_000
    if args.quick:
        args.parties, args.events, args.rounds = 5_000, 50_000, 100
    if args.events < BIG_PARTY_EVENTS or args.parties < 100:
        parser.error(f"use at least 100 parties and {BIG_PARTY_EVENTS} events")
    return args


def _configure(data_dir: Path, use_database_url: bool) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "threadline.settings"
    os.environ["THREADLINE_DATA_DIR"] = str(data_dir)
    os.environ["THREADLINE_ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.setdefault("THREADLINE_LOG_LEVEL", "WARNING")
    if not use_database_url:
        os.environ.pop("DATABASE_URL", None)


# --- building ----------------------------------------------------------


class World:
    """The ids the measurements need from the built database."""

    def __init__(self, big_party: int, owner: int, today_user: int) -> None:
        self.big_party = big_party
        self.owner = owner
        self.today_user = today_user


def _existing_world(parties: int, events: int) -> World | None:
    from threadline.accounts.models import User
    from threadline.parties.models import Party
    from threadline.timeline.models import Event

    big = Party.objects.filter(source="bench", external_id="big").first()
    if big is None:
        return None
    if Party.objects.count() != parties or Event.objects.count() < events:
        sys.exit("The data dir holds a database of other sizes; use another one.")
    owner = User.objects.get(email="owner@bench.example")
    today = User.objects.get(email="today@bench.example")
    return World(big.pk, owner.pk, today.pk)


def build(parties: int, events: int, seed: int, analyse: bool = False) -> World:
    from threadline.accounts.models import Role, User

    rng = random.Random(seed)
    now = _now()
    owner = User.objects.create_user("owner@bench.example", None, role=Role.OWNER)
    today = User.objects.create_user("today@bench.example", None, role=Role.STAFF)

    first_id = _insert_parties(rng, parties, now, today.pk)
    _insert_contact_points_and_terms(first_id, parties)
    big = first_id
    _insert_events(rng, big, first_id, parties, events, now, owner.pk)
    _refresh_activity(first_id, parties)
    _insert_follow_ups(rng, first_id, parties, today.pk, big, now)
    _insert_big_party_extras(big, first_id, owner, now)
    if analyse:
        _analyse()
    return World(big, owner.pk, today.pk)


def _now() -> dt.datetime:
    from django.utils import timezone

    return timezone.now().replace(microsecond=0)


def _insert_parties(
    rng: random.Random, count: int, now: dt.datetime, today: int
) -> int:
    from threadline.parties.names import fold
    from threadline.transfer.demo import FAMILY_NAMES, GIVEN_NAMES

    columns = (
        "public_id kind display_name given_name family_name sort_name stage "
        "stage_changed_at preferred_channel contact_hours language time_zone "
        "consent restricted source external_id created_at updated_at owner_id "
        "photo_type archived_reason"
    )
    stamp = _db_time(now)

    def rows() -> Iterator[tuple[Any, ...]]:
        for index in range(count):
            given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
            name = f"{given} {family}"
            owner = today if index % 50 == 0 else None
            key = "big" if index == 0 else f"p{index}"
            yield (
                uuid.uuid4().hex,
                "person",
                name,
                given,
                family,
                fold(name),
                "customer",
                stamp,
                "",
                "",
                "",
                "",
                "granted",
                False,
                "bench",
                key,
                stamp,
                stamp,
                owner,
                "",
                "",
            )

    _insert_many("parties_party", columns, rows())
    return _first_id("parties_party")


def _insert_contact_points_and_terms(first_id: int, count: int) -> None:
    from threadline.parties.models import Party
    from threadline.search.services import _name_terms, _phone_terms

    stamp = _db_time(_now())
    names = Party.objects.order_by("id").values_list("id", "display_name")
    points, terms = [], []
    for party_id, name in names.iterator(chunk_size=CHUNK):
        serial = party_id - first_id
        local = name.lower().replace(" ", ".").replace("'", "")
        email = f"{local}{serial}@example.com"
        phone = _phone(serial)
        for kind, raw, value in (
            ("email", email, email),
            ("phone", phone[1], phone[0]),
        ):
            points.append(
                (
                    uuid.uuid4().hex,
                    kind,
                    "",
                    raw,
                    value,
                    "",
                    True,
                    True,
                    False,
                    stamp,
                    stamp,
                    party_id,
                )
            )
        # The keys index_party writes, computed here without a query per party.
        keys = set(_name_terms(name)) | {email} | set(_name_terms(email.split("@")[0]))
        keys |= set(_phone_terms(phone[0]))
        terms += [(party_id, key[:300]) for key in sorted(keys) if key]
    _insert_many(
        "parties_contactpoint",
        "public_id kind label raw value extension dialable is_primary "
        "is_service_site created_at updated_at party_id",
        points,
    )
    _insert_many("search_searchterm", "party_id term", terms)


def _phone(serial: int) -> tuple[str, str]:
    """An E.164 number and the way it was typed, unique per party."""
    area = AREA_CODES[serial % len(AREA_CODES)]
    line = 2_000_000 + (serial * 7_919) % 7_000_000
    exchange, rest = str(line)[:3], str(line)[3:]
    return f"+1{area}{line}", f"({area}) {exchange}-{rest}"


def _insert_events(
    rng: random.Random,
    big: int,
    first_id: int,
    parties: int,
    events: int,
    now: dt.datetime,
    actor: int,
) -> None:
    columns = (
        "public_id kind occurred_at occurred_tz recorded_at summary body payload "
        "direction scheduled_for actor_kind actor_label source external_id "
        "actor_user_id corrects_id party_id thread_id"
    )
    kinds = list(KIND_WEIGHTS)
    weights = list(KIND_WEIGHTS.values())
    span = 3 * 365 * 24 * 3600

    def rows() -> Iterator[tuple[Any, ...]]:
        for index in range(events):
            party = (
                big
                if index < BIG_PARTY_EVENTS
                else first_id + rng.randrange(1, parties)
            )
            kind = rng.choices(kinds, weights)[0]
            when = now - dt.timedelta(seconds=rng.randrange(3600, span))
            payload, direction, scheduled = _payload(rng, kind, index, when, now)
            yield (
                uuid.uuid4().hex,
                kind,
                _db_time(when),
                "UTC",
                _db_time(when),
                f"{kind.replace('_', ' ').capitalize()} number {index}",
                "",
                payload,
                direction,
                scheduled,
                "user",
                "Bench Owner",
                "",
                "",
                actor,
                None,
                party,
                None,
            )

    _insert_many("timeline_event", columns, rows())


def _payload(
    rng: random.Random, kind: str, index: int, when: dt.datetime, now: dt.datetime
) -> tuple[str, str, Any]:
    direction = rng.choice(("inbound", "outbound"))
    reference = f"R-{index // 2}"
    if kind == "call":
        return (
            json.dumps({"direction": direction, "duration_minutes": 5}),
            direction,
            None,
        )
    if kind == "message":
        payload = {"direction": direction, "channel": "email", "subject": "Hello"}
        return json.dumps(payload), direction, None
    if kind == "booking":
        starts = now.replace(hour=10) if index % 997 == 0 else when + dt.timedelta(7)
        payload = {"starts_at": starts.isoformat(), "site": "1 Main Street"}
        return json.dumps(payload), "", _db_time(starts)
    if kind in ("quote", "invoice", "payment"):
        payload = {"amount": "120.00", "currency": "USD", "reference": reference}
        if kind == "invoice":
            payload["due_on"] = (when + dt.timedelta(days=14)).date().isoformat()
        if kind == "quote":
            payload["decide_by"] = (when + dt.timedelta(days=14)).date().isoformat()
        return json.dumps(payload), "", None
    if kind == "profile_change":
        return json.dumps({"changes": [{"field": "language", "new": "en"}]}), "", None
    return json.dumps({}), "", None


def _refresh_activity(first_id: int, parties: int) -> None:
    """Fill the columns record_event keeps, from the inserted events."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE parties_party SET last_interaction_at = ("
            " SELECT MAX(occurred_at) FROM timeline_event e"
            " WHERE e.party_id = parties_party.id"
            " AND e.kind IN ('call', 'message', 'meeting', 'visit'))"
        )
        cursor.execute(
            "UPDATE parties_party SET awaiting_reply_since = last_interaction_at"
            " WHERE id % 97 = 0"
        )


def _insert_follow_ups(
    rng: random.Random,
    first_id: int,
    parties: int,
    today: int,
    big: int,
    now: dt.datetime,
) -> None:
    columns = (
        "public_id summary due_at status created_at updated_at assignee_id "
        "created_by_id party_id"
    )
    stamp = _db_time(now)
    rows = []
    for index in range(TODAY_FOLLOW_UPS):
        due = now + dt.timedelta(hours=rng.randrange(-30 * 24, 30 * 24))
        party = first_id + rng.randrange(1, parties)
        rows.append(
            (
                uuid.uuid4().hex,
                f"Call back {index}",
                _db_time(due),
                "open",
                stamp,
                stamp,
                today,
                today,
                party,
            )
        )
    for index in range(5):
        due = now + dt.timedelta(days=index - 2)
        rows.append(
            (
                uuid.uuid4().hex,
                f"Big follow-up {index}",
                _db_time(due),
                "open",
                stamp,
                stamp,
                today,
                today,
                big,
            )
        )
    _insert_many("followups_followup", columns, rows)


def _insert_big_party_extras(
    big: int, first_id: int, owner: Any, now: dt.datetime
) -> None:
    """Threads, pinned facts and relationships, so every brief section works."""
    from threadline.parties.models import Party, PinnedFact, Relationship
    from threadline.threads.models import Thread

    party = Party.objects.get(pk=big)
    Thread.objects.bulk_create(
        Thread(
            party=party,
            kind="quote",
            title=f"Quote {i}",
            status=status,
            owner=owner,
            opened_at=now - dt.timedelta(days=i),
        )
        for i, status in enumerate(
            ["open", "waiting_on_them", "won", "lost", "done"] * 4
        )
    )
    PinnedFact.objects.bulk_create(
        PinnedFact(party=party, category="preference", text=f"Preference {i}")
        for i in range(5)
    )
    Relationship.objects.bulk_create(
        Relationship(from_party=party, to_party_id=first_id + i, kind="referred_by")
        for i in range(1, 4)
    )


def _insert_many(table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert rows whose values follow the space-separated column names."""
    from django.db import connection, transaction

    names = columns.split()
    sql = (
        f'INSERT INTO "{table}" ({", ".join(names)}) '
        f"VALUES ({', '.join(['%s'] * len(names))})"
    )
    batch: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) == CHUNK:
                with transaction.atomic():
                    cursor.executemany(sql, batch)
                batch = []
        if batch:
            with transaction.atomic():
                cursor.executemany(sql, batch)


def _first_id(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'SELECT MIN(id) FROM "{table}"')
        return int(cursor.fetchone()[0])


def _db_time(moment: dt.datetime) -> Any:
    from django.db import connection

    return connection.ops.adapt_datetimefield_value(moment)


def _analyse() -> None:
    """Leave the planner statistics a long-running install would have."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- measuring ---------------------------------------------------------


def measure(world: World, rounds: int, explain: bool) -> None:
    from django.db import connection
    from django.test import Client

    from threadline.accounts.models import User
    from threadline.brief.services import compute_brief
    from threadline.parties.models import Party
    from threadline.search.services import search_parties

    owner = User.objects.get(pk=world.owner)
    party = Party.objects.get(pk=world.big_party)
    page = Client()
    page.force_login(owner)
    today = Client()
    today.force_login(User.objects.get(pk=world.today_user))
    raw = connection.connection.cursor()
    mark = "?" if connection.vendor == "sqlite" else "%s"

    def party_page() -> None:
        _ok(page.get(f"/customers/{party.public_id}/"))

    def latest_events() -> None:
        raw.execute(
            f"SELECT * FROM timeline_event WHERE party_id = {mark} "
            "ORDER BY occurred_at DESC, id DESC LIMIT 50",
            (world.big_party,),
        ).fetchall()

    def brief() -> None:
        compute_brief(Party.objects.select_related("owner").get(pk=world.big_party))

    def today_page() -> None:
        _ok(today.get("/"))

    sample = Party.objects.exclude(pk=world.big_party).order_by("id")[7]
    email = sample.contact_points.get(kind="email").value
    phone = sample.contact_points.get(kind="phone").raw
    searches = {
        "search 2-letter name": sample.family_name[:2],
        "search 4-letter name": sample.family_name[:4],
        "search email": email,
        "search partial phone": phone[:9],
    }

    print(f"\n{'scenario':<46}{'p50 ms':>9}{'p99 ms':>9}{'runs':>6}  target")
    results = [
        _row("party page (10k events)", _time(party_page, rounds), "party page"),
        _row("raw SQL: latest 50 events", _time(latest_events, rounds)),
        _row("brief alone", _time(brief, rounds)),
    ]
    search_all: list[float] = []
    slowest_search = ("", 0.0)
    for label, query in searches.items():
        timings = _time(partial(_search, search_parties, owner, query), rounds)
        search_all += timings
        results.append(_row(f"{label} {query!r}", timings))
        if _p99(timings) > slowest_search[1]:
            slowest_search = (query, _p99(timings))
    results.append(_row("search, all four", search_all, "search"))
    results.append(_row("Today (1,000 follow-ups)", _time(today_page, rounds), "today"))
    ratio = statistics.median(results[0][1]) / statistics.median(results[1][1])
    print(f"\nparty page / raw SQL at p50: {ratio:.0f}x")

    slow = {
        target for _, timings, target in results if target and _missed(timings, target)
    }
    if explain or "party page" in slow:
        _explain("party page", party_page)
    if explain or "today" in slow:
        _explain("Today", today_page)
    if explain or "search" in slow:
        query = slowest_search[0]
        _explain(f"search {query!r}", partial(_search, search_parties, owner, query))


def _search(search: Callable[..., Any], user: Any, query: str) -> None:
    list(search(user, query))


def _ok(response: Any) -> None:
    if response.status_code != 200:
        raise SystemExit(
            f"{response.request['PATH_INFO']} answered {response.status_code}"
        )


def _time(action: Callable[[], Any], rounds: int) -> list[float]:
    """Warm up, then return each run's duration in milliseconds.

    A scenario slower than its budget stops early, after at least
    MIN_ROUNDS runs, so one slow path does not hold up the whole report.
    """
    warm_until = time.monotonic() + SCENARIO_BUDGET_SECONDS / 6
    for _ in range(min(WARM_UP_ROUNDS, rounds)):
        action()
        if time.monotonic() > warm_until:
            break
    # As `threadline serve` does after start-up: the database build left a
    # large heap that a server process would not carry.
    gc.collect()
    gc.freeze()
    timings: list[float] = []
    deadline = time.monotonic() + SCENARIO_BUDGET_SECONDS
    while len(timings) < rounds:
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
        if len(timings) >= MIN_ROUNDS and time.monotonic() > deadline:
            break
    return timings


def _p99(timings: list[float]) -> float:
    ordered = sorted(timings)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def _missed(timings: list[float], target: str) -> bool:
    return _p99(timings) >= TARGETS_MS[target]


def _row(
    label: str, timings: list[float], target: str = ""
) -> tuple[str, list[float], str]:
    """Print one scenario's p50 and p99 as soon as it is measured."""
    p99 = _p99(timings)
    goal = ""
    if target:
        limit = TARGETS_MS[target]
        goal = f"p99 < {limit:.0f}  {'ok' if p99 < limit else 'MISSED'}"
    median = statistics.median(timings)
    print(f"{label:<46}{median:>9.2f}{p99:>9.2f}{len(timings):>6}  {goal}")
    return label, timings, target


def _explain(label: str, action: Callable[[], Any]) -> None:
    """Show where one run spends its time: the Python side by profile, then
    each SQL statement replayed with its bound parameters, slowest first."""
    from django.db import connection

    statements: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        action()
    timed = [(_replay(sql, params), sql, params) for sql, params in statements]
    total = sum(duration for duration, _, _ in timed)
    print(f"\n{label}: {len(timed)} SQL statements, {total:.2f} ms replayed")
    _profile(action)
    for duration, sql, params in sorted(timed, key=lambda row: -row[0])[:4]:
        shown = sql if len(sql) <= 240 else sql[:240] + " ..."
        print(f"  {duration:7.2f} ms  {shown}")
        for step in _plan(sql, params)[:8]:
            print(f"             plan: {step}")


def _replay(sql: str, params: Any) -> float:
    from django.db import connection

    def once() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    return statistics.median(_time(once, 5))


def _plan(sql: str, params: Any) -> list[str]:
    from django.db import connection

    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [str(row[-1]) for row in cursor.fetchall()]


def _profile(action: Callable[[], Any]) -> None:
    """Print the heaviest Threadline and Django steps of twenty runs."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20):
        action()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(
        r"threadline/(?!.*bench)|render_to_string|execute_sql|reverse", 14
    )
    print("  profile of 20 runs (cumulative seconds, under cProfile):")
    for line in out.getvalue().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[0][0].isdigit() and "(" in parts[5]:
            where = parts[5].split("site-packages/")[-1].replace(str(REPO) + "/", "")
            print(f"    {parts[3]:>7}  {where}")


if __name__ == "__main__":
    main()
