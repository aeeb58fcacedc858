"""Imports started from the web app: an upload, its dry run, then the real run.

An upload is saved under the data directory in a folder of its own and
checked at once by a dry run, whose report is kept beside it. Only when the
person asks does it import for real, in the background; its file then moves
to the run's own folder, so a run whose process died can be started again.
"""

import datetime as dt
import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import get_valid_filename

from threadline.accounts.models import User
from threadline.errors import Conflict, InvalidInput, NotFound, ThreadlineError
from threadline.timeline.actors import Actor
from threadline.transfer.importer import SUFFIXES, import_path
from threadline.transfer.models import ImportRun
from threadline.transfer.report import ImportReport
from threadline.transfer.runs import restart_run, start_run
from threadline.transfer.undo import claim_undo, finish_undo

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# An upload that was checked but never imported is removed after this long.
UPLOAD_KEPT = dt.timedelta(days=1)
CHECK_FILE = "check.json"
KINDS_TEXT = "CSV, Excel (.xlsx), vCard (.vcf), iCalendar (.ics), .eml or .mbox"


@dataclass(frozen=True)
class Upload:
    """A file saved for import, with the report of its dry run."""

    id: str
    path: Path
    check: dict[str, Any]

    @property
    def folder(self) -> Path:
        return self.path.parent


def imports_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def save_upload(file: UploadedFile, user: User, source: str = "") -> Upload:
    """Save an uploaded file in a folder of its own and dry-run it.

    Raises InvalidInput, keeping nothing, for a file of a kind Threadline
    does not read, an empty or too large file, or one the dry run refuses.
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
        report = import_path(path, dry_run=True, source=source or None)
    except BaseException:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise

    check = _check_record(report, path, source, user)
    (path.parent / CHECK_FILE).write_text(json.dumps(check), encoding="utf-8")
    logger.info("Checked an upload of %s: %d rows", name, report.rows)
    return Upload(upload_id, path, check)


def load_upload(upload_id: str, user: User) -> Upload:
    """The upload `user` saved under `upload_id`, or NotFound."""
    missing = NotFound("That upload is gone; upload the file again.")
    if not _is_hex_id(upload_id):
        raise missing
    folder = imports_dir() / "uploads" / upload_id
    try:
        check = json.loads((folder / CHECK_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise missing from error
    if check["uploaded_by"] != str(user.public_id):
        raise missing
    return Upload(upload_id, folder / check["file"], check)


def discard_upload(upload: Upload) -> None:
    shutil.rmtree(upload.folder, ignore_errors=True)


def start_import(upload: Upload, user: User) -> ImportRun:
    """Import a checked upload for real, in the background; return its run."""
    Actor.for_user(user).require_manage()
    check = upload.check
    run = start_run(check["file"], check["format"], source=check["source"], user=user)
    folder = run_folder(run)
    folder.parent.mkdir(parents=True, exist_ok=True)
    upload.folder.rename(folder)
    in_background(partial(_import, run.pk, check["source"]), f"import-{run.pk}")
    return run


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
    files = [path for path in folder.iterdir() if path.name != CHECK_FILE]
    return files[0] if len(files) == 1 else None


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


def _import(run_id: int, source: str) -> None:
    run = ImportRun.objects.select_related("started_by").get(pk=run_id)
    path = run_file(run)
    if path is None:
        logger.warning("Import run #%d has no file to import", run_id)
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


def _check_record(
    report: ImportReport, path: Path, source: str, user: User
) -> dict[str, Any]:
    return {
        "file": path.name,
        "format": SUFFIXES[path.suffix.lower()],
        "source": source,
        "uploaded_by": str(user.public_id),
        "uploaded_at": timezone.now().isoformat(),
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


def _is_hex_id(text: str) -> bool:
    try:
        return uuid.UUID(hex=text).hex == text
    except ValueError:
        return False
