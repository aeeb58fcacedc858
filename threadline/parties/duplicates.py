"""Finding parties that may be one: candidate pairs, their scores and reasons.

Only parties that share a key are ever compared (blocking): the same email,
the same phone (dialable, or a local number of seven digits or more), or a
context (working at the same organisation, the same postal address, the same
company email domain) together with a name word starting with the same three
letters. Organisations need no shared context: two whose names' first words
start with the same three letters are compared by name alone, since one
business is often entered twice with nothing else in common. So the work
grows with the size of the blocks, not with the square of the record.

A pair is stored once, lower party id first, with a score from 0 to 100 and
the reasons in words. A pair marked "not duplicates" keeps that decision and
is never proposed again; archived parties are never compared.
"""

import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from rapidfuzz import fuzz

from threadline.accounts.models import User
from threadline.parties.contact_points import format_phone
from threadline.parties.models import (
    CandidateStatus,
    ContactKind,
    ContactPoint,
    DuplicateCandidate,
    DuplicateCandidateQuerySet,
    Party,
    PartyKind,
    Relationship,
    RelationshipKind,
)
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event
from threadline.timeline.services import require_visible

logger = logging.getLogger(__name__)

# Addresses at these domains say nothing about where a person works.
FREE_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "hotmail.co.uk",
        "hotmail.com",
        "hotmail.fr",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "t-online.de",
        "web.de",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.fr",
        "yandex.ru",
        "zoho.com",
    }
)
# An email or phone shared by more parties than this is a shared inbox or a
# switchboard, not a sign that they are one: comparing them all would only
# flood the review queue.
MAX_SHARED_KEY = 25
# A name bucket (a context and a name prefix, or organisations of one name
# prefix) this large is compared only in part, so one huge block cannot stall
# the run.
MAX_BUCKET = 1_000
# rapidfuzz's token sort ratio of the folded names, from which two names
# count as alike: typos, doubled spaces and swapped order pass.
NAMES_ALIKE = 85
NAME_PREFIX = 3
# Organisations of the same name, punctuation and capitals aside ("ACME Ltd."
# and "Acme Ltd"): as strong a sign as alike names at the same workplace.
SAME_ORGANISATION_NAME = 90
# Alike organisation names score from this up, as alike people's names do at
# one workplace.
ALIKE_ORGANISATION_NAMES = 60
# Each further signal on a pair adds this much to its strongest one.
EXTRA_SIGNAL = 4
CHUNK = 500
# An undialable phone with this many digits is a local number, shared only
# by one household or office; shorter ones are extensions many offices have.
MIN_LOCAL_DIGITS = 7

Pair = tuple[int, int]
DIGITS = re.compile(r"\d+")
PUNCTUATION = re.compile(r"[^\w\s]+")


@dataclass
class FindResult:
    """What one run of the finder did."""

    parties: int = 0
    compared: int = 0
    found: int = 0
    new: int = 0
    updated: int = 0
    removed: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        found = "possible duplicate" + ("" if self.found == 1 else "s")
        customers = "customer" + ("" if self.parties == 1 else "s")
        pairs = "pair" + ("" if self.compared == 1 else "s")
        return (
            f"{self.parties:,} {customers} checked, {self.compared:,} {pairs} "
            f"compared, {self.found:,} {found} ({self.new:,} new, "
            f"{self.updated:,} updated, {self.removed:,} no longer alike) in "
            f"{self.seconds:.1f} s"
        )


@dataclass
class _Record:
    """What the finder reads of the parties it looks at."""

    kinds: dict[int, str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    display: dict[int, str] = field(default_factory=dict)
    points: list[tuple[int, str, str, str, bool]] = field(default_factory=list)
    works_at: list[tuple[int, int]] = field(default_factory=list)
    linked: set[Pair] = field(default_factory=set)


@dataclass
class _Finding:
    """The signals found for one pair, each a score and its reason."""

    ratio: int
    signals: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, key: str, score: int, reason: str) -> None:
        if key not in self.signals or self.signals[key][0] < score:
            self.signals[key] = (score, reason)

    @property
    def score(self) -> int:
        scores = sorted((score for score, _ in self.signals.values()), reverse=True)
        return min(100, scores[0] + EXTRA_SIGNAL * (len(scores) - 1))

    @property
    def reasons(self) -> list[str]:
        # Ties in words order, so a pass over part of the record words them
        # exactly as a full pass does.
        ranked = sorted(self.signals.values(), key=lambda item: (-item[0], item[1]))
        return [reason for _, reason in ranked]


def find_duplicates(party_ids: Iterable[int] | None = None) -> FindResult:
    """Find candidate pairs in the whole record, or those involving the given
    parties (as after an import), and store them for review."""
    started = time.perf_counter()
    touched = None if party_ids is None else set(party_ids)
    if touched is not None and not touched:
        return FindResult()

    # A pass over an import's parties reads the whole record too, and keeps
    # only pairs involving them: measured on 100k parties, fetching just
    # their neighbours took 28 s against 7.5 s for reading everything.
    record = _load()
    finder = _Finder(record, touched)
    findings = finder.run()
    result = _store(findings, touched)
    result.parties = len(record.kinds)
    result.compared = finder.compared
    result.seconds = time.perf_counter() - started
    logger.info("Duplicate search: %s", result)
    _log_cut_buckets(finder)
    return result


def find_duplicates_of_runs(actor_labels: Iterable[str]) -> FindResult:
    """Find duplicates among the parties the import runs of these actor
    labels wrote to, in one pass."""
    touched = (
        Event.objects.filter(actor_label__in=list(actor_labels))
        .values_list("party_id", flat=True)
        .distinct()
    )
    return find_duplicates(set(touched))


def mark_not_duplicates(candidate: DuplicateCandidate, actor: Actor) -> None:
    """Record that the pair are two parties; they are never proposed again."""
    actor.require_write()
    require_visible(candidate.first, actor)
    require_visible(candidate.second, actor)

    candidate.status = CandidateStatus.NOT_DUPLICATES
    candidate.decided_by = actor.user
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    logger.info("Marked candidate %s as not duplicates", candidate.public_id)


def forget_pairs_of(party_ids: Iterable[int]) -> int:
    """Remove every pair involving these parties, whatever its status; return
    how many went. For an erasure: a pair with an erased side can never be
    reviewed or decided again, its reasons quote the person's email, phone
    or address, and the shell left has nothing a search could match again.
    """
    ids = list(party_ids)
    pairs = DuplicateCandidate.objects.filter(
        Q(first_id__in=ids) | Q(second_id__in=ids)
    )
    removed, _ = pairs.delete()
    return removed


def candidates_for(user: User) -> DuplicateCandidateQuerySet:
    """Open pairs the user may see both sides of, best first."""
    return (
        DuplicateCandidate.objects.visible_to(user)
        .filter(status=CandidateStatus.OPEN)
        .select_related("first", "second")
        .order_by("-score", "id")
    )


def candidate_counts() -> dict[str, int]:
    """How many pairs are in each status, for the command line; pairs with
    an archived side are no longer waiting for anyone."""
    decided = (
        DuplicateCandidate.objects.exclude(status=CandidateStatus.OPEN)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {status: 0 for status in CandidateStatus.values}
    counts.update({row["status"]: row["n"] for row in decided})
    counts[CandidateStatus.OPEN] = DuplicateCandidate.objects.filter(
        status=CandidateStatus.OPEN,
        first__archived_at__isnull=True,
        second__archived_at__isnull=True,
    ).count()
    return counts


def pair_key(first: Party, second: Party) -> Pair:
    return (first.pk, second.pk) if first.pk < second.pk else (second.pk, first.pk)


def set_pair_status(
    first: Party, second: Party, status: str, user: User | None
) -> None:
    """Record a decision on the pair, creating its row if none was found."""
    low, high = pair_key(first, second)
    DuplicateCandidate.objects.update_or_create(
        first_id=low,
        second_id=high,
        defaults={
            "status": status,
            "decided_by": user,
            "decided_at": timezone.now() if status != CandidateStatus.OPEN else None,
        },
        create_defaults={
            "status": status,
            "score": 0,
            "reasons": ["merged by hand"],
            "decided_by": user,
            "decided_at": timezone.now(),
        },
    )


class _Finder:
    """Builds the blocks over a record and scores the pairs within them."""

    def __init__(self, record: _Record, touched: set[int] | None) -> None:
        self.record = record
        self.touched = touched
        self.findings: dict[Pair, _Finding] = {}
        self.compared = 0
        # Sizes of the buckets compared in part, told once when the run ends.
        self.cut_buckets: list[int] = []

    def run(self) -> dict[Pair, _Finding]:
        self._shared_keys()
        self._contexts()
        self._organisation_names()
        return self.findings

    def _shared_keys(self) -> None:
        emails: dict[str, list[int]] = defaultdict(list)
        phones: dict[tuple[str, str], list[int]] = defaultdict(list)
        for party_id, kind, value, extension, dialable in self.record.points:
            if kind == ContactKind.EMAIL:
                emails[value].append(party_id)
            elif kind == ContactKind.PHONE and (dialable or _whole_number(value)):
                phones[(value, extension)].append(party_id)

        for email, members in emails.items():
            for pair in self._pairs_in(members, shared_key=True):
                finding = self._finding(pair)
                if finding.ratio >= NAMES_ALIKE:
                    finding.add("email", 95, f"same email {email}")
                else:
                    finding.add(
                        "email",
                        70,
                        f"same email {email}, but the names are only "
                        f"{finding.ratio}% alike",
                    )
        for (phone, extension), members in phones.items():
            if len(members) < 2:
                continue
            shown = format_phone(phone, extension)
            for pair in self._pairs_in(members, shared_key=True):
                finding = self._finding(pair)
                if finding.ratio >= NAMES_ALIKE:
                    finding.add("phone", 85, f"same phone {shown}")
                else:
                    finding.add(
                        "phone",
                        45,
                        f"same phone {shown}; households and offices share "
                        f"phones, and the names are only {finding.ratio}% alike",
                    )

    def _contexts(self) -> None:
        """Alike names in the same organisation, address or email domain."""
        organisations: dict[int, list[int]] = defaultdict(list)
        for person, organisation in self.record.works_at:
            organisations[organisation].append(person)
        addresses: dict[str, list[int]] = defaultdict(list)
        written: dict[str, str] = {}
        domains: dict[str, list[int]] = defaultdict(list)
        for party_id, kind, value, _, _ in self.record.points:
            if kind == ContactKind.ADDRESS:
                addresses[value.casefold()].append(party_id)
                written.setdefault(value.casefold(), value)
            elif kind == ContactKind.EMAIL:
                domain = value.rpartition("@")[2]
                if domain and domain not in FREE_MAIL_DOMAINS:
                    domains[domain].append(party_id)

        display = self.record.display
        for organisation, members in organisations.items():
            place = display.get(organisation, "the same organisation")
            self._alike_names(members, "organisation", 60, f"both work at {place}")
        for address, members in addresses.items():
            where = f"both have the address {written[address]}"
            self._alike_names(members, "address", 55, where)
        for domain, members in domains.items():
            self._alike_names(members, "domain", 50, f"both use {domain} email")

    def _alike_names(self, members: list[int], key: str, base: int, why: str) -> None:
        """Score the pairs of members whose names share a word's first letters.

        The score runs from `base` for names just alike to `base` + 30 for
        the same name; addresses start lower because relatives share them.
        """
        unique = sorted(set(members))
        if len(unique) < 2:
            return
        buckets: dict[str, list[int]] = defaultdict(list)
        for party_id in unique:
            for prefix in _name_prefixes(self.record.names.get(party_id, "")):
                buckets[prefix].append(party_id)
        seen: set[Pair] = set()
        for bucket in buckets.values():
            for pair in self._pairs_in(self._capped(bucket), shared_key=False):
                if pair in seen:
                    continue
                seen.add(pair)
                ratio = self._ratio(pair)
                if ratio < NAMES_ALIKE:
                    continue
                finding = self._finding(pair)
                if key == "domain" and "email" in finding.signals:
                    # The same address already says the same domain.
                    continue
                score = base + (ratio - NAMES_ALIKE) * 2
                finding.add(key, score, f"names {ratio}% alike and {why}")

    def _organisation_names(self) -> None:
        """Organisations of the same or alike names, whatever else they share.

        Blocked on the first letters of the name's first word: a typo there,
        or a leading "The" on one side only, goes unseen.
        """
        keys = {
            party_id: _organisation_name_key(self.record.names[party_id])
            for party_id, kind in self.record.kinds.items()
            if kind == PartyKind.ORGANISATION
        }
        buckets: dict[str, list[int]] = defaultdict(list)
        for party_id, key in keys.items():
            if key:
                buckets[key.split()[0][:NAME_PREFIX]].append(party_id)
        for bucket in buckets.values():
            if self.touched is not None and self.touched.isdisjoint(bucket):
                continue
            for pair in self._pairs_in(self._capped(bucket), shared_key=False):
                self._compare_organisation_names(pair, keys[pair[0]], keys[pair[1]])

    def _compare_organisation_names(self, pair: Pair, first: str, second: str) -> None:
        if first == second:
            name = self.record.display[pair[0]]
            reason = f"same organisation name {name}"
            self._finding(pair).add("name", SAME_ORGANISATION_NAME, reason)
            return
        self.compared += 1
        ratio = name_likeness(first, second)
        if ratio < NAMES_ALIKE:
            return
        score = ALIKE_ORGANISATION_NAMES + (ratio - NAMES_ALIKE) * 2
        reason = f"organisation names {ratio}% alike"
        self._finding(pair).add("name", score, reason)

    def _capped(self, bucket: list[int]) -> list[int]:
        """The bucket's first MAX_BUCKET members, noting a bucket cut short."""
        if len(bucket) <= MAX_BUCKET:
            return bucket
        self.cut_buckets.append(len(bucket))
        return bucket[:MAX_BUCKET]

    def _pairs_in(self, members: list[int], *, shared_key: bool) -> Iterator[Pair]:
        unique = sorted(set(members))
        if len(unique) < 2 or (shared_key and len(unique) > MAX_SHARED_KEY):
            return
        touched = self.touched
        kinds = self.record.kinds
        for low, high in combinations(unique, 2):
            if kinds.get(low) != kinds.get(high):
                continue
            if touched is not None and low not in touched and high not in touched:
                continue
            if (low, high) in self.record.linked:
                continue
            yield low, high

    def _finding(self, pair: Pair) -> _Finding:
        finding = self.findings.get(pair)
        if finding is None:
            finding = _Finding(ratio=self._ratio(pair))
            self.findings[pair] = finding
        return finding

    def _ratio(self, pair: Pair) -> int:
        found = self.findings.get(pair)
        if found is not None:
            return found.ratio
        self.compared += 1
        return name_likeness(self.record.names[pair[0]], self.record.names[pair[1]])


def _log_cut_buckets(finder: _Finder) -> None:
    """Say once per search what the buckets compared in part mean.

    At info, not warning: it is a known limit, not a fault, and commands
    print warnings amid their own output (an import's, for one).
    """
    if not finder.cut_buckets:
        return
    logger.info(
        "Duplicate search: %d %s of more than %d customers with alike names "
        "(the largest %d) were checked only among their first %d, so some "
        "duplicates in them may not be proposed for review. Such a group is "
        "customers who share an organisation, an address or an email domain "
        "and the first letters of a name, or organisations whose names start "
        "with the same letters; search the customers by name to find the "
        "ones the review queue misses.",
        len(finder.cut_buckets),
        "group" if len(finder.cut_buckets) == 1 else "groups",
        MAX_BUCKET,
        max(finder.cut_buckets),
        MAX_BUCKET,
    )


def name_likeness(first: str, second: str) -> int:
    """How alike two folded names are, 0 to 100.

    Names carrying different numbers ("Unit 4", "Unit 5"; "Person 12",
    "Person 13") name different things however alike their letters.
    """
    numbers = (DIGITS.findall(first), DIGITS.findall(second))
    if all(numbers) and numbers[0] != numbers[1]:
        return 0
    return round(fuzz.token_sort_ratio(first, second))


def _organisation_name_key(folded: str) -> str:
    """An organisation's folded name without its punctuation, so "acme ltd."
    and "acme ltd" are one name; empty for a name of punctuation only."""
    return " ".join(PUNCTUATION.sub(" ", folded).split())


def _whole_number(digits: str) -> bool:
    """Whether an undialable phone's digits are a full local number
    ("555-0123"), not an internal line that every office has ("12")."""
    return len(digits) >= MIN_LOCAL_DIGITS


def _name_prefixes(name: str) -> set[str]:
    return {word[:NAME_PREFIX] for word in name.split() if len(word) >= 2}


def _load() -> _Record:
    """Read the names, contact points and links of every active party."""
    record = _Record()
    parties = Party.objects.filter(archived_at__isnull=True)
    for pk, kind, sort_name, display_name in _rows(
        parties, "pk", "kind", "sort_name", "display_name"
    ):
        record.kinds[pk] = kind
        record.names[pk] = sort_name
        record.display[pk] = display_name

    points = ContactPoint.objects.filter(
        kind__in=[ContactKind.EMAIL, ContactKind.PHONE, ContactKind.ADDRESS]
    )
    record.points = [
        row
        for row in _rows(
            points,
            "party_id",
            "kind",
            "value",
            "extension",
            "dialable",
        )
        if row[0] in record.kinds
    ]

    links = _rows(
        Relationship.objects.all(),
        "from_party_id",
        "to_party_id",
        "kind",
        "ended_on",
    )
    for source, target, kind, ended_on in links:
        record.linked.add((min(source, target), max(source, target)))
        current_job = kind == RelationshipKind.WORKS_AT and ended_on is None
        people = record.kinds.get(source) == PartyKind.PERSON
        if current_job and people and target in record.kinds:
            record.works_at.append((source, target))
    return record


def _rows(queryset: QuerySet[Any], *columns: str) -> Iterator[tuple[Any, ...]]:
    """Every row's `columns`, read in chunks to bound memory per fetch."""
    yield from queryset.values_list(*columns).iterator(chunk_size=5_000)


def _store(findings: dict[Pair, _Finding], touched: set[int] | None) -> FindResult:
    """Create new pairs, refresh open ones, and drop open ones no longer found.

    Decided pairs (not duplicates, merged) are left exactly as they are.
    """
    result = FindResult(found=len(findings))
    existing: dict[Pair, DuplicateCandidate] = {}
    stale: list[int] = []
    for candidate in DuplicateCandidate.objects.only(
        "id", "first_id", "second_id", "status", "score", "reasons"
    ).iterator(chunk_size=5_000):
        pair = (candidate.first_id, candidate.second_id)
        existing[pair] = candidate
        in_scope = touched is None or bool(set(pair) & touched)
        still_open = candidate.status == CandidateStatus.OPEN
        if still_open and in_scope and pair not in findings:
            stale.append(candidate.pk)

    new: list[DuplicateCandidate] = []
    changed: list[DuplicateCandidate] = []
    for pair, finding in findings.items():
        known = existing.get(pair)
        if known is None:
            new.append(
                DuplicateCandidate(
                    first_id=pair[0],
                    second_id=pair[1],
                    score=finding.score,
                    reasons=finding.reasons,
                )
            )
            continue
        if known.status != CandidateStatus.OPEN:
            result.found -= 1
            continue
        if known.score != finding.score or known.reasons != finding.reasons:
            known.score = finding.score
            known.reasons = finding.reasons
            known.updated_at = timezone.now()
            changed.append(known)

    with transaction.atomic():
        DuplicateCandidate.objects.bulk_create(new, batch_size=CHUNK)
        DuplicateCandidate.objects.bulk_update(
            changed, ["score", "reasons", "updated_at"], batch_size=CHUNK
        )
        for start in range(0, len(stale), CHUNK):
            DuplicateCandidate.objects.filter(
                pk__in=stale[start : start + CHUNK]
            ).delete()
    result.new, result.updated, result.removed = len(new), len(changed), len(stale)
    return result
