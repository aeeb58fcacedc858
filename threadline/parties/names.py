"""Display and sort forms of names, kept as written."""

import re
import unicodedata

# Marks that make another letter rather than decorate one: Japanese kana's
# voicing marks (カ and ガ), and the virama and nukta of Indic scripts.
# Folding keeps them; it drops accents such as é's, ü's and Greek tonos.
LETTER_MARKS = frozenset({"\u3099", "\u309a"})
LETTER_MARK_CLASSES = frozenset({7, 9})
# The C0 controls and DEL, which unicodedata names category Cc.
ASCII_CONTROLS = [*range(0x20), 0x7F]
ASCII_CONTROLS_AS_SPACES = dict.fromkeys(ASCII_CONTROLS, " ")
ASCII_CONTROLS_BUT_LINES = {
    code: None for code in ASCII_CONTROLS if chr(code) not in "\n\t"
}
# Han, kana and Hangul: names in them put the family name first.
FAMILY_FIRST_SCRIPT = re.compile(
    r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    r"\uf900-\ufaff\U00020000-\U0002fa1f]+"
)


def clean_line(text: str) -> str:
    """One line of user text without control or invisible format characters
    (zero-width spaces, bidirectional overrides, a stray BOM), spaces folded.

    Such characters make a name unfindable, can spoof the text around it, or
    reach a terminal as escape codes.
    """
    if text.isascii():
        # The common case, without a look-up per character: ASCII holds no
        # format characters, and its controls become spaces.
        return " ".join(text.translate(ASCII_CONTROLS_AS_SPACES).split())
    kept = "".join(
        " " if unicodedata.category(char) == "Cc" else char
        for char in text
        if unicodedata.category(char) != "Cf"
    )
    return " ".join(kept.split())


def clean_text(text: str) -> str:
    """Several lines of user text: line breaks and tabs kept, other control
    and format characters dropped."""
    if text.isascii():
        return text.translate(ASCII_CONTROLS_BUT_LINES).strip()
    return "".join(
        char
        for char in text
        if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf")
    ).strip()


def fold(text: str) -> str:
    """Lower-case the text and strip accents, for sorting and matching."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not _is_accent(char))
    return " ".join(unicodedata.normalize("NFC", bare).casefold().split())


def _is_accent(char: str) -> bool:
    combining = unicodedata.combining(char)
    return bool(combining) and (
        char not in LETTER_MARKS and combining not in LETTER_MARK_CLASSES
    )


def display_name(given: str, family: str, fallback: str = "") -> str:
    """Join the parts that exist, so a single name never reads 'None'.

    The family name comes first where the name is written so ("Nagy Péter"
    as the fallback, with given name Péter and family name Nagy), and for
    names in Han, kana or Hangul ("山田 太郎").
    """
    given, family, fallback = (
        clean_line(given),
        clean_line(family),
        clean_line(fallback),
    )
    if given and family and _family_first(given, family, fallback):
        if fallback in (f"{family} {given}", f"{family}{given}"):
            return fallback
        return f"{family} {given}"
    joined = " ".join(part for part in (given, family) if part)
    return joined or fallback


def _family_first(given: str, family: str, fallback: str) -> bool:
    if not fallback:
        return bool(FAMILY_FIRST_SCRIPT.fullmatch(given + family))
    # The order is read from the name as shown, since a party keeps no name
    # order of its own: changing a Latin-script family name turns it round.
    if "," in fallback or not fallback.startswith(family):
        return False
    rest = fallback[len(family) :]
    return not rest or rest[0] == " " or rest.startswith(given)


def cut_to(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters, never between a letter and its
    accent."""
    if len(text) <= limit:
        return text
    end = limit
    while end > 0 and unicodedata.combining(text[end]):
        end -= 1
    return text[:end].rstrip()
