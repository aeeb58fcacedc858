"""Turning one row of a contacts file into a contact ready to be matched."""

import datetime as dt
import hashlib
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import CharField
from django.utils import timezone

from threadline.errors import InvalidInput
from threadline.parties.contact_points import (
    normalise_email,
    normalise_phone,
    one_line_address,
)
from threadline.parties.models import Party, Stage
from threadline.parties.names import cut_to, display_name, fold
from threadline.parties.services import EARLIEST_BIRTHDAY
from threadline.transfer.dates import DateProblem, parse_date, region_order
from threadline.transfer.mapping import ADDRESS_PARTS, DATE_FIELDS, Target
from threadline.transfer.spreadsheet import unneutralise

if TYPE_CHECKING:
    from threadline.transfer.importer import PreparedPerson

# What exports write into a cell that has no value.
EMPTY_MARKERS = frozenset({"null", "none", "n/a", "#n/a", "nil", "-"})
# Google joins several values in one cell with " ::: ".
MULTI_VALUE = re.compile(r"\s+:::\s+")
# A list column holds one value a line, its label before this mark:
# "work: a@b.com". A value holding the mark itself is written after an empty
# label, so that no part of it is read as one.
LABEL_MARK = ": "
# Groups Google puts every contact (or every starred one) in, spaces left
# out: as tags they would say nothing.
SYSTEM_GROUPS = frozenset({"mycontacts", "starred", "starredinandroid"})
TAG_SEPARATORS = re.compile(r"\s*(?:[,;|]|:::)\s*")
STAGE_WORDS = {
    "lead": Stage.LEAD,
    "new": Stage.LEAD,
    "subscriber": Stage.LEAD,
    "marketing qualified lead": Stage.LEAD,
    "sales qualified lead": Stage.PROSPECT,
    "prospect": Stage.PROSPECT,
    "opportunity": Stage.PROSPECT,
    "customer": Stage.CUSTOMER,
    "client": Stage.CUSTOMER,
    "active": Stage.CUSTOMER,
    "evangelist": Stage.CUSTOMER,
    "former": Stage.FORMER,
    "former customer": Stage.FORMER,
    "churned": Stage.FORMER,
    "kunde": Stage.CUSTOMER,
    "interessent": Stage.PROSPECT,
}
LABEL_NOISE = re.compile(r"^[*\s]+")


class Values(defaultdict[tuple[str, str], list[str]]):
    """A row's values by (field, group), in column order, and the first
    value of each field, whatever its group."""

    def __init__(self) -> None:
        super().__init__(list)
        self.firsts: dict[str, str] = {}

    def add(self, field_name: str, group: str, text: str) -> None:
        self[(field_name, group)].append(text)
        self.firsts.setdefault(field_name, text)


# What a kind column says of an organisation or a household, folded.
ORGANISATION_WORDS = frozenset(
    {"organisation", "organization", "company", "business", "firma", "unternehmen"}
)
# What follows a comma after a whole name: a generation or a degree.
NAME_SUFFIXES = frozenset(
    {"jr", "sr", "ii", "iii", "iv", "md", "phd", "esq", "dds", "cpa", "rn", "mba"}
)
PERSON_WORDS = frozenset({"person", "individual", "contact", "people", "privat"})
HOUSEHOLD_WORDS = frozenset({"household", "family", "haushalt", "familie"})


@dataclass(frozen=True)
class Point:
    """A contact point as typed, its normalised value and its label."""

    raw: str
    value: str
    label: str = ""
    extension: str = ""
    dialable: bool = True


@dataclass
class Contact:
    """What one row says about a person or an organisation."""

    line: int
    key: str
    given_name: str = ""
    family_name: str = ""
    full_name: str = ""
    emails: list[Point] = field(default_factory=list)
    phones: list[Point] = field(default_factory=list)
    addresses: list[Point] = field(default_factory=list)
    company: str = ""
    role: str = ""
    threadline_id: uuid.UUID | None = None
    # The row says it is an organisation (or a household), not a person who
    # works at one; `own_kind` says which.
    is_organisation: bool = False
    own_kind: str = "organisation"
    notes: str = ""
    tags: list[str] = field(default_factory=list)
    stage: str = ""
    birthday: dt.date | None = None
    photo: bytes = b""
    photo_type: str = ""
    warnings: list[str] = field(default_factory=list)
    # The person the batch path would create for the row, prepared by the
    # process that read it (importer.prepare_person); None if not prepared.
    prepared: "PreparedPerson | str | None" = None

    @property
    def person_name(self) -> str:
        return display_name(self.given_name, self.family_name, self.full_name)

    @property
    def is_person(self) -> bool:
        """A row with only a company (and maybe its phone) is the company."""
        if self.is_organisation:
            return False
        return bool(
            self.person_name or self.emails or (self.phones and not self.company)
        )

    @property
    def is_usable(self) -> bool:
        return self.is_person or bool(self.company)


def build_contact(line: int, cells: list[str], plan: list[Target | None]) -> Contact:
    """Read a row through the column plan; bad values become warnings."""
    values = _collect(cells, plan)
    key = _row_key(values)
    contact = Contact(line=line, key=key)
    if any(cell.strip() for cell in cells[len(plan) :]):
        contact.warnings.append(
            f"the row has {len(cells)} values but the header names {len(plan)} "
            "columns; the values past the last column were left out"
        )

    _read_names(contact, values)
    labels = {
        group: _label(texts[0])
        for (name, group), texts in values.items()
        if name == "label"
    }
    _read_emails(contact, values, labels)
    _read_phones(contact, values, labels)
    _read_addresses(contact, values, labels)
    _read_organisation(contact, values)
    _read_kind(contact, values)
    _read_extras(contact, values)
    _read_birthday(contact, cells, plan)
    if contact.birthday is None:
        _read_birthday_parts(contact, values)
    return contact


def _collect(cells: list[str], plan: list[Target | None]) -> Values:
    values = Values()
    for target, cell in zip(plan, cells, strict=False):
        text = unneutralise(cell).strip()
        if target is None or not text or text.lower() in EMPTY_MARKERS:
            continue
        values.add(target.field, target.group, text)
    return values


def _row_key(values: Values) -> str:
    """The row's stable key: its id column, or a hash of what was imported."""
    ids = values.get(("id", ""))
    if ids:
        return "id:" + ids[0][:180]
    canonical = "\x1f".join(
        f"{name}:{group}=" + "\x1e".join(" ".join(text.split()) for text in texts)
        for (name, group), texts in sorted(values.items())
    )
    return "row:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _first(values: Values, name: str) -> str:
    return " ".join(values.firsts.get(name, "").split())


def _read_names(contact: Contact, values: Values) -> None:
    given = " ".join(
        filter(None, (_first(values, "given_name"), _first(values, "middle_name")))
    )
    family = _first(values, "family_name")
    full = _first(values, "full_name")
    if not given and not family and full.count(",") == 1:
        # "van der Berg, Anna": the surname comes first, particles and all;
        # "John Smith, Jr." is a name and its suffix, kept as written.
        last, first = (part.strip() for part in full.split(","))
        suffix = fold(first).replace(".", "") in NAME_SUFFIXES
        if last and first and not suffix and not re.search(r"\d", full):
            given, family, full = first, last, f"{first} {last}"
    contact.given_name, contact.family_name, contact.full_name = given, family, full
    _cut_long_names(contact)


def _cut_long_names(contact: Contact) -> None:
    """Keep names within what a party holds, and say when one was cut."""
    limits = {
        "given_name": _limit("given_name"),
        "family_name": _limit("family_name"),
        "full_name": _limit("display_name"),
    }
    for name, limit in limits.items():
        text = getattr(contact, name)
        if len(text) > limit:
            setattr(contact, name, cut_to(text, limit))
            contact.warnings.append(
                f"the {name.replace('_', ' ')} has {len(text)} characters; only "
                f"the first {limit} were kept"
            )
    whole, limit = contact.person_name, _limit("display_name")
    if len(whole) > limit:
        contact.warnings.append(
            f"the name has {len(whole)} characters; it is shown cut to {limit}"
        )


@cache
def _limit(name: str) -> int:
    model_field = Party._meta.get_field(name)
    assert isinstance(model_field, CharField) and model_field.max_length
    return model_field.max_length


def _read_emails(contact: Contact, values: Values, labels: dict[str, str]) -> None:
    for raw, label in _entries(values, "email", labels):
        try:
            value = normalise_email(raw)
        except InvalidInput as error:
            contact.warnings.append(left_out(error))
            continue
        contact.emails.append(Point(raw, value, label))


def left_out(error: InvalidInput) -> str:
    """A refused value's warning: what was wrong with it, and that the rest
    of its row was kept."""
    return f"{error.message.rstrip('.')}; left out"


def _read_phones(contact: Contact, values: Values, labels: dict[str, str]) -> None:
    for raw, label in _entries(values, "phone", labels):
        try:
            parts = normalise_phone(raw)
        except InvalidInput:
            contact.warnings.append(f"{raw!r} is not a phone number, left out")
            continue
        contact.phones.append(
            Point(raw, parts.value, label, parts.extension, parts.dialable)
        )
        if parts.doubt:
            contact.warnings.append(parts.doubt)


def _read_addresses(contact: Contact, values: Values, labels: dict[str, str]) -> None:
    groups = sorted(
        {group for (name, group) in values if name in {"address", *ADDRESS_PARTS}}
    )
    for group in groups:
        parts = {part: values.get((part, group), []) for part in ADDRESS_PARTS}
        if not parts["street"]:
            # A whole written address, or a lone "Address" column beside city
            # and postcode, stands in for the street.
            parts["street"] = [
                _one_line(text) for text in values.get(("address", group), [])
            ]
        text = one_line_address(*(", ".join(parts[part]) for part in ADDRESS_PARTS))
        text = " ".join(text.split())
        if text:
            contact.addresses.append(Point(text, text, _group_label(group, labels)))
    for raw, label in _listed(values, "address", labels):
        text = " ".join(raw.split())
        contact.addresses.append(Point(text, text, label))


def _one_line(text: str) -> str:
    return ", ".join(line.strip() for line in text.splitlines() if line.strip())


def _read_organisation(contact: Contact, values: Values) -> None:
    contact.company = _first(values, "company")
    title = _first(values, "job_title")
    department = _first(values, "department")
    if title and department:
        contact.role = f"{title} ({department})"
    else:
        contact.role = title or department


def _read_extras(contact: Contact, values: Values) -> None:
    notes = [
        text for (name, _), texts in values.items() if name == "notes" for text in texts
    ]
    contact.notes = "\n\n".join(
        text.replace("\r\n", "\n").replace("\r", "\n") for text in notes
    )
    for (name, _), texts in values.items():
        if name == "tags":
            contact.tags += [
                _label(tag) for text in texts for tag in TAG_SEPARATORS.split(text)
            ]
    contact.tags = [
        tag for tag in dict.fromkeys(contact.tags) if tag and not is_system_group(tag)
    ]

    _read_threadline_id(contact, values)
    stage = _first(values, "stage")
    if stage:
        contact.stage = STAGE_WORDS.get(fold(stage), "")
        if not contact.stage:
            contact.warnings.append(
                f"stage {stage!r} is not one Threadline knows, left out"
            )


def _read_kind(contact: Contact, values: Values) -> None:
    """A row the file marks as an organisation or a household describes it,
    named by its name column as written ("Acme, Inc." is no "Last, First"),
    as a customer download writes it."""
    written = _first(values, "party_kind")
    kind = fold(written)
    if kind and kind not in ORGANISATION_WORDS | HOUSEHOLD_WORDS | PERSON_WORDS:
        contact.warnings.append(
            f"kind {written!r} is not one Threadline knows (person, organisation "
            "or household); the row was read as a person"
        )
    if kind not in ORGANISATION_WORDS | HOUSEHOLD_WORDS:
        return
    contact.is_organisation = True
    contact.own_kind = "household" if kind in HOUSEHOLD_WORDS else "organisation"
    if not contact.company:
        contact.company = _first(values, "full_name") or contact.person_name
    contact.full_name = contact.given_name = contact.family_name = ""


def _read_threadline_id(contact: Contact, values: Values) -> None:
    """The id a customer download gives each customer, so that a download
    edited in a spreadsheet imports back onto the same customers."""
    text = _first(values, "threadline_id")
    if not text:
        return
    try:
        contact.threadline_id = uuid.UUID(text)
    except ValueError:
        contact.warnings.append(
            f"Threadline id {text!r} is not one; the row was matched as if it had none"
        )


def _read_birthday(
    contact: Contact, cells: list[str], plan: list[Target | None]
) -> None:
    """Read the first birthday the row has, in its column's order of day and
    month; an unreadable or implausible one is left out with a warning."""
    for target, cell in zip(plan, cells, strict=False):
        if target is None or target.field not in DATE_FIELDS or not cell.strip():
            continue
        order = target.dates.order if target.dates else _region_order()
        today = timezone.localdate()
        try:
            birthday = parse_date(cell, order, today)
        except DateProblem as problem:
            contact.warnings.append(f"birthday {problem}; left out")
            continue
        if birthday is None:
            continue
        if not EARLIEST_BIRTHDAY <= birthday <= today:
            contact.warnings.append(
                f"birthday {birthday:%Y-%m-%d} is not plausible (before "
                f"{EARLIEST_BIRTHDAY:%Y} or in the future); left out"
            )
            continue
        contact.birthday = contact.birthday or birthday


def _read_birthday_parts(contact: Contact, values: Values) -> None:
    """Read a birthday given as year, month and day columns (Thunderbird)."""
    parts = [
        _first(values, name) for name in ("birth_year", "birth_month", "birth_day")
    ]
    if not any(parts):
        return
    try:
        year, month, day = (int(part) for part in parts)
        birthday = dt.date(year, month, day)
    except ValueError:
        contact.warnings.append(
            f"birthday year {parts[0] or '(none)'}, month {parts[1] or '(none)'}, "
            f"day {parts[2] or '(none)'} is not a whole date; left out"
        )
        return
    if EARLIEST_BIRTHDAY <= birthday <= timezone.localdate():
        contact.birthday = birthday
    else:
        contact.warnings.append(
            f"birthday {birthday:%Y-%m-%d} is not plausible; left out"
        )


def _region_order() -> str:
    return region_order(settings.DEFAULT_REGION)[0]


def list_item(label: str, value: str) -> str:
    """One value of a list column, written as the importer reads it back."""
    if label or LABEL_MARK in value:
        return f"{label}{LABEL_MARK}{value}"
    return value


def _entries(
    values: Values, name: str, labels: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """Each value of a field with its label: first its own columns', each
    labelled by its group, then its list columns'."""
    for (field_name, group), texts in values.items():
        if field_name == name:
            label = _group_label(group, labels)
            for raw in _split_multi(texts):
                yield raw, label
    yield from _listed(values, name, labels)


def _listed(
    values: Values, name: str, labels: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """Each value of a field's list columns, one a line, with the label
    written before it or else the column's group."""
    for (field_name, group), texts in values.items():
        if field_name != f"{name}_list":
            continue
        for line in (line for text in texts for line in text.splitlines()):
            label, mark, value = line.strip().partition(LABEL_MARK)
            if not mark:
                label, value = "", label
            if value.strip():
                yield value.strip(), _label(label)[:50] or _group_label(group, labels)


def _split_multi(texts: list[str]) -> list[str]:
    return [part for text in texts for part in MULTI_VALUE.split(text) if part.strip()]


def is_system_group(tag: str) -> bool:
    """Whether a tag is a group an address book puts every contact in."""
    return fold(tag).replace(" ", "") in SYSTEM_GROUPS


def _label(text: str) -> str:
    return LABEL_NOISE.sub("", text).strip()


def _group_label(group: str, labels: dict[str, str]) -> str:
    if group in labels:
        return labels[group][:50]
    return "" if not group or group[-1].isdigit() else group
