"""Who may see a party: owners and managers restrict it to named people and
teams, or open it to everyone again."""

import logging
import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from threadline.errors import InvalidInput
from threadline.parties.access import party_for_read
from threadline.parties.models import Party
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor
from threadline.web.errors import add_service_error, staff_view
from threadline.web.http import StaffRequest
from threadline.web.settings_forms import EVERYONE, NAMED, PartyAccessForm

logger = logging.getLogger(__name__)


@staff_view
def party_access(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    party = party_for_read(request.user, public_id)
    actor = Actor.for_user(request.user)
    actor.require_manage()

    form = PartyAccessForm(request.POST or None, initial=_initial(party))
    if request.method == "POST" and form.is_valid() and _save(party, actor, form):
        messages.success(request, _saved_text(party))
        return redirect("web:party", public_id=party.public_id)

    status = 400 if form.errors else 200
    context = {"party": party, "form": form}
    return render(request, "web/party_access.html", context, status=status)


def _initial(party: Party) -> dict[str, Any]:
    return {
        "access": NAMED if party.restricted else EVERYONE,
        "users": party.allowed_users.all(),
        "teams": party.allowed_teams.all(),
    }


def _save(party: Party, actor: Actor, form: PartyAccessForm) -> bool:
    try:
        restrict_party(
            party,
            actor,
            restricted=form.restricted,
            users=form.cleaned_data["users"],
            teams=form.cleaned_data["teams"],
        )
    except InvalidInput as error:
        add_service_error(form, error)
        return False
    return True


def _saved_text(party: Party) -> str:
    if party.restricted:
        return f"{party.display_name} is now restricted to the people named."
    return f"{party.display_name} is open to everyone in the business."
