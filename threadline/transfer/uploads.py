"""Imports started from the web app: an upload, its dry run, then the real run.

An upload is saved under the data directory in a folder of its own and
checked at once by a dry run in the background, whose progress and report
are kept beside it as small JSON files. Only when the person asks does it
import for real, in the background too; its folder then becomes the run's,
so a run whose process died can be started again from its file.
"""

import datetime as dt
import html
import json
import logging
import re
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import get_valid_filename

from threadline.accounts.models import User
from threadline.errors import Conflict, InvalidInput, NotFound, ThreadlineError
from threadline.timeline.actors import Actor
from threadline.transfer.importer import SUFFIXES, import_path
from threadline.transfer.models import ImportRun
from threadline.transfer.reading import SAMPLE_BYTES, detect_encoding
from threadline.transfer.report import ImportReport
from threadline.transfer.runs import (
    PROGRESS_EVERY,
    STALE_AFTER,
    fail_run,
    restart_run,
    start_run,
)
from threadline.transfer.undo import claim_undo, finish_undo

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# An upload that was checked but never imported is removed after this long.
UPLOAD_KEPT = dt.timedelta(days=1)
META_FILE = "upload.json"
CHECK_FILE = "check.json"
FAILED_FILE = "failed.json"
PROGRESS_FILE = "progress.json"
STOPPED_CHECK = (
    "The check of this file stopped, most likely because the server restarted. "
    "Upload the file again."
)
KINDS_TEXT = "CSV, Excel (.xlsx), vCard (.vcf), iCalendar (.ics), .eml or .mbox"
# A vCard or iCalendar line folded onto the next (RFC 6350, RFC 5545).
FOLDED_LINE = re.compile(r"\r?\n[ \t]")


@dataclass(frozen=True)
class Upload:
    """A file saved for import, and how far its dry run has got."""

    id: str
    path: Path
    meta: dict[str, Any]
    # The dry run's report once it is done, or why it refused the file.
    check: dict[str, Any] | None = None
    failure: str = ""
    # The check ended with its process, not because of the file.
    check_stopped: bool = False
    done: int = 0
    total: int = 0

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def checking(self) -> bool:
        return self.check is None and not self.failure

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0


def imports_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def save_upload(file: UploadedFile, user: User, source: str = "") -> Upload:
    """Save an uploaded file in a folder of its own and dry-run it in the
    background; load_upload tells how far the check has got.

    Raises InvalidInput, keeping nothing, for a file of a kind Threadline
    does not read, or one that is empty or too large.
    """
    Actor.for_user(user).require_manage()
    name = _checked_name(file)
    _check_size(file)
    _forget_old_uploads()

    upload_id = uuid.uuid4().hex
    path = imports_dir() / "uploads" / upload_id / name
    path.parent.mkdir(parents=True)
    try:
        with path.open("wb") as stream:
            for chunk in file.chunks():
                stream.write(chunk)
    except OSError:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    meta = {
        "file": name,
        "format": SUFFIXES[path.suffix.lower()],
        "source": source,
        "uploaded_by": str(user.public_id),
        "uploaded_at": timezone.now().isoformat(),
    }
    _write_json(path.parent / META_FILE, meta)
    in_background(partial(_dry_run, path, source, user), f"check-{upload_id}")
    return Upload(upload_id, path, meta)


def load_upload(upload_id: str, user: User) -> Upload:
    """The upload `user` saved under `upload_id`, or NotFound."""
    missing = NotFound("That upload is gone; upload the file again.")
    if not _is_hex_id(upload_id):
        raise missing
    folder = imports_dir() / "uploads" / upload_id
    meta = _read_json(folder / META_FILE)
    if meta is None or meta["uploaded_by"] != str(user.public_id):
        raise missing
    failed = _read_json(folder / FAILED_FILE) or {}
    progress = _read_json(folder / PROGRESS_FILE) or {}
    check = _read_json(folder / CHECK_FILE)
    stopped = check is None and not failed and _went_quiet(folder)
    if stopped:
        failed = {"message": STOPPED_CHECK}
    return Upload(
        upload_id,
        folder / meta["file"],
        meta,
        check=check,
        failure=failed.get("message", ""),
        check_stopped=stopped,
        done=progress.get("done", 0),
        total=progress.get("total", 0),
    )


def discard_upload(upload: Upload) -> None:
    shutil.rmtree(upload.folder, ignore_errors=True)


class AlreadyStarted(Conflict):
    """The upload is being imported already: a second click, or another tab."""

    def __init__(self, run: ImportRun) -> None:
        super().__init__(
            f"The import of {run.file} has already started, as import #{run.pk}; "
            "this is its progress. It was not started twice."
        )
        self.run = run


def start_import(upload: Upload, user: User) -> ImportRun:
    """Import a checked upload for real, in the background; return its run.

    Raises AlreadyStarted if the upload became a run already.
    """
    Actor.for_user(user).require_manage()
    if upload.check is None or not upload.check["rows_used"]:
        raise Conflict(
            f"{upload.path.name} has no checked records to import yet; wait for "
            "the check to finish."
        )

    run = _claim(upload, user)
    in_background(partial(_import, run.pk, run.source), f"import-{run.pk}")
    return run


def started_run(upload_id: str) -> ImportRun | None:
    """The run an upload became, once it is imported."""
    if not _is_hex_id(upload_id):
        return None
    return ImportRun.objects.filter(public_id=uuid.UUID(hex=upload_id)).first()


def _claim(upload: Upload, user: User) -> ImportRun:
    """Turn the upload into its run, once.

    The run takes the upload's id, which the database holds unique: of
    several clicks at once, one creates it and the others wait for it, then
    find it taken. Its file moves in the same transaction, so a run that is
    stored always has its file, and an upload that is moved has its run.
    """
    meta = upload.meta
    public_id = uuid.UUID(hex=upload.id)
    folder = imports_dir() / "runs" / str(public_id)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        with transaction.atomic():
            run = start_run(
                meta["file"],
                meta["format"],
                source=meta["source"],
                user=user,
                public_id=public_id,
            )
            _move(upload.folder, folder)
    except IntegrityError:
        raise AlreadyStarted(ImportRun.objects.get(public_id=public_id)) from None
    except DatabaseError:
        if folder.is_dir():
            folder.rename(upload.folder)
        raise
    return run


def _move(upload_folder: Path, run_folder: Path) -> None:
    try:
        upload_folder.rename(run_folder)
    except FileNotFoundError:
        raise NotFound("That upload is gone; upload the file again.") from None


def run_again(run: ImportRun, user: User) -> None:
    """Run a stopped or dead import again from its file, under the same label.

    Rows it wrote before are found by their keys, so nothing doubles.
    """
    Actor.for_user(user).require_manage()
    if run_file(run) is None:
        raise InvalidInput(
            f"Import #{run.pk} was not started from this page, so its file is "
            "not kept here. Import the file again with `threadline import FILE`; "
            "rows imported before are recognised and not doubled."
        )
    if not restart_run(run):
        raise Conflict(
            f"Import #{run.pk} is running or has finished; only a stopped run "
            "can be run again."
        )
    in_background(partial(_import, run.pk, run.source), f"import-{run.pk}")


def start_undo(run: ImportRun, user: User) -> None:
    """Claim the run for an undo now, and undo it in the background."""
    claim_undo(run, Actor.for_user(user))
    in_background(partial(_undo, run.pk), f"undo-{run.pk}")


def run_folder(run: ImportRun) -> Path:
    return imports_dir() / "runs" / str(run.public_id)


def run_file(run: ImportRun) -> Path | None:
    """The file a run started from this page imports, if it is still kept."""
    folder = run_folder(run)
    if not folder.is_dir():
        return None
    files = [path for path in folder.iterdir() if path.suffix != ".json"]
    return files[0] if len(files) == 1 else None


def remove_files_naming(
    runs: Iterable[ImportRun], names_them: Callable[[str], bool]
) -> int:
    """For an erasure: remove the kept folders of `runs` (they imported the
    person), and every upload or run folder holding a file in whose text
    `names_them` finds them; return how many folders went.

    A kept file is a copy of another system's export, so it is removed
    whole: rewriting a workbook, a folded vCard or a mailbox in place could
    break it, and a run that lost its file can no longer be run again, only
    imported anew.
    """
    folders = {run_folder(run) for run in runs}
    for parent in (imports_dir() / "uploads", imports_dir() / "runs"):
        if not parent.is_dir():
            continue
        for folder in parent.iterdir():
            if folder in folders or not folder.is_dir():
                continue
            if any(names_them(_file_text(path)) for path in _files_in(folder)):
                folders.add(folder)
    removed = 0
    for folder in sorted(folders):
        if not folder.is_dir():
            continue
        try:
            shutil.rmtree(folder)
        except OSError as error:
            logger.error("Could not remove %s after an erasure: %s", folder, error)
            continue
        removed += 1
    return removed


def _files_in(folder: Path) -> Iterator[Path]:
    return (path for path in sorted(folder.iterdir()) if path.is_file())


def _file_text(path: Path) -> str:
    """A kept file's text, to be searched: a workbook's XML parts (its cells
    and strings), any other file decoded, with folded vCard and iCalendar
    lines joined."""
    # Known gap: text a file encodes (base64 mail parts, encoded words) is unread.
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as workbook:
                return "\n".join(
                    html.unescape(workbook.read(item).decode("utf-8", "replace"))
                    for item in workbook.infolist()
                    if item.filename.endswith(".xml")
                )
        except zipfile.BadZipFile:
            pass
    data = path.read_bytes()
    try:
        encoding = detect_encoding(data[:SAMPLE_BYTES])
    except InvalidInput:
        encoding = "latin-1"
    return FOLDED_LINE.sub("", data.decode(encoding, "replace"))


def in_background(work: Callable[[], None], name: str) -> None:
    """Do `work` on a thread of this process, with its own database connection.

    A restarted process loses the thread; its run then shows as interrupted
    and can be run again.
    """
    # A thread of the web process until imports go to the worker's queue.
    thread = threading.Thread(
        target=_with_own_connection, args=(work,), name=name, daemon=True
    )
    thread.start()


def _with_own_connection(work: Callable[[], None]) -> None:
    try:
        work()
    finally:
        connection.close()


def _dry_run(path: Path, source: str, user: User) -> None:
    """Check an upload as `user` would import it, leaving its report or the
    reason it was refused."""
    progress = _FileProgress(path.parent / PROGRESS_FILE)
    try:
        report = import_path(
            path, dry_run=True, source=source or None, progress=progress, user=user
        )
    except ThreadlineError as error:
        _write_json(path.parent / FAILED_FILE, {"message": error.message})
        return
    except Exception:
        message = "Threadline could not read this file; the server's log says why."
        _write_json(path.parent / FAILED_FILE, {"message": message})
        logger.exception("Checking the upload %s failed", path.parent.name)
        raise
    _write_json(path.parent / CHECK_FILE, _check_record(report))
    logger.info("Checked an upload of %s: %d rows", path.name, report.rows)


class _FileProgress:
    """Progress of a dry run, written beside the upload for its page to show."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = 0
        self.done = 0

    def start(self, total: int, label: str) -> None:
        self.total += total
        self._write()

    def advance(self, rows: int = 1) -> None:
        before = self.done // PROGRESS_EVERY
        self.done += rows
        if self.done // PROGRESS_EVERY != before:
            self._write()

    def finish(self) -> None:
        self._write()

    def _write(self) -> None:
        _write_json(self.path, {"done": self.done, "total": self.total})


def _import(run_id: int, source: str) -> None:
    run = ImportRun.objects.select_related("started_by").get(pk=run_id)
    path = run_file(run)
    if path is None:
        fail_run(run, None, "The file of this import is gone; upload it again.")
        return
    try:
        import_path(path, source=source or None, user=run.started_by, run=run)
    except ThreadlineError as error:
        # import_path has kept the run as failed with this message.
        logger.info("Import run #%d stopped: %s", run_id, error.message)
    except Exception:
        logger.exception("Import run #%d failed", run_id)
        raise


def _undo(run_id: int) -> None:
    run = ImportRun.objects.get(pk=run_id)
    try:
        finish_undo(run)
    except Exception:
        logger.exception("Undo of import run #%d failed; it can be run again", run_id)
        raise


def _checked_name(file: UploadedFile) -> str:
    name = get_valid_filename(Path(file.name or "").name) if file.name else ""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            f"{file.name or 'That file'} is not a kind of file Threadline imports. "
            f"Choose a {KINDS_TEXT} file.",
            field="file",
        )
    return name


def _check_size(file: UploadedFile) -> None:
    size = file.size or 0
    if size == 0:
        raise InvalidInput(
            f"{file.name} is empty. Export it again and upload the new file.",
            field="file",
        )
    if size > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"{file.name} is {filesizeformat(size)}; files up to "
            f"{filesizeformat(MAX_UPLOAD_BYTES)} can be uploaded here. Split it "
            "into smaller files, or import it on the server with "
            "`threadline import FILE`.",
            field="file",
        )


def _check_record(report: ImportReport) -> dict[str, Any]:
    return {
        "description": report.description,
        "mapping": report.mapping,
        "rows": report.rows,
        "rows_used": report.rows_used,
        "skipped": report.skipped,
        "created": dict(report.created),
        "created_text": report.created_text(),
        "columns": report.columns,
        "ignored_columns": report.ignored_columns,
        "problems": [
            {
                "file": problem.file,
                "line": problem.line,
                "message": problem.message,
                "skipped": problem.skipped,
                "rows": problem.rows,
                "unit": problem.unit,
            }
            for problem in report.problems
        ],
    }


def _forget_old_uploads() -> None:
    """Remove uploads that were checked but never imported."""
    folder = imports_dir() / "uploads"
    if not folder.is_dir():
        return
    oldest = time.time() - UPLOAD_KEPT.total_seconds()
    for upload in folder.iterdir():
        if upload.stat().st_mtime < oldest:
            shutil.rmtree(upload, ignore_errors=True)


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Write a small JSON file whole: readers never see half of it."""
    partial_path = path.with_name(path.name + ".part")
    partial_path.write_text(json.dumps(value), encoding="utf-8")
    partial_path.replace(path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return value


def _went_quiet(folder: Path) -> bool:
    """Say whether a check has written nothing for long: its process died."""
    written = [
        path.stat().st_mtime
        for path in (folder / META_FILE, folder / PROGRESS_FILE)
        if path.exists()
    ]
    return max(written) < time.time() - STALE_AFTER.total_seconds()


def _is_hex_id(text: str) -> bool:
    try:
        return uuid.UUID(hex=text).hex == text
    except ValueError:
        return False
