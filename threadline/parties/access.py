"""Fetching a party for a user: one helper to read, one to write."""

import uuid

from threadline.accounts.models import User
from threadline.errors import NotAllowed, NotFound
from threadline.parties.models import Party


def party_for_read(user: User, public_id: uuid.UUID | str) -> Party:
    """Return the party if the user may see it; NotFound otherwise, so that a
    restricted party's existence does not leak."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError as error:
        raise NotFound("No such customer.") from error
    party = (
        Party.objects.visible_to(user)
        .select_related("owner")
        .filter(public_id=key)
        .first()
    )
    if party is None:
        raise NotFound("No such customer, or you do not have access to it.")
    return party


def party_for_write(user: User, public_id: uuid.UUID | str) -> Party:
    """Return the party if the user may change it; raise NotAllowed for a viewer."""
    party = party_for_read(user, public_id)
    if not user.can_write:
        raise NotAllowed("Viewers can read the record but not change it.")
    return party
