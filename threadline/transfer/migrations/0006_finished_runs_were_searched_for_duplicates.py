"""Mark the imports that finished before runs kept the time of their duplicate
search as searched: each had its search as it finished. Runs that stopped,
were killed or were undone may never have had one, and stay unmarked, so the
next import to finish searches the parties they wrote, once."""

from django.db import migrations
from django.db.models import F

# RunStatus.DONE when this was written.
DONE = "done"


def mark_finished_runs(apps, schema_editor):
    import_run_model = apps.get_model("transfer", "ImportRun")
    # update(), not save(): a newer updated_at would make a dead run look alive.
    import_run_model.objects.filter(status=DONE, duplicates_searched_at=None).update(
        duplicates_searched_at=F("finished_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("transfer", "0005_importrun_duplicates_searched_at"),
    ]

    operations = [migrations.RunPython(mark_finished_runs, migrations.RunPython.noop)]
