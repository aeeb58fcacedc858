"""Checking the IANA time zone names people type."""

import zoneinfo

from threadline.errors import InvalidInput


def require_time_zone(name: str, field: str = "time_zone") -> str:
    """Return the name if it is a known IANA time zone, else raise InvalidInput."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(
            f"{name!r} is not a time zone; use a name such as Europe/London.",
            field=field,
        ) from error
    return name
