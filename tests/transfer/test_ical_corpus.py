"""Every public calendar file imports without a crash, and every event it
cannot book is reported with its place in the file and the reason.

The files are read from the shared corpus (some are LGPL and stay out of the
repository); the tests skip when it is absent.
"""

import pytest

from tests.transfer.conftest import CORPUS
from threadline.errors import InvalidInput
from threadline.transfer.importer import import_path

# One file runs long: recurring__benchmark_issue42_large.ics (1.6 MB, 4,778
# events), which icalendar alone takes about three seconds to parse. It is
# kept because a real calendar export is that size.
FILES = sorted(path.name for path in (CORPUS / "ical").glob("*.ics"))
# Why a file is refused whole: nothing a calendar would begin with, a file
# cut short, or one the parser cannot read at all.
WHOLE_FILE_REFUSALS = (
    "holds no calendar",
    "is cut short",
    "cannot be read as an iCalendar file",
)


@pytest.mark.django_db
@pytest.mark.parametrize("name", FILES or ["(no corpus)"])
def test_corpus_calendar_imports_and_reports_each_unusable_event(name):
    path = CORPUS / "ical" / name
    if not path.is_file():
        pytest.skip(f"the shared corpus is not at {CORPUS.resolve()}")

    try:
        report = import_path(path)
    except InvalidInput as error:
        # A file that holds no whole calendar is refused whole, saying why.
        assert any(reason in error.message for reason in WHOLE_FILE_REFUSALS)
        return

    assert report.rows_used + report.skipped == report.rows
    for problem in report.problems:
        if problem.skipped:
            assert problem.message.startswith("VEVENT "), problem.message
            assert "(UID " in problem.message
