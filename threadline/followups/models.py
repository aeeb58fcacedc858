"""Follow-ups: promises to act, with a due time and an assignee."""

from django.conf import settings
from django.db import models

from threadline.public_ids import new_public_id


class FollowUpStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class FollowUp(models.Model):
    """A promise to do something for a party by a given time."""

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, related_name="follow_ups"
    )
    thread = models.ForeignKey(
        "threads.Thread",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="follow_ups",
    )
    summary = models.CharField(max_length=300)
    due_at = models.DateTimeField()
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="follow_ups"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        max_length=16, choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(
                fields=["assignee", "status", "due_at"], name="followup_assignee_due"
            ),
            models.Index(
                fields=["party", "status", "due_at"], name="followup_party_due"
            ),
        ]

    def __str__(self) -> str:
        return self.summary

    @property
    def is_open(self) -> bool:
        return self.status == FollowUpStatus.OPEN
