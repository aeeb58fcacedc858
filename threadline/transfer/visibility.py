"""Which customers an import may touch: those the person running it may see.

An import acts for the business, but one started from the web app is run by
one person. A row that matches a restricted customer hidden from them is
neither written to that customer nor answered with anything about them: the
report says only that someone else must import it. Imports from the command
line are run by whoever holds the server, and see every customer.
"""

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from threadline.accounts.models import User
from threadline.parties.models import Party

logger = logging.getLogger(__name__)

HIDDEN_MATCH = (
    "not imported: it matches a customer whose record is restricted and not "
    "open to you; someone it is open to can import it"
)

_importer: ContextVar[User | None] = ContextVar("importer", default=None)


@contextmanager
def importing_as(user: User | None) -> Iterator[None]:
    """Run the imports inside as `user`; None sees every customer."""
    token = _importer.set(user)
    try:
        yield
    finally:
        _importer.reset(token)


def hidden_ids(party_ids: Iterable[int]) -> set[int]:
    """The ids among `party_ids` of restricted customers the person running
    the import may not see; none when the import runs for the business."""
    user = _importer.get()
    ids = set(party_ids)
    if user is None or not ids:
        return set()

    restricted = set(
        Party.objects.filter(pk__in=ids, restricted=True).values_list("pk", flat=True)
    )
    if not restricted:
        return set()
    visible = Party.objects.visible_to(user).filter(pk__in=restricted)
    hidden = restricted - set(visible.values_list("pk", flat=True))
    if hidden:
        logger.info(
            "Import by %s left %d restricted customers alone", user.email, len(hidden)
        )
    return hidden


def is_hidden(party: Party) -> bool:
    return party.restricted and bool(hidden_ids([party.pk]))
