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


@pytest.mark.django_db
@pytest.mark.parametrize("name", FILES or ["(no corpus)"])
def test_corpus_calendar_imports_and_reports_each_unusable_event(name):
    path = CORPUS / "ical" / name
    if not path.is_file():
        pytest.skip(f"the shared corpus is not at {CORPUS.resolve()}")

    try:
        report = import_path(path)
    except InvalidInput as error:
        # A file icalendar cannot parse at all is refused whole, saying why.
        assert "cannot be read as an iCalendar file" in error.message
        return

    assert report.rows_used + report.skipped == report.rows
    for problem in report.problems:
        if problem.skipped:
            assert problem.message.startswith("VEVENT "), problem.message
            assert "(UID " in problem.message
