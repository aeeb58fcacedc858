"""The migration that takes customers waiting on old mail off Today's list."""

import datetime as dt
import importlib

import pytest
from django.apps import apps

from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.timeline.services import record_event

pytestmark = pytest.mark.django_db

migration = importlib.import_module(
    "threadline.timeline.migrations.0005_history_awaits_no_reply"
)


def message(party: Party, when: dt.datetime, direction: str = "inbound") -> None:
    record_event(
        party,
        "message",
        "About the boiler",
        actor=Actor.system("test"),
        occurred_at=when,
        payload={"direction": direction},
    )


def test_only_waits_on_old_mail_are_taken_back(make_party, now) -> None:
    old_mail = make_party("Jane Example")
    message(old_mail, now - dt.timedelta(days=400))
    fresh_mail = make_party("Raj Sample")
    message(fresh_mail, now - dt.timedelta(days=1))
    # As an install upgraded from before the rule holds them.
    Party.objects.filter(pk=old_mail.pk).update(
        awaiting_reply_since=now - dt.timedelta(days=400)
    )

    migration.recompute(apps, None)

    old_mail.refresh_from_db()
    fresh_mail.refresh_from_db()
    assert old_mail.awaiting_reply_since is None
    assert fresh_mail.awaiting_reply_since == now - dt.timedelta(days=1)
