"""Data-protection requests about one person: everything held, or erasure.

Only owners and managers answer these requests. An export gathers the
person's fields, contact points, relationships, pinned facts, tags, threads,
follow-ups and every event on their timeline into one readable JSON
document. An erasure replaces the personal content for good and records,
without that content, that it happened.
"""

import base64
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, partial
from typing import IO, Any

import phonenumbers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from threadline.errors import InvalidInput
from threadline.followups.models import FollowUp
from threadline.mail.services import SOURCE as MAIL_SOURCE
from threadline.mail.services import forget_mail_of
from threadline.parties.duplicates import forget_pairs_of
from threadline.parties.models import (
    Consent,
    ContactKind,
    ContactPoint,
    Party,
    PartyKind,
    PinnedFact,
    Relationship,
    Tag,
)
from threadline.parties.names import clean_line, fold
from threadline.parties.suppression import digests_of
from threadline.public_ids import short_id
from threadline.search.models import SearchTerm
from threadline.threads.models import Thread
from threadline.timeline.actors import Actor, ActorKind
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import record_event, require_visible
from threadline.transfer.models import ImportRun
from threadline.transfer.runs import erase_problems
from threadline.transfer.uploads import remove_files_naming

logger = logging.getLogger(__name__)

EXPORT_VERSION = 1
# What replaces erased text: fixed, so nothing of the original shows through.
ERASED = "[erased]"
UPDATE_ROWS = 500
REASON_MAX = 500
ABOUT = {
    "what": (
        "Everything this business's Threadline holds about one person, "
        "exported on their request. Times are in UTC (ISO 8601)."
    ),
    "person": "Their own details: names, stage, preferences, consent.",
    "contact_points": "Email addresses, phone numbers and postal addresses.",
    "relationships": "Links to other customers: employer, household, referrer.",
    "pinned_facts": "Notes staff pinned so that no one asks again.",
    "tags": "Labels staff gave them.",
    "threads": "Pieces of business: enquiries, quotes, jobs, complaints.",
    "follow_ups": "Promises to act for them, with due times.",
    "events": (
        "Every entry on their timeline, oldest first, including entries a "
        "later one corrected or removed (marked superseded)."
    ),
}
# Payload fields per kind that hold choices, amounts, dates or ids, which
# say nothing personal on their own; every other field's text is erased,
# so a field added to a kind later is erased until it is named here.
KEPT_PAYLOAD: dict[str, frozenset[str]] = {
    Kind.CALL: frozenset({"direction", "duration_minutes", "outcome"}),
    Kind.MESSAGE: frozenset({"direction", "channel"}),
    Kind.MEETING: frozenset({"starts_at"}),
    Kind.BOOKING: frozenset({"starts_at", "ends_at", "status"}),
    Kind.QUOTE: frozenset({"amount", "currency", "reference", "status", "decide_by"}),
    Kind.INVOICE: frozenset({"amount", "currency", "reference", "due_on"}),
    Kind.PAYMENT: frozenset({"amount", "currency", "reference"}),
    Kind.FOLLOW_UP: frozenset({"follow_up", "action", "due_at", "assignee"}),
    Kind.HANDOVER: frozenset({"from_user", "to_user", "threads", "follow_ups"}),
    Kind.IMPORT: frozenset({"file", "row"}),
    Kind.CORRECTION: frozenset({"redacted"}),
    Kind.MERGE: frozenset({"action", "other", "moved", "removed_since", "merge"}),
}
# Changes to these fields hold choices or staff names, kept for the history.
KEPT_CHANGE_FIELDS = frozenset(
    {"stage", "owner", "consent", "status", "access", "kind", "assignee", "due_at"}
)
# Keys of an item inside a change (a contact point, a fact, a link) that are
# ids or choices, not content.
KEPT_ITEM_KEYS = frozenset(
    {"id", "kind", "category", "from", "to", "service_site", "restricted"}
)
# Fields of a profile change that hold a name the person went by.
NAME_FIELDS = frozenset({"display_name", "given_name", "family_name"})
# Shorter numbers, handles and addresses would turn up in unrelated text.
MIN_PHONE_DIGITS = 6
MIN_POINT_CHARS = 4
# What may stand between the digits of a phone number as people write it,
# and how far before them its country code or trunk zero is looked for.
DIGIT_GAP = r"[\s./()\-]*"
PREFIX_CHARS = 12


def require_request_rights(party: Party, actor: Actor) -> None:
    """Raise NotAllowed or NotFound unless the actor may answer a request."""
    actor.require_manage()
    require_visible(party, actor)


def erasure_of(party: Party) -> Event | None:
    """The event recording the party's erasure, if it was erased."""
    return Event.objects.filter(party=party, kind=Kind.ERASURE).first()


def erased_name(party: Party) -> str:
    return f"Erased person {short_id(party.public_id)}"


def export_person(party: Party, actor: Actor) -> dict[str, Any]:
    """Return everything held about the party, as one JSON-ready document."""
    require_request_rights(party, actor)
    visible = _visible_ids(actor)
    document = {
        "about": ABOUT,
        "format_version": EXPORT_VERSION,
        "exported_at": timezone.now(),
        "exported_by": actor.label,
        "person": _person(party),
        "contact_points": [_point(point) for point in party.contact_points.all()],
        "relationships": _relationships(party, visible),
        "pinned_facts": [_fact(fact) for fact in _facts(party)],
        "tags": sorted(party.tags.values_list("name", flat=True)),
        "threads": [_thread(thread) for thread in _threads(party)],
        "follow_ups": [_follow_up(item) for item in _follow_ups(party)],
        "events": list(_events(party)),
    }
    logger.info("Exported the data of party %s for a request", party.public_id)
    return document


def write_person_export(party: Party, actor: Actor, stream: IO[str]) -> None:
    """Write the export of the party to a text stream as indented JSON."""
    document = export_person(party, actor)
    json.dump(document, stream, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder)
    stream.write("\n")


def _visible_ids(actor: Actor) -> set[int] | None:
    """Parties the actor may see, or None when the actor sees every one."""
    if actor.user is None:
        return None
    return set(Party.objects.visible_to(actor.user).values_list("pk", flat=True))


def _person(party: Party) -> dict[str, Any]:
    photo = bytes(party.photo) if party.photo else b""
    return {
        "id": str(party.public_id),
        "kind": party.kind,
        "display_name": party.display_name,
        "given_name": party.given_name,
        "family_name": party.family_name,
        "birthday": party.birthday,
        "stage": party.stage,
        "owner": party.owner.display_name if party.owner else None,
        "preferred_channel": party.preferred_channel,
        "contact_hours": party.contact_hours,
        "language": party.language,
        "time_zone": party.time_zone,
        "consent": party.consent,
        "photo_type": party.photo_type,
        "photo_base64": base64.b64encode(photo).decode("ascii") if photo else None,
        "source": party.source,
        "created_at": party.created_at,
        "updated_at": party.updated_at,
        "archived_at": party.archived_at,
    }


def _point(point: Any) -> dict[str, Any]:
    return {
        "kind": point.kind,
        "label": point.label,
        "as_given": point.raw,
        "value": point.value,
        "extension": point.extension,
        "primary": point.is_primary,
        "service_site": point.is_service_site,
        "added_at": point.created_at,
    }


def _relationships(party: Party, visible: set[int] | None) -> list[dict[str, Any]]:
    links = Relationship.objects.filter(
        Q(from_party=party) | Q(to_party=party)
    ).select_related("from_party", "to_party")
    found = []
    for link in links.order_by("created_at", "id"):
        outgoing = link.from_party_id == party.pk
        other = link.to_party if outgoing else link.from_party
        shown = visible is None or other.pk in visible
        found.append(
            {
                "kind": link.get_kind_display(),
                "direction": "from them" if outgoing else "to them",
                "other_party": other.display_name if shown else "(restricted)",
                "role": link.role,
                "started_on": link.started_on,
                "ended_on": link.ended_on,
            }
        )
    return found


def _facts(party: Party) -> Iterable[PinnedFact]:
    return party.pinned_facts.order_by("created_at", "id")


def _fact(fact: PinnedFact) -> dict[str, Any]:
    return {
        "category": fact.get_category_display(),
        "text": fact.text,
        "pinned_at": fact.created_at,
        "unpinned_at": fact.unpinned_at,
    }


def _threads(party: Party) -> Iterable[Thread]:
    return Thread.objects.filter(party=party).order_by("opened_at", "id")


def _thread(thread: Thread) -> dict[str, Any]:
    return {
        "id": str(thread.public_id),
        "kind": thread.kind,
        "title": thread.title,
        "status": thread.status,
        "next_step": thread.next_step,
        "opened_at": thread.opened_at,
        "closed_at": thread.closed_at,
    }


def _follow_ups(party: Party) -> Iterable[FollowUp]:
    return (
        FollowUp.objects.filter(party=party)
        .select_related("assignee", "thread")
        .order_by("due_at", "id")
    )


def _follow_up(item: FollowUp) -> dict[str, Any]:
    return {
        "summary": item.summary,
        "due_at": item.due_at,
        "status": item.status,
        "assignee": item.assignee.display_name,
        "thread": str(item.thread.public_id) if item.thread else None,
        "completed_at": item.completed_at,
    }


def _events(party: Party) -> Iterator[dict[str, Any]]:
    superseded = set(
        Event.objects.filter(party=party, corrects__isnull=False).values_list(
            "corrects_id", flat=True
        )
    )
    events = (
        Event.objects.filter(party=party)
        .select_related("thread", "corrects")
        .order_by("occurred_at", "id")
    )
    for event in events.iterator(chunk_size=UPDATE_ROWS):
        yield {
            "id": str(event.public_id),
            "kind": event.kind,
            "occurred_at": event.occurred_at,
            "time_zone": event.occurred_tz,
            "recorded_at": event.recorded_at,
            "summary": event.summary,
            "body": event.body,
            "details": event.payload,
            "direction": event.direction,
            "thread": str(event.thread.public_id) if event.thread else None,
            "recorded_by": event.actor_label,
            "corrects": str(event.corrects.public_id) if event.corrects else None,
            "superseded": event.pk in superseded,
        }


def erase_person(party: Party, actor: Actor, reason: str) -> dict[str, int]:
    """Erase a person's personal content for good; return what was erased.

    Events are otherwise append-only: a wrong one is superseded by a newer
    one and the history keeps both. An erasure cannot work that way, since
    the history would keep exactly what the person asked to have removed,
    so this is the one place where event content is overwritten: summaries,
    bodies and free-text payload fields become a fixed marker, in place.
    What remains is a shell, so that other customers' links, threads and
    counts still hold; the erasure itself is recorded as a new ERASURE event
    holding the reason and the counts, never the content. Identifiers from
    other systems on events (a row key) are kept, so re-running the same
    import does not bring erased entries back; an email's key goes, since
    it names the address the message was filed under.

    Outside the record, what names them goes in the same transaction: their
    duplicate pairs, their unknown senders and the kept emails that name
    them, and import problems about their rows or naming them. Kept import
    files that hold them are removed once the erasure is committed; erase
    after imports of them have finished, since one still running writes on.

    Raises NotAllowed unless the actor is an owner or a manager, and
    InvalidInput for an organisation, an empty reason, or a person already
    erased; nothing changes then.
    """
    # Known gap: other customers' entries naming them stay (a note, an email's cc).
    require_request_rights(party, actor)
    text = clean_line(reason)
    if not text or len(text) > REASON_MAX:
        raise InvalidInput(
            f"Give the reason for the erasure in 1 to {REASON_MAX} characters "
            "(e.g. 'Request by email on 3 March'), without personal details.",
            field="reason",
        )
    if party.kind != PartyKind.PERSON:
        raise InvalidInput(
            f"Only a person's data is erased on request; this is "
            f"{party.get_kind_display().lower()}. Erase the people linked to it "
            "one by one."
        )
    done = erasure_of(party)
    if done is not None:
        raise InvalidInput(
            f"This person was erased on {done.occurred_at:%Y-%m-%d}; nothing "
            "personal is left to erase."
        )

    with transaction.atomic():
        Party.objects.select_for_update().filter(pk=party.pk).first()
        absorbed = _absorbed(party)
        ids = [party.pk, *(record.pk for record in absorbed)]
        # Read before anything is erased: what names them outside the record.
        traces = gather_traces([party, *absorbed])
        rows = _imported_rows(ids)
        runs = list(ImportRun.objects.filter(actor_label__in=_import_labels(ids)))
        counts = {"mentions_elsewhere": _erase_mentions(party)}
        counts["events"] = _erase_events(party)
        counts |= _erase_records(party)
        _erase_fields(party)
        for record in absorbed:
            _erase_events(record)
            _erase_records(record)
            _erase_fields(record)
        counts["merged_records"] = len(absorbed)
        counts["duplicate_pairs"] = forget_pairs_of(ids)
        counts |= forget_mail_of(ids, traces.emails, traces.found_in)
        counts["import_problems"] = erase_problems(rows, traces.found_in, ERASED)
        record_event(
            party,
            Kind.ERASURE,
            "Personal data erased on request",
            actor=actor,
            payload={
                "reason": text,
                "erased": counts,
                "suppressed": digests_of(traces.emails | traces.phones),
            },
        )
        # Files are not rolled back with the database: removed once it holds,
        # and a file that cannot be removed leaves the erasure standing.
        transaction.on_commit(
            partial(_remove_import_files, party, runs, traces), robust=True
        )
    logger.info("Erased the personal data of party %s", party.public_id)
    return counts


@dataclass(frozen=True)
class Traces:
    """What would identify a person in text kept outside their record: every
    email, phone, postal address, handle and full name the record knew, now
    or before a change, less what another customer shares (a household's
    phone, a namesake) and so cannot tell them apart."""

    emails: frozenset[str]
    phones: frozenset[str]
    # Postal addresses and handles, folded.
    other_points: frozenset[str]
    # Full names of two words or more, folded; one name alone says too
    # little ("Jane"), and is found with the rest of the row or not at all.
    names: frozenset[str]

    @cached_property
    def _searches(self) -> list[tuple[re.Pattern[str], re.Pattern[str]]]:
        """Per trace, a quick search for its core and a pattern that checks
        each hit whole: an address inside a longer one, a number inside more
        digits, a name inside a longer word is not it."""
        found = []
        for email in self.emails:
            core = re.escape(fold(email))
            whole = rf"(?<![\w.+\-]){core}(?![\w\-]|\.\w)"
            found.append((re.compile(core), re.compile(whole)))
        for text in sorted(self.other_points | self.names):
            core = re.escape(text)
            found.append((re.compile(core), re.compile(rf"(?<!\w){core}(?!\w)")))
        for phone in sorted(self.phones):
            patterns = _phone_patterns(phone)
            if patterns is not None:
                found.append((re.compile(patterns[0]), re.compile(patterns[1])))
        return found

    def found_in(self, text: str) -> bool:
        folded = _folded(text)
        for core, whole in self._searches:
            for hit in core.finditer(folded):
                # The whole pattern may start before the core (a phone's
                # country code) and looks two characters past it.
                start = max(0, hit.start() - PREFIX_CHARS)
                if whole.search(folded, start, hit.end() + 2):
                    return True
        return False


def _folded(text: str) -> str:
    """The text as fold() gives it, quickly for a long file: words in plain
    ASCII, most of them, need only lower-casing."""
    return " ".join(
        word.casefold() if word.isascii() else fold(word) for word in text.split()
    )


def gather_traces(records: list[Party]) -> Traces:
    """The traces of the person held as `records` (they and the records
    merged into them), read from their fields, contact points and history."""
    ids = [record.pk for record in records]
    names: dict[str, set[str]] = {field: set() for field in NAME_FIELDS}
    for record in records:
        names["display_name"].add(record.display_name)
        names["given_name"].add(record.given_name)
        names["family_name"].add(record.family_name)
    points = set(
        ContactPoint.objects.filter(party_id__in=ids).values_list("kind", "value")
    )
    history = Event.objects.filter(party_id__in=ids, kind=Kind.PROFILE_CHANGE)
    for payload in history.values_list("payload", flat=True).iterator(
        chunk_size=UPDATE_ROWS
    ):
        for change in payload.get("changes", []):
            if not isinstance(change, dict):
                continue
            field = change.get("field")
            for item in (change.get("old"), change.get("new")):
                if field in NAME_FIELDS and isinstance(item, str):
                    names[field].add(item)
                elif field == "contact_point" and isinstance(item, dict):
                    points.add((str(item.get("kind")), str(item.get("value", ""))))
    # An email entry's key ends with the address it was filed under, which
    # may since have been removed from the record.
    mail = Event.objects.filter(party_id__in=ids, source=MAIL_SOURCE)
    for key in mail.values_list("external_id", flat=True).iterator(
        chunk_size=UPDATE_ROWS
    ):
        address = key.rpartition("|")[2]
        if "@" in address:
            points.add((ContactKind.EMAIL, address))

    values = {value for _, value in points if value}
    shared = set(
        ContactPoint.objects.filter(value__in=values)
        .exclude(party_id__in=ids)
        .values_list("kind", "value")
    )
    points -= shared
    full = set(names["display_name"])
    for given in names["given_name"]:
        for family in names["family_name"]:
            full |= {f"{given} {family}", f"{family} {given}"}
    folded = {fold(name) for name in full}
    folded = {name for name in folded if len(name.split()) >= 2}
    namesakes = Party.objects.filter(sort_name__in=folded).exclude(pk__in=ids)
    folded -= set(namesakes.values_list("sort_name", flat=True))
    return Traces(
        emails=frozenset(v for k, v in points if k == ContactKind.EMAIL and v),
        phones=frozenset(v for k, v in points if k == ContactKind.PHONE and v),
        other_points=frozenset(
            fold(v)
            for k, v in points
            if k in (ContactKind.ADDRESS, ContactKind.HANDLE)
            and len(fold(v)) >= MIN_POINT_CHARS
        ),
        names=frozenset(folded),
    )


def _phone_patterns(value: str) -> tuple[str, str] | None:
    """A phone's digits, and the phone whole however it is written: +1
    415-555-0134, (415) 555 0134, 001 415..., 020 ... with its trunk zero."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        digits = re.sub(r"\D", "", value)
        if len(digits) < MIN_PHONE_DIGITS:
            return None
        core = DIGIT_GAP.join(digits)
        return core, rf"(?<!\d){core}(?!\d)"
    national = str(number.national_number)
    if len(national) < MIN_PHONE_DIGITS:
        return None
    core = DIGIT_GAP.join(national)
    country = DIGIT_GAP.join(str(number.country_code))
    prefix = rf"(?:(?:\+|00)?{DIGIT_GAP}{country}{DIGIT_GAP}|0{DIGIT_GAP})?"
    return core, rf"(?<!\d){prefix}{core}(?!\d)"


def _import_labels(ids: list[int]) -> set[str]:
    """The labels of the imports that wrote on these parties' timelines."""
    events = Event.objects.filter(party_id__in=ids, actor_kind=ActorKind.IMPORT)
    return set(events.values_list("actor_label", flat=True).order_by().distinct())


def _imported_rows(ids: list[int]) -> dict[str, set[int]]:
    """Per import run's label, the lines of its file that were these parties."""
    rows: dict[str, set[int]] = {}
    records = Event.objects.filter(party_id__in=ids, kind=Kind.IMPORT)
    for label, payload in records.values_list("actor_label", "payload"):
        row = payload.get("row")
        if isinstance(row, int) and row > 0:
            rows.setdefault(label, set()).add(row)
    return rows


def _remove_import_files(party: Party, runs: list[ImportRun], traces: Traces) -> None:
    """Remove the kept files of the runs that imported them, and any other
    kept import file that names them."""
    removed = remove_files_naming(runs, traces.found_in)
    logger.info(
        "Removed %d kept import folders holding erased party %s",
        removed,
        party.public_id,
    )


def _absorbed(party: Party) -> list[Party]:
    """Records merged into the party, at any depth: the same person, whose
    archived copies still hold what they held when they were merged."""
    found: list[Party] = []
    frontier = [party.pk]
    while frontier:
        batch = list(Party.objects.filter(merged_into__in=frontier))
        found += batch
        frontier = [record.pk for record in batch]
    return found


def _erase_events(party: Party) -> int:
    """Overwrite the content of every event on the party's timeline."""
    changed = []
    count = 0
    for event in Event.objects.filter(party=party).iterator(chunk_size=UPDATE_ROWS):
        event.summary = ERASED
        event.body = ERASED if event.body else ""
        event.payload = erased_payload(event.kind, event.payload)
        changed.append(event)
        count += 1
        if len(changed) >= UPDATE_ROWS:
            Event.objects.bulk_update(changed, ["summary", "body", "payload"])
            changed = []
    Event.objects.bulk_update(changed, ["summary", "body", "payload"])
    return count


def erased_payload(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with everything but choices, amounts, dates and ids
    replaced by the marker; changes keep their field names."""
    kept = KEPT_PAYLOAD.get(kind, frozenset())
    result = {}
    for key, value in payload.items():
        if key in kept:
            result[key] = value
        elif key == "changes" and isinstance(value, list):
            result[key] = [_erased_change(change) for change in value]
        else:
            result[key] = _erased_value(value)
    return result


def _erased_change(change: Any) -> Any:
    if not isinstance(change, dict) or change.get("field") in KEPT_CHANGE_FIELDS:
        return change
    return {
        **change,
        "old": _erased_value(change.get("old")),
        "new": _erased_value(change.get("new")),
    }


def _erased_value(value: Any) -> Any:
    """Replace text with the marker, keeping the shape, ids and choices of
    items, so the history still reads as 'a phone was added'."""
    if isinstance(value, dict):
        return {
            key: item if key in KEPT_ITEM_KEYS else _erased_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_erased_value(item) for item in value]
    if isinstance(value, str) and value:
        return ERASED
    return value


def _erase_mentions(party: Party) -> int:
    """Put the shell's name in place of the person's on other customers'
    link and merge entries that name them; the entries themselves stay."""
    key = str(party.public_id)
    shell = erased_name(party)
    linked = Relationship.objects.filter(Q(from_party=party) | Q(to_party=party))
    others = {
        other
        for pair in linked.values_list("from_party_id", "to_party_id")
        for other in pair
        if other != party.pk
    }
    others |= set(Party.objects.filter(merged_into=party).values_list("pk", flat=True))
    if party.merged_into_id:
        others.add(party.merged_into_id)

    changed = []
    candidates = Event.objects.filter(
        party_id__in=others, kind__in=[Kind.PROFILE_CHANGE, Kind.MERGE]
    )
    for event in candidates.iterator(chunk_size=UPDATE_ROWS):
        mentions = _mentions_in(event.payload, key)
        if not mentions:
            continue
        event.payload = _renamed(event.payload, key, shell)
        for name, side in mentions:
            event.summary = _swap_mention(event.summary, name, shell, side)
        changed.append(event)
    Event.objects.bulk_update(changed, ["summary", "payload"], batch_size=UPDATE_ROWS)
    return len(changed)


def _mentions_in(payload: dict[str, Any], key: str) -> list[tuple[str, str]]:
    """The names under which the payload mentions the party `key`, each with
    the side of its entry's summary it stands on: a link reads "Linked: FROM
    kind TO", a merge names the other party once."""
    mentions = []
    if payload.get("other") == key and payload.get("other_name"):
        mentions.append((payload["other_name"], "other"))
    for change in payload.get("changes", []):
        for item in (change.get("old"), change.get("new")):
            if not isinstance(item, dict):
                continue
            for side in ("from", "to"):
                if item.get(side) == key and item.get(f"{side}_name"):
                    mentions.append((item[f"{side}_name"], side))
    return mentions


def _swap_mention(summary: str, name: str, shell: str, side: str) -> str:
    """Put `shell` in place of the one whole-word mention of `name` that
    stands for the party, leaving names that merely contain it, or another
    party's name that holds it as a word, as they were."""
    found = list(re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", summary))
    if not found:
        return summary
    at_end = side == "to" or (side == "other" and summary.endswith(name))
    chosen = found[-1] if at_end else found[0]
    return summary[: chosen.start()] + shell + summary[chosen.end() :]


def _renamed(payload: dict[str, Any], key: str, shell: str) -> dict[str, Any]:
    result = dict(payload)
    if result.get("other") == key:
        result["other_name"] = shell
    changes = []
    for change in result.get("changes", []):
        change = dict(change)
        for slot in ("old", "new"):
            item = change.get(slot)
            if isinstance(item, dict):
                item = dict(item)
                for side in ("from", "to"):
                    if item.get(side) == key:
                        item[f"{side}_name"] = shell
                change[slot] = item
        changes.append(change)
    if "changes" in result:
        result["changes"] = changes
    return result


def _erase_records(party: Party) -> dict[str, int]:
    """Clear what hangs off the party: contact points, facts, tags, thread
    titles, follow-up summaries and search keys."""
    now = timezone.now()
    counts = {
        "contact_points": party.contact_points.count(),
        "pinned_facts": party.pinned_facts.count(),
        "tags": party.tags.count(),
        "threads": Thread.objects.filter(party=party).count(),
        "follow_ups": FollowUp.objects.filter(party=party).count(),
        "search_terms": SearchTerm.objects.filter(party=party).count(),
    }
    party.contact_points.all().delete()
    party.pinned_facts.filter(unpinned_at__isnull=True).update(unpinned_at=now)
    party.pinned_facts.update(text=ERASED, updated_at=now)
    own_tags = list(party.tags.values_list("pk", flat=True))
    party.tags.clear()
    # A label no one else carries would still describe them.
    Tag.objects.filter(pk__in=own_tags, parties__isnull=True).delete()
    Thread.objects.filter(party=party).update(
        title=ERASED, next_step="", updated_at=now
    )
    FollowUp.objects.filter(party=party).update(summary=ERASED, updated_at=now)
    SearchTerm.objects.filter(party=party).delete()
    return counts


def _erase_fields(party: Party) -> None:
    name = erased_name(party)
    party.display_name = name
    party.given_name = ""
    party.family_name = ""
    party.sort_name = fold(name)
    party.birthday = None
    party.photo = None
    party.photo_type = ""
    party.contact_hours = ""
    party.language = ""
    party.time_zone = ""
    party.preferred_channel = ""
    # With no contact points left there is no one to contact; the marker
    # also keeps an automation from trying.
    party.consent = Consent.DENIED
    # A key from another system would let a re-import fill the shell again.
    party.external_id = ""
    if party.archived_reason:
        party.archived_reason = ERASED
    party.save()
