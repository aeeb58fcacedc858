"""A person's data request: download everything held about them, or erase it.

Owners and managers only; anyone else is answered 403. Erasure asks for the
person's name to be typed, so that it is never one click away.
"""

import json
import logging
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from threadline.errors import InvalidInput
from threadline.parties.access import party_for_read
from threadline.parties.models import Party, PartyKind
from threadline.parties.names import fold
from threadline.parties.privacy import (
    REASON_MAX,
    erase_person,
    erasure_of,
    export_person,
    require_request_rights,
)
from threadline.public_ids import short_id
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event
from threadline.web.errors import add_service_error, staff_view
from threadline.web.http import StaffRequest

logger = logging.getLogger(__name__)


class ErasureForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX,
        label="Reason",
        help_text="How the request came in, e.g. 'Asked by email on 3 March'. "
        "No personal details: this stays on the record.",
    )
    confirm_name = forms.CharField(max_length=300, label="Type their name to confirm")

    def __init__(self, *args: Any, party: Party, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.party = party
        self.fields["confirm_name"].help_text = f"Type {party.display_name}"

    def clean_confirm_name(self) -> str:
        typed: str = self.cleaned_data["confirm_name"]
        if fold(typed) != fold(self.party.display_name):
            raise forms.ValidationError(
                f"That is not the name; type {self.party.display_name} to confirm."
            )
        return typed


@staff_view
def data_request(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    party = party_for_read(request.user, public_id)
    actor = Actor.for_user(request.user)
    require_request_rights(party, actor)

    form = ErasureForm(request.POST or None, party=party)
    if request.method == "POST" and form.is_valid() and _erase(party, actor, form):
        messages.success(
            request,
            "The personal data was erased. The record keeps this shell so that "
            "links and counts still hold.",
        )
        return redirect("web:party", public_id=party.public_id)

    context = {
        "party": party,
        "form": form,
        "erasure": erasure_of(party),
        "is_person": party.kind == PartyKind.PERSON,
        "event_count": Event.objects.filter(party=party).count(),
    }
    status = 400 if form.errors else 200
    return render(request, "web/data_request.html", context, status=status)


@staff_view
@require_GET
def data_export(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    """Everything held about the person, as a JSON file to hand to them."""
    party = party_for_read(request.user, public_id)
    document = export_person(party, Actor.for_user(request.user))

    body = json.dumps(document, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder)
    response = HttpResponse(body + "\n", content_type="application/json")
    name = f"personal-data-{short_id(party.public_id)}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def _erase(party: Party, actor: Actor, form: ErasureForm) -> bool:
    try:
        erase_person(party, actor, form.cleaned_data["reason"])
    except InvalidInput as error:
        add_service_error(form, error)
        return False
    return True
