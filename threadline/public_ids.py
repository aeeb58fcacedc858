"""The public ids of records: the ids that addresses, exports and links use.

A public id is a UUID version 7 (RFC 9562): its first 48 bits are the time
it was made, in milliseconds, and the rest is random. Ids made one after
another sort one after another, so each new row's entry in a unique index
lands at the index's end, on a page already in memory, instead of on a
random page; an import of a hundred thousand customers writes a fraction
of the pages that random (version 4) ids made it write. The random bits
keep an id unguessable; no secret is ever a public id.
"""

import uuid

import uuid_utils
from uuid_utils import compat

SHORT_ID_DIGITS = 8


def new_public_id() -> uuid.UUID:
    """A new public id, later in order than the ones this process made."""
    return compat.uuid7()


def new_bulk_public_id() -> uuid_utils.UUID:
    """A new public id for a row written in bulk, which needs only its text
    (`.hex`, `str()`): several times faster to make than a uuid.UUID."""
    return uuid_utils.uuid7()


def short_id(public_id: uuid.UUID) -> str:
    """Eight hex digits that tell records apart, for a person to read: the
    id's last ones, which are random (its first ones are the time it was
    made, shared by records made together)."""
    return public_id.hex[-SHORT_ID_DIGITS:]
