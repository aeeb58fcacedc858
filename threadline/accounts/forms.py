"""Forms of the account pages: first-run setup and the user's own profile;
Django's own for the rest."""

from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.conf import settings


class SetupForm(forms.Form):
    """Create the first owner's account."""

    name = forms.CharField(max_length=200, required=False, label="Your name")
    email = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters; not a common password.",
    )
    password_again = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Password again",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, second = data.get("password"), data.get("password_again")
        if first and second and first != second:
            self.add_error("password_again", "The two passwords differ.")
        return data


def time_zone_choices() -> list[tuple[str, str]]:
    """Place-named zones (Europe/London), UTC, and the business's default."""
    zones = sorted(
        zone
        for zone in available_timezones()
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "posix", "right"))
    )
    return [
        ("", f"The business's time zone ({settings.TIME_ZONE})"),
        ("UTC", "UTC"),
        *((zone, zone.replace("_", " ")) for zone in zones),
    ]


class ProfileForm(forms.Form):
    """What a user changes about their own account."""

    name = forms.CharField(max_length=200, required=False, label="Your name")
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        required=False,
        help_text="Times on every page are shown in this zone.",
    )
