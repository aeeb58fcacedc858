"""Template filters for showing times the way people say them."""

import datetime as dt

from django import template
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """The largest unit of time since `value`: '3 months', not '3 months, 4 weeks'."""
    if value is None:
        return ""
    return timesince(value, now, depth=1)
