"""Every file of the shared CSV corpus imports without a crash: it is
imported (as a dry run) with each unusable row reported, or refused as a
whole with a message saying what to do."""

import shutil
from itertools import islice
from pathlib import Path

import pytest

from tests.transfer.conftest import CORPUS
from threadline.errors import InvalidInput
from threadline.transfer.importer import import_path

FOLDER = CORPUS / "csv"
# A dry run of the 8,800-deal Maven pipeline takes minutes: above this size a
# file is read whole but imported from its first rows, with its folder's
# other files beside it. test_maven imports the whole data set.
BIG_BYTES = 100_000
HEAD_ROWS = 100


def corpus_files() -> list[Path]:
    if not FOLDER.is_dir():
        return []
    return sorted(path for path in FOLDER.rglob("*") if path.is_file())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    corpus_files()
    or [
        pytest.param(
            None,
            marks=pytest.mark.skip(
                reason=f"the shared corpus is not at {FOLDER.resolve()}; its "
                "files' licences keep them out of the repository"
            ),
        )
    ],
    ids=lambda path: str(path.relative_to(FOLDER)) if path else "absent",
)
def test_corpus_file_imports_with_every_unusable_row_reported(path, tmp_path):
    if path.stat().st_size > BIG_BYTES:
        path = head_of(path, tmp_path)

    try:
        report = import_path(path, dry_run=True)
    except InvalidInput as refusal:
        # A file with no person or company in it is refused whole, saying
        # which file and what would make it importable.
        assert path.name in refusal.message or path.parent.name in refusal.message
        return

    assert report.dry_run
    assert report.rows_used + report.skipped <= report.rows
    assert report.rows_used > 0
    for problem in report.problems:
        assert problem.message.strip()
        assert problem.line > 0


def head_of(path: Path, folder: Path) -> Path:
    """Copy the file's folder with the file cut to its first rows."""
    copy = folder / path.parent.name
    shutil.copytree(path.parent, copy)
    with path.open("rb") as whole:
        head = b"".join(islice(whole, HEAD_ROWS + 1))
    (copy / path.name).write_bytes(head)
    return copy / path.name
