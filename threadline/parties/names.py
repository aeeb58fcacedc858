"""Display and sort forms of names, kept as written."""

import unicodedata


def fold(text: str) -> str:
    """Lower-case the text and strip accents, for sorting and matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


def display_name(given: str, family: str, fallback: str = "") -> str:
    """Join the parts that exist, so a single name never reads 'None'."""
    joined = " ".join(part for part in (given.strip(), family.strip()) if part)
    return joined or " ".join(fallback.split())
