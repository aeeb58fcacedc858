"""The record an import left, without ids and times, to compare two runs."""

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from django.db import transaction

from threadline.parties.models import ContactPoint, Party, Relationship
from threadline.search.models import SearchTerm
from threadline.timeline.models import Event
from threadline.transfer.report import ImportReport

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def snapshot() -> dict[str, Any]:
    """Every party with its points, tags, terms and events, in a fixed order."""
    parties = {}
    for party in Party.objects.order_by("sort_name", "external_id"):
        parties[f"{party.sort_name}|{party.source}|{party.external_id}"] = {
            "fields": (
                party.kind,
                party.display_name,
                party.given_name,
                party.family_name,
                party.stage,
                party.birthday,
                party.last_interaction_at,
                party.awaiting_reply_since,
            ),
            "points": sorted(
                ContactPoint.objects.filter(party=party).values_list(
                    "kind",
                    "raw",
                    "value",
                    "extension",
                    "dialable",
                    "label",
                    "is_primary",
                )
            ),
            "tags": sorted(party.tags.values_list("name", flat=True)),
            "terms": sorted(
                SearchTerm.objects.filter(party=party).values_list("term", flat=True)
            ),
            "events": sorted(
                (
                    event.kind,
                    event.summary,
                    event.body,
                    UUID.sub("<id>", str(event.payload)),
                    event.direction,
                    event.source,
                    event.external_id,
                    event.actor_kind,
                    event.actor_label,
                    _given_time(event),
                )
                for event in Event.objects.filter(party=party)
            ),
        }
    links = sorted(
        Relationship.objects.values_list(
            "from_party__display_name", "to_party__display_name", "kind", "role"
        )
    )
    return {"parties": parties, "relationships": links}


def _given_time(event: Event) -> dt.datetime | None:
    """The time a file gave the event; None for one stamped when written."""
    if abs(event.occurred_at - event.recorded_at) < dt.timedelta(minutes=1):
        return None
    return event.occurred_at


def summary(report: ImportReport) -> tuple[Any, ...]:
    return (
        report.rows,
        report.rows_used,
        {key: count for key, count in report.created.items() if count},
        [str(problem) for problem in report.problems],
    )


def run_and_forget(run: Callable[[], ImportReport]) -> tuple[Any, dict[str, Any]]:
    """Run an import, take its record, and roll it back."""
    with transaction.atomic():
        report = run()
        taken = (summary(report), snapshot())
        transaction.set_rollback(True)
    return taken
