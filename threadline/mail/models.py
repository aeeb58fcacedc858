"""Mail: synced mailboxes and their health, and senders waiting for triage."""

from django.conf import settings
from django.db import models

from threadline.public_ids import new_public_id


class Mailbox(models.Model):
    """One configured IMAP folder: where its sync got to, and how it went.

    `last_uid` is only meaningful with the `uid_validity` it was read under;
    when the server announces another validity the folder is read again.
    """

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    name = models.CharField(max_length=50, unique=True)
    host = models.CharField(max_length=255, blank=True)
    username = models.CharField(max_length=255, blank=True)
    folder = models.CharField(max_length=255, default="INBOX")
    uid_validity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Messages on the server newer than the last one read, at the last look.
    messages_waiting = models.PositiveIntegerField(default=0)
    messages_skipped = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # Set while a sync runs and after each batch it commits, so a second
    # sync started meanwhile (an overlapping cron run) stands aside.
    sync_alive_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SenderStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    ADDED = "added", "Added"
    IGNORED = "ignored", "Ignored"


class UnknownSenderQuerySet(models.QuerySet["UnknownSender"]):
    def waiting(self) -> "UnknownSenderQuerySet":
        """Senders no one has decided about yet, the latest mail first.

        They match no customer, so no restriction applies to them.
        """
        return self.filter(status=SenderStatus.WAITING).order_by("-latest_at", "-id")


class UnknownSender(models.Model):
    """An address that wrote to us, or that we wrote to, with no customer.

    Its messages are kept until someone decides: add it as a new customer,
    add it to an existing one (the messages then land on that timeline), or
    ignore it (the messages are dropped and later ones are not kept).
    """

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    address = models.CharField(max_length=320, unique=True)
    name = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=16, choices=SenderStatus.choices, default=SenderStatus.WAITING
    )
    message_count = models.PositiveIntegerField(default=0)
    latest_subject = models.CharField(max_length=300, blank=True)
    latest_at = models.DateTimeField(null=True, blank=True)
    party = models.ForeignKey(
        "parties.Party",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UnknownSenderQuerySet.as_manager()

    class Meta:
        ordering = ["-latest_at", "-id"]
        indexes = [models.Index(fields=["status", "-latest_at"], name="sender_waiting")]

    def __str__(self) -> str:
        return self.address


class HeldMessage(models.Model):
    """A message kept for an unknown sender until the sender is triaged."""

    sender = models.ForeignKey(
        UnknownSender, on_delete=models.CASCADE, related_name="messages"
    )
    key = models.CharField(max_length=300)
    occurred_at = models.DateTimeField()
    # The parsed message (ParsedMessage.as_json), recorded as it would have
    # been had the sender been known.
    message = models.JSONField()
    origin = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "key"], name="held_message_once")
        ]

    def __str__(self) -> str:
        return f"{self.sender}: {self.key}"


class MessageLink(models.Model):
    """Which thread an email's Message-ID went into, for threading replies.

    A reply names the messages it answers; looking them up here finds the
    conversation's thread without reading any event's payload.
    """

    message_key = models.CharField(max_length=300, db_index=True)
    # The message this one answers (In-Reply-To), so a parent that arrives
    # after its reply (mbox exports are not always in order) finds it.
    reply_to_key = models.CharField(max_length=300, blank=True, db_index=True)
    subject_key = models.CharField(max_length=300, blank=True, db_index=True)
    thread = models.ForeignKey(
        "threads.Thread", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message_key", "thread"], name="message_link_once"
            )
        ]

    def __str__(self) -> str:
        return self.message_key
