"""Imports: upload a file, check it with a dry run, import it, undo it.

Only owners and managers see this page: problem lists quote rows of any
customer, restricted ones included. Views call the transfer services only.
"""

import logging
import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from threadline.errors import Conflict, InvalidInput
from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.transfer.history import PROBLEMS_SHOWN, find_run, recent_runs, view
from threadline.transfer.undo import (
    archived_by_undo,
    kept_parties,
    restore_undone_import,
)
from threadline.transfer.uploads import (
    AlreadyStarted,
    discard_upload,
    load_upload,
    run_again,
    save_upload,
    start_import,
    start_undo,
    started_run,
)
from threadline.web.errors import staff_view
from threadline.web.http import StaffRequest
from threadline.web.imports_forms import UploadForm

logger = logging.getLogger(__name__)

RUNS_PER_PAGE = 25
ARCHIVED_SHOWN = 20


@staff_view
def imports(request: StaffRequest) -> HttpResponse:
    """The upload form and the history of every import."""
    Actor.for_user(request.user).require_manage()
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            upload = save_upload(
                form.cleaned_data["file"],
                request.user,
                source=form.cleaned_data["source"],
            )
        except InvalidInput as error:
            form.add_error("file", f"{error.message} Nothing was imported.")
        else:
            return redirect("web:import_check", upload_id=upload.id)

    page = Paginator(recent_runs(), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "runs": [view(run) for run in page]}
    status = 400 if form.errors else 200
    return render(request, "web/imports/index.html", context, status=status)


@staff_view
def import_check(request: StaffRequest, upload_id: str) -> HttpResponse:
    """The dry run of an upload: its progress, then what the import would
    create and which records cannot be used."""
    Actor.for_user(request.user).require_manage()
    run = started_run(upload_id)
    if run is not None:
        return _already_started(request, AlreadyStarted(run))
    upload = load_upload(upload_id, request.user)
    if request.htmx and upload.checking:
        return render(request, "web/imports/partials/checking.html", {"upload": upload})
    if request.htmx:
        return HttpResponseClientRefresh()

    problems = upload.check["problems"] if upload.check else []
    created = upload.check["created"] if upload.check else {}
    context: dict[str, Any] = {
        "upload": upload,
        "check": upload.check,
        # Every usable record is in the record already.
        "adds_nothing": not any(created.values()),
        "problems": problems[:PROBLEMS_SHOWN],
        "more_problems": max(0, len(problems) - PROBLEMS_SHOWN),
    }
    return render(request, "web/imports/check.html", context)


@staff_view
@require_POST
def import_start(request: StaffRequest, upload_id: str) -> HttpResponse:
    Actor.for_user(request.user).require_manage()
    run = started_run(upload_id)
    if run is not None:
        return _already_started(request, AlreadyStarted(run))
    upload = load_upload(upload_id, request.user)
    try:
        run = start_import(upload, request.user)
    except AlreadyStarted as error:
        return _already_started(request, error)
    except Conflict as error:
        messages.error(request, error.message)
        return redirect("web:import_check", upload_id=upload.id)
    return redirect("web:import_run", public_id=run.public_id)


def _already_started(request: StaffRequest, error: AlreadyStarted) -> HttpResponse:
    """Send a second click, or a page left open, to the run the upload became."""
    if request.htmx:
        return HttpResponseClientRedirect(
            reverse("web:import_run", kwargs={"public_id": error.run.public_id})
        )
    messages.info(request, error.message)
    return redirect("web:import_run", public_id=error.run.public_id)


@staff_view
@require_POST
def import_discard(request: StaffRequest, upload_id: str) -> HttpResponse:
    Actor.for_user(request.user).require_manage()
    upload = load_upload(upload_id, request.user)
    discard_upload(upload)
    messages.success(request, f"Discarded {upload.path.name}; nothing was imported.")
    return redirect("web:imports")


@staff_view
def import_run(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    """One run: its progress while it works, then its outcome and problems.

    Under htmx only the status block is sent while it polls; once the work
    is over, the whole page reloads.
    """
    Actor.for_user(request.user).require_manage()
    shown = view(find_run(public_id))
    context = {"shown": shown, "run": shown.run}
    if request.htmx and shown.working:
        return render(request, "web/imports/partials/run_status.html", context)
    if request.htmx:
        # Finished: reload the whole page, which now lists the problems.
        return HttpResponseClientRefresh()
    visible = Party.objects.visible_to(request.user).values("pk")
    undone = shown.state == "undone"
    context["kept"] = kept_parties(shown.run).filter(pk__in=visible) if undone else []
    may_see = Party.objects.visible_to(request.user, archived=True).values("pk")
    archived = archived_by_undo(shown.run.pk).filter(pk__in=may_see)
    archived_count = archived.count() if undone else 0
    context["archived_count"] = archived_count
    context["archived"] = archived[:ARCHIVED_SHOWN] if archived_count else []
    context["archived_more"] = max(archived_count - ARCHIVED_SHOWN, 0)
    return render(request, "web/imports/run.html", context)


@staff_view
@require_POST
def import_restore(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    """Bring back the customers the undo of this import archived."""
    run = find_run(public_id)
    actor = Actor.for_user(request.user)
    try:
        restored = restore_undone_import(
            run.pk, actor, f"import #{run.pk} brought back"
        )
    except Conflict as error:
        messages.error(request, error.message)
        return redirect("web:import_run", public_id=run.public_id)
    if restored:
        plural = "customer is" if restored == 1 else "customers are"
        messages.success(
            request,
            f"{restored:,} {plural} back in every list. The notes and details "
            "the undo took off their timelines stay off.",
        )
    else:
        messages.info(
            request, "No customer of this import that you can see is archived now."
        )
    return redirect("web:import_run", public_id=run.public_id)


@staff_view
@require_POST
def import_undo(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    Actor.for_user(request.user).require_manage()
    run = find_run(public_id)
    try:
        start_undo(run, request.user)
    except Conflict as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Undoing import #{run.pk}.")
    return redirect("web:import_run", public_id=run.public_id)


@staff_view
@require_POST
def import_again(request: StaffRequest, public_id: uuid.UUID) -> HttpResponse:
    Actor.for_user(request.user).require_manage()
    run = find_run(public_id)
    try:
        run_again(run, request.user)
    except (Conflict, InvalidInput) as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"Running import #{run.pk} again; rows already in are skipped."
        )
    return redirect("web:import_run", public_id=run.public_id)
