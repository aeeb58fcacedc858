"""Forms of the staff web app: they read and check input; services write."""

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from threadline.accounts.models import Role, User
from threadline.parties.models import (
    Channel,
    Consent,
    ContactKind,
    FactCategory,
    Party,
    PartyKind,
    RelationshipKind,
    Stage,
    Tag,
)
from threadline.timeline.kinds import Kind

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
CENTS = Decimal("0.01")
LOG_KINDS = [
    (Kind.CALL, "Call"),
    (Kind.MESSAGE, "Message"),
    (Kind.NOTE, "Note"),
    (Kind.MEETING, "Meeting"),
    (Kind.QUOTE, "Quote"),
    (Kind.PAYMENT, "Payment"),
    (Kind.VISIT, "Visit"),
    (Kind.FOLLOW_UP, "Follow-up"),
]
MONEY_KINDS = {Kind.QUOTE, Kind.PAYMENT}
DIRECTED_KINDS = {Kind.CALL, Kind.MESSAGE}


def local_datetime_input(**attrs: Any) -> forms.DateTimeInput:
    return forms.DateTimeInput(
        attrs={"type": "datetime-local", **attrs}, format=DATETIME_FORMAT
    )


def default_currency() -> str:
    """The business's currency (THREADLINE_CURRENCY, else its region's)."""
    return str(settings.DEFAULT_CURRENCY)


class ActiveUserChoice(forms.ModelChoiceField):
    """Active members of staff who may change the record (viewers cannot own
    customers or finish follow-ups)."""

    def __init__(self, **kwargs: Any) -> None:
        people = User.objects.filter(is_active=True).exclude(role=Role.VIEWER)
        super().__init__(queryset=people.order_by("name", "email"), **kwargs)

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class QuickLogForm(forms.Form):
    """Log what just happened with a party: an event, or a follow-up."""

    kind = forms.ChoiceField(
        choices=LOG_KINDS, initial=Kind.CALL, widget=forms.RadioSelect
    )
    summary = forms.CharField(
        max_length=500,
        widget=forms.TextInput(
            attrs={
                "accesskey": "l",
                "autocomplete": "off",
                "placeholder": "What happened, in one line",
            }
        ),
    )
    body = forms.CharField(
        label="Details", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    occurred_at = forms.DateTimeField(
        label="When", required=False, widget=local_datetime_input()
    )
    direction = forms.ChoiceField(
        choices=[("outbound", "We reached out"), ("inbound", "They reached us")],
        initial="outbound",
        required=False,
    )
    channel = forms.ChoiceField(
        choices=[
            ("email", "Email"),
            ("sms", "Text message"),
            ("whatsapp", "WhatsApp"),
            ("letter", "Letter"),
            ("other", "Other"),
        ],
        initial="email",
        required=False,
    )
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal(0), required=False
    )
    currency = forms.CharField(
        max_length=3, min_length=3, required=False, initial=default_currency
    )
    due_at = forms.DateTimeField(
        label="Due", required=False, widget=local_datetime_input()
    )
    assignee = ActiveUserChoice(required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].initial = user.pk
        tomorrow = timezone.localtime() + dt.timedelta(days=1)
        self.fields["due_at"].initial = tomorrow.replace(
            hour=9, minute=0, second=0, microsecond=0
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("kind")
        if kind in MONEY_KINDS:
            for name in ("amount", "currency"):
                if data.get(name) in (None, ""):
                    self.add_error(name, f"A {kind} needs an amount and a currency.")
        if kind == Kind.FOLLOW_UP:
            if data.get("due_at") is None:
                self.add_error("due_at", "Say when the follow-up is due.")
            if data.get("assignee") is None:
                self.add_error("assignee", "Say who will do it.")
        return data

    def payload(self) -> dict[str, Any]:
        """The event payload for the chosen kind, from the cleaned fields."""
        data = self.cleaned_data
        kind = data["kind"]
        payload: dict[str, Any] = {}
        if kind in DIRECTED_KINDS:
            payload["direction"] = data.get("direction") or "outbound"
        if kind == Kind.MESSAGE:
            payload["channel"] = data.get("channel") or "email"
        if kind in MONEY_KINDS:
            payload["amount"] = str(data["amount"].quantize(CENTS))
            payload["currency"] = data["currency"].upper()
        return payload


class CustomerFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        widget=forms.SearchInput(
            attrs={"placeholder": "Name, email or phone", "autocomplete": "off"}
        ),
    )
    stage = forms.ChoiceField(
        choices=[("", "Any stage"), *Stage.choices], required=False
    )
    owner = forms.ChoiceField(required=False)
    tag = forms.ModelChoiceField(
        queryset=Tag.objects.order_by("name"),
        to_field_name="name",
        required=False,
        empty_label="Any tag",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = User.objects.filter(is_active=True).order_by("name", "email")
        cast(forms.ChoiceField, self.fields["owner"]).choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "No owner"),
            *((str(person.public_id), person.display_name) for person in people),
        ]
        # A tag used only on customers hidden from the user is not offered.
        visible_tags = Tag.objects.filter(
            Exists(
                Party.tags.through.objects.filter(
                    tag=OuterRef("pk"), party__in=Party.objects.visible_to(user)
                )
            )
        )
        cast(
            forms.ModelChoiceField, self.fields["tag"]
        ).queryset = visible_tags.order_by("name")


class PartyForm(forms.Form):
    """The fields of a party a person edits directly."""

    kind = forms.ChoiceField(choices=PartyKind.choices, initial=PartyKind.PERSON)
    given_name = forms.CharField(max_length=150, required=False)
    family_name = forms.CharField(max_length=150, required=False)
    display_name = forms.CharField(
        label="Name shown",
        max_length=300,
        required=False,
        help_text="For an organisation or household; people's names are joined.",
    )
    stage = forms.ChoiceField(choices=Stage.choices, initial=Stage.LEAD)
    owner = ActiveUserChoice(required=False, empty_label="No owner")
    preferred_channel = forms.ChoiceField(choices=Channel.choices, required=False)
    contact_hours = forms.CharField(
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. weekdays after 17:00"}),
    )
    language = forms.CharField(
        max_length=35,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. en, de, Spanish"}),
    )
    time_zone = forms.CharField(
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Europe/London"}),
    )
    consent = forms.ChoiceField(choices=Consent.choices, initial=Consent.UNKNOWN)
    birthday = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    version = forms.CharField(required=False, widget=forms.HiddenInput)
    tags = forms.CharField(
        required=False,
        help_text="Separate tags with commas.",
        widget=forms.TextInput(attrs={"placeholder": "vip, commercial"}),
    )

    def fields_for_service(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "given_name": data["given_name"],
            "family_name": data["family_name"],
            "display_name": data["display_name"],
            "stage": data["stage"],
            "owner": data["owner"],
            "preferred_channel": data["preferred_channel"],
            "contact_hours": data["contact_hours"],
            "language": data["language"],
            "time_zone": data["time_zone"],
            "consent": data["consent"],
            "birthday": data["birthday"],
        }

    def tag_names(self) -> list[str]:
        return [name for name in self.cleaned_data["tags"].split(",") if name.strip()]


class NewPartyForm(PartyForm):
    phone = forms.CharField(
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "placeholder": "any format"}),
    )
    email = forms.CharField(max_length=300, required=False, widget=forms.EmailInput())
    address = forms.CharField(label="Postal address", max_length=500, required=False)


class ContactPointForm(forms.Form):
    kind = forms.ChoiceField(choices=ContactKind.choices, initial=ContactKind.PHONE)
    raw = forms.CharField(label="Value", max_length=500)
    label = forms.CharField(
        max_length=50,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "home, work, mobile"}),
    )
    is_primary = forms.BooleanField(label="Primary", required=False)
    is_service_site = forms.BooleanField(
        label="Service site (address where visits happen)", required=False
    )


class RelationshipForm(forms.Form):
    kind = forms.ChoiceField(choices=RelationshipKind.choices)
    other = forms.UUIDField(
        label="Other party", error_messages={"required": "Pick the other party."}
    )
    role = forms.CharField(max_length=100, required=False)
    started_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class EndRelationshipForm(forms.Form):
    ended_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class PinFactForm(forms.Form):
    text = forms.CharField(
        label="Fact",
        max_length=500,
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. Dog in the garden: ring before entering"}
        ),
    )
    category = forms.ChoiceField(
        choices=FactCategory.choices, initial=FactCategory.PREFERENCE
    )


class RescheduleForm(forms.Form):
    """A new due time, typed or picked from a preset."""

    PRESETS = {"tomorrow": 1, "next_week": 7}

    due_at = forms.DateTimeField(required=False, widget=local_datetime_input())
    preset = forms.ChoiceField(
        choices=[("", ""), ("tomorrow", "Tomorrow"), ("next_week", "Next week")],
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("preset") and data.get("due_at") is None:
            raise forms.ValidationError("Pick a new due time.")
        return data

    def new_due_at(self) -> dt.datetime:
        preset = self.cleaned_data.get("preset")
        if not preset:
            return self.cleaned_data["due_at"]
        day = timezone.localtime() + dt.timedelta(days=self.PRESETS[preset])
        return day.replace(hour=9, minute=0, second=0, microsecond=0)


class FinishFollowUpForm(forms.Form):
    note = forms.CharField(max_length=300, required=False)


class CorrectEventForm(forms.Form):
    summary = forms.CharField(max_length=500)
    body = forms.CharField(
        label="Details", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RedactEventForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "Why it should go"}),
    )
