"""Where the transfer tests find their files.

Files written for Threadline are copied into data/. Files whose licence keeps
them out of the repository (the GPL Roundcube exports, the unlicensed Maven
data set) are read from the shared corpus beside the clone, and their tests
skip when it is absent.
"""

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"


def corpus_path(relative: str) -> Path:
    """Return a path in the shared corpus, or skip the test saying why."""
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(
            f"{relative} is not in {CORPUS.resolve()}: its licence keeps it out of "
            "the repository, and the shared corpus is not beside this clone"
        )
    return path


@pytest.fixture
def data_dir() -> Path:
    return DATA
