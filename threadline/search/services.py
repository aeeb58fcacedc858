"""Finding parties by a name, an email or a phone typed in any format."""

import logging
import re
import uuid
from collections.abc import Iterable

import phonenumbers
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from threadline.accounts.models import User
from threadline.errors import InvalidInput, NotFound
from threadline.inserts import Inserter
from threadline.parties.contact_points import parsed_number, phone_search_keys
from threadline.parties.models import ContactKind, Party, PartyQuerySet
from threadline.parties.names import fold
from threadline.public_ids import SHORT_ID_DIGITS, short_id
from threadline.search.models import SearchTerm

logger = logging.getLogger(__name__)

# Search as you type ranks a bounded set, never every prefix match.
MAX_RESULTS = 50
MIN_PHONE_DIGITS = 3
# Phones are also stored reversed behind this mark, so that the last digits
# of a number ("...0018") find it through the same prefix index.
SUFFIX_MARK = "~"
MIN_SUFFIX_DIGITS = 4
# What parts the words of a name, stored and typed alike: "O'Brien" and
# "O’Brien" are the words "o" and "brien", "Smith-Jones" is two words.
WORD_BREAKS = re.compile(r"[\s,.;:_\-'\"()\u2018\u2019\u02bc]+")
NOT_DIGITS = re.compile(r"\D")
# The end of a party's id, as lists show it.
SHORT_ID = re.compile(rf"[0-9a-f]{{{SHORT_ID_DIGITS}}}")


def index_party(party: Party) -> None:
    """Rewrite the party's search keys from its name and contact points."""
    points = party.contact_points.values_list("kind", "value")
    terms = party_terms(party.display_name, points)
    with transaction.atomic():
        SearchTerm.objects.filter(party=party).delete()
        SearchTerm.objects.bulk_create(
            SearchTerm(party=party, term=term) for term in terms
        )


def index_new_parties(
    parties: Iterable[tuple[int, str, Iterable[tuple[str, str]]]],
) -> int:
    """Write the search keys of parties that have none yet, in one statement.

    Each party is given as (id, display name, its (kind, value) contact
    points); returns how many keys were written.
    """
    return index_terms(
        (party_id, party_terms(name, points)) for party_id, name, points in parties
    )


def index_terms(parties: Iterable[tuple[int, Iterable[str]]]) -> int:
    """Write search keys that party_terms gave for parties that have none
    yet, in one statement; returns how many were written."""
    rows = [(party_id, term) for party_id, terms in parties for term in terms]
    return Inserter(SearchTerm, ("party", "term")).insert(rows)


def party_terms(name: str, points: Iterable[tuple[str, str]]) -> list[str]:
    """The sorted search keys of a party's name and contact points."""
    terms = set(_name_terms(name))
    for kind, value in points:
        if kind == ContactKind.EMAIL:
            terms.add(value)
            terms.update(_name_terms(value.split("@")[0]))
        elif kind == ContactKind.PHONE:
            terms.update(_phone_terms(value))
    return sorted({term[:300] for term in terms if term})


def search_parties(user: User, query: str, limit: int = MAX_RESULTS) -> PartyQuerySet:
    """Parties visible to the user matching every word of the query by prefix."""
    keys = query_keys(query)
    if not keys:
        return Party.objects.none()

    parties = _matching(Party.objects.visible_to(user), keys)
    return parties.order_by("sort_name", "id")[:limit]


def _matching(parties: PartyQuerySet, keys: list[list[str]]) -> PartyQuerySet:
    """Keep parties with a term starting with one of each group's prefixes.

    The filter starts from the terms' index (`party IN (terms in a range)`),
    so a rare prefix such as an email touches a handful of rows instead of
    testing every party in name order.
    """
    for alternatives in keys:
        condition = Q()
        for key in alternatives:
            condition |= Q(term__gte=key, term__lt=key + "\uffff")
        matching = SearchTerm.objects.filter(condition).values("party_id")
        parties = parties.filter(pk__in=matching)
    return parties


def query_keys(query: str) -> list[list[str]]:
    """Turn what was typed into groups of alternative prefixes, one per word.

    A query that reads as a phone number becomes one group of digit prefixes;
    an email is kept whole; other text is folded and split into words.
    """
    text = query.strip()
    if not text:
        return []
    if "@" in text:
        return [[text.lower()]]
    digits = re.sub(r"\D", "", text)
    if (
        digits
        and len(digits) >= MIN_PHONE_DIGITS
        and not re.search(r"[^\d\s()+\-./]", text)
    ):
        return [_typed_phone_prefixes(text, digits)]
    return [[word] for word in _name_terms(text)]


def _typed_phone_prefixes(text: str, digits: str) -> list[str]:
    prefixes = {digits}
    for key in phone_search_keys(text):
        prefixes.add(re.sub(r"\D", "", key))
    if digits.startswith("0"):
        prefixes.add(digits.lstrip("0"))
    if len(digits) >= MIN_SUFFIX_DIGITS:
        prefixes.add(SUFFIX_MARK + digits[::-1])
    return sorted(p for p in prefixes if p)


def _name_terms(text: str) -> list[str]:
    return [word for word in WORD_BREAKS.split(fold(text)) if word]


def _phone_terms(value: str) -> list[str]:
    """Digits of the full E.164 number and of the national number, so that a
    number typed with or without its country code is found.

    The reversed full number alone serves a search by last digits: the
    national number ends it, so its reversal would only repeat a prefix.
    """
    digits = NOT_DIGITS.sub("", value)
    terms = [digits, SUFFIX_MARK + digits[::-1]]
    number = parsed_number(value)
    if number is None:
        return terms
    national = str(number.national_number)
    terms.append(national)
    national_format = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL
    )
    terms.append(NOT_DIGITS.sub("", national_format))
    return terms


def find_one_party(
    query: str, user: User | None = None, *, include_archived: bool = False
) -> Party:
    """Return the single party the query names, for the command line: by a
    name, an email, a phone, or its id (whole, or the eight digits a list
    shows).

    Raises NotFound when none matches and InvalidInput listing the candidates
    when several do. Without a user, every current party counts, and with
    `include_archived` the archived ones too (a data request covers them).
    """
    keys = query_keys(query)
    if not keys:
        raise InvalidInput("Give a name, an email or a phone number to search for.")
    if user is not None:
        candidates = Party.objects.visible_to(user)
    elif include_archived:
        candidates = Party.objects.all()
    else:
        candidates = Party.objects.filter(archived_at__isnull=True)
    by_id = _by_id(candidates, query)
    if by_id is not None:
        return by_id
    matches = list(_matching(candidates, keys).order_by("sort_name", "id")[:11])
    exact = [p for p in matches if fold(p.display_name) == fold(query)]
    if len(matches) == 1 or len(exact) == 1:
        return (exact or matches)[0]
    if not matches:
        raise NotFound(f"No customer matches {query!r}.{_archived_hint(keys, user)}")
    names = "; ".join(_describe(party) for party in matches[:10])
    more = " and more" if len(matches) > 10 else ""
    raise InvalidInput(
        f"{query!r} matches several customers: {names}{more}. {_narrowing_hint(query)}"
    )


def _by_id(candidates: PartyQuerySet, query: str) -> Party | None:
    """The one party whose id the query is, whole or its last eight digits."""
    text = query.strip().lower()
    if SHORT_ID.fullmatch(text):
        found = list(candidates.filter(public_id__endswith=text)[:2])
        return found[0] if len(found) == 1 else None
    try:
        public_id = uuid.UUID(text)
    except ValueError:
        return None
    return candidates.filter(public_id=public_id).first()


def _narrowing_hint(query: str) -> str:
    """How to name one of several customers, by what the query was."""
    if "@" in query:
        return (
            "They share this email; use a phone number, a full name or the id "
            "shown to pick one."
        )
    keys = query_keys(query)
    if len(keys) == 1 and keys[0][0].isdigit():
        return (
            "They share this number; use an email, a full name or the id shown "
            "to pick one."
        )
    return "Use an email, a phone number or the id shown to pick one."


def _archived_hint(keys: list[list[str]], user: User | None) -> str:
    """Name an archived match, so that a customer taken out of the record by
    an undone import or a merge is not mistaken for one never known."""
    if user is not None:
        return ""
    archived = Party.objects.filter(archived_at__isnull=False)
    party = _matching(archived, keys).order_by("-archived_at", "id").first()
    if party is None or party.archived_at is None:
        return ""
    why = f": {party.archived_reason}" if party.archived_reason else ""
    when = timezone.localtime(party.archived_at).strftime("%-d %b %Y")
    return (
        f" {party.display_name} matches but was archived on {when}{why}; "
        "`threadline restore` brings a customer back."
    )


def _describe(party: Party) -> str:
    point = party.contact_points.filter(kind=ContactKind.EMAIL).first()
    name = f"{party.display_name} <{point.value}>" if point else party.display_name
    archived = ", archived" if party.archived_at is not None else ""
    return f"{name} (id {short_id(party.public_id)}{archived})"
