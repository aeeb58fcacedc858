"""The whole database as a folder of JSON Lines files, and its restore.

An archive holds one file per table of Threadline's apps (many-to-many link
tables included), rows in primary-key order, written by Django's "jsonl"
serializer with every id, public id and timestamp exactly as stored, and a
manifest naming the format, the Threadline version, the migrations applied,
each file's row count and when it was written. Values are raw: nothing is
escaped for spreadsheets, because the archive is read back by Threadline,
not by people.

A restore fills an empty install only, in one transaction, saving rows raw
so that automatic timestamps are not rewritten; tables derived from others
(search keys) are rebuilt rather than read.
"""

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.serializers.jsonl import Serializer as JsonlSerializer
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Exists, ForeignKey, Model, OuterRef, sql
from django.utils import timezone

import threadline
from threadline.accounts.models import User
from threadline.errors import InvalidInput
from threadline.parties.models import ContactPoint, Party
from threadline.search.services import index_new_parties
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.models import RESTORE_FORMAT, ImportRun
from threadline.transfer.progress import NoProgress, Progress
from threadline.transfer.report import ImportReport
from threadline.transfer.runs import active_run

if TYPE_CHECKING:
    from threadline.transfer.importer import ImportOptions

logger = logging.getLogger(__name__)

FORMAT = "threadline-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUFFIX = ".jsonl"
# Rows fetched per round trip: memory stays flat whatever the table's size.
CHUNK_ROWS = 2000
# Rows held in memory before they are inserted on restore.
INSERT_ROWS = 2000
# How restored rows are counted in the report; parties by their kind.
NOUNS: dict[type[Model], str] = {
    ContactPoint: "contact point",
    User: "user",
    Event: "event",
}
# What to do about an archive whose files were changed or mixed up.
EXPORT_AGAIN = (
    "The archive was changed or mixed with another since it was written: "
    "export the database again with `threadline export --format jsonl` and "
    "import the new archive."
)
# Tables computed from other tables: rebuilt on restore, never exported.
DERIVED = {
    "search.searchterm": "search keys, rebuilt from parties and contact points",
}
# Tables that belong to one install and mean nothing in another.
INSTALL_ONLY = {
    "accounts.setuptoken": "one-time setup links of the install that issued them",
}


class ArchiveEncoder(DjangoJSONEncoder):
    """Django's encoder, but times keep their microseconds.

    DjangoJSONEncoder cuts times to milliseconds, which would move every
    timestamp a little on a round trip.
    """

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


class _LineSerializer(JsonlSerializer):
    """Django's "jsonl" serializer, writing each line in one piece.

    json.dump feeds the file fragment by fragment through the pure-Python
    encoder; json.dumps writes the same text through the C one, about
    twice as fast over a whole export.
    """

    def end_object(self, obj: Model) -> None:
        row = self.get_dump_object(obj)
        try:
            self.stream.write(json.dumps(row, **self.json_kwargs) + "\n")
        except UnicodeEncodeError:
            # A JSON column can hold text no UTF-8 file can (a lone surrogate
            # from an undecodable mail header); escaped, it reads back alike.
            kwargs = {**self.json_kwargs, "ensure_ascii": True}
            self.stream.write(json.dumps(row, **kwargs) + "\n")
        self._current = None


@dataclass(frozen=True)
class ArchiveFile:
    """One table's file as the manifest lists it."""

    file: str
    model: str
    rows: int


def archived_models() -> list[type[Model]]:
    """Every table an archive holds, each after the tables it points at."""
    candidates = {
        model._meta.label_lower: model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_config.name.startswith("threadline.")
        and model._meta.label_lower not in DERIVED
        and model._meta.label_lower not in INSTALL_ONLY
    }
    # Link tables to Django's groups and permissions point outside the
    # archive; Threadline gives access by roles and teams, never by those.
    kept = {
        label: model
        for label, model in candidates.items()
        if all(target in candidates for target in _targets(model))
    }
    graph = {label: _targets(model) - {label} for label, model in kept.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError:
        # Foreign keys are checked at commit, so any order restores; the
        # dependency order only makes the archive easier to read.
        order = sorted(graph)
    return [kept[label] for label in order]


def _targets(model: type[Model]) -> set[str]:
    return {
        field.related_model._meta.label_lower
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is not None
    }


def export_archive(target: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Write the whole database to the folder `target`; return the manifest.

    Raises InvalidInput if `target` exists and is not an empty folder. The
    files are written to a hidden folder beside it that is renamed only once
    the manifest is written, so an interrupted export never leaves a folder
    that looks like a whole archive.
    """
    _require_empty_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent)
    )
    shown = progress or NoProgress()
    try:
        with _snapshot():
            models = archived_models()
            shown.start(sum(_count(model) for model in models), target.name)
            files = [_write_table(model, staging, shown) for model in models]
            migrations = applied_migrations()
        manifest = _manifest(files, migrations)
        _write_durably(staging / MANIFEST, _manifest_text(manifest))
        _move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shown.finish()

    logger.info(
        "Exported %d rows from %d tables to %s",
        sum(entry.rows for entry in files),
        len(files),
        target,
    )
    return manifest


def _require_empty_target(target: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise InvalidInput(
            f"{target} is a file. Give the name of a new folder for the archive."
        )
    if any(target.iterdir()):
        raise InvalidInput(
            f"{target} is not empty. Give a new or empty folder, so that no "
            "file of another archive is mixed into this one."
        )


@contextmanager
def _snapshot() -> Iterator[None]:
    """Read every table as it stood at one moment, holding no writer back."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:
        yield
        return

    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                )
            yield
        return

    if connection.vendor == "sqlite":
        # Django begins SQLite transactions IMMEDIATE, which would queue
        # every writer behind the export; a deferred read transaction sees
        # one snapshot in WAL mode and blocks no one.
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("COMMIT")
        return
    yield


def _count(model: type[Model]) -> int:
    return model._base_manager.count()


def _write_table(model: type[Model], folder: Path, progress: Progress) -> ArchiveFile:
    label = model._meta.label_lower
    name = label + SUFFIX
    rows = _Counted(
        model._base_manager.order_by("pk").iterator(chunk_size=CHUNK_ROWS), progress
    )
    with (folder / name).open("w", encoding="utf-8", newline="\n") as stream:
        _LineSerializer().serialize(
            rows,
            stream=stream,
            fields=[field.name for field in model._meta.local_fields],
            cls=ArchiveEncoder,
        )
        stream.flush()
        os.fsync(stream.fileno())
    return ArchiveFile(file=name, model=label, rows=rows.count)


class _Counted:
    """Passes rows through, counting them."""

    def __init__(self, rows: Iterable[Model], progress: Progress) -> None:
        self.rows = rows
        self.progress = progress
        self.count = 0

    def __iter__(self) -> Iterator[Model]:
        for row in self.rows:
            self.count += 1
            self.progress.advance()
            yield row


def applied_migrations() -> dict[str, list[str]]:
    """The migrations applied to the database, per app, in name order."""
    recorder = MigrationRecorder(connections[DEFAULT_DB_ALIAS])
    applied: dict[str, list[str]] = {}
    for app_label, name in sorted(recorder.applied_migrations()):
        applied.setdefault(app_label, []).append(name)
    return applied


def _manifest(files: list[ArchiveFile], migrations: dict[str, list[str]]) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "threadline_version": threadline.__version__,
        "created_at": timezone.now().isoformat(),
        "migrations": migrations,
        "files": [
            {"file": entry.file, "model": entry.model, "rows": entry.rows}
            for entry in files
        ],
        "rebuilt_on_restore": DERIVED,
        "not_exported": INSTALL_ONLY,
        "notes": (
            "One JSON object per line, as Django's jsonl serializer writes "
            "it: model, pk and fields, with values exactly as stored (no "
            "spreadsheet escaping). Files are listed in the order a restore "
            "reads them."
        ),
    }


def _manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def _write_durably(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())


def _move_into_place(staging: Path, target: Path) -> None:
    if target.exists():
        target.rmdir()
    staging.rename(target)


def restore_archive(options: "ImportOptions") -> ImportReport:
    """Restore an archive folder into an empty install, or check it (dry run).

    Raises InvalidInput, having changed nothing, for an archive that cannot
    be read whole, one written at other migrations, or a database that
    already holds a record.
    """
    manifest = read_manifest(options.path)
    report = ImportReport(
        file=options.path.name,
        mapping="archive",
        description=_describe(manifest),
        dry_run=options.dry_run,
    )
    _require_same_migrations(manifest)
    if options.dry_run:
        _check_files(options.path, manifest, report, options.progress)
        for problem in _record_problems():
            report.problem(0, problem, skipped=False)
        return report

    _require_empty_database()
    try:
        with _room_for(active_run(), options.path, manifest):
            _restore_files(options.path, manifest, report, options.progress)
            _require_every_link_held(manifest)
            _rebuild_derived()
            _reset_sequences()
    except IntegrityError as error:
        # A row the database refuses though the checks above let it by: a
        # duplicate id at its insert, or a check deferred to the commit.
        raise InvalidInput(
            "The archive's files do not agree: its rows cannot be stored "
            f"together ({' '.join(_reason(error).split())}). {EXPORT_AGAIN}"
        ) from error
    logger.info("Restored %d rows from %s", report.rows_used, options.path)
    return report


def check_restorable(folder: Path) -> None:
    """Raise InvalidInput, before a restore's run is stored, for an archive
    written at other migrations or a database that already holds a record,
    so a refused restore leaves nothing behind."""
    _require_same_migrations(read_manifest(folder))
    _require_empty_database()


def read_manifest(folder: Path) -> dict[str, Any]:
    """Return the archive's manifest, checked; InvalidInput says what is wrong."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidInput(
            f"{folder} has no {MANIFEST}: it is not a Threadline archive."
        ) from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(
            f"{path} cannot be read as JSON ({error}); the archive is damaged."
        ) from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{path} does not describe a Threadline archive.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(
            f"The archive is in format version {manifest.get('format_version')!r}; "
            f"this Threadline reads version {FORMAT_VERSION}. Restore it with the "
            "Threadline version that wrote it."
        )
    files = manifest.get("files")
    if not isinstance(files, list) or not all(_is_entry(entry) for entry in files):
        raise InvalidInput(f"{path} lists its files wrongly; the archive is damaged.")
    return manifest


def _is_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("file"), str)
        and isinstance(entry.get("model"), str)
        and isinstance(entry.get("rows"), int)
        and entry["file"] == entry["model"] + SUFFIX
    )


def _describe(manifest: dict[str, Any]) -> str:
    rows = sum(entry["rows"] for entry in manifest["files"])
    return (
        f"Threadline {manifest.get('threadline_version', '?')} archive of "
        f"{manifest.get('created_at', '?')}, {rows:,} rows in "
        f"{len(manifest['files'])} tables"
    )


def _require_same_migrations(manifest: dict[str, Any]) -> None:
    """Refuse an archive written at another schema: its rows would not fit."""
    # Known shortcoming: an older archive is not migrated forward on restore;
    # it is restored by the version that wrote it, then upgraded.
    archived = manifest.get("migrations")
    if not isinstance(archived, dict):
        raise InvalidInput("The manifest has no migration state; it is damaged.")
    current = applied_migrations()
    if not current.get("parties"):
        raise InvalidInput(
            "This install's database is not set up yet. Run `threadline migrate` "
            "first, then import the archive again."
        )
    app_labels = {
        config.label
        for config in apps.get_app_configs()
        if config.name.startswith("threadline.")
    }
    differences = []
    for label in sorted(app_labels | (archived.keys() & app_labels)):
        here, there = set(current.get(label, [])), set(archived.get(label, []))
        differences += [f"{label} {name} only here" for name in sorted(here - there)]
        differences += [
            f"{label} {name} only in the archive" for name in sorted(there - here)
        ]
    if differences:
        raise InvalidInput(
            "The archive was written by a database at other migrations ("
            + "; ".join(differences[:5])
            + ("; ..." if len(differences) > 5 else "")
            + "). Restore it with the Threadline version that wrote it "
            f"({manifest.get('threadline_version', 'unknown')}), run "
            "`threadline migrate`, then upgrade; or run `threadline migrate` "
            "here if this install is behind."
        )


def _record_problems() -> list[str]:
    """Say what in the database keeps a restore out, one line per table."""
    problems = []
    for model in archived_models():
        rows = model._base_manager.all()
        if model is ImportRun:
            # Restores that ran before and stopped (at other migrations, on
            # a damaged file) wrote nothing but their run: they may stay.
            rows = rows.exclude(format=RESTORE_FORMAT)
        count = rows.count()
        if count:
            noun = model._meta.verbose_name if count == 1 else None
            problems.append(f"{count:,} {noun or model._meta.verbose_name_plural}")
    if not problems:
        return []
    return [
        "This database already holds "
        + ", ".join(problems)
        + ". A restore fills an empty install only, so that nothing is mixed "
        "or overwritten: point THREADLINE_DATA_DIR (or DATABASE_URL) at a new "
        "database, run `threadline migrate`, and import the archive there."
    ]


def _require_empty_database() -> None:
    problems = _record_problems()
    if problems:
        raise InvalidInput(problems[0])


@contextmanager
def _room_for(
    run: ImportRun | None, folder: Path, manifest: dict[str, Any]
) -> Iterator[None]:
    """Open the restore's transaction and, in it, move the runs of restores
    past the archive's runs, so ids stay free.

    This restore's run, and those of earlier restores that stopped, were
    stored before the archive's rows and may hold ids that archived runs
    need. If the restore fails, its commit included, the moves are rolled
    back with everything else, and the run's id in memory is put back to
    match, so the failure can still be written to the run.
    """
    original = run.pk if run is not None else None
    try:
        with transaction.atomic():
            highest = _highest_pk(folder, manifest, ImportRun._meta.label_lower)
            _move_runs_past(run, highest)
            yield
    except BaseException:
        if run is not None:
            run.pk = original
        raise


def _move_runs_past(run: ImportRun | None, highest: int) -> None:
    # All of them move, so they stay in the order they ran.
    existing = list(ImportRun.objects.order_by("pk").values_list("pk", flat=True))
    free = max([highest, *existing]) + 1
    moved = {pk: free + offset for offset, pk in enumerate(existing)}
    for old, new in moved.items():
        ImportRun.objects.filter(pk=old).update(id=new)
    if run is not None and run.pk in moved:
        run.pk = moved[run.pk]


def _highest_pk(folder: Path, manifest: dict[str, Any], label: str) -> int:
    highest = 0
    for entry in manifest["files"]:
        if entry["model"] != label:
            continue
        with (folder / entry["file"]).open(encoding="utf-8") as stream:
            for line in stream:
                try:
                    highest = max(highest, int(json.loads(line)["pk"]))
                except (ValueError, KeyError, TypeError):
                    # A damaged line is reported when the file is restored.
                    continue
    return highest


class DamagedLine(InvalidInput):
    """A line of an archive file that cannot be restored."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file} line {line}: {message}")
        self.file = file
        self.line = line
        self.reason = message


def _check_files(
    folder: Path, manifest: dict[str, Any], report: ImportReport, progress: Progress
) -> None:
    """Read every line of every file as a restore would, writing nothing."""
    progress.start(_total_rows(manifest), folder.name)
    for entry in manifest["files"]:
        try:
            for line, item in _objects(folder, entry, report, progress):
                if isinstance(item, DamagedLine):
                    report.problem(line, item.reason, skipped=True, file=item.file)
                else:
                    report.created[_noun(item.object)] += 1
        except InvalidInput as error:
            report.problem(0, error.message, skipped=True, file=entry["file"])
    progress.finish()


def _restore_files(
    folder: Path, manifest: dict[str, Any], report: ImportReport, progress: Progress
) -> None:
    progress.start(_total_rows(manifest), folder.name)
    for entry in manifest["files"]:
        model = _archived_model(entry["model"])
        batch: list[Model] = []
        for _, item in _objects(folder, entry, report, progress):
            if isinstance(item, DamagedLine):
                raise item
            batch.append(item.object)
            report.created[_noun(item.object)] += 1
            if len(batch) >= INSERT_ROWS:
                _insert_raw(model, batch)
                batch = []
        _insert_raw(model, batch)
    progress.finish()


def _require_every_link_held(manifest: dict[str, Any]) -> None:
    """Raise InvalidInput if a restored row points at a record the archive
    does not hold.

    The database would refuse it only at the commit, in words that name no
    file; checked here, the message says which row of which file is wrong.
    """
    for entry in manifest["files"]:
        model = _archived_model(entry["model"])
        for field in model._meta.local_concrete_fields:
            if isinstance(field, ForeignKey):
                _require_link_held(model, field)


def _require_link_held(model: type[Model], field: ForeignKey[Any, Any]) -> None:
    target = field.related_model
    column = field.attname
    held = target._base_manager.filter(**{field.target_field.attname: OuterRef(column)})
    stray = (
        model._base_manager.filter(**{f"{column}__isnull": False})
        .exclude(Exists(held))
        .order_by("pk")
    )
    first = stray.values_list("pk", column).first()
    if first is None:
        return

    pk, missing = first
    count = stray.count()
    others = f" ({count:,} rows like it in all)" if count > 1 else ""
    raise InvalidInput(
        f"The archive's files do not agree: {model._meta.label_lower}{SUFFIX} "
        f"has a row (pk {pk}) whose {field.name} is {missing}, a record "
        f"{target._meta.label_lower}{SUFFIX} does not hold{others}. "
        f"{EXPORT_AGAIN}"
    )


def _insert_raw(model: type[Model], rows: list[Model]) -> None:
    """Insert rows with their stored values, many to a statement.

    This is the raw insert Model.save_base(raw=True) makes, batched:
    bulk_create would stamp auto_now fields with the present time, and one
    save per row is ten times slower.
    """
    if not rows:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    fields = [field for field in model._meta.local_concrete_fields]
    size = max(1, connection.ops.bulk_batch_size(fields, rows))
    for start in range(0, len(rows), size):
        query = sql.InsertQuery(model)
        query.insert_values(fields, rows[start : start + size], raw=True)
        query.get_compiler(connection=connection).execute_sql(returning_fields=None)


def _objects(
    folder: Path, entry: dict[str, Any], report: ImportReport, progress: Progress
) -> Iterator[tuple[int, Any]]:
    """Yield each line's number and its row, or the DamagedLine saying why
    it cannot be read; raise InvalidInput for a missing or miscounted file."""
    model = _archived_model(entry["model"])
    name = entry["file"]
    path = folder / name
    if not path.is_file():
        raise InvalidInput(f"{name} is missing from the archive.")

    read = 0
    with path.open(encoding="utf-8", errors="strict") as stream:
        for number, text in enumerate(_lines(stream, name), start=1):
            if not text.strip():
                continue
            read += 1
            report.rows += 1
            progress.advance()
            item = _parse(text, model, name, number)
            if not isinstance(item, DamagedLine):
                report.rows_used += 1
            yield number, item
    if read != entry["rows"]:
        raise InvalidInput(
            f"{name} holds {read:,} rows but the manifest counts "
            f"{entry['rows']:,}; the archive is incomplete or was changed."
        )


def _lines(stream: Iterable[str], name: str) -> Iterator[str]:
    try:
        yield from stream
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{name} is not UTF-8 text ({error}).") from error


def _parse(text: str, model: type[Model], name: str, number: int) -> Any:
    try:
        (item,) = serializers.deserialize("jsonl", [text])
    except DeserializationError as error:
        return DamagedLine(name, number, f"cannot be read: {_reason(error)}")
    if type(item.object) is not model:
        return DamagedLine(
            name,
            number,
            f"holds a {item.object._meta.label_lower} row, not a "
            f"{model._meta.label_lower}",
        )
    return item


def _reason(error: BaseException) -> str:
    cause = error.__cause__ or error
    return str(cause).strip() or type(cause).__name__


def _archived_model(label: str) -> type[Model]:
    known = {model._meta.label_lower: model for model in archived_models()}
    if label not in known:
        raise InvalidInput(
            f"The archive holds a table {label!r} that this install does not "
            "have; restore it with the Threadline version that wrote it."
        )
    return known[label]


def _total_rows(manifest: dict[str, Any]) -> int:
    return sum(entry["rows"] for entry in manifest["files"])


def _noun(row: Model) -> str:
    """How a restored row is counted in the report."""
    if isinstance(row, Party):
        return row.kind
    return NOUNS.get(type(row), "record")


def _rebuild_derived() -> None:
    """Write the search keys, a batch of parties at a time. An erased person
    has none on the install the archive came from, and gets none here."""
    erased = Event.objects.filter(party=OuterRef("pk"), kind=Kind.ERASURE)
    parties = (
        Party.objects.exclude(Exists(erased))
        .prefetch_related("contact_points")
        .order_by("pk")
    )
    batch: list[tuple[int, str, list[tuple[str, str]]]] = []
    for party in parties.iterator(chunk_size=CHUNK_ROWS):
        points = [(point.kind, point.value) for point in party.contact_points.all()]
        batch.append((party.pk, party.display_name, points))
        if len(batch) >= CHUNK_ROWS:
            index_new_parties(batch)
            batch = []
    index_new_parties(batch)


def _reset_sequences() -> None:
    """Point id sequences past the restored ids (PostgreSQL; SQLite follows
    the highest id by itself)."""
    connection = connections[DEFAULT_DB_ALIAS]
    statements = connection.ops.sequence_reset_sql(no_style(), archived_models())
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
