"""vCard in and out: address books of phones, Google, Apple and Outlook.

Import reads versions 2.1, 3.0 and 4.0 one card at a time, turns each card
into a Contact and writes it through the same ContactWriter as a CSV row, so
matching, dry runs, progress and counts behave alike. A card's key is its
UID, else a hash of the card. A card vobject cannot read is reported with
its number and line; a single unreadable property is left out and reported,
and the rest of its card imports.

Export writes version 3.0, which Google, Apple and Outlook all read.
"""

import base64
import binascii
import codecs
import datetime as dt
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import vobject
from django.utils import timezone
from vobject.base import Component

from threadline.errors import InvalidInput
from threadline.parties.contact_points import (
    normalise_email,
    normalise_phone,
    one_line_address,
)
from threadline.parties.models import ContactKind
from threadline.parties.names import clean_line, clean_text, fold
from threadline.parties.services import (
    EARLIEST_BIRTHDAY,
    PHOTO_MAX_BYTES,
    add_contact_point,
    picture_type,
)
from threadline.transfer.contacts import Contact, Point, is_system_group, left_out
from threadline.transfer.excerpts import error_text, excerpt
from threadline.transfer.importer import ContactWriter, ImportOptions
from threadline.transfer.report import ImportReport
from threadline.transfer.vcard_cards import RawCard, StrayText, count_cards, read_cards
from threadline.transfer.writing import SkipRow, import_transaction, write_rows

logger = logging.getLogger(__name__)

# vobject signals a malformed card through its own errors and through the
# codecs it calls (base64, quoted-printable, charsets); all stay in the card.
UNREADABLE = (vobject.base.VObjectError, ValueError, LookupError, TypeError)
# How many unreadable properties a card may lose before it counts as broken.
MAX_LEFT_OUT = 10
# TYPE parameters that name where or what a contact point is; the rest
# (pref, voice, internet, ...) say nothing a receptionist needs.
PLACE_TYPES = {"home": "home", "work": "work", "other": "other"}
DEVICE_TYPES = {
    "cell": "mobile",
    "mobile": "mobile",
    "iphone": "mobile",
    "fax": "fax",
    "pager": "pager",
    "main": "main",
    "car": "car",
}
APPLE_LABEL = re.compile(r"^_\$!<(.*)>!\$_$")
FULL_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:T.*)?$")
NO_YEAR = re.compile(r"^--(\d{2})-?(\d{2})$")
# Apple writes this year for a birthday saved without one.
APPLE_NO_YEAR = "1604"
HASHED_OUT = frozenset({"REV", "PRODID", "X-THUNDERBIRD-ETAG"})
# Properties a card is read for; the others are listed as not imported.
READ_PROPERTIES = frozenset(
    [
        "version",
        "prodid",
        "rev",
        "uid",
        "n",
        "fn",
        "org",
        "title",
        "role",
        "email",
        "tel",
        "adr",
        "categories",
        "bday",
        "note",
        "photo",
        "kind",
        "x-abshowas",
        "x-ablabel",
    ]
)
MAX_UNREAD_LISTED = 40

Warn = Callable[[str], None]


def import_vcards(options: ImportOptions) -> ImportReport:
    """Import every card of a .vcf file as a person or an organisation.

    Raises InvalidInput, before anything is written, for a file without
    cards or an --encoding Python does not know.
    """
    _require_codec(options.encoding)
    with options.path.open("rb") as stream:
        total = count_cards(stream)
    if total == 0:
        raise InvalidInput(
            f"{options.path.name} holds no vCard (no line reads BEGIN:VCARD). "
            "Export the contacts again as vCard (.vcf) and import that file."
        )
    report = ImportReport(
        file=options.path.name,
        mapping="vCard",
        description=f"vCard file, {total:,} card{'s' if total != 1 else ''}",
        dry_run=options.dry_run,
    )

    options.progress.start(total, options.path.name)
    with import_transaction(options.dry_run), options.path.open("rb") as stream:
        writer = ContactWriter(options.path.name, report, options.source)
        cards = _contacts(read_cards(stream, options.encoding), report)
        write_rows(cards, lambda card: _write(writer, card), report, options.progress)
    writer.describe_matches()
    report.report_undone_before()
    options.progress.finish()

    logger.info(
        "vCard import of %s: %d of %d cards used%s",
        options.path.name,
        report.rows_used,
        report.rows,
        " (dry run)" if options.dry_run else "",
    )
    return report


def _require_codec(name: str | None) -> None:
    if not name:
        return
    try:
        codecs.lookup(name)
    except LookupError as error:
        raise InvalidInput(
            f"{name!r} is not an encoding Threadline knows; give one such as "
            "cp1252, latin-1 or cp1253 with --encoding, or leave it out."
        ) from error


@dataclass
class ReadCard:
    """A card read into a contact, or the reason it could not be.

    ContactWriter reads a card with emails as a person's, so a company's own
    card sets its emails aside here, to be added to the organisation.
    """

    raw: RawCard
    contact: Contact | None = None
    error: str = ""
    organisation_emails: list[Point] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)


def _contacts(
    items: Iterator[RawCard | StrayText], report: ImportReport
) -> Iterator[tuple[int, ReadCard]]:
    for item in items:
        if isinstance(item, StrayText):
            report.problem(
                item.line,
                f"text outside any card ({item.text!r}) was ignored",
                skipped=True,
            )
            continue
        report.rows += 1
        read = _read(item)
        _note_unread(read, report)
        yield item.line, read


def _note_unread(read: ReadCard, report: ImportReport) -> None:
    """List the properties no card was read for, as CSV lists its columns."""
    for name in read.unread:
        if name not in report.ignored_columns:
            if len(report.ignored_columns) >= MAX_UNREAD_LISTED:
                return
            report.ignored_columns.append(name)


def _read(raw: RawCard) -> ReadCard:
    if not raw.closed:
        return ReadCard(
            raw,
            error="the card has no END:VCARD, so the file may be cut short; "
            "export it again",
        )
    try:
        card, left_out = parse_card(raw)
    except CardUnreadable as error:
        return ReadCard(raw, error=str(error))
    contact = card_contact(card, raw)
    contact.warnings[:0] = left_out
    read = ReadCard(raw, contact)
    read.unread = sorted(
        name.upper() for name in card.contents if name not in READ_PROPERTIES
    )
    if contact.company and not contact.person_name:
        read.organisation_emails, contact.emails = contact.emails, []
    return read


def _write(writer: ContactWriter, card: ReadCard) -> None:
    where = f"card {card.raw.number}"
    if card.contact is None:
        raise SkipRow(f"{where} could not be read: {card.error}")
    try:
        writer.write(card.contact)
    except SkipRow as error:
        raise SkipRow(f"{where}: {error.message}") from error
    if card.organisation_emails:
        _add_organisation_emails(writer, card.contact, card.organisation_emails)


def _add_organisation_emails(
    writer: ContactWriter, contact: Contact, emails: list[Point]
) -> None:
    organisation = writer.organisations.get(fold(contact.company)[:190])
    if organisation is None:
        return
    known = set(
        organisation.contact_points.filter(kind=ContactKind.EMAIL).values_list(
            "value", flat=True
        )
    )
    for point in emails:
        if point.value in known:
            continue
        add_contact_point(
            organisation, writer.actor, ContactKind.EMAIL, point.raw, label=point.label
        )
        known.add(point.value)
        writer.report.created["contact point"] += 1


class CardUnreadable(Exception):
    """vobject cannot read the card, even without its unreadable lines."""


def parse_card(raw: RawCard) -> tuple[Component, list[str]]:
    """Read a card with vobject, leaving out properties it cannot read.

    Returns the card and a warning per property left out; raises
    CardUnreadable when the card itself cannot be read.
    """
    lines, starts = list(raw.lines), list(raw.starts)
    left_out: list[str] = []
    for _ in range(MAX_LEFT_OUT + 1):
        try:
            return vobject.readOne("\r\n".join(lines) + "\r\n", allowQP=True), left_out
        except UNREADABLE as error:
            reason = _reason(error)
            bad = _first_unreadable(lines)
            if bad is None:
                raise CardUnreadable(f"{reason} (line {raw.line})") from error
        name = excerpt(lines[bad].split(":", 1)[0].split(";", 1)[0].upper())
        left_out.append(
            f"card {raw.number}: {name} on line {starts[bad]} could not be "
            f"read ({reason}), left out"
        )
        del lines[bad], starts[bad]
    raise CardUnreadable(f"more than {MAX_LEFT_OUT} unreadable lines")


def _first_unreadable(lines: list[str]) -> int | None:
    """Find the property that fails when read alone in a card of its own."""
    version = next((line for line in lines if line.upper().startswith("VERSION:")), "")
    for index, line in enumerate(lines[1:-1], 1):
        if line.upper().startswith(("VERSION:", "BEGIN:", "END:")):
            continue
        alone = "\r\n".join(filter(None, ["BEGIN:VCARD", version, line, "END:VCARD"]))
        try:
            vobject.readOne(alone + "\r\n", allowQP=True)
        except UNREADABLE:
            return index
    return None


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, binascii.Error) or "base64" in text:
        return "damaged base64 data"
    if isinstance(error, UnicodeError):
        return "text in an encoding other than the one declared"
    if isinstance(error, LookupError):
        return "an unknown character set"
    return error_text(error)


def card_contact(card: Component, raw: RawCard) -> Contact:
    """What one card says, as a Contact; bad values become warnings."""
    contact = Contact(line=raw.line, key=_card_key(card, raw))
    contact.threadline_id = _threadline_id(card)
    warn = contact.warnings.append
    _read_names(contact, card)
    _read_organisation(contact, card)
    for child in _children(card, "email"):
        _read_email(contact, child, card, warn)
    for child in _children(card, "tel"):
        _read_phone(contact, child, card, warn)
    for child in _children(card, "adr"):
        _read_address(contact, child, card)
    _read_tags(contact, card)
    _read_birthday(contact, card, warn)
    contact.notes = "\n\n".join(
        clean_text(_text(child.value)) for child in _children(card, "note")
    ).strip()
    _read_photo(contact, card, warn)
    contact.warnings[:] = [f"card {raw.number}: {text}" for text in contact.warnings]
    return contact


def _threadline_id(card: Component) -> uuid.UUID | None:
    """The customer a card downloaded from Threadline came from: its UID is
    the customer's id, so the card finds them again even without an email.
    A UID of another system is no id of this record and finds no one."""
    uid = clean_line(_text(_first_value(card, "uid")))
    try:
        return uuid.UUID(uid.removeprefix("urn:uuid:"))
    except ValueError:
        return None


def _card_key(card: Component, raw: RawCard) -> str:
    uid = clean_line(_text(_first_value(card, "uid")))
    if uid:
        return "id:" + uid[:180]
    # Without a UID the card is its own key; revision stamps change on every
    # export and would make the same card new each time.
    kept = [
        line
        for line in raw.lines
        if line.split(":", 1)[0].split(";", 1)[0].upper() not in HASHED_OUT
    ]
    digest = hashlib.sha256("\x1f".join(["vcard", *kept]).encode()).hexdigest()
    return "row:" + digest[:32]


def _read_names(contact: Contact, card: Component) -> None:
    name = _first_value(card, "n")
    if name is not None and not isinstance(name, str):
        contact.family_name = clean_line(_text(name.family))
        contact.given_name = clean_line(
            " ".join(filter(None, (_text(name.given), _text(name.additional))))
        )
    contact.full_name = clean_line(_text(_first_value(card, "fn")))


def _read_organisation(contact: Contact, card: Component) -> None:
    org = _first_value(card, "org")
    units = [clean_line(_text(part)) for part in (org or [])]
    units = [unit for unit in units if unit]
    contact.company = units[0] if units else ""
    title = clean_line(_text(_first_value(card, "title") or _first_value(card, "role")))
    department = " / ".join(units[1:])
    contact.role = f"{title} ({department})" if title and department else title
    if not contact.role:
        contact.role = department
    if contact.company and _describes_organisation(contact, card):
        contact.given_name = contact.family_name = contact.full_name = ""
    if title and not contact.company:
        # The role lives on the works-at link, which needs an organisation.
        contact.warnings.append(
            f"job title {title!r} without an organisation was left out"
        )


def _describes_organisation(contact: Contact, card: Component) -> bool:
    """A card of a company, not of a person at it (vCard 4 KIND, Apple's
    'show as company', or a card named only by its organisation)."""
    kind = fold(_text(_first_value(card, "kind")))
    shown_as = fold(_text(_first_value(card, "x-abshowas")))
    if kind in {"org", "organization"} or shown_as == "company":
        return True
    return (
        not contact.given_name
        and not contact.family_name
        and (not contact.full_name or fold(contact.full_name) == fold(contact.company))
    )


def _read_email(contact: Contact, child: Any, card: Component, warn: Warn) -> None:
    raw = clean_line(_text(child.value))
    if not raw:
        return
    try:
        value = normalise_email(raw)
    except InvalidInput as error:
        warn(left_out(error))
        return
    contact.emails.append(Point(raw, value, _label(child, card)))


def _read_phone(contact: Contact, child: Any, card: Component, warn: Warn) -> None:
    raw = clean_line(_text(child.value))
    raw = raw[4:] if raw.lower().startswith("tel:") else raw
    if not raw:
        return
    try:
        parts = normalise_phone(raw)
    except InvalidInput:
        warn(f"{raw!r} is not a phone number, left out")
        return
    contact.phones.append(
        Point(raw, parts.value, _label(child, card), parts.extension, parts.dialable)
    )
    if parts.doubt:
        warn(parts.doubt)


def _read_address(contact: Contact, child: Any, card: Component) -> None:
    address = child.value
    if isinstance(address, str):
        return
    street = ", ".join(
        _one_line(_text(part))
        for part in (address.street, address.extended, address.box)
        if _text(part).strip()
    )
    text = one_line_address(
        street,
        _one_line(_text(address.city)),
        _one_line(_text(address.region)),
        _one_line(_text(address.code)),
        _one_line(_text(address.country)),
    )
    text = " ".join(text.split())
    if text:
        contact.addresses.append(Point(text, text, _label(child, card)))


def _read_tags(contact: Contact, card: Component) -> None:
    tags: list[str] = []
    for child in _children(card, "categories"):
        values = child.value if isinstance(child.value, list) else [child.value]
        tags += [clean_line(_text(value)) for value in values]
    contact.tags = [
        tag for tag in dict.fromkeys(tags) if tag and not is_system_group(tag)
    ]


def _read_birthday(contact: Contact, card: Component, warn: Warn) -> None:
    child = next(iter(_children(card, "bday")), None)
    if child is None:
        return
    text = clean_line(_text(child.value))
    if not text:
        return
    full = FULL_DATE.match(text)
    omitted = child.params.get("X-APPLE-OMIT-YEAR", [""])[0]
    if NO_YEAR.match(text) or (full and full.group(1) in {omitted, APPLE_NO_YEAR}):
        warn(
            f"birthday {text!r} has no year; Threadline keeps only full dates, "
            "so it was not kept"
        )
        return
    try:
        day = dt.date(*(int(part) for part in full.groups())) if full else None
    except ValueError:
        day = None
    if day is None:
        warn(f"birthday {text!r} is not a date, not kept")
    elif not EARLIEST_BIRTHDAY <= day <= timezone.localdate():
        warn(f"birthday {text!r} is not a plausible date, not kept")
    else:
        contact.birthday = day


def _read_photo(contact: Contact, card: Component, warn: Warn) -> None:
    for child in _children(card, "photo"):
        data = _photo_bytes(child.value, warn)
        if data is None:
            continue
        kind = picture_type(data)
        if not kind:
            warn("the photo is not a JPEG, PNG, GIF or WebP picture, left out")
        elif len(data) > PHOTO_MAX_BYTES:
            warn(
                f"the photo is {len(data) // 1024:,} KB, more than "
                f"{PHOTO_MAX_BYTES // 1024:,} KB, left out"
            )
        else:
            contact.photo, contact.photo_type = data, kind
            return


def _photo_bytes(value: Any, warn: Warn) -> bytes | None:
    if isinstance(value, bytes):
        return value
    text = _text(value).strip()
    if text.lower().startswith("data:"):
        header, _, encoded = text.partition(",")
        if ";base64" not in header.lower():
            warn("the photo is a data link without base64 data, left out")
            return None
        try:
            return base64.b64decode(encoded, validate=False)
        except binascii.Error:
            warn("the photo's base64 data is damaged, left out")
            return None
    if text and ":" not in text:
        # Version 2.1 cards may mark base64 with a bare "B" that vobject
        # does not decode.
        try:
            return base64.b64decode(text, validate=False)
        except binascii.Error:
            warn("the photo's base64 data is damaged, left out")
            return None
    if text:
        # Fetching a URL from an imported file would let the file make the
        # server call any address; the link is reported instead.
        warn(f"the photo is a link ({text[:80]}), not fetched")
    return None


def _label(child: Any, card: Component) -> str:
    """'home', 'work mobile', or the label Apple keeps beside the value."""
    if child.group:
        for labelled in _children(card, "x-ablabel"):
            if (labelled.group or "").lower() == child.group.lower():
                text = clean_line(_text(labelled.value))
                marked = APPLE_LABEL.match(text)
                if text:
                    return (marked.group(1).lower() if marked else text)[:50]
    types = [
        word.strip().lower()
        for value in [*child.params.get("TYPE", []), *child.singletonparams]
        for word in str(value).split(",")
    ]
    place = next((PLACE_TYPES[word] for word in types if word in PLACE_TYPES), "")
    device = next((DEVICE_TYPES[word] for word in types if word in DEVICE_TYPES), "")
    return " ".join(filter(None, (place, device)))


def _children(card: Component, name: str) -> list[Any]:
    return list(card.contents.get(name, []))


def _first_value(card: Component, name: str) -> Any:
    children = _children(card, name)
    return children[0].value if children else None


def _text(value: Any) -> str:
    """A property's text, whether vobject gives a string or a list."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(_text(part) for part in value if part)
    if isinstance(value, bytes):
        return ""
    return str(value)


def _one_line(text: str) -> str:
    return ", ".join(line.strip() for line in text.splitlines() if line.strip())
