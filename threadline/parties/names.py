"""Display and sort forms of names, kept as written."""

import unicodedata


def clean_line(text: str) -> str:
    """One line of user text without control or invisible format characters
    (zero-width spaces, bidirectional overrides, a stray BOM), spaces folded.

    Such characters make a name unfindable, can spoof the text around it, or
    reach a terminal as escape codes.
    """
    kept = "".join(
        " " if unicodedata.category(char) == "Cc" else char
        for char in text
        if unicodedata.category(char) != "Cf"
    )
    return " ".join(kept.split())


def clean_text(text: str) -> str:
    """Several lines of user text: line breaks and tabs kept, other control
    and format characters dropped."""
    return "".join(
        char
        for char in text
        if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf")
    ).strip()


def fold(text: str) -> str:
    """Lower-case the text and strip accents, for sorting and matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


def display_name(given: str, family: str, fallback: str = "") -> str:
    """Join the parts that exist, so a single name never reads 'None'."""
    joined = " ".join(part for part in (clean_line(given), clean_line(family)) if part)
    return joined or clean_line(fallback)
