"""Threads: an ongoing piece of business with a party, and its status."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from threadline.public_ids import new_public_id


class ThreadKind(models.TextChoices):
    ENQUIRY = "enquiry", "Enquiry"
    QUOTE = "quote", "Quote"
    JOB = "job", "Job"
    BOOKING = "booking", "Booking"
    COMPLAINT = "complaint", "Complaint"
    DEAL = "deal", "Deal"


class ThreadStatus(models.TextChoices):
    OPEN = "open", "Open"
    WAITING_ON_US = "waiting_on_us", "Waiting on us"
    WAITING_ON_THEM = "waiting_on_them", "Waiting on them"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    DONE = "done", "Done"


OPEN_STATUSES = (
    ThreadStatus.OPEN,
    ThreadStatus.WAITING_ON_US,
    ThreadStatus.WAITING_ON_THEM,
)


class Thread(models.Model):
    """An enquiry, quote, job, booking or complaint that groups events."""

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, related_name="threads"
    )
    kind = models.CharField(max_length=16, choices=ThreadKind.choices)
    title = models.CharField(max_length=300)
    status = models.CharField(
        max_length=16, choices=ThreadStatus.choices, default=ThreadStatus.OPEN
    )
    next_step = models.CharField(max_length=300, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="threads",
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="thread_unique_source_external_id",
            )
        ]
        indexes = [
            models.Index(fields=["party", "status"], name="thread_party_status"),
            # SQLite never uses the partial unique index above for a bound
            # parameter, so idempotency look-ups need this plain one.
            models.Index(
                fields=["source", "external_id"], name="thread_source_external_id"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
