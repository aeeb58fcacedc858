"""Recording email on timelines, and deciding about unknown senders.

A message lands on the timeline of every party whose address it carries,
inside a thread found from its In-Reply-To and References. An address with
no party is not dropped: its messages wait under an UnknownSender until
someone adds it to a customer, and only then land on that timeline.

A Message-ID is recorded once. A later copy under the same Message-ID with
another subject or body is refused, so the first copy stays and the user
learns of the second one instead of losing it silently.
"""

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from threadline import config
from threadline.accounts.models import User
from threadline.errors import InvalidInput
from threadline.mail.models import HeldMessage, MessageLink, SenderStatus, UnknownSender
from threadline.mail.parsing import REPLY_PREFIX, Address, ParsedMessage
from threadline.parties.models import ContactKind, ContactPoint, Party
from threadline.parties.names import clean_text
from threadline.parties.services import add_contact_point, create_party
from threadline.parties.suppression import erased_among
from threadline.threads.models import Thread, ThreadKind, ThreadStatus
from threadline.threads.services import open_thread, update_thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind, awaits_reply
from threadline.timeline.models import Event
from threadline.timeline.services import record_event
from threadline.transfer.visibility import HIDDEN_MATCH, hidden_ids

logger = logging.getLogger(__name__)

# One source for every way mail arrives, so a message imported from a file
# and later synced over IMAP is the same event.
SOURCE = "email"
EXTERNAL_ID_CHARS = 300
OWN_ADDRESSES_VARIABLE = "THREADLINE_OWN_ADDRESSES"
# Rows read or deleted per statement when an erasure goes through mail.
ERASE_CHUNK = 500


@dataclass(frozen=True)
class OwnAddresses:
    """The business's own addresses: every user's, and the configured ones."""

    addresses: frozenset[str]
    domains: frozenset[str]

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        return address in self.addresses or address.rpartition("@")[2] in self.domains


def own_addresses() -> OwnAddresses:
    """Read once per import or sync; deactivated users' addresses count too,
    because their mail belongs to the business."""
    configured, domains = config.env_addresses(OWN_ADDRESSES_VARIABLE)
    users = {email.lower() for email in User.objects.values_list("email", flat=True)}
    return OwnAddresses(configured | users, domains)


@dataclass
class Outcome:
    """What recording one message did."""

    events: int = 0
    threads: int = 0
    held: int = 0
    new_senders: int = 0
    ignored: int = 0


ERASED_MAIL = (
    "not kept: it is from or to a person erased at their request, whose mail "
    "is not taken in again"
)


def record_message(
    message: ParsedMessage,
    actor: Actor,
    *,
    own: OwnAddresses | None = None,
    origin: str = "",
) -> Outcome:
    """Put a message on every involved party's timeline, or hold it.

    Raises InvalidInput, writing nothing, for a message with no address
    outside the business, or with the key of one recorded or held before
    whose subject or body differs.
    """
    own = own or own_addresses()
    direction = _direction(message, own)
    involved = [
        item
        for item in _unique([message.sender, *message.to, *message.cc])
        if item.address not in own
    ]
    if not involved:
        raise InvalidInput(_no_counterpart(message))
    if _differs_from_earlier_copy(message, involved):
        raise InvalidInput(_other_copy(message))

    outcome = Outcome()
    parties = _parties_by_address([item.address for item in involved])
    if hidden_ids(party.pk for found in parties.values() for party in found):
        raise InvalidInput(HIDDEN_MATCH)
    already = _parties_with_message(message, involved)
    for item in involved:
        for party in parties.get(item.address, []):
            if party.pk in already:
                continue
            already.add(party.pk)
            _record_on(party, message, item.address, direction, actor, outcome)
    unknown = [
        item
        for item in _counterparts(message, direction, own)
        if item.address not in parties
    ]
    erased = erased_among(item.address for item in unknown)
    for item in unknown:
        if item.address not in erased:
            _hold(item, message, origin, outcome)
    if erased and not outcome.events and not outcome.held:
        raise InvalidInput(ERASED_MAIL)
    return outcome


def record_held_messages(sender: UnknownSender, party: Party, actor: Actor) -> int:
    """Record a sender's kept messages on `party`; return how many were new.

    The entries are the mail's, not the work of whoever filed it: they are
    recorded as kept mail, naming the person who filed it."""
    own = own_addresses()
    outcome = Outcome()
    mail = Actor.importer(f"kept mail, filed by {actor.label}"[:200], actor.user)
    held = list(sender.messages.all())
    for item in held:
        message = ParsedMessage.from_json(item.message)
        # The customer may have it already under another of their addresses.
        addresses = _unique([message.sender, *message.to, *message.cc])
        if party.pk in _parties_with_message(message, addresses):
            continue
        direction = _direction(message, own)
        _record_on(party, message, sender.address, direction, mail, outcome)
    return outcome.events


def add_sender_as_new_party(
    sender: UnknownSender, actor: Actor, *, name: str = ""
) -> Party:
    """Create a customer for the sender's address and record their messages."""
    actor.require_write()
    with transaction.atomic():
        sender = _waiting(sender)
        party = create_party(
            actor,
            display_name_text=name.strip() or sender.name or _name_from(sender.address),
            emails=[sender.address],
        )
        record_held_messages(sender, party, actor)
        _close(sender, SenderStatus.ADDED, actor, party)
    logger.info("Added unknown sender %s as a new customer", sender.pk)
    return party


def add_sender_to_party(sender: UnknownSender, party: Party, actor: Actor) -> Party:
    """Give an existing customer the sender's address and their messages."""
    actor.require_write()
    with transaction.atomic():
        sender = _waiting(sender)
        add_contact_point(party, actor, ContactKind.EMAIL, sender.address)
        record_held_messages(sender, party, actor)
        _close(sender, SenderStatus.ADDED, actor, party)
    logger.info("Added unknown sender %s to customer %s", sender.pk, party.pk)
    return party


def ignore_sender(sender: UnknownSender, actor: Actor) -> None:
    """Drop the sender's kept messages and keep no later ones."""
    actor.require_write()
    with transaction.atomic():
        sender = _waiting(sender)
        _close(sender, SenderStatus.IGNORED, actor, None)
    logger.info("Ignored unknown sender %s", sender.pk)


def forget_mail_of(
    party_ids: Collection[int],
    addresses: Collection[str],
    names_them: Callable[[str], bool],
) -> dict[str, int]:
    """For an erasure: drop what mail left about these parties outside their
    timelines; return how many senders and kept messages went.

    A sender goes, with its kept messages, when it was added to one of the
    parties or its address is one of `addresses` (theirs). Another sender's
    kept message goes when `names_them` finds them in it (copied to them,
    quoting them): on triage it would bring them back onto a timeline; so
    does the sender's name or last subject that names them. The threading
    keys of their threads lose the subject, and their email entries the
    address they were filed under; the entries stay, erased.
    """
    own = UnknownSender.objects.filter(
        Q(party_id__in=party_ids) | Q(address__in=addresses)
    )
    own_ids = set(own.values_list("pk", flat=True))
    held = HeldMessage.objects.filter(sender_id__in=own_ids).count()
    named: list[int] = []
    touched: set[int] = set()
    others = HeldMessage.objects.exclude(sender_id__in=own_ids).values_list(
        "pk", "sender_id", "message"
    )
    for pk, sender_id, message in others.iterator(chunk_size=ERASE_CHUNK):
        if names_them("\n".join(_texts(message))):
            named.append(pk)
            touched.add(sender_id)
    for start in range(0, len(named), ERASE_CHUNK):
        HeldMessage.objects.filter(pk__in=named[start : start + ERASE_CHUNK]).delete()
    UnknownSender.objects.filter(pk__in=own_ids).delete()
    emptied = sum(
        _recount(sender) for sender in UnknownSender.objects.filter(pk__in=touched)
    )
    for sender in UnknownSender.objects.only("pk", "name", "latest_subject"):
        name = "" if names_them(sender.name) else sender.name
        subject = "" if names_them(sender.latest_subject) else sender.latest_subject
        if (name, subject) != (sender.name, sender.latest_subject):
            UnknownSender.objects.filter(pk=sender.pk).update(
                name=name, latest_subject=subject
            )
    MessageLink.objects.filter(thread__party_id__in=party_ids).exclude(
        subject_key=""
    ).update(subject_key="")
    # Each key holds the address its message was filed under, in clear or
    # hashed; the shell has no address left for a later message to find.
    Event.objects.filter(party_id__in=party_ids, source=SOURCE).exclude(
        external_id=""
    ).update(external_id="")
    return {
        "unknown_senders": len(own_ids) + emptied,
        "held_messages": held + len(named),
    }


def _texts(value: object) -> Iterator[str]:
    """Every text in a kept message's JSON: headers, subject, body, names."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _recount(sender: UnknownSender) -> int:
    """Refresh a sender whose kept messages were dropped; one left waiting
    with none is removed. Return how many senders were removed."""
    latest = sender.messages.order_by("-occurred_at", "-id").first()
    if latest is None and sender.status == SenderStatus.WAITING:
        sender.delete()
        return 1
    sender.message_count = sender.messages.count()
    sender.latest_subject = ""
    if latest is not None:
        sender.latest_at = latest.occurred_at
        sender.latest_subject = str(latest.message.get("subject", ""))[:300]
    sender.save()
    return 0


def earlier_writers(message: ParsedMessage) -> set[str]:
    """Who recorded this message before, on any timeline: the actor labels
    of its entries."""
    addresses = _unique([message.sender, *message.to, *message.cc])
    keys = [external_id(message.key, item.address) for item in addresses]
    entries = Event.objects.filter(source=SOURCE, external_id__in=keys).order_by()
    return set(entries.values_list("actor_label", flat=True))


def external_id(message_key: str, address: str) -> str:
    """One event per message and address; long keys are hashed to fit."""
    key = f"{message_key}|{address}"
    if len(key) <= EXTERNAL_ID_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _direction(message: ParsedMessage, own: OwnAddresses) -> str:
    if message.sender is not None and message.sender.address in own:
        return "outbound"
    return "inbound"


def _unique(addresses: list[Address | None]) -> list[Address]:
    found: dict[str, Address] = {}
    for item in addresses:
        if item is not None:
            found.setdefault(item.address, item)
    return list(found.values())


def _counterparts(
    message: ParsedMessage, direction: str, own: OwnAddresses
) -> list[Address]:
    """Who the business wrote to, or who wrote to it: the addresses an
    unknown one of which is worth asking about."""
    # Unknown addresses copied in on mail we receive are not held: mailing
    # lists and colleagues would flood triage. Until triage can mute a domain.
    if direction == "outbound":
        recipients = _unique([*message.to, *message.cc])
        return [item for item in recipients if item.address not in own]
    if message.sender is None:
        return []
    return [message.sender]


def _no_counterpart(message: ParsedMessage) -> str:
    if message.sender is None and not message.to and not message.cc:
        return "no sender or recipient address could be read"
    return "only the business's own addresses are on it; nothing to record"


def _differs_from_earlier_copy(message: ParsedMessage, involved: list[Address]) -> bool:
    """Whether a copy kept before under the message's key, for one of its
    addresses, has another subject or body."""
    earlier = _earlier_copy_content(message, involved)
    return earlier is not None and earlier != _content(message.subject, message.body)


def _earlier_copy_content(
    message: ParsedMessage, involved: list[Address]
) -> tuple[str, str] | None:
    keys = [external_id(message.key, item.address) for item in involved]
    events = Event.objects.filter(source=SOURCE, external_id__in=keys)
    event = events.order_by("id").only("payload", "body").first()
    if event is not None:
        return _content(event.payload.get("subject", ""), event.body)

    held = HeldMessage.objects.filter(
        key=message.key[:300], sender__address__in=[item.address for item in involved]
    ).first()
    if held is not None:
        return _content(held.message.get("subject", ""), held.message.get("body", ""))
    return None


def _content(subject: str, body: str) -> tuple[str, str]:
    """What two copies of a message are compared by, as an event stores it."""
    return subject[:300], clean_text(body)


def _other_copy(message: ParsedMessage) -> str:
    named = (
        f"Message-ID <{message.message_id}>"
        if message.message_id
        else "a message with the same headers and no Message-ID"
    )
    return (
        f"{named} was imported before with other content; the earlier copy is "
        "kept (to keep both, give this copy its own Message-ID and import it again)"
    )


def _parties_by_address(addresses: list[str]) -> dict[str, list[Party]]:
    points = (
        ContactPoint.objects.filter(
            kind=ContactKind.EMAIL,
            value__in=addresses,
            party__archived_at__isnull=True,
        )
        .select_related("party")
        .defer("party__photo")
        .order_by("party_id")
    )
    found: dict[str, list[Party]] = defaultdict(list)
    for point in points:
        if point.party not in found[point.value]:
            found[point.value].append(point.party)
    return dict(found)


def _parties_with_message(message: ParsedMessage, involved: list[Address]) -> set[int]:
    """Parties that have this message already, under any of its addresses
    (a customer with two of them gets it once)."""
    keys = [external_id(message.key, item.address) for item in involved]
    events = Event.objects.filter(source=SOURCE, external_id__in=keys).order_by()
    return set(events.values_list("party_id", flat=True))


def _record_on(
    party: Party,
    message: ParsedMessage,
    address: str,
    direction: str,
    actor: Actor,
    outcome: Outcome,
) -> None:
    thread = _thread(party, message, direction, actor, outcome)
    _, created = record_event(
        party,
        Kind.MESSAGE,
        _summary(message),
        actor=actor,
        occurred_at=message.occurred_at,
        payload=_payload(message, direction),
        body=message.body,
        thread=thread,
        source=SOURCE,
        external_id=external_id(message.key, address),
    )
    MessageLink.objects.get_or_create(
        message_key=message.key[:300],
        thread=thread,
        defaults={
            "subject_key": message.subject_key,
            "reply_to_key": message.in_reply_to[0][:300] if message.in_reply_to else "",
        },
    )
    if created:
        outcome.events += 1


def _thread(
    party: Party,
    message: ParsedMessage,
    direction: str,
    actor: Actor,
    outcome: Outcome,
) -> Thread:
    """The conversation's thread on this party, opened if there is none.

    The subject is used only when the message names no earlier message, and
    only for a subject marked as a reply, so two unrelated messages that
    are both called "Invoice" never share a thread.
    """
    links = MessageLink.objects.filter(thread__party=party).select_related("thread")
    keys = [key[:300] for key in (message.key, *message.thread_keys)]
    link = links.filter(
        Q(message_key__in=keys) | Q(reply_to_key=message.key[:300])
    ).first()
    if link is None and not message.thread_keys and message.is_reply:
        link = links.filter(subject_key=message.subject_key).first()
    current = _is_current(message)
    if link is not None:
        if current and link.thread.status == ThreadStatus.DONE:
            # A new message on a conversation filed as history opens it again.
            update_thread(link.thread, actor, status=ThreadStatus.OPEN)
        return link.thread

    outcome.threads += 1
    # A mail thread stays open: a status per message would add a thread
    # change per email. Until a status can follow messages without one.
    return open_thread(
        party,
        actor,
        ThreadKind.ENQUIRY,
        _title(message),
        opened_at=message.occurred_at,
        status=ThreadStatus.OPEN if current else ThreadStatus.DONE,
    )


def _is_current(message: ParsedMessage) -> bool:
    """A conversation whose mail comes in more than a week after it was sent
    is history: it goes on the timeline as done, not as open work."""
    return awaits_reply(message.occurred_at, timezone.now())


def _title(message: ParsedMessage) -> str:
    return REPLY_PREFIX.sub("", message.subject).strip() or "Email conversation"


def _summary(message: ParsedMessage) -> str:
    return message.subject or "(no subject)"


def _payload(message: ParsedMessage, direction: str) -> dict[str, object]:
    return {
        "direction": direction,
        "channel": "email",
        "subject": message.subject[:300],
        "sender": str(message.sender) if message.sender else "",
        "to": [str(item) for item in message.to],
        "cc": [str(item) for item in message.cc],
        "message_id": message.message_id[:300],
        "attachments": message.attachments,
    }


def _hold(
    address: Address, message: ParsedMessage, origin: str, outcome: Outcome
) -> None:
    sender, created = UnknownSender.objects.get_or_create(
        address=address.address, defaults={"name": address.name[:300]}
    )
    if sender.status == SenderStatus.IGNORED:
        outcome.ignored += 1
        return
    # Added before, yet no party has the address now: it was removed, so ask
    # again rather than lose the message.
    if sender.status == SenderStatus.ADDED:
        sender.status = SenderStatus.WAITING

    # Undoing the import that held a message leaves it here: undo reads only
    # events. Until undo also clears held mail by the run's origin.
    _, kept = HeldMessage.objects.get_or_create(
        sender=sender,
        key=message.key[:300],
        defaults={
            "occurred_at": message.occurred_at,
            "message": message.as_json(),
            "origin": origin[:300],
        },
    )
    if not kept and not created:
        return
    _refresh(sender, address, message)
    outcome.held += int(kept)
    outcome.new_senders += int(created)


def _refresh(sender: UnknownSender, address: Address, message: ParsedMessage) -> None:
    sender.message_count = sender.messages.count()
    if sender.latest_at is None or message.occurred_at >= sender.latest_at:
        sender.latest_at = message.occurred_at
        sender.latest_subject = message.subject[:300]
    sender.name = sender.name or address.name[:300]
    sender.save()


def _waiting(sender: UnknownSender) -> UnknownSender:
    """Lock the sender and check that no one has decided about it yet."""
    locked = UnknownSender.objects.select_for_update().get(pk=sender.pk)
    if locked.status != SenderStatus.WAITING:
        raise InvalidInput(
            f"{locked.address} was already {locked.get_status_display().lower()}."
        )
    return locked


def _close(
    sender: UnknownSender, status: str, actor: Actor, party: Party | None
) -> None:
    sender.messages.all().delete()
    sender.status = status
    sender.party = party
    sender.triaged_by = actor.user
    sender.triaged_at = timezone.now()
    sender.save()


def _name_from(address: str) -> str:
    """A readable stand-in name from an address: "jane.doe@x" is "Jane Doe"."""
    local = address.partition("@")[0]
    words = local.replace(".", " ").replace("_", " ").replace("-", " ").split()
    return " ".join(word.capitalize() for word in words) or address
