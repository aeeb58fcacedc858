"""The history of imports: what each real run read, created and undid."""

from django.conf import settings
from django.db import models

from threadline.public_ids import new_public_id

# The format of a run that restored a whole archive into an empty install.
RESTORE_FORMAT = "archive"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Stopped by an error"
    UNDONE = "undone", "Undone"


class ImportRun(models.Model):
    """One import that changed the record, with its counts and row problems.

    A run is stored when it starts, so the web app can show its progress and
    a run that was killed stays in the history, as interrupted. Every event the
    run writes carries its `actor_label`, which is unique to the run: that is
    how an undo finds what the run did. Dry runs change nothing and leave no
    run behind.
    """

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    file = models.CharField(max_length=300)
    # csv, xlsx, vcard, icalendar, email, dataset or archive.
    format = models.CharField(max_length=20, blank=True)
    mapping = models.CharField(max_length=100)
    source = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    error = models.TextField(blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    rows_used = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # Counts per kind of thing created, e.g. {"person": 12, "note": 3}.
    created = models.JSONField(default=dict, blank=True)
    # Each problem as {"file", "line", "message", "skipped"}; messages quote
    # the bad values, so this is customer data like the record itself.
    problems = models.JSONField(default=list, blank=True)
    actor_label = models.CharField(max_length=200)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # What the undo reversed, counted like `created`.
    undone = models.JSONField(default=dict, blank=True)
    # The process at work on the run, its import and then its undo: a claim
    # whose process is gone from this host is dead at once, without waiting
    # for its heartbeat (`updated_at`) to go stale. The thread is set once the
    # work itself starts, for runs worked on a thread of the web process.
    owner_host = models.CharField(max_length=255, blank=True)
    owner_pid = models.PositiveIntegerField(null=True, blank=True)
    owner_thread = models.PositiveBigIntegerField(null=True, blank=True)
    # When the parties the run wrote were searched for duplicates. Empty until
    # then: a run killed before its search has its parties searched after the
    # next import that finishes.
    duplicates_searched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["actor_label"], name="import_run_actor")]

    def __str__(self) -> str:
        return f"import of {self.file} at {self.started_at:%Y-%m-%d %H:%M}"
