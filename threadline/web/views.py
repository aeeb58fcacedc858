"""Pages of the staff web app. Views read through access helpers and write
only through the apps' services; each serves its page or its htmx fragment."""

import datetime as dt
import logging
import re
import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import (
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    prefetch_related_objects,
)
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    reswap,
    retarget,
    trigger_client_event,
)

from threadline.accounts.models import User
from threadline.brief.services import compute_brief
from threadline.errors import Conflict, InvalidInput, NotFound
from threadline.followups.models import FollowUp
from threadline.followups.services import (
    complete_follow_up,
    create_follow_up,
    reschedule_follow_up,
)
from threadline.parties.access import party_for_read, party_for_write
from threadline.parties.models import (
    ContactPoint,
    Party,
    PinnedFact,
    Relationship,
)
from threadline.parties.services import (
    add_contact_point,
    add_relationship,
    create_party,
    end_relationship,
    party_version,
    pin_fact,
    remove_contact_point,
    set_tags,
    unpin_fact,
    update_party,
)
from threadline.search.services import search_parties
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import INTERACTION_KINDS, Kind
from threadline.timeline.models import Event
from threadline.timeline.services import (
    correct_event,
    latest_version,
    record_event,
    redact_event,
)
from threadline.web.duplicates_views import survivor_redirect
from threadline.web.errors import add_service_error, staff_view
from threadline.web.forms import (
    ContactPointForm,
    CorrectEventForm,
    CustomerFilterForm,
    EndRelationshipForm,
    FinishFollowUpForm,
    NewPartyForm,
    PartyForm,
    PinFactForm,
    QuickLogForm,
    RedactEventForm,
    RelationshipForm,
    RescheduleForm,
)
from threadline.web.http import StaffRequest
from threadline.web.timeline import Cursor, TimelinePage, timeline_page
from threadline.web.today import FollowUpRow, today_for

logger = logging.getLogger(__name__)

CUSTOMERS_PER_PAGE = 25
# A search narrows to this many best matches before the filters apply.
SEARCH_LIMIT = 500
PICKER_LIMIT = 8
_PRIMARY_POINTS = Prefetch(
    "contact_points",
    queryset=ContactPoint.objects.filter(is_primary=True).order_by("kind"),
    to_attr="primary_points",
)
EARLIEST_AS_OF = dt.date(1900, 1, 1)
PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]{6,}")


@staff_view
def today(request: StaffRequest) -> HttpResponse:
    return render(request, "web/today.html", {"today": today_for(request.user)})


@staff_view
def customers(request: StaffRequest) -> HttpResponse:
    form = CustomerFilterForm(request.GET or None, user=request.user)
    parties = _filtered_parties(request.user, form).prefetch_related(
        _PRIMARY_POINTS, "tags"
    )
    page = Paginator(parties, CUSTOMERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "query": _query_without_page(request)}

    if request.GET.get("go") and page.paginator.count == 1:
        # The header's search jumps straight to a customer it alone matches.
        return redirect("web:party", public_id=page.object_list[0].public_id)
    if request.htmx and request.htmx.target == "customer-results":
        return render(request, "web/partials/customer_results.html", context)
    return render(request, "web/customers.html", context)


@staff_view
def party_pick(request: StaffRequest) -> HttpResponse:
    """Search results to pick another party from, e.g. for a relationship."""
    query = request.GET.get("q", "")
    exclude = request.GET.get("exclude", "")
    parties = [
        party
        for party in search_parties(request.user, query, limit=PICKER_LIMIT + 1)
        if str(party.public_id) != exclude
    ][:PICKER_LIMIT]
    # Two people of one name are told apart by their email or phone.
    prefetch_related_objects(parties, _PRIMARY_POINTS)
    return render(
        request, "web/partials/party_pick.html", {"parties": parties, "query": query}
    )


@staff_view
def party_new(request: StaffRequest) -> HttpResponse:
    initial = {"owner": request.user.pk, **_initial_from_search(request.GET.get("q"))}
    form = NewPartyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        party = _create_party(request.user, form)
        if party is not None:
            messages.success(request, f"Added {party.display_name}.")
            return redirect("web:party", public_id=party.public_id)
    return render(request, "web/party_form.html", {"form": form, "party": None})


@staff_view
def party_detail(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    try:
        party = party_for_read(request.user, public_id)
    except NotFound:
        # A merged customer's old address leads to the one it became part of.
        return survivor_redirect(request, public_id)
    context = _timeline_context(request, party)

    if request.htmx and request.htmx.target == "timeline-more":
        return render(request, "web/partials/timeline_items.html", context)
    if request.htmx and request.htmx.target == "timeline":
        return render(request, "web/partials/timeline.html", context)
    context |= _brief_context(request, party, context["as_of"])
    return render(request, "web/party_detail.html", context)


@staff_view
def party_edit(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    party = party_for_write(request.user, public_id)
    form = PartyForm(request.POST or None, initial=_party_initial(party))
    try:
        saved = (
            request.method == "POST"
            and form.is_valid()
            and _update_party(party, request.user, form)
        )
    except Conflict as error:
        party.refresh_from_db()
        form = PartyForm(initial=_party_initial(party))
        messages.error(request, error.message)
        return _render_edit(request, party, form=form, status=409)
    if saved:
        messages.success(request, "Saved.")
        return redirect("web:party", public_id=party.public_id)
    return _render_edit(request, party, form=form)


@staff_view
@require_POST
def log_event(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    """Record what just happened; with htmx, answer with the fresh timeline."""
    party = party_for_write(request.user, public_id)
    form = QuickLogForm(request.POST, user=request.user)
    event = _log_from_form(party, request.user, form) if form.is_valid() else None
    logged = event is not None

    if logged and request.htmx:
        context = _timeline_context(request, party, fresh=True)
        context |= _brief_context(request, party, None)
        context["log_form"] = _next_log_form(request.user, form.cleaned_data["kind"])
        context["just_logged"] = True
        context["highlight"] = event.public_id if isinstance(event, Event) else None
        return render(request, "web/partials/logged.html", context)
    if logged:
        messages.success(request, "Logged.")
        return redirect("web:party", public_id=party.public_id)
    if request.htmx:
        response = render(
            request, "web/partials/quick_log.html", {"party": party, "log_form": form}
        )
        return reswap(retarget(response, "#quick-log"), "outerHTML")
    context = _timeline_context(request, party, fresh=True)
    context |= _brief_context(request, party, None)
    context["log_form"] = form
    return render(request, "web/party_detail.html", context, status=400)


@staff_view
@require_POST
def contact_point_add(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    party = party_for_write(request.user, public_id)
    form = ContactPointForm(request.POST)
    if form.is_valid():
        try:
            add_contact_point(party, Actor.for_user(request.user), **form.cleaned_data)
        except InvalidInput as error:
            add_service_error(form, error)
        else:
            messages.success(request, "Contact point added.")
            return redirect("web:party_edit", public_id=party.public_id)
    return _render_edit(request, party, point_form=form, status=400)


@staff_view
@require_POST
def contact_point_remove(
    request: StaffRequest, public_id: uuid.UUID, point_id: uuid.UUID
) -> HttpResponse:
    party = party_for_write(request.user, public_id)
    point = _owned(ContactPoint.objects.filter(party=party), point_id)
    remove_contact_point(point, Actor.for_user(request.user))
    messages.success(request, f"Removed {point.display}.")
    return redirect("web:party_edit", public_id=party.public_id)


@staff_view
@require_POST
def relationship_add(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    party = party_for_write(request.user, public_id)
    form = RelationshipForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            other = party_for_read(request.user, data["other"])
            add_relationship(
                party,
                other,
                Actor.for_user(request.user),
                data["kind"],
                role=data["role"],
                started_on=data["started_on"],
            )
        except NotFound:
            form.add_error("other", "Pick a party from the search results.")
        except InvalidInput as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Linked to {other.display_name}.")
            return redirect("web:party_edit", public_id=party.public_id)
    return _render_edit(request, party, link_form=form, status=400)


@staff_view
@require_POST
def relationship_end(
    request: StaffRequest, public_id: uuid.UUID, relationship_id: uuid.UUID
) -> HttpResponse:
    party = party_for_write(request.user, public_id)
    link = _owned(_links_of(party, request.user), relationship_id)
    form = EndRelationshipForm(request.POST)
    ended_on = form.cleaned_data["ended_on"] if form.is_valid() else None
    end_relationship(link, Actor.for_user(request.user), ended_on)
    messages.success(request, f"Ended: {link}.")
    return redirect("web:party_edit", public_id=party.public_id)


@staff_view
@require_POST
def fact_pin(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    party = party_for_write(request.user, public_id)
    form = PinFactForm(request.POST)
    if form.is_valid():
        try:
            pin_fact(party, Actor.for_user(request.user), **form.cleaned_data)
        except InvalidInput as error:
            add_service_error(form, error)
    if form.errors:
        messages.error(request, " ".join(_messages_of(form)))
    return redirect(reverse("web:party", args=[party.public_id]) + "#facts")


@staff_view
@require_POST
def fact_unpin(
    request: StaffRequest, public_id: uuid.UUID, fact_id: uuid.UUID
) -> HttpResponse:
    party = party_for_write(request.user, public_id)
    queryset = PinnedFact.objects.filter(party=party, unpinned_at__isnull=True)
    fact = _owned(queryset.select_related("party"), fact_id)
    unpin_fact(fact, Actor.for_user(request.user))
    messages.success(request, f"Unpinned: {fact.text}")
    return redirect(reverse("web:party", args=[party.public_id]) + "#facts")


@staff_view
@require_POST
def follow_up_finish(request: StaffRequest, follow_up_id: uuid.UUID) -> HttpResponse:
    follow_up = _visible_follow_up(request.user, follow_up_id)
    form = FinishFollowUpForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        complete_follow_up(follow_up, Actor.for_user(request.user), note)
    except InvalidInput as error:
        messages.error(request, error.message)
        return _back(request, _next_or_party(request, follow_up.party))
    return _follow_up_answer(request, follow_up, done=True)


@staff_view
@require_POST
def follow_up_reschedule(
    request: StaffRequest, follow_up_id: uuid.UUID
) -> HttpResponse:
    follow_up = _visible_follow_up(request.user, follow_up_id)
    form = RescheduleForm(request.POST)
    if form.is_valid():
        try:
            reschedule_follow_up(
                follow_up, Actor.for_user(request.user), form.new_due_at()
            )
        except InvalidInput as error:
            add_service_error(form, error)
    if form.errors:
        messages.error(request, " ".join(_messages_of(form)))
        return _back(request, _next_or_party(request, follow_up.party))
    return _follow_up_answer(request, follow_up, done=False)


@staff_view
def event_tools(
    request: StaffRequest, public_id: uuid.UUID, event_id: uuid.UUID
) -> HttpResponse:
    """The forms to correct or remove an entry: inline under htmx, or a page."""
    party = party_for_write(request.user, public_id)
    try:
        event = latest_version(_correctable_event(party, event_id))
    except InvalidInput as error:
        raise NotFound(error.message) from error
    context = {"party": party, "event": event}

    if request.htmx:
        return render(request, "web/partials/event_tools.html", context)
    return render(request, "web/event_edit.html", context)


@staff_view
@require_POST
def event_correct(
    request: StaffRequest, public_id: uuid.UUID, event_id: uuid.UUID
) -> HttpResponse:
    party = party_for_write(request.user, public_id)
    event = _correctable_event(party, event_id)
    form = CorrectEventForm(request.POST)
    page = reverse("web:party", args=[party.public_id])
    if not form.is_valid():
        messages.error(request, " ".join(_messages_of(form)))
        return _back(request, page)
    try:
        event = correct_event(
            event,
            actor=Actor.for_user(request.user),
            summary=form.cleaned_data["summary"],
            body=form.cleaned_data["body"],
        )
    except InvalidInput as error:
        messages.error(request, error.message)
        return _back(request, page)

    if request.htmx:
        context = {
            "page": TimelinePage(events=[event], older=None),
            "party": party,
            "can_write": True,
            "correctable": INTERACTION_KINDS,
            "highlight": event.public_id,
        }
        return render(request, "web/partials/timeline_items.html", context)
    messages.success(request, "Corrected.")
    return redirect("web:party", public_id=party.public_id)


@staff_view
@require_POST
def event_redact(
    request: StaffRequest, public_id: uuid.UUID, event_id: uuid.UUID
) -> HttpResponse:
    party = party_for_write(request.user, public_id)
    event = _correctable_event(party, event_id)
    form = RedactEventForm(request.POST)
    page = reverse("web:party", args=[party.public_id])
    if not form.is_valid():
        messages.error(request, "Say why the entry should be removed.")
        return _back(request, page)
    try:
        redact_event(
            event,
            actor=Actor.for_user(request.user),
            reason=form.cleaned_data["reason"],
        )
    except InvalidInput as error:
        messages.error(request, error.message)
        return _back(request, page)

    if request.htmx:
        return render(request, "web/partials/timeline_removed.html", {"event": event})
    messages.success(request, "Removed from the timeline; the history keeps it.")
    return redirect("web:party", public_id=party.public_id)


def _filtered_parties(user: User, form: CustomerFilterForm) -> QuerySet[Party]:
    parties: QuerySet[Party] = Party.objects.visible_to(user)
    form.is_valid()
    # A filter that does not parse (an unknown tag) is dropped, not fatal.
    data = getattr(form, "cleaned_data", {})
    if data.get("q"):
        matches = search_parties(user, data["q"], limit=SEARCH_LIMIT)
        parties = parties.filter(pk__in=matches.values("pk"))
    if data.get("stage"):
        parties = parties.filter(stage=data["stage"])
    owner = data.get("owner")
    if owner == "me":
        parties = parties.filter(owner=user)
    elif owner == "none":
        parties = parties.filter(owner__isnull=True)
    elif owner:
        parties = parties.filter(owner__public_id=owner)
    if data.get("tag"):
        parties = parties.filter(tags=data["tag"])

    return parties.select_related("owner").order_by("sort_name", "id")


def _query_without_page(request: StaffRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _initial_from_search(query: str | None) -> dict[str, str]:
    """Prefill a new customer from a search that found no one."""
    text = " ".join((query or "").split())
    if not text:
        return {}
    if "@" in text:
        return {"email": text}
    if PHONE_LIKE.fullmatch(text):
        return {"phone": text}
    given, _, family = text.partition(" ")
    return {"given_name": given, "family_name": family}


def _create_party(user: User, form: NewPartyForm) -> Party | None:
    data = form.cleaned_data
    fields = form.fields_for_service()
    try:
        return create_party(
            Actor.for_user(user),
            display_name_text=fields.pop("display_name"),
            given_name=fields.pop("given_name"),
            family_name=fields.pop("family_name"),
            emails=[data["email"]] if data["email"].strip() else [],
            phones=[data["phone"]] if data["phone"].strip() else [],
            addresses=[data["address"]] if data["address"].strip() else [],
            tags=form.tag_names(),
            **fields,
        )
    except InvalidInput as error:
        add_service_error(form, error)
        return None


def _update_party(party: Party, user: User, form: PartyForm) -> bool:
    actor = Actor.for_user(user)
    try:
        # One form, one change: the fields and the tags land together or not.
        with transaction.atomic():
            update_party(
                party,
                actor,
                expected_version=form.cleaned_data.get("version", ""),
                **form.fields_for_service(),
            )
            set_tags(party, actor, form.tag_names())
    except InvalidInput as error:
        add_service_error(form, error)
        return False
    return True


def _party_initial(party: Party) -> dict[str, Any]:
    return {
        "kind": party.kind,
        "given_name": party.given_name,
        "family_name": party.family_name,
        "display_name": party.display_name,
        "stage": party.stage,
        "owner": party.owner_id,
        "preferred_channel": party.preferred_channel,
        "contact_hours": party.contact_hours,
        "language": party.language,
        "time_zone": party.time_zone,
        "consent": party.consent,
        "birthday": party.birthday,
        "tags": ", ".join(tag.name for tag in party.tags.all()),
        "version": party_version(party),
    }


def _render_edit(
    request: StaffRequest,
    party: Party,
    *,
    form: PartyForm | None = None,
    point_form: ContactPointForm | None = None,
    link_form: RelationshipForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "party": party,
        "form": form or PartyForm(initial=_party_initial(party)),
        "point_form": point_form or ContactPointForm(),
        "link_form": link_form or RelationshipForm(),
        "points": party.contact_points.all(),
        "links": _links_of(party, request.user).order_by("ended_on", "kind", "id"),
    }
    return render(request, "web/party_edit.html", context, status=status)


def _links_of(party: Party, user: User) -> QuerySet[Relationship]:
    """The party's relationships in either direction that the user may see,
    with both ends loaded."""
    return (
        Relationship.objects.visible_to(user)
        .filter(Q(from_party=party) | Q(to_party=party))
        .select_related("from_party", "to_party")
    )


def _timeline_context(
    request: StaffRequest, party: Party, *, fresh: bool = False
) -> dict[str, Any]:
    """The timeline page the request asks for; `fresh` ignores the filters."""
    kind = "" if fresh else request.GET.get("kind", "")
    if kind not in Kind.values:
        kind = ""
    before = None if fresh else Cursor.decode(request.GET.get("before", ""))
    as_of, as_of_error = (None, "") if fresh else _as_of(request.GET.get("as_of", ""))
    page = timeline_page(
        party, kind=kind, before=before, until=as_of, viewer=request.user
    )
    as_of_text = request.GET.get("as_of", "") if as_of else ""
    return {
        "party": party,
        "page": page,
        "older_query": _older_query(page, kind, as_of_text),
        "kind": kind,
        "kinds": Kind.choices,
        "as_of": as_of,
        "as_of_text": as_of_text,
        "as_of_error": as_of_error,
        "can_write": request.user.can_write and as_of is None,
        "correctable": INTERACTION_KINDS,
    }


def _older_query(page: TimelinePage, kind: str, as_of_text: str) -> str:
    if page.older is None:
        return ""
    query = QueryDict(mutable=True)
    if kind:
        query["kind"] = kind
    if as_of_text:
        query["as_of"] = as_of_text
    query["before"] = page.older.encode()
    return query.urlencode()


def _brief_context(
    request: StaffRequest, party: Party, as_of: dt.datetime | None
) -> dict[str, Any]:
    brief = compute_brief(party, viewer=request.user, as_of=as_of)
    return {
        "brief": brief,
        "log_form": QuickLogForm(user=request.user),
        "fact_form": PinFactForm(),
    }


def _as_of(text: str) -> tuple[dt.datetime | None, str]:
    """The end of the given day in the viewer's time zone, or an error text."""
    if not text:
        return None, ""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None, f"{text!r} is not a date; write it as YYYY-MM-DD."
    if not EARLIEST_AS_OF <= day <= timezone.localdate():
        return None, "Pick a day between 1900 and today to look back to."
    end = dt.datetime.combine(day, dt.time.max)
    return timezone.make_aware(end), ""


def _log_from_form(
    party: Party, user: User, form: QuickLogForm
) -> Event | FollowUp | None:
    """Record the logged entry through its service; None after form errors."""
    data = form.cleaned_data
    actor = Actor.for_user(user)
    logged: Event | FollowUp
    try:
        if data["kind"] == Kind.FOLLOW_UP:
            logged = create_follow_up(
                party, actor, data["summary"], data["due_at"], data["assignee"]
            )
        else:
            logged, _ = record_event(
                party,
                data["kind"],
                data["summary"],
                actor=actor,
                occurred_at=data["occurred_at"],
                payload=form.payload(),
                body=data["body"],
            )
    except InvalidInput as error:
        add_service_error(form, error)
        return None
    logger.debug("Logged a %s on party %s", data["kind"], party.public_id)
    return logged


def _next_log_form(user: User, kind: str) -> QuickLogForm:
    """A blank form for the next entry, keeping the kind and the focus."""
    form = QuickLogForm(user=user, initial={"kind": kind})
    form.fields["summary"].widget.attrs["autofocus"] = True
    return form


def _owned(queryset: QuerySet[Any], public_id: uuid.UUID) -> Any:
    """The row with this public id in the queryset, or NotFound."""
    found = queryset.filter(public_id=public_id).first()
    if found is None:
        raise NotFound("No such entry.")
    return found


def _visible_follow_up(user: User, public_id: uuid.UUID) -> FollowUp:
    """The follow-up if its party is visible (else 404) and the user may
    change it (else 403)."""
    visible = Party.objects.visible_to(user).filter(pk=OuterRef("party_id"))
    follow_ups = FollowUp.objects.filter(Exists(visible)).select_related(
        "party", "assignee"
    )
    follow_up: FollowUp = _owned(follow_ups, public_id)
    Actor.for_user(user).require_write()
    return follow_up


def _back(request: StaffRequest, url: str) -> HttpResponse:
    """Go back to a page: a plain redirect, or a whole-page one under htmx so
    that the page and its messages replace the fragment."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _next_or_party(request: StaffRequest, party: Party) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return reverse("web:party", args=[party.public_id])


def _follow_up_answer(
    request: StaffRequest, follow_up: FollowUp, *, done: bool
) -> HttpResponse:
    if request.htmx:
        follow_up.refresh_from_db()
        context = {
            "row": FollowUpRow.from_model(follow_up, timezone.now()),
            "done": done and not follow_up.is_open,
            "moved": not done,
            "show_party": request.POST.get("show_party") == "1",
            "can_write": True,
        }
        response = render(request, "web/partials/follow_up.html", context)
        # A party page listening for this reloads its brief and its warnings.
        return trigger_client_event(response, "brief-changed")
    return redirect(_next_or_party(request, follow_up.party))


def _correctable_event(party: Party, public_id: uuid.UUID) -> Event:
    events = Event.objects.filter(party=party, kind__in=INTERACTION_KINDS)
    event: Event = _owned(events, public_id)
    return event


def _messages_of(form: Any) -> list[str]:
    return [str(message) for errors in form.errors.values() for message in errors]
