"""Reading one email's bytes into what the record keeps of it, leniently.

Real mail is often broken: headers that do not parse, charsets that do not
exist, dates in no known format, bodies that are missing. None of that may
stop an import. Each part is read on its own, a part that cannot be read is
left empty with a warning, and only a message with no address at all is
refused (by the caller).
"""

import datetime as dt
import email.utils
import hashlib
import html
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import nh3
from django.utils import timezone

from threadline.errors import InvalidInput
from threadline.mail.quotes import strip_quoted_reply
from threadline.parties.contact_points import normalise_email
from threadline.timeline.kinds import EARLIEST_YEAR, RECORD_AHEAD

logger = logging.getLogger(__name__)

PARSER = BytesParser(policy=policy.default)
# A reply or forward prefix, possibly repeated or numbered: "Re: AW[2]: Fwd:".
REPLY_PREFIX = re.compile(
    r"^\s*((re|aw|sv|vs|antw|wg|fw|fwd|tr|rv|odp|r)(\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)
MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
# A byte the parser could not decode, kept as a lone surrogate.
UNDECODED_BYTE = re.compile("[\udc80-\udcff]")
BODY_CHARS = 20_000
SUBJECT_CHARS = 300
ADDRESS_CHARS = 500
# Tags after which HTML text breaks the line, so paragraphs stay apart.
LINE_BREAKING_TAGS = re.compile(
    r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote|hr)\b[^>]*>", re.IGNORECASE
)


@dataclass(frozen=True)
class Address:
    """One mailbox in a header: its normalised address and its name."""

    address: str
    name: str = ""

    def __str__(self) -> str:
        """Written for people to read, so a name stays in its own letters."""
        if not self.name:
            return self.address[:ADDRESS_CHARS]
        name = self.name.replace('"', "'")
        if any(mark in name for mark in ",;:<>@()[]"):
            name = f'"{name}"'
        return f"{name} <{self.address}>"[:ADDRESS_CHARS]


@dataclass
class ParsedMessage:
    """What the record keeps of one email."""

    key: str
    message_id: str
    subject: str
    sender: Address | None
    to: list[Address]
    cc: list[Address]
    occurred_at: dt.datetime
    body: str
    attachments: list[dict[str, Any]]
    in_reply_to: list[str]
    references: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return bool(REPLY_PREFIX.match(self.subject))

    @property
    def subject_key(self) -> str:
        """The subject without reply prefixes, folded, for threading."""
        return " ".join(REPLY_PREFIX.sub("", self.subject).split()).casefold()[:300]

    @property
    def thread_keys(self) -> list[str]:
        """Message ids of the conversation this message answers, nearest first."""
        return [*self.in_reply_to, *reversed(self.references)]

    def as_json(self) -> dict[str, Any]:
        """A plain form to keep while the message waits for triage."""
        return {
            "key": self.key,
            "message_id": self.message_id,
            "subject": self.subject,
            "sender": _address_json(self.sender),
            "to": [_address_json(item) for item in self.to],
            "cc": [_address_json(item) for item in self.cc],
            "occurred_at": self.occurred_at.isoformat(),
            "body": self.body,
            "attachments": self.attachments,
            "in_reply_to": self.in_reply_to,
            "references": self.references,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ParsedMessage":
        sender = data.get("sender")
        return cls(
            key=data["key"],
            message_id=data.get("message_id", ""),
            subject=data.get("subject", ""),
            sender=Address(**sender) if sender else None,
            to=[Address(**item) for item in data.get("to", [])],
            cc=[Address(**item) for item in data.get("cc", [])],
            occurred_at=dt.datetime.fromisoformat(data["occurred_at"]),
            body=data.get("body", ""),
            attachments=data.get("attachments", []),
            in_reply_to=data.get("in_reply_to", []),
            references=data.get("references", []),
        )


def parse_message(
    raw: bytes, *, received_at: dt.datetime | None = None
) -> ParsedMessage:
    """Read an email's bytes; `received_at` (the mailbox's own date) is the
    fallback when the message carries no usable date."""
    message = PARSER.parsebytes(raw)
    assert isinstance(message, EmailMessage)
    warnings: list[str] = []
    message_id = _first_id(_header(message, "Message-ID", warnings))
    body, body_warning = _body(message)
    if body_warning:
        warnings.append(body_warning)
    return ParsedMessage(
        key=message_id or _header_hash(raw),
        message_id=message_id,
        subject=_subject(message, warnings),
        sender=_sender(message, warnings),
        to=_addresses(message, "To", warnings),
        cc=_addresses(message, "Cc", warnings),
        occurred_at=_occurred_at(message, received_at, warnings),
        body=body,
        attachments=_attachments(message),
        in_reply_to=_ids(_header(message, "In-Reply-To", warnings))[:1],
        references=_ids(_header(message, "References", warnings))[-20:],
        warnings=warnings,
    )


def _header(message: EmailMessage, name: str, warnings: list[str]) -> str:
    """A header's decoded text; a header that does not parse is read raw."""
    try:
        value = message.get(name)
    except Exception as error:  # any header may be malformed
        warnings.append(f"the {name} header could not be read ({error})")
        value = _raw_header(message, name)
    if value is None:
        return ""
    return _undecoded(str(value))


def _raw_header(message: EmailMessage, name: str) -> str:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def _undecoded(text: str) -> str:
    """Read the raw 8-bit bytes of a header as UTF-8, else as Windows-1252.

    The parser keeps bytes it cannot decode as lone surrogates, which no
    database stores; RFC 6532 mail and old clients write such headers.
    """
    if not UNDECODED_BYTE.search(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _subject(message: EmailMessage, warnings: list[str]) -> str:
    text = _header(message, "Subject", warnings)
    return " ".join(text.split())[:SUBJECT_CHARS]


def _addresses(message: EmailMessage, name: str, warnings: list[str]) -> list[Address]:
    """Every usable address in a header, in order, without repeats."""
    try:
        values = message.get_all(name) or []
        pairs = [
            (item.display_name, item.addr_spec)
            for value in values
            for item in getattr(value, "addresses", ())
        ]
    except Exception:  # fall back to the older, laxer reader
        pairs = email.utils.getaddresses(
            [
                str(value)
                for key, value in message.raw_items()
                if key.lower() == name.lower()
            ]
        )
    found: dict[str, Address] = {}
    for display, spec in pairs:
        address = _normalised(_undecoded(spec))
        if address is None:
            if spec.strip():
                warnings.append(f"{name}: {spec.strip()[:80]!r} is not an address")
            continue
        display_name = " ".join(_undecoded(str(display)).split())
        found.setdefault(address, Address(address, display_name))
    return list(found.values())


def _normalised(spec: str) -> str | None:
    text = spec.strip().strip("<>")
    if "@" not in text:
        return None
    try:
        return normalise_email(text)
    except InvalidInput:
        return None


def _sender(message: EmailMessage, warnings: list[str]) -> Address | None:
    """From, else Sender: some mailing tools fill in only the latter."""
    found = _addresses(message, "From", warnings) or _addresses(
        message, "Sender", warnings
    )
    return _first(found)


def _first(addresses: list[Address]) -> Address | None:
    return addresses[0] if addresses else None


def _ids(text: str) -> list[str]:
    found = MESSAGE_ID.findall(text)
    if not found and text.strip() and " " not in text.strip():
        found = [text.strip()]
    return [item[:250] for item in dict.fromkeys(found)]


def _first_id(text: str) -> str:
    found = _ids(text)
    return found[0] if found else ""


def _header_hash(raw: bytes) -> str:
    """Stands in for a missing Message-ID: the same headers, the same key."""
    headers = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    return "sha256:" + hashlib.sha256(headers).hexdigest()


def _occurred_at(
    message: EmailMessage, received_at: dt.datetime | None, warnings: list[str]
) -> dt.datetime:
    """The Date header, else the newest Received stamp, else the mailbox's
    date, else now (with a warning): the first of them that is plausible."""
    date_text = _header(message, "Date", warnings)
    stated = _parsed_date(date_text)
    if stated is not None and _plausible(stated):
        return stated

    warnings.append(f"no usable Date header ({date_text[:60]!r})")
    for candidate in _fallback_dates(message, received_at):
        if _plausible(candidate):
            return candidate
    warnings.append("no usable date; recorded at the time of import")
    return timezone.now()


def _fallback_dates(
    message: EmailMessage, received_at: dt.datetime | None
) -> Iterator[dt.datetime]:
    # Read lazily: a long Received chain costs more to parse than the rest.
    for received in _received(message):
        stamp = _parsed_date(received.rpartition(";")[2])
        if stamp is not None:
            yield stamp
    if received_at is not None:
        yield received_at


def _received(message: EmailMessage) -> list[str]:
    try:
        return [str(value) for value in message.get_all("Received") or []]
    except Exception:  # a trace header is never worth a failure
        return []


def _parsed_date(text: str) -> dt.datetime | None:
    if not text.strip():
        return None
    try:
        value = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if value.tzinfo is None:
        # RFC 5322 says a date without a zone is in UTC ("-0000").
        value = value.replace(tzinfo=dt.UTC)
    return value


def _plausible(value: dt.datetime) -> bool:
    return value.year >= EARLIEST_YEAR and value <= timezone.now() + RECORD_AHEAD


def _body(message: EmailMessage) -> tuple[str, str]:
    """The text to show: plain text, or HTML made text, without quoted replies."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # a broken MIME tree still has headers
        part = None
    if part is None:
        return "", ""
    text, warning = _part_text(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return strip_quoted_reply(text)[:BODY_CHARS], warning


def _part_text(part: Any) -> tuple[str, str]:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError, TypeError):
        content = None
    if isinstance(content, str):
        return content, ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return "", ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace"), ""
    except LookupError:
        text = payload.decode("utf-8", errors="replace")
        return text, f"unknown charset {charset!r}; the body was read as UTF-8"


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body: tags, scripts and styles removed."""
    with_breaks = LINE_BREAKING_TAGS.sub("\n", markup)
    text = html.unescape(nh3.clean(with_breaks, tags=set()))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _attachments(message: EmailMessage) -> list[dict[str, Any]]:
    found = []
    try:
        parts = list(message.walk())
    except Exception:  # a broken MIME tree loses its attachments
        return []
    for part in parts:
        if part.is_multipart() or not _is_attachment(part):
            continue
        found.append(
            {
                "name": _file_name(part)[:300],
                "type": part.get_content_type()[:100],
                "size": len(_decoded(part)),
            }
        )
    return found[:50]


def _is_attachment(part: Any) -> bool:
    try:
        return bool(part.is_attachment() or _file_name(part))
    except Exception:  # an odd disposition is not an attachment
        return False


def _file_name(part: Any) -> str:
    try:
        return str(part.get_filename() or "")
    except Exception:  # an undecodable name is kept unnamed
        return ""


def _decoded(part: Any) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # count what cannot be decoded as empty
        return b""
    return payload if isinstance(payload, bytes) else b""


def _address_json(address: Address | None) -> dict[str, str] | None:
    if address is None:
        return None
    return {"address": address.address, "name": address.name}
