"""Template filters for showing times the way people say them, and for
building links to records by their public id."""

import datetime as dt
import functools
import re
import uuid

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

register = template.Library()

_SENTINEL = "00000000-0000-0000-0000-000000000000"
# Messages name commands between backticks, as a terminal shows them.
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


@register.filter
def link_to(public_id: uuid.UUID | str, url_name: str) -> str:
    """The URL named `url_name` for one record, as `{% url %}` would give it.

    A list page links dozens of rows, and resolving each with `reverse` cost
    more than the rest of the row; the pattern is resolved once instead.
    """
    return _pattern(url_name).replace(_SENTINEL, str(public_id))


@functools.cache
def _pattern(url_name: str) -> str:
    return reverse(url_name, args=[_SENTINEL])


@register.filter
def ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """The largest unit of time since `value`: '3 months', not '3 months, 4 weeks'."""
    if value is None:
        return ""
    return timesince(value, now, depth=1)


@register.filter
def code_spans(text: object) -> SafeString:
    """The text escaped, with each `command` in backticks shown as code."""
    escaped = escape(str(text))
    # Safe: the text was escaped first, and only <code> tags are added.
    return mark_safe(_CODE_SPAN.sub(r"<code>\1</code>", escaped))
