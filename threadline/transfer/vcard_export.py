"""Writing parties as vCard 3.0, the version Google, Apple and Outlook read.

A card carries the party's names, emails, phones and addresses with their
labels, birthday, tags, the pinned facts as its note, its photo, and its
current employer and role. The UID is the party's public id, so importing
the file again finds the same parties.
"""

import logging
from collections.abc import Iterator
from typing import TextIO

import vobject
from django.db.models import Prefetch, QuerySet

from threadline.accounts.models import User
from threadline.parties.models import (
    ContactKind,
    ContactPoint,
    Party,
    PartyKind,
    PinnedFact,
    Relationship,
    RelationshipKind,
)

logger = logging.getLogger(__name__)

PRODUCT_ID = "-//Threadline//Threadline CRM//EN"
# Label words and the vCard 3.0 TYPE each becomes; a label with other words
# travels as an Apple-style X-ABLabel, which Apple and Google both read.
LABEL_TYPES = {
    "home": "HOME",
    "work": "WORK",
    "mobile": "CELL",
    "fax": "FAX",
    "pager": "PAGER",
    "car": "CAR",
}
PHOTO_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}
CHUNK = 200


def exportable_parties(
    parties: QuerySet[Party], viewer: User | None = None
) -> QuerySet[Party]:
    """Load what a card shows, in a fixed number of queries per chunk.

    With a viewer, an employer the viewer may not see is left off the card.
    """
    links = Relationship.objects.all()
    if viewer is not None:
        links = Relationship.objects.visible_to(viewer)
    employers = (
        links.filter(kind=RelationshipKind.WORKS_AT, ended_on__isnull=True)
        .select_related("to_party")
        .order_by("id")
    )
    return parties.prefetch_related(
        Prefetch("contact_points", queryset=ContactPoint.objects.order_by("id")),
        "tags",
        Prefetch(
            "pinned_facts",
            queryset=PinnedFact.objects.filter(unpinned_at__isnull=True).order_by(
                "created_at", "id"
            ),
            to_attr="current_facts",
        ),
        Prefetch("relationships_out", queryset=employers, to_attr="employers"),
    )


def write_vcards(
    parties: QuerySet[Party], stream: TextIO, *, viewer: User | None = None
) -> int:
    """Write every party as a vCard 3.0 to `stream`; return how many."""
    count = 0
    for text in vcard_texts(parties, viewer=viewer):
        stream.write(text)
        count += 1
    logger.debug("Wrote %d vCards", count)
    return count


def vcard_texts(
    parties: QuerySet[Party], *, viewer: User | None = None
) -> Iterator[str]:
    """Yield one card's text per party, reading the parties in chunks."""
    loaded = exportable_parties(parties, viewer)
    for party in loaded.iterator(chunk_size=CHUNK):
        yield vcard_text(party)


def vcard_text(party: Party) -> str:
    """One party as a vCard 3.0; the party must come from exportable_parties."""
    card = vobject.vCard()
    card.add("version").value = "3.0"
    card.add("prodid").value = PRODUCT_ID
    card.add("uid").value = str(party.public_id)
    _add_names(card, party)
    groups = _Groups()
    for point in party.contact_points.all():
        _add_point(card, point, groups)
    if party.birthday:
        card.add("bday").value = party.birthday.isoformat()
    tags = [tag.name for tag in party.tags.all()]
    if tags:
        card.add("categories").value = tags
    facts: list[PinnedFact] = getattr(party, "current_facts", [])
    if facts:
        card.add("note").value = "\n".join(fact.text for fact in facts)
    _add_photo(card, party)
    card.add("rev").value = party.updated_at.strftime("%Y%m%dT%H%M%SZ")
    text: str = card.serialize()
    return text


def _add_names(card: vobject.base.Component, party: Party) -> None:
    if party.kind == PartyKind.ORGANISATION:
        card.add("n").value = vobject.vcard.Name()
        card.add("fn").value = party.display_name
        card.add("org").value = [party.display_name]
        # Apple's way of saying the card is a company's, not a person's.
        card.add("x-abshowas").value = "COMPANY"
        return
    # A person known by one name alone keeps it in N too: some address books
    # list a card by N and would show it nameless.
    given = party.given_name
    if not (given or party.family_name):
        given = party.display_name
    card.add("n").value = vobject.vcard.Name(family=party.family_name, given=given)
    card.add("fn").value = party.display_name
    employers: list[Relationship] = getattr(party, "employers", [])
    # A card has one ORG that address books show; further employers stay in
    # Threadline until clients read more than one.
    if employers:
        card.add("org").value = [employers[0].to_party.display_name]
        if employers[0].role:
            card.add("title").value = employers[0].role


class _Groups:
    """Numbers the item groups that tie a custom label to its value."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return f"item{self.count}"


def _add_point(
    card: vobject.base.Component, point: ContactPoint, groups: _Groups
) -> None:
    if point.kind == ContactKind.EMAIL:
        line = card.add("email")
        line.value = point.raw.strip()
        types = ["INTERNET"]
    elif point.kind == ContactKind.PHONE:
        line = card.add("tel")
        line.value = point.display
        types = []
    elif point.kind == ContactKind.ADDRESS:
        line = card.add("adr")
        # Known gap: an address is kept as one line, so it travels whole in
        # the street part rather than split into city, code and country.
        line.value = vobject.vcard.Address(street=point.value)
        types = []
    else:
        # Handles (chat and social accounts) have no vCard 3.0 property
        # that the big address books agree on.
        return
    words = point.label.lower().split()
    known = [LABEL_TYPES[word] for word in words if word in LABEL_TYPES]
    types += known
    if point.is_primary:
        types.append("PREF")
    if types:
        line.type_param = types
    if point.label and len(known) < len(words):
        line.group = groups.next()
        card.add("x-ablabel", group=line.group).value = point.label


def _add_photo(card: vobject.base.Component, party: Party) -> None:
    data = bytes(party.photo or b"")
    if not data:
        return
    line = card.add("photo")
    line.value = data
    line.encoding_param = "b"
    kind = PHOTO_TYPES.get(party.photo_type)
    if kind:
        line.type_param = kind
