"""Parties, their contact points, relationships, tags and pinned facts."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from threadline.accounts.models import User
from threadline.parties.contact_points import format_phone
from threadline.public_ids import new_public_id


class PartyKind(models.TextChoices):
    PERSON = "person", "Person"
    ORGANISATION = "organisation", "Organisation"
    HOUSEHOLD = "household", "Household"


class Stage(models.TextChoices):
    LEAD = "lead", "Lead"
    PROSPECT = "prospect", "Prospect"
    CUSTOMER = "customer", "Customer"
    FORMER = "former", "Former customer"


class Channel(models.TextChoices):
    ANY = "", "No preference"
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    WHATSAPP = "whatsapp", "WhatsApp"
    POST = "post", "Post"
    IN_PERSON = "in_person", "In person"


class Consent(models.TextChoices):
    UNKNOWN = "unknown", "Not asked"
    GRANTED = "granted", "May be contacted"
    DENIED = "denied", "Do not contact"


class Tag(models.Model):
    """A free label on parties, such as 'vip' or 'commercial'."""

    name = models.CharField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartyQuerySet(models.QuerySet["Party"]):
    def visible_to(self, user: User, *, archived: bool = False) -> "PartyQuerySet":
        """Parties the user may see: all unrestricted ones, and restricted
        ones they own, are named on, or are in a named team of; archived ones
        only when asked for."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        named = Party.allowed_users.through.objects.filter(
            party=OuterRef("pk"), user=user
        )
        via_team = Party.allowed_teams.through.objects.filter(
            party=OuterRef("pk"), team__members=user
        )
        allowed = self.filter(
            Q(restricted=False) | Q(owner=user) | Exists(named) | Exists(via_team)
        )
        return allowed if archived else allowed.filter(archived_at__isnull=True)


class Party(models.Model):
    """A person or organisation the business deals with."""

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    kind = models.CharField(
        max_length=16, choices=PartyKind.choices, default=PartyKind.PERSON
    )
    display_name = models.CharField(max_length=300)
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    sort_name = models.CharField(max_length=300, db_index=True, editable=False)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.LEAD)
    stage_changed_at = models.DateTimeField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_parties",
    )
    owner_changed_at = models.DateTimeField(null=True, blank=True)
    preferred_channel = models.CharField(
        max_length=16, choices=Channel.choices, default=Channel.ANY, blank=True
    )
    contact_hours = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=35, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    consent = models.CharField(
        max_length=16, choices=Consent.choices, default=Consent.UNKNOWN
    )
    tags = models.ManyToManyField(Tag, related_name="parties", blank=True)
    restricted = models.BooleanField(default=False)
    allowed_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="opened_parties", blank=True
    )
    allowed_teams = models.ManyToManyField(
        "accounts.Team", related_name="opened_parties", blank=True
    )
    # Derived from the timeline by record_event, in the same transaction, so
    # that Today and the customer list never scan events.
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    awaiting_reply_since = models.DateTimeField(null=True, blank=True)
    birthday = models.DateField(null=True, blank=True)
    # A small picture from an address book, kept as the file's bytes.
    photo = models.BinaryField(null=True, blank=True, editable=False)
    photo_type = models.CharField(max_length=50, blank=True)
    # An archived party is out of every list and search but keeps its
    # history: merged into another, or created by an import that was undone.
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_reason = models.CharField(max_length=200, blank=True)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_parties",
    )
    source = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartyQuerySet.as_manager()

    class Meta:
        ordering = ["sort_name", "id"]
        verbose_name_plural = "parties"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="party_unique_source_external_id",
            )
        ]
        indexes = [
            # SQLite never uses the partial unique index above for a bound
            # parameter, so idempotency look-ups need this plain one.
            models.Index(
                fields=["source", "external_id"], name="party_source_external_id"
            ),
            models.Index(fields=["owner", "stage"], name="party_owner_stage"),
            models.Index(fields=["awaiting_reply_since"], name="party_awaiting_reply"),
            models.Index(fields=["last_interaction_at"], name="party_last_interaction"),
        ]

    def __str__(self) -> str:
        return self.display_name


class ContactKind(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    ADDRESS = "address", "Postal address"
    HANDLE = "handle", "Handle"


class ContactPoint(models.Model):
    """An email, phone, postal address or handle of a party, normalised.

    `value` is the normalised form used to find the party (a lower-cased email,
    an E.164 phone, a one-line address); `raw` keeps what was typed.
    """

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    party = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="contact_points"
    )
    kind = models.CharField(max_length=16, choices=ContactKind.choices)
    label = models.CharField(max_length=50, blank=True)
    raw = models.CharField(max_length=500)
    value = models.CharField(max_length=500)
    extension = models.CharField(max_length=20, blank=True)
    dialable = models.BooleanField(default=True)
    is_primary = models.BooleanField(default=False)
    is_service_site = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "-is_primary", "id"]
        indexes = [models.Index(fields=["kind", "value"], name="contact_kind_value")]

    def __str__(self) -> str:
        return self.display

    @property
    def display(self) -> str:
        if self.kind == ContactKind.EMAIL:
            return self.raw.strip()
        if self.kind == ContactKind.PHONE:
            # An undialable number is shown as typed: its digits alone would
            # drop a "+" or the spacing that tells its parts apart.
            if self.dialable:
                return format_phone(self.value, self.extension)
            return self.raw.strip() or self.value
        return self.value


class RelationshipKind(models.TextChoices):
    WORKS_AT = "works_at", "works at"
    HOUSEHOLD = "household_member", "household member of"
    REFERRED_BY = "referred_by", "referred by"
    BILLING_CONTACT = "billing_contact_for", "billing contact for"


class RelationshipQuerySet(models.QuerySet["Relationship"]):
    def visible_to(self, user: User) -> "RelationshipQuerySet":
        """Links whose both ends the user may see, so a restricted party never
        shows through a party it is linked to."""
        visible = Party.objects.visible_to(user)
        return self.filter(
            Exists(visible.filter(pk=OuterRef("from_party_id"))),
            Exists(visible.filter(pk=OuterRef("to_party_id"))),
        )


class Relationship(models.Model):
    """A typed, dated link from one party to another."""

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    from_party = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="relationships_out"
    )
    to_party = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="relationships_in"
    )
    kind = models.CharField(max_length=32, choices=RelationshipKind.choices)
    role = models.CharField(max_length=100, blank=True)
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RelationshipQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self) -> str:
        return f"{self.from_party} {self.get_kind_display()} {self.to_party}"

    @property
    def is_current(self) -> bool:
        return self.ended_on is None


class FactCategory(models.TextChoices):
    PREFERENCE = "preference", "Preference"
    PROBLEM = "problem", "Past problem"
    OTHER = "other", "Fact"


class PinnedFact(models.Model):
    """Something everyone must know and no one should ask again."""

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    party = models.ForeignKey(
        Party, on_delete=models.CASCADE, related_name="pinned_facts"
    )
    category = models.CharField(
        max_length=16, choices=FactCategory.choices, default=FactCategory.OTHER
    )
    text = models.CharField(max_length=500)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    unpinned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.text


class CandidateStatus(models.TextChoices):
    OPEN = "open", "To review"
    NOT_DUPLICATES = "not_duplicates", "Not duplicates"
    MERGED = "merged", "Merged"


class DuplicateCandidateQuerySet(models.QuerySet["DuplicateCandidate"]):
    def visible_to(self, user: User) -> "DuplicateCandidateQuerySet":
        """Pairs whose both parties the user may see (archived ones never)."""
        visible = Party.objects.visible_to(user)
        return self.filter(
            Exists(visible.filter(pk=OuterRef("first_id"))),
            Exists(visible.filter(pk=OuterRef("second_id"))),
        )


class DuplicateCandidate(models.Model):
    """Two parties that may be one, with a score and the reasons in words.

    The pair is stored with the lower party id first, so it exists once
    whichever side it was found from. A pair someone marked "not duplicates"
    keeps that status and is never proposed again.
    """

    public_id = models.UUIDField(default=new_public_id, unique=True, editable=False)
    first = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=CandidateStatus.choices, default=CandidateStatus.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DuplicateCandidateQuerySet.as_manager()

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["first", "second"], name="duplicate_candidate_unique_pair"
            ),
            models.CheckConstraint(
                condition=Q(first__lt=models.F("second")),
                name="duplicate_candidate_ordered_pair",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-score"], name="duplicate_status_score"),
            models.Index(fields=["second"], name="duplicate_second"),
        ]

    def __str__(self) -> str:
        return f"{self.first} / {self.second} ({self.score})"
