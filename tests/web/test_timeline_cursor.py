import datetime as dt

import pytest

from threadline.web.timeline import Cursor


def test_cursor_round_trips_to_the_microsecond() -> None:
    cursor = Cursor(dt.datetime(2026, 3, 3, 12, 0, 0, 123457, tzinfo=dt.UTC), 42)

    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("text", ["", "x_y", "12", "1_", "9" * 30 + "_1"])
def test_malformed_cursor_reads_as_none(text: str) -> None:
    assert Cursor.decode(text) is None
