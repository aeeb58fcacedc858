"""Recompute who waits for a reply now that a message recorded more than a
week after it was sent is history (kinds.awaits_reply): customers put on
Today's list by an old mailbox come off it."""

import datetime as dt

from django.db import migrations
from django.db.models import Exists, F, OuterRef, Q

# As kinds.AWAITS_REPLY_WITHIN when this was written; a migration keeps its
# own copy, so later changes to the rule do not rewrite the past.
AWAITS_REPLY_WITHIN = dt.timedelta(days=7)
REPLY_IN_PERSON = ("meeting", "visit")


def recompute(apps, schema_editor):
    party_model = apps.get_model("parties", "Party")
    event_model = apps.get_model("timeline", "Event")
    superseded = event_model.objects.filter(corrects=OuterRef("pk"))
    shown = event_model.objects.filter(~Exists(superseded))
    waiting = party_model.objects.exclude(awaiting_reply_since=None)
    for party in waiting.only("pk", "awaiting_reply_since").iterator():
        awaiting = _awaiting_since(shown.filter(party_id=party.pk))
        if awaiting != party.awaiting_reply_since:
            waiting.filter(pk=party.pk).update(awaiting_reply_since=awaiting)


def _awaiting_since(events):
    inbound = (
        events.filter(
            kind="message",
            direction="inbound",
            recorded_at__lte=F("occurred_at") + AWAITS_REPLY_WITHIN,
        )
        .order_by("-occurred_at", "-id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if inbound is None:
        return None
    replied = events.filter(occurred_at__gt=inbound).filter(
        Q(kind__in=["call", "message", *REPLY_IN_PERSON], direction="outbound")
        | Q(kind__in=REPLY_IN_PERSON)
    )
    return None if replied.exists() else inbound


class Migration(migrations.Migration):
    dependencies = [
        ("timeline", "0004_public_ids_in_time_order"),
        ("parties", "0005_public_ids_in_time_order"),
    ]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
