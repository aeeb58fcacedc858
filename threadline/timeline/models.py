"""The timeline: immutable events, one row per thing that happened."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from threadline.public_ids import new_public_id
from threadline.timeline.actors import ActorKind
from threadline.timeline.kinds import Kind

if TYPE_CHECKING:
    from threadline.accounts.models import User


class EventQuerySet(models.QuerySet["Event"]):
    def effective(self) -> "EventQuerySet":
        """Events as the timeline shows them: without those a later event
        corrected or redacted."""
        superseding = Event.objects.filter(corrects=OuterRef("pk"))
        return self.filter(~Exists(superseding))

    def visible_to(self, user: "User") -> "EventQuerySet":
        """Events on parties the user may see, tested row by row with EXISTS so
        the events' own index drives the query."""
        from threadline.parties.models import Party

        visible = Party.objects.visible_to(user).filter(pk=OuterRef("party_id"))
        return self.filter(Exists(visible))


class Event(models.Model):
    """One immutable entry on a party's timeline.

    Rows are only ever inserted. A wrong event is superseded by a newer one
    whose `corrects` points at it; the history keeps both.
    """

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, related_name="events"
    )
    thread = models.ForeignKey(
        "threads.Thread",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    occurred_tz = models.CharField(max_length=64)
    recorded_at = models.DateTimeField(auto_now_add=True)
    summary = models.CharField(max_length=500)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    direction = models.CharField(max_length=8, blank=True)
    # When a booking or meeting takes place, copied from the payload so that
    # Today finds the day's bookings through an index.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200)
    source = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=300, blank=True)
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
    )

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="event_unique_source_external_id",
            )
        ]
        indexes = [
            # SQLite never uses the partial unique index above for a bound
            # parameter, so idempotency look-ups need this plain one.
            models.Index(
                fields=["source", "external_id"], name="event_source_external_id"
            ),
            # The timeline page and the brief read newest-first per party.
            models.Index(
                fields=["party", "-occurred_at", "-id"], name="event_party_time"
            ),
            models.Index(
                fields=["party", "kind", "-occurred_at"], name="event_party_kind_time"
            ),
            models.Index(fields=["kind", "scheduled_for"], name="event_kind_scheduled"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"

    @property
    def is_correction(self) -> bool:
        return self.corrects_id is not None

    @property
    def is_redaction(self) -> bool:
        return self.kind == Kind.CORRECTION
