"""The migration that gives all-day bookings recorded by their days alone the
time they are for."""

import datetime as dt
import importlib

import pytest
from django.apps import apps

from threadline.timeline.actors import Actor
from threadline.timeline.models import Event
from threadline.timeline.services import record_event

pytestmark = pytest.mark.django_db

migration = importlib.import_module(
    "threadline.timeline.migrations.0006_all_day_bookings_scheduled"
)


def test_an_unscheduled_all_day_booking_gets_its_first_day(make_party, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    booking, _ = record_event(
        make_party("Jane Example"),
        "booking",
        "Site survey",
        actor=Actor.system("test"),
        payload={"all_day": True, "first_day": "2026-12-07"},
    )
    # As an install upgraded from before all-day bookings were scheduled.
    Event.objects.filter(pk=booking.pk).update(scheduled_for=None)

    migration.schedule(apps, None)

    booking.refresh_from_db()
    assert booking.scheduled_for == dt.datetime(2026, 12, 6, 23, tzinfo=dt.UTC)
