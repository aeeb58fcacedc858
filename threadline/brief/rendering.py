"""The brief as plain text for a terminal."""

import datetime as dt

from django.utils import timezone

from threadline.brief.services import BookingLine, Brief

MARKS = {"danger": "!!", "warning": "! ", "info": "- "}


def brief_as_text(brief: Brief) -> str:
    """Warnings first, then who they are, open work, facts and history."""
    who = brief.identity
    if brief.as_of and not brief.existed:
        return f"{who.name} was not yet in the record on {_when(brief.as_of)}."
    lines = [f"{who.name}  ({who.stage_label}" + _owner(brief) + ")"]
    if brief.as_of:
        lines.append(f"As of {_when(brief.as_of)}, rebuilt from the record.")
    lines.append("")

    if brief.warnings:
        lines.append("WARNINGS")
        lines += [f"  {MARKS[w.severity]} {w.text}" for w in brief.warnings]
        lines.append("")

    lines.append("WHO")
    lines += [f"  {p.kind}: {p.display}" for p in who.contact_points]
    extras = [
        (
            "Prefers",
            who.preferred_channel if who.preferred_channel != "No preference" else "",
        ),
        ("Contact hours", who.contact_hours),
        ("Language", who.language_label),
        ("Local time", who.local_time and f"{who.local_time:%H:%M} ({who.time_zone})"),
        ("Consent", who.consent_label),
        ("Birthday", who.birthday and f"{who.birthday:%-d %B %Y}"),
        ("Tags", ", ".join(who.tags)),
    ]
    lines += [f"  {label}: {value}" for label, value in extras if value]
    lines += [f"  {r.text}" for r in who.relationships if r.current]
    lines.append("")

    _section(
        lines,
        "OPEN THREADS",
        [
            f"{t.kind_label}: {t.title} [{t.status_label}]"
            + (f" next: {t.next_step}" if t.next_step else "")
            for t in brief.open_threads
        ],
    )
    _section(
        lines,
        "OPEN FOLLOW-UPS",
        [
            ("OVERDUE " if f.overdue else "")
            + f"{_when(f.due_at)} {f.summary} ({f.assignee_name})"
            for f in brief.open_follow_ups
        ],
    )
    _section(
        lines,
        "UPCOMING BOOKINGS",
        [_booking_text(booking) for booking in brief.upcoming_bookings],
    )
    _section(
        lines,
        "PINNED",
        [
            f"{f.category_label}: {f.text}"
            + (f" (from {f.inherited_from})" if f.inherited_from else "")
            for f in brief.pinned_facts
        ],
    )
    _section(
        lines,
        "RECENT",
        [f"{_when(e.occurred_at)} {e.kind_label}: {e.summary}" for e in brief.recent],
    )
    lines.append(f"Last contact: {_since(brief.since_last_contact)}")
    if brief.suggestion:
        lines.append(f"Next: {brief.suggestion.action} ({brief.suggestion.reason})")
    return "\n".join(lines)


def _section(lines: list[str], title: str, items: list[str]) -> None:
    if not items:
        return
    lines.append(title)
    lines += [f"  {item}" for item in items]
    lines.append("")


def _owner(brief: Brief) -> str:
    name = brief.identity.owner_name
    return f", owner {name}" if name else ", no owner"


def _booking_text(booking: BookingLine) -> str:
    day = f"{timezone.localtime(booking.starts_at):%Y-%m-%d}"
    when = f"{day} all day" if booking.all_day else _when(booking.starts_at)
    where = f" at {booking.site}" if booking.site else ""
    return f"{when} {booking.summary}{where}"


def _when(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _since(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "never"
    if delta.days >= 1:
        return f"{delta.days} days ago"
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} hours ago" if hours else "within the hour"
