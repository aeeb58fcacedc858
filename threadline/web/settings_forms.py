"""Forms of the Settings pages and of a party's access: they read input; the
accounts and parties services check it and write."""

from typing import Any, cast

from django import forms
from django.db.models import Q

from threadline.accounts.models import Role, Team, User
from threadline.web.forms import ActiveUserChoice

EVERYONE = "everyone"
NAMED = "named"


class PersonChoices(forms.ModelMultipleChoiceField):
    """Tick boxes of people, labelled by the name they go by."""

    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


def role_choices(actor: User) -> list[tuple[str, str]]:
    """The roles this person may hand out: a manager cannot make owners."""
    if actor.role == Role.OWNER:
        return list(Role.choices)
    return [(value, label) for value, label in Role.choices if value != Role.OWNER]


class AddUserForm(forms.Form):
    """A new member of staff and the password they first sign in with."""

    name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.STAFF)
    password = forms.CharField(
        label="Initial password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters. Tell them to change it after signing in.",
    )

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = role_choices(actor)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args: Any, actor: User, current: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = role_choices(actor)
        if current not in dict(choices):
            # Show an owner's role as it is; the service refuses the change.
            choices = list(Role.choices)
        cast(forms.ChoiceField, self.fields["role"]).choices = choices


class DeactivateForm(forms.Form):
    hand_to = ActiveUserChoice(
        label="Hand their customers, open threads and follow-ups to",
        required=False,
        empty_label="No one (keep them as they are)",
    )

    def __init__(self, *args: Any, leaving: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        others = User.objects.filter(is_active=True).exclude(pk=leaving.pk)
        field = cast(ActiveUserChoice, self.fields["hand_to"])
        field.queryset = others.order_by("name", "email")


class TeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=100)


class TeamMembersForm(forms.Form):
    members = PersonChoices(queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Former staff still on the team stay listed, so that a save that
        # keeps them ticked does not silently drop them.
        people = User.objects.filter(Q(is_active=True) | Q(teams=team)).distinct()
        field = cast(PersonChoices, self.fields["members"])
        field.queryset = people.order_by("name", "email")


class PartyAccessForm(forms.Form):
    """Who may see a party: everyone, or only the named people and teams."""

    access = forms.ChoiceField(
        choices=[
            (EVERYONE, "Everyone in the business"),
            (NAMED, "Only the people and teams ticked below"),
        ],
        widget=forms.RadioSelect,
    )
    users = PersonChoices(
        label="People",
        queryset=User.objects.filter(is_active=True).order_by("name", "email"),
        required=False,
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    @property
    def restricted(self) -> bool:
        return bool(self.cleaned_data["access"] == NAMED)
