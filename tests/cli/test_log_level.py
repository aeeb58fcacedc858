"""The command line keeps routine log lines out of a command's own output."""

import os
import sys

import pytest

from threadline import cli


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(
        "django.core.management.execute_from_command_line", calls.append
    )
    # Set first, so that what main() sets is undone after the test.
    monkeypatch.setenv("THREADLINE_LOG_LEVEL", "INFO")
    monkeypatch.delenv("THREADLINE_LOG_LEVEL")
    return calls


def test_a_one_off_command_logs_warnings_only(ran, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["threadline", "import", "contacts.csv"])

    cli.main()

    assert ran == [["threadline", "import", "contacts.csv"]]
    assert os.environ["THREADLINE_LOG_LEVEL"] == "WARNING"


def test_the_server_logs_what_it_does(ran, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["threadline", "serve"])

    cli.main()

    assert "THREADLINE_LOG_LEVEL" not in os.environ


def test_a_level_that_was_set_is_kept(ran, monkeypatch):
    monkeypatch.setenv("THREADLINE_LOG_LEVEL", "DEBUG")
    monkeypatch.setattr(sys, "argv", ["threadline", "import", "contacts.csv"])

    cli.main()

    assert os.environ["THREADLINE_LOG_LEVEL"] == "DEBUG"
