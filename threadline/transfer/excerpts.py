"""Quoting what a file holds in a message: short, and printable whatever the
file holds, so that a garbage file can neither fill a report with junk nor
send escape codes to the terminal that shows it."""

from itertools import groupby

# Enough to recognise a line by; a message quotes no more of a file.
EXCERPT_CHARS = 60
# A parser's error says what it met, often quoting it: it gets a little more.
ERROR_CHARS = 100
# What stands for a run of characters that do not print.
UNPRINTABLE = "?"
# What Python puts in place of bytes a text encoding could not decode.
UNDECODABLE = "\ufffd"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Return `text` fit to quote in a message: white space folded to single
    spaces, each run of characters that do not print (controls, format
    characters, stand-ins for undecodable bytes) shown as one '?', and cut
    to `limit` characters, ending in '…' when cut."""
    folded = " ".join(text.split())
    shown = "".join(
        "".join(run) if prints else UNPRINTABLE
        for prints, run in groupby(folded, key=_prints)
    )
    if len(shown) <= limit:
        return shown
    return shown[: limit - 1].rstrip() + "…"


def error_text(error: BaseException) -> str:
    """A parser's error fit to quote in a message, as excerpt() makes it."""
    return excerpt(str(error), ERROR_CHARS) or type(error).__name__


def _prints(char: str) -> bool:
    return char.isprintable() and char != UNDECODABLE
