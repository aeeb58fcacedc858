"""Give all-day bookings recorded by their days alone the time they are for
(the start of their first day where the business is), so that the brief, Today
and the calendar feeds find them as they find every other booking."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.db import migrations


def schedule(apps, schema_editor):
    event_model = apps.get_model("timeline", "Event")
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    unscheduled = event_model.objects.filter(
        kind="booking", scheduled_for=None, payload__all_day=True
    )
    for event in unscheduled.only("pk", "payload").iterator():
        first_day = event.payload.get("first_day")
        if not first_day:
            continue
        midnight = dt.datetime.combine(
            dt.date.fromisoformat(first_day), dt.time.min, tzinfo=zone
        )
        unscheduled.filter(pk=event.pk).update(scheduled_for=midnight)


class Migration(migrations.Migration):
    dependencies = [("timeline", "0005_history_awaits_no_reply")]

    operations = [migrations.RunPython(schedule, migrations.RunPython.noop)]
