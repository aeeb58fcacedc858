"""Which column of a file means what: shipped mappings and common headers.

A mapping names, for each header, a target field and optionally a group,
written `field` or `field:group`: `phone:mobile`, `street:home`. Parts of one
postal address share a group; a `label:group` column labels the group's
contact point (Google writes "Mobile" beside "Phone 1 - Value"). Headers a
mapping does not name are recognised by their common names, whatever their
case, spacing or punctuation, in English and German.
"""

import dataclasses
import json
import logging
import re
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from threadline.errors import InvalidInput
from threadline.parties.names import fold
from threadline.transfer.dates import (
    DAY_FIRST,
    MONTH_FIRST,
    ColumnDates,
    DateReading,
    resolve_order,
)

if TYPE_CHECKING:
    from threadline.transfer.reading import Table

logger = logging.getLogger(__name__)

FIELDS = frozenset(
    {
        "id",
        "threadline_id",
        "party_kind",
        "full_name",
        "given_name",
        "middle_name",
        "family_name",
        "email",
        "phone",
        "address",
        # Several labelled values in one cell, one a line: "work: a@b.com".
        "email_list",
        "phone_list",
        "address_list",
        "street",
        "city",
        "region",
        "postcode",
        "country",
        "company",
        "job_title",
        "department",
        "notes",
        "tags",
        "stage",
        "birthday",
        "birth_year",
        "birth_month",
        "birth_day",
        "label",
        "ignore",
        # Columns of a file of interactions: transfer/events.py.
        "event_id",
        "contact_ref",
        "occurred_at",
        "event_type",
        "summary",
        "body",
        "direction",
        "amount",
        "currency",
    }
)
# Fields whose values are dates, read with one order of day and month per
# column.
DATE_FIELDS = frozenset({"birthday"})
DATE_ORDERS = (DAY_FIRST, MONTH_FIRST)
ADDRESS_PARTS = ("street", "city", "region", "postcode", "country")

_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "externalid", "contactid", "recordid", "uid", "kundennummer"),
    # The column Threadline's own customer downloads end with.
    "threadline_id": ("threadlineid",),
    # Whether a row is a person or an organisation, as the download says.
    "party_kind": ("kind", "partykind"),
    "email": (
        "email",
        "mail",
        "emailaddress",
        "primaryemail",
        "emailadresse",
        "mailadresse",
        "primareemailadresse",
        "courriel",
        "correo",
    ),
    "phone": (
        "phone",
        "phonenumber",
        "telephone",
        "telephonenumber",
        "tel",
        "telefon",
        "telnr",
        "telefonnummer",
        "telefono",
    ),
    # The columns a customer download puts the values beyond the first in.
    "email_list": ("otheremails",),
    "phone_list": ("otherphones",),
    "address_list": ("otheraddresses",),
    "given_name": (
        "firstname",
        "first",
        "givenname",
        "forename",
        "fname",
        "vorname",
        "prenom",
        "nombre",
    ),
    "middle_name": ("middlename", "additionalname", "secondname", "weiterevornamen"),
    "family_name": (
        "lastname",
        "last",
        "familyname",
        "surname",
        "lname",
        "nachname",
        "familienname",
        "nomdefamille",
        "apellido",
        "apellidos",
    ),
    "full_name": (
        "name",
        "fullname",
        "displayname",
        "anzeigename",
        "contactname",
        "contact",
        "customer",
        "customername",
        "kunde",
        "nom",
    ),
    "company": (
        "company",
        "companyname",
        "organisation",
        "organization",
        "organisationname",
        "organizationname",
        "org",
        "account",
        "accountname",
        "employer",
        "business",
        "firma",
        "unternehmen",
        "societe",
        "empresa",
    ),
    "job_title": (
        "jobtitle",
        "title",
        "role",
        "position",
        "jobrole",
        "occupation",
        "funktion",
        "berufsbezeichnung",
    ),
    "department": ("department", "abteilung"),
    "address": ("address", "fulladdress", "postaladdress", "adresse", "anschrift"),
    "street": (
        "street",
        "streetaddress",
        "addressline",
        "addressstreet",
        "strasse",
        "street2",
        "street3",
    ),
    "city": ("city", "town", "locality", "ort", "stadt", "ville", "ciudad"),
    "region": (
        "region",
        "state",
        "province",
        "stateprovince",
        "county",
        "bundesland",
    ),
    "postcode": (
        "postcode",
        "postalcode",
        "zip",
        "zipcode",
        "plz",
        "postleitzahl",
        "codepostal",
        "zippostalcode",
        "postalzipcode",
    ),
    "country": ("country", "countryregion", "land", "landregion", "pays", "pais"),
    "notes": (
        "notes",
        "note",
        "comments",
        "comment",
        "description",
        "remarks",
        "notizen",
        "notiz",
        "bemerkung",
        "bemerkungen",
        "anmerkungen",
    ),
    "tags": (
        "tags",
        "tag",
        "categories",
        "category",
        "labels",
        "groups",
        "kategorie",
        "kategorien",
    ),
    "stage": ("stage", "lifecyclestage", "lifecycle", "customerstage"),
    "birthday": (
        "birthday",
        "birthdate",
        "dateofbirth",
        "dob",
        "born",
        "geburtstag",
        "geburtsdatum",
        "datedenaissance",
        "fechadenacimiento",
        "cumpleanos",
    ),
}
ALIASES = {alias: target for target, names in _ALIASES.items() for alias in names}
# Headers that carry a group in their first word: "Business Phone".
GROUP_WORDS = {
    "home": "home",
    "private": "home",
    "privat": "home",
    "dienstlich": "work",
    "business": "work",
    "work": "work",
    "office": "work",
    "geschaftlich": "work",
    "mobile": "mobile",
    "cell": "mobile",
    "other": "other",
    "secondary": "other",
    "sekundare": "other",
    "primary": "",
    "mailing": "",
    "postal": "",
}
# Single words that are a phone of a kind: "Mobile", "Handy".
PHONE_WORDS = {
    "mobile": "mobile",
    "cell": "mobile",
    "handy": "mobile",
    "mobiltelefon": "mobile",
    "mobiltelnr": "mobile",
    "mobil": "mobile",
}
# Words some systems put before every header: "contact_email".
RECORD_NOUNS = ("contact", "customer", "client", "person", "lead", "primary")
STREET_LINES = frozenset({"addressline", "street", "streetaddress", "strasse"})
# A numbered group's part: "phone7value", "address3city".
NUMBERED_PART = re.compile(r"([a-z]+?)(\d+)([a-z]+)")
GROUPED_FIELDS = frozenset({"email", "phone", "address", *ADDRESS_PARTS})


@dataclass(frozen=True)
class Target:
    field: str
    group: str = ""
    # For a date field of a file: how its dates are read.
    dates: DateReading | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def parse(cls, text: str) -> "Target":
        name, _, group = text.partition(":")
        if name not in FIELDS:
            known = ", ".join(sorted(FIELDS))
            raise InvalidInput(f"{name!r} is not a field to map to (use {known}).")
        return cls(name, group.strip())

    def __str__(self) -> str:
        return f"{self.field}:{self.group}" if self.group else self.field


@dataclass(frozen=True)
class Mapping:
    """A shipped or user-written description of a file's columns."""

    name: str
    title: str = ""
    # Which product's export it reads, and the documentation relied on.
    description: str = ""
    columns: dict[str, Target] = field(default_factory=dict)
    detect: tuple[str, ...] = ()
    dataset: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def normalise_header(text: str) -> str:
    """Fold a header to lower-case letters and digits: 'E-Mail 2' -> 'email2'."""
    return re.sub(r"[^0-9a-z]", "", fold(text))


def recognise(header: str) -> Target | None:
    """Recognise a header by its common name, or return None."""
    key = normalise_header(header)
    if not key:
        return None
    if key in ALIASES:
        return Target(ALIASES[key])
    if key in PHONE_WORDS:
        return Target("phone", PHONE_WORDS[key])

    numbered = _numbered(key)
    if numbered is not None:
        return numbered

    digits = "".join(re.findall(r"\d+", key))
    bare = re.sub(r"\d+", "", key)
    if bare in STREET_LINES:
        # "Address line 2" is a second line of the same address.
        return Target("street")
    if digits and bare in ALIASES:
        target = ALIASES[bare]
        return Target(target, digits if target in GROUPED_FIELDS else "")
    return _grouped(bare) or _prefixed(key)


def plan_columns(
    header: list[str], mapping: Mapping | None, table: "Table | None" = None
) -> list[Target | None]:
    """Return the target of each column, None for those not imported.

    With the table, each date column also gets the order its dates are read
    in, decided from what the whole file shows.
    """
    named = {
        normalise_header(key): target
        for key, target in (mapping or _NONE).columns.items()
    }
    plan: list[Target | None] = []
    for column in header:
        target = named.get(normalise_header(column)) or recognise(column)
        plan.append(None if target is None or target.field == "ignore" else target)
    if table is not None:
        plan = _with_date_orders(plan, table, _date_order(mapping))
    return plan


def describe_reading(table: "Table", plan: list[Target | None]) -> str:
    """How the file was read, with how each date column's dates were read."""
    readings = [target.dates.describe() for target in plan if target and target.dates]
    return "; ".join([table.description, *filter(None, readings)])


def _with_date_orders(
    plan: list[Target | None], table: "Table", override: str
) -> list[Target | None]:
    evidence = dict(zip(table.header, table.dates, strict=False))
    resolved: list[Target | None] = []
    for column, target in zip(table.header, plan, strict=True):
        if target is None or target.field not in DATE_FIELDS:
            resolved.append(target)
            continue
        others = {name: found for name, found in evidence.items() if name != column}
        reading = resolve_order(
            column,
            evidence.get(column, ColumnDates()),
            others,
            override=override,
            region=settings.DEFAULT_REGION,
        )
        resolved.append(replace(target, dates=reading))
    return resolved


def _date_order(mapping: Mapping | None) -> str:
    """The order of day and month a mapping sets with "date_order"."""
    order = str((mapping or _NONE).options.get("date_order", "")).lower()
    if order and order not in DATE_ORDERS:
        raise InvalidInput(
            f'The mapping\'s date_order is {order!r}; use "dmy" for '
            'day/month/year or "mdy" for month/day/year.'
        )
    return order


def load_mapping(spec: str) -> Mapping:
    """Load a shipped mapping by name or a JSON mapping file by path."""
    shipped = shipped_mappings()
    if spec in shipped:
        return shipped[spec]
    path = Path(spec)
    if path.suffix.lower() == ".json" or path.exists():
        return _from_file(path)
    names = ", ".join(sorted(shipped))
    raise InvalidInput(
        f"There is no mapping called {spec!r}. Shipped mappings: {names}; "
        "or give the path of a JSON mapping file."
    )


def detect_mapping(header: list[str]) -> Mapping | None:
    """Pick the shipped mapping whose tell-tale headers the file has."""
    keys = {normalise_header(column) for column in header}
    best, best_score = None, 0
    for mapping in shipped_mappings().values():
        tells = [normalise_header(column) for column in mapping.detect]
        score = sum(tell in keys for tell in tells)
        if tells and score == len(tells) and score > best_score:
            best, best_score = mapping, score
    logger.debug("Columns look like the %s mapping", best.name if best else "no")
    return best


@cache
def shipped_mappings() -> dict[str, Mapping]:
    folder = resources.files("threadline.transfer") / "mappings"
    mappings = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            mapping = _parse(json.loads(entry.read_text(encoding="utf-8")), entry.name)
            mappings[mapping.name] = mapping
    return mappings


def _numbered(key: str) -> Target | None:
    """Recognise a numbered group's part, as Google writes "Phone 7 - Value"
    and "Phone 7 - Type", however many numbers a file has."""
    match = NUMBERED_PART.fullmatch(key)
    if match is None:
        return None
    noun, number, part = match.groups()
    field = ALIASES.get(noun)
    if field not in ("email", "phone", "address"):
        return None
    group = f"{field}{number}"
    if part in ("value", "formatted"):
        return Target(field, group)
    if part in ("type", "label"):
        return Target("label", group)
    if field == "address" and part == "extendedaddress":
        return Target("street", group)
    if field == "address" and ALIASES.get(part) in ADDRESS_PARTS:
        return Target(ALIASES[part], group)
    return None


def _grouped(key: str) -> Target | None:
    """Recognise "Business Phone" and, as German exports write it, "Telefon
    geschäftlich": a grouped field with its group word before or after it."""
    for word, group in GROUP_WORDS.items():
        for rest in (key.removeprefix(word), key.removesuffix(word)):
            if rest == key:
                continue
            if ALIASES.get(rest) in GROUPED_FIELDS:
                return Target(ALIASES[rest], group)
            if rest in PHONE_WORDS or rest == "number":
                return Target("phone", group)
    return None


def _prefixed(key: str) -> Target | None:
    """Recognise 'contact_email' or 'customer phone' by what follows the noun."""
    for noun in RECORD_NOUNS:
        rest = key.removeprefix(noun)
        if rest != key and rest:
            return recognise(rest)
    return None


def _from_file(path: Path) -> Mapping:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidInput(f"There is no mapping file {path}.") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"{path.name} is not a JSON mapping: {error}.") from error
    return _parse(data, path.name)


def _parse(data: Any, origin: str) -> Mapping:
    if not isinstance(data, dict) or not isinstance(data.get("columns", {}), dict):
        raise InvalidInput(
            f"{origin} must be a JSON object with a 'columns' object mapping each "
            "header to a field."
        )
    columns = {
        str(header): Target.parse(str(target) if target else "ignore")
        for header, target in data.get("columns", {}).items()
    }
    return Mapping(
        name=str(data.get("name") or Path(origin).stem),
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        columns=columns,
        detect=tuple(data.get("detect", ())),
        dataset=str(data.get("dataset", "")),
        options=dict(data.get("options", {})),
    )


_NONE = Mapping(name="automatic")
