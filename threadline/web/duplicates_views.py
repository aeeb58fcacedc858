"""The duplicate review queue: pairs side by side, merge, not duplicates, undo.

A merge is confirmed on its own page, which shows what will move and posts
the versions of both customers as shown, so a page gone stale is refused
instead of merging what the person did not see.
"""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from threadline.accounts.models import User
from threadline.errors import Conflict, InvalidInput, NotFound
from threadline.parties.duplicates import (
    candidates_for,
    find_duplicates,
    mark_not_duplicates,
)
from threadline.parties.merging import (
    MergePlan,
    merge_parties,
    plan_merge,
    surviving_party,
    undo_merge,
)
from threadline.parties.models import (
    CandidateStatus,
    ContactPoint,
    DuplicateCandidate,
    Party,
    Relationship,
    RelationshipKind,
)
from threadline.parties.services import party_version
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.web.errors import staff_view
from threadline.web.http import StaffRequest

logger = logging.getLogger(__name__)

PAIRS_PER_PAGE = 20
SIDES = ("left", "right")


@dataclass(frozen=True)
class Side:
    """One customer of a pair as the queue shows it."""

    party: Party
    points: list[ContactPoint]
    organisations: list[Party]
    events: int


@dataclass(frozen=True)
class PairView:
    candidate: DuplicateCandidate
    left: Side
    right: Side


@staff_view
def duplicates(request: StaffRequest) -> HttpResponse:
    page = Paginator(candidates_for(request.user), PAIRS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "pairs": pair_views(list(page.object_list), request.user),
        "can_write": request.user.can_write,
    }
    return render(request, "web/duplicates.html", context)


@staff_view
def duplicate_merge(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    """Show what merging the pair would do; on POST, merge it."""
    if request.method == "POST":
        merged = _merged_survivor(request, public_id)
        if merged is not None:
            # A second press of the button: the first one merged them.
            messages.info(request, f"Already merged into {merged.display_name}.")
            return redirect("web:party", public_id=merged.public_id)
    candidate = _candidate(request, public_id)
    actor = Actor.for_user(request.user)
    actor.require_write()
    into = request.POST.get("into") or request.GET.get("into", "left")
    if into not in SIDES:
        raise NotFound("Choose which customer to keep: left or right.")
    survivor, other = _survivor_and_other(candidate, into)

    if request.method == "POST":
        try:
            merge_parties(
                survivor,
                other,
                actor,
                survivor_version=request.POST.get("survivor_version", "-"),
                other_version=request.POST.get("other_version", "-"),
            )
        except (Conflict, InvalidInput) as error:
            messages.error(request, error.message)
            return redirect(_merge_url(candidate, into))
        what = (
            "the other record of this name"
            if other.display_name == survivor.display_name
            else other.display_name
        )
        messages.success(
            request,
            f"Merged {what} into {survivor.display_name}. "
            "To reverse it, use Undo merge on the merge entry below.",
        )
        return redirect("web:party", public_id=survivor.public_id)

    context = _merge_context(candidate, into, request.user)
    return render(request, "web/duplicate_merge.html", context)


@staff_view
@require_POST
def duplicates_find(request: StaffRequest) -> HttpResponse:
    """Look through every customer now, as `threadline duplicates find` does.

    It runs within the request: a full pass over 100,000 customers was
    measured at under ten seconds, and most businesses hold far fewer.
    """
    Actor.for_user(request.user).require_write()
    result = find_duplicates()
    logger.info("%s asked for a duplicate search: %s", request.user.email, result)
    # Pairs with a customer hidden from them are neither counted nor shown.
    waiting = candidates_for(request.user).count()
    messages.success(
        request,
        f"Looked through every customer: {waiting:,} possible "
        f"duplicate{'' if waiting == 1 else 's'} waiting for review.",
    )
    return redirect("web:duplicates")


@staff_view
@require_POST
def duplicate_dismiss(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    candidate = _candidate(request, public_id)
    mark_not_duplicates(candidate, Actor.for_user(request.user))
    names = f"{candidate.first.display_name} and {candidate.second.display_name}"
    if request.htmx:
        return render(
            request, "web/partials/duplicate_dismissed.html", {"names": names}
        )
    messages.success(request, f"Marked {names} as two customers.")
    return redirect("web:duplicates")


@staff_view
@require_POST
def merge_undo(request: StaffRequest, event_id: uuid.UUID) -> HttpResponse:
    event = (
        Event.objects.visible_to(request.user)
        .filter(public_id=event_id, kind=Kind.MERGE)
        .select_related("party")
        .first()
    )
    if event is None:
        raise NotFound("No such merge, or you do not have access to it.")
    try:
        undone = undo_merge(event, Actor.for_user(request.user))
    except InvalidInput as error:
        messages.error(request, error.message)
        return redirect("web:party", public_id=event.party.public_id)
    name = undone.payload["other_name"]
    # The body names what was removed since the merge and so stayed gone.
    said = f"Undone: {name} is a separate customer again. {undone.body}"
    messages.success(request, said.strip())
    return redirect("web:party", public_id=event.party.public_id)


def survivor_redirect(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    """Send a merged customer's old address to the customer it became part
    of, if the user may see that one; otherwise raise NotFound."""
    survivor = surviving_party(public_id)
    visible = Party.objects.visible_to(request.user)
    if survivor is None or not visible.filter(pk=survivor.pk).exists():
        raise NotFound("No such customer, or you do not have access to it.")
    old_name = (
        Party.objects.filter(public_id=public_id)
        .values_list("display_name", flat=True)
        .first()
    )
    messages.info(
        request,
        f"{old_name} was merged into {survivor.display_name}; "
        "everything about them is on this page now.",
    )
    return redirect("web:party", public_id=survivor.public_id)


def _merged_survivor(request: StaffRequest, public_id: uuid.UUID) -> Party | None:
    """The customer a pair was merged into, if it was and the user sees them."""
    pair = DuplicateCandidate.objects.filter(
        public_id=public_id, status=CandidateStatus.MERGED
    ).first()
    if pair is None:
        return None
    for gone, kept in ((pair.first, pair.second), (pair.second, pair.first)):
        if gone.merged_into_id == kept.pk:
            return Party.objects.visible_to(request.user).filter(pk=kept.pk).first()
    return None


def _candidate(request: StaffRequest, public_id: uuid.UUID) -> DuplicateCandidate:
    candidate = candidates_for(request.user).filter(public_id=public_id).first()
    if candidate is None:
        raise NotFound(
            "This pair is no longer waiting for review: it was merged, marked "
            "as two customers, or one of them is out of your reach."
        )
    return candidate


def _survivor_and_other(
    candidate: DuplicateCandidate, into: str
) -> tuple[Party, Party]:
    if into == "left":
        return candidate.first, candidate.second
    return candidate.second, candidate.first


def _merge_url(candidate: DuplicateCandidate, into: str) -> str:
    url = reverse("web:duplicate_merge", args=[candidate.public_id])
    return f"{url}?into={into}"


def _merge_context(
    candidate: DuplicateCandidate, into: str, user: User
) -> dict[str, Any]:
    survivor, other = _survivor_and_other(candidate, into)
    plan = plan_merge(survivor, other)
    pair = pair_views([candidate], user)[0]
    keep, go = (pair.left, pair.right) if into == "left" else (pair.right, pair.left)
    return {
        "candidate": candidate,
        "pair": pair,
        "into": into,
        "keep": keep,
        "go": go,
        "plan": plan,
        "moves": _moves_in_words(plan),
        "survivor_version": party_version(survivor),
        "other_version": party_version(other),
    }


def _moves_in_words(plan: MergePlan) -> list[str]:
    """What the merge will do, one plain line each."""
    other, survivor = plan.other.display_name, plan.survivor.display_name
    counts = [
        (plan.events, "timeline entry", "timeline entries"),
        (plan.threads, "thread", "threads"),
        (plan.follow_ups, "follow-up", "follow-ups"),
        (len(plan.points_moved), "contact point", "contact points"),
        (plan.facts, "pinned fact", "pinned facts"),
        (len(plan.links_from) + len(plan.links_to), "relationship", "relationships"),
    ]
    moved = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n]
    lines = [f"Moves to {survivor}: " + (", ".join(moved) or "nothing") + "."]
    if plan.points_same:
        same = ", ".join(theirs.raw for theirs, _ in plan.points_same)
        lines.append(f"Kept once, as {survivor} already has them: {same}.")
    if plan.fills:
        filled = ", ".join(name.replace("_", " ") for name in plan.fills)
        lines.append(f"Fills in from {other}: {filled}.")
    if plan.restricted:
        lines.append(
            "The merged customer will be restricted: only people named on "
            "either of the two will see it, and they will see all of it."
        )
    lines.append(f"{other} is archived; its old page will lead here.")
    return lines


def pair_views(candidates: list[DuplicateCandidate], user: User) -> list[PairView]:
    """Both sides of each pair with their details, in a fixed number of
    queries however many pairs the page shows."""
    keys = {c.first_id for c in candidates} | {c.second_id for c in candidates}
    parties: dict[int, Any] = {party.pk: party for party in _detailed(keys)}
    employers = {job.to_party_id for party in parties.values() for job in party.jobs}
    visible = set(
        Party.objects.visible_to(user)
        .filter(pk__in=employers)
        .values_list("pk", flat=True)
    )
    return [
        PairView(
            candidate=candidate,
            left=_side(parties[candidate.first_id], visible),
            right=_side(parties[candidate.second_id], visible),
        )
        for candidate in candidates
    ]


def _detailed(keys: set[int]) -> QuerySet[Party]:
    jobs = Relationship.objects.filter(
        kind=RelationshipKind.WORKS_AT, ended_on__isnull=True
    ).select_related("to_party")
    return (
        Party.objects.filter(pk__in=keys)
        .select_related("owner")
        .annotate(event_count=Count("events"))
        .prefetch_related(
            Prefetch("contact_points", to_attr="all_points"),
            Prefetch("relationships_out", queryset=jobs, to_attr="jobs"),
        )
    )


def _side(party: Any, visible_employers: set[int]) -> Side:
    """`party` comes from _detailed, with its points, jobs and event count."""
    return Side(
        party=party,
        points=party.all_points,
        organisations=[
            job.to_party for job in party.jobs if job.to_party_id in visible_employers
        ],
        events=party.event_count,
    )
