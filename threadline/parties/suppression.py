"""The addresses of people erased on request, kept only as digests.

An erasure removes a person's emails and phones, so nothing would stop the
next import or mailbox sync from bringing them back. The erasure event keeps
a digest of each instead: enough to recognise the address when it comes in
again, not enough to read it back.
"""

import hashlib
import logging
from collections.abc import Iterable

from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event

logger = logging.getLogger(__name__)

ERASED_ROW = (
    "not imported: the person this row describes was erased at their request, "
    "so their data is not taken in again; remove the row from the file"
)
# A fixed salt, so that the digests still match after a restore into an
# install with another secret key.
SALT = b"threadline erased address\x00"


def digest(value: str) -> str:
    """The digest of a normalised email or phone (E.164)."""
    return hashlib.sha256(SALT + value.encode()).hexdigest()


def digests_of(values: Iterable[str]) -> list[str]:
    return sorted({digest(value) for value in values if value})


def erased_among(values: Iterable[str]) -> set[str]:
    """The values among these that belonged to a person erased on request."""
    wanted = {value for value in values if value}
    if not wanted:
        return set()
    stored = _stored_digests()
    if not stored:
        return set()
    found = {value for value in wanted if digest(value) in stored}
    if found:
        logger.info("Left out %d addresses of people erased on request", len(found))
    return found


def _stored_digests() -> set[str]:
    """Every erasure's digests; erasures are few, so they are read whole."""
    found: set[str] = set()
    erasures = Event.objects.filter(kind=Kind.ERASURE).values_list("payload", flat=True)
    for payload in erasures:
        found.update(payload.get("suppressed", []))
    return found
