"""Cutting the quoted earlier message off a reply.

The timeline already holds the earlier message, so a reply keeps only what
is new: everything from the first line that introduces a quotation ("On ...
wrote:", an Outlook "Original Message" rule or its From/Sent block) is
dropped, and so is every line quoted with ">". A reply written between the
">" lines below its "On ... wrote:" keeps its own lines there. A line
starting ">From " is kept: it is far more often a line starting "From " that
a mail system escaped than a quotation, and losing the sender's words costs
more than keeping a quoted line.
"""

import re

# The line that introduces a quotation, in the languages mail clients
# commonly write it in. A long "On ..., X wrote:" may wrap onto two lines.
ATTRIBUTION = re.compile(
    r"^\s*(on|am|le|el|il|op|em|den|pe)\b.{0,300}"
    r"(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev|a scris)"
    r"\b[^:\n]{0,120}:\s*$",
    re.IGNORECASE | re.DOTALL,
)
SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|messaggio originale|oorspronkelijk bericht|"
    r"forwarded message|weitergeleitete nachricht)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)
BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
ESCAPED_FROM = re.compile(r"^>+From ")
# Outlook's block: "From: ..." followed within a few lines by "Sent: ...".
OUTLOOK_FROM = re.compile(r"^\s*\*?(from|von|de|van)\s*:\*?\s", re.IGNORECASE)
OUTLOOK_SENT = re.compile(
    r"^\s*\*?(sent|gesendet|envoyé|enviado|date|datum|verzonden)\s*:\*?\s",
    re.IGNORECASE,
)


def strip_quoted_reply(text: str) -> str:
    """Return the new part of a reply, without the message it quotes."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _quotation_start(lines)
    kept = [line for line in lines[:cut] if not _is_quoted(line)]
    answers = _answers_below(lines, cut)
    text = "\n\n".join(filter(None, ["\n".join(kept).strip(), answers]))
    # A quoted block taken out from between two paragraphs leaves one gap.
    return BLANK_RUN.sub("\n\n", text)


def _answers_below(lines: list[str], cut: int) -> str:
    """What a reply written below or between the quoted lines says after its
    "On ... wrote:" line: the unquoted text between ">" lines, which a
    top-posted reply never has below its quotation."""
    width = _attribution_width(lines, cut)
    if not width:
        return ""
    rest = lines[cut + width :]
    if not any(_is_quoted(line) for line in rest):
        return ""
    return strip_quoted_reply("\n".join(rest))


def _attribution_width(lines: list[str], index: int) -> int:
    """How many lines the "On ... wrote:" at `index` takes; 0 for none."""
    if index >= len(lines):
        return 0
    if ATTRIBUTION.match(lines[index]):
        return 1
    if index + 1 < len(lines) and ATTRIBUTION.match(
        lines[index] + " " + lines[index + 1]
    ):
        return 2
    return 0


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">") and not ESCAPED_FROM.match(line)


def _quotation_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if SEPARATOR.match(line) or _outlook_block(lines, index):
            return index
        if ATTRIBUTION.match(line):
            return index
        pair = line + " " + lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and ATTRIBUTION.match(pair):
            return index
    return len(lines)


def _outlook_block(lines: list[str], index: int) -> bool:
    if not OUTLOOK_FROM.match(lines[index]):
        return False
    following = lines[index + 1 : index + 4]
    return any(OUTLOOK_SENT.match(line) for line in following)
