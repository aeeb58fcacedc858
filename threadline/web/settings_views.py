"""Settings: the people who use Threadline, their roles and teams, and your
own calendar feed.

Everyone signed in may read these pages, so staff know who to hand work to;
only owners and managers change them, and any other write is answered 403.
The calendar feed is the exception: each person manages their own.
"""

import logging
import uuid
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from threadline.accounts.models import Role, Team, User
from threadline.accounts.services import (
    change_role,
    create_team,
    create_user,
    deactivate_with_handover,
    issue_calendar_token,
    revoke_calendar_token,
    set_team_members,
)
from threadline.errors import InvalidInput, NotFound
from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.web.calendar_views import feed_address
from threadline.web.errors import add_service_error, staff_view
from threadline.web.http import StaffRequest
from threadline.web.settings_forms import (
    AddUserForm,
    DeactivateForm,
    RoleForm,
    TeamForm,
    TeamMembersForm,
)

logger = logging.getLogger(__name__)


@staff_view
def settings_home(request: StaffRequest) -> HttpResponse:
    return redirect("web:settings_users")


@staff_view
def users(request: StaffRequest) -> HttpResponse:
    """Everyone's role and state; owners and managers add people here."""
    form = None
    if request.method == "POST":
        Actor.for_user(request.user).require_manage()
        form = AddUserForm(request.POST, actor=request.user)
        added = form.is_valid() and _add_user(request.user, form)
        if added:
            messages.success(request, f"Added {added.display_name}.")
            return redirect("web:settings_users")
    elif request.user.can_manage:
        form = AddUserForm(actor=request.user)

    context = {"people": people_with_teams(), "form": form, "tab": "users"}
    status = 400 if form is not None and form.errors else 200
    return render(request, "web/settings/users.html", context, status=status)


@staff_view
def user_detail(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    person = _person(public_id)
    return _render_user(request, person)


@staff_view
@require_POST
def user_role(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    Actor.for_user(request.user).require_manage()
    person = _person(public_id)
    form = RoleForm(request.POST, actor=request.user, current=person.role)
    if form.is_valid():
        try:
            change_role(person, form.cleaned_data["role"], Actor.for_user(request.user))
        except InvalidInput as error:
            person.refresh_from_db()
            add_service_error(form, error)
        else:
            messages.success(
                request, f"{person.display_name} is now {person.get_role_display()}."
            )
            return redirect("web:settings_user", public_id=person.public_id)
    return _render_user(request, person, role_form=form, status=400)


@staff_view
@require_POST
def user_deactivate(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    Actor.for_user(request.user).require_manage()
    person = _person(public_id)
    form = DeactivateForm(request.POST, leaving=person)
    if form.is_valid():
        moved = _deactivate(request.user, person, form)
        if moved is not None:
            messages.success(request, _deactivated_text(person, form, moved))
            return redirect("web:settings_user", public_id=person.public_id)
    return _render_user(request, person, deactivate_form=form, status=400)


@staff_view
def teams(request: StaffRequest) -> HttpResponse:
    form = None
    if request.method == "POST":
        Actor.for_user(request.user).require_manage()
        form = TeamForm(request.POST)
        team = form.is_valid() and _create_team(request.user, form)
        if team:
            messages.success(request, f"Created the team {team.name}. Add people.")
            return redirect("web:settings_team", public_id=team.public_id)
    elif request.user.can_manage:
        form = TeamForm()

    context = {"teams": teams_with_members(), "form": form, "tab": "teams"}
    status = 400 if form is not None and form.errors else 200
    return render(request, "web/settings/teams.html", context, status=status)


@staff_view
def team_detail(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    team = _team(public_id)
    form = None
    if request.method == "POST":
        Actor.for_user(request.user).require_manage()
        form = TeamMembersForm(request.POST, team=team)
        if form.is_valid() and _set_members(request.user, team, form):
            messages.success(request, f"Saved the members of {team.name}.")
            return redirect("web:settings_team", public_id=team.public_id)
    elif request.user.can_manage:
        form = TeamMembersForm(team=team, initial={"members": team.members.all()})

    context = {"team": team, "form": form, "tab": "teams"}
    status = 400 if form is not None and form.errors else 200
    return render(request, "web/settings/team_detail.html", context, status=status)


@staff_view
def calendar_feed(request: StaffRequest) -> HttpResponse:
    """Your calendar feed: its address to copy, and making, renewing or
    turning off its secret."""
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in {"renew", "off"}:
            return HttpResponseBadRequest("Choose renew or off.")
        messages.success(request, _change_feed(request.user, action))
        return redirect("web:settings_calendar")

    token = request.user.calendar_token
    address = feed_address(request, token) if token else ""
    context = {"tab": "calendar", "address": address, "webcal": _webcal(address)}
    return render(request, "web/settings/calendar.html", context)


def _change_feed(user: User, action: str) -> str:
    """Renew or turn off the user's feed; return what to tell them."""
    if action == "off":
        revoke_calendar_token(user)
        return "Your calendar feed is off."
    renewing = bool(user.calendar_token)
    issue_calendar_token(user)
    if renewing:
        return "Your feed has a new address; the old one no longer works."
    return "Your feed is ready: copy its address below."


def _webcal(address: str) -> str:
    """The address with the scheme that opens a subscription in calendar apps."""
    rest = address.partition("://")[2]
    return f"webcal://{rest}" if rest else ""


def people_with_teams() -> QuerySet[User]:
    """Every account, active first, with its teams in one more query."""
    return User.objects.prefetch_related(
        Prefetch("teams", queryset=Team.objects.order_by("name"))
    ).order_by("-is_active", "name", "email")


def teams_with_members() -> QuerySet[Team]:
    """Every team by name, with its active members in one more query."""
    active = User.objects.filter(is_active=True).order_by("name", "email")
    return Team.objects.prefetch_related(Prefetch("members", queryset=active))


def _person(public_id: uuid.UUID) -> User:
    person = User.objects.filter(public_id=public_id).first()
    if person is None:
        raise NotFound("No such user.")
    return person


def _team(public_id: uuid.UUID) -> Team:
    team = Team.objects.filter(public_id=public_id).first()
    if team is None:
        raise NotFound("No such team.")
    return team


def _add_user(actor: User, form: AddUserForm) -> User | None:
    data = form.cleaned_data
    try:
        return create_user(
            data["email"],
            data["password"],
            role=data["role"],
            name=data["name"],
            created_by=actor,
        )
    except InvalidInput as error:
        add_service_error(form, error)
        return None


def _deactivate(actor: User, person: User, form: DeactivateForm) -> int | None:
    """Hand over and deactivate; None, with the form showing why, if refused."""
    try:
        return deactivate_with_handover(
            person, Actor.for_user(actor), form.cleaned_data["hand_to"]
        )
    except InvalidInput as error:
        add_service_error(form, error)
        return None


def _deactivated_text(person: User, form: DeactivateForm, moved: int) -> str:
    hand_to = form.cleaned_data["hand_to"]
    if hand_to is None:
        return f"Deactivated {person.display_name}."
    customers = "1 customer" if moved == 1 else f"{moved} customers"
    return (
        f"Deactivated {person.display_name} and handed {customers} "
        f"to {hand_to.display_name}."
    )


def _create_team(actor: User, form: TeamForm) -> Team | None:
    try:
        return create_team(form.cleaned_data["name"], Actor.for_user(actor))
    except InvalidInput as error:
        add_service_error(form, error)
        return None


def _set_members(actor: User, team: Team, form: TeamMembersForm) -> bool:
    try:
        set_team_members(team, form.cleaned_data["members"], Actor.for_user(actor))
    except InvalidInput as error:
        add_service_error(form, error)
        return False
    return True


def _render_user(
    request: StaffRequest,
    person: User,
    *,
    role_form: RoleForm | None = None,
    deactivate_form: DeactivateForm | None = None,
    status: int = 200,
) -> HttpResponse:
    viewer = request.user
    context: dict[str, Any] = {
        "person": person,
        "tab": "users",
        "can_change_role": _may_change_role(viewer, person),
        "can_deactivate": viewer.can_manage and person.is_active and person != viewer,
        # Counted through visible_to, so a restricted customer stays unseen.
        "owned_count": Party.objects.visible_to(viewer).filter(owner=person).count(),
        "person_teams": person.teams.order_by("name"),
    }
    if context["can_change_role"]:
        context["role_form"] = role_form or RoleForm(
            actor=viewer, current=person.role, initial={"role": person.role}
        )
    if context["can_deactivate"]:
        context["deactivate_form"] = deactivate_form or DeactivateForm(leaving=person)
    return render(request, "web/settings/user_detail.html", context, status=status)


def _may_change_role(viewer: User, person: User) -> bool:
    """Owners change anyone's role; managers anyone's but an owner's."""
    if not viewer.can_manage:
        return False
    return viewer.role == Role.OWNER or person.role != Role.OWNER
