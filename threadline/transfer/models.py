"""The history of imports: what each real run read and what it created."""

import uuid

from django.db import models


class ImportRun(models.Model):
    """One import that changed the record, with its counts and row problems.

    Dry runs change nothing and leave no run behind.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.CharField(max_length=300)
    mapping = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    rows = models.PositiveIntegerField(default=0)
    rows_used = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # Counts per kind of thing created, e.g. {"person": 12, "note": 3}.
    created = models.JSONField(default=dict, blank=True)
    # Each problem as {"file", "line", "message", "skipped"}; messages quote
    # the bad values, so this is customer data like the record itself.
    problems = models.JSONField(default=list, blank=True)
    actor_label = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"import of {self.file} at {self.started_at:%Y-%m-%d %H:%M}"
