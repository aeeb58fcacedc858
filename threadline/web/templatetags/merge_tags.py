"""Template helpers for merges and the duplicate review queue."""

from django import template

from threadline.accounts.models import User
from threadline.parties.duplicates import candidates_for
from threadline.parties.merging import merge_undoable
from threadline.timeline.models import Event

register = template.Library()


@register.filter
def undoable(event: Event) -> bool:
    """Whether a merge entry still offers its undo (one query per merge
    entry shown, and none for any other kind)."""
    return merge_undoable(event)


@register.simple_tag
def duplicates_waiting(user: User) -> int:
    """How many pairs wait for this user's review."""
    return candidates_for(user).count()
