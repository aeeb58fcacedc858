"""Downloads of the web app's lists as CSV, XLSX and vCard.

Anyone may download what they can see: their Today lists, a customer's
timeline and contact card, the duplicate queue, unknown senders, and the
users, teams and mailboxes of Settings. The whole customer list is bulk
personal data, so only owners and managers may download it; the page says
so. Imports and their problems are theirs alone, as their pages are. Every
download reads through the same querysets as its page.
"""

import logging
import tempfile
import uuid
from collections.abc import Iterable, Sequence

from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from threadline.mail.health import mailbox_health
from threadline.mail.models import UnknownSender
from threadline.parties.access import party_for_read
from threadline.parties.duplicates import candidates_for
from threadline.parties.models import Party
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.transfer.history import find_run
from threadline.transfer.spreadsheet import Cell, csv_chunks, write_xlsx
from threadline.transfer.vcard_export import vcard_texts
from threadline.web.errors import staff_view
from threadline.web.export_rows import (
    TODAY_TABLES,
    Table,
    customer_table,
    duplicates_table,
    import_history_table,
    import_problems_table,
    mailboxes_table,
    senders_table,
    teams_table,
    timeline_table,
    users_table,
)
from threadline.web.forms import CustomerFilterForm
from threadline.web.http import StaffRequest
from threadline.web.settings_views import people_with_teams, teams_with_members

# The customer list is filtered exactly as the page filters it.
from threadline.web.views import _filtered_parties

logger = logging.getLogger(__name__)

SPREADSHEETS = {"csv", "xlsx"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
VCARD_TYPE = "text/vcard; charset=utf-8"
BULK_REFUSAL = (
    "Only owners and managers can download the customer list; ask one of "
    "them, or download a single customer's card from their page."
)


def spreadsheet_response(
    fmt: str,
    name: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    title: str = "Export",
) -> HttpResponseBase:
    """Answer with a CSV (streamed) or XLSX download named `name`-date.fmt.

    Any list of the web app can call this; `rows` should come from a
    visible_to queryset. Raises Http404 for a format other than csv or xlsx.
    """
    if fmt not in SPREADSHEETS:
        raise Http404("Downloads come as csv or xlsx.")
    filename = _dated(name, fmt)
    if fmt == "csv":
        response = StreamingHttpResponse(
            csv_chunks(header, rows), content_type=CSV_TYPE
        )
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=filename
        )
        return response

    # A workbook is a zip file, written whole before it can be sent; the
    # write-only sheet keeps memory flat and the file goes out in chunks.
    # FileResponse closes the file once it is sent, so no `with` here.
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    write_xlsx(header, rows, spool, title=title)
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=filename, content_type=XLSX_TYPE
    )


@require_GET
@staff_view
def customers_export(request: StaffRequest, fmt: str) -> HttpResponseBase:
    """The customer list with the page's search and filters, for managers."""
    if not request.user.can_manage:
        raise PermissionDenied(BULK_REFUSAL)
    form = CustomerFilterForm(request.GET or None, user=request.user)
    parties = _filtered_parties(request.user, form)
    logger.info(
        "User %s downloaded the customer list as %s", request.user.public_id, fmt
    )

    if fmt == "vcf":
        return _vcard_response(
            vcard_texts(parties, viewer=request.user), _dated("customers", "vcf")
        )
    return _table_response(fmt, "customers", customer_table(parties, request.user))


@require_GET
@staff_view
def party_vcard(request: StaffRequest, public_id: uuid.UUID) -> HttpResponseBase:
    """One customer's contact card."""
    party = party_for_read(request.user, public_id)
    parties = Party.objects.visible_to(request.user).filter(pk=party.pk)
    name = slugify(party.display_name) or "customer"
    cards = vcard_texts(parties, viewer=request.user)
    return _vcard_response(cards, _dated(name, "vcf"))


@require_GET
@staff_view
def timeline_export(
    request: StaffRequest, public_id: uuid.UUID, fmt: str
) -> HttpResponseBase:
    """A customer's timeline, with the kind filter the page had."""
    party = party_for_read(request.user, public_id)
    kind = request.GET.get("kind", "")
    if kind not in Kind.values:
        kind = ""
    name = f"{slugify(party.display_name) or 'customer'}-timeline"
    return _table_response(fmt, name, timeline_table(party, request.user, kind))


@require_GET
@staff_view
def today_export(request: StaffRequest, list_name: str, fmt: str) -> HttpResponseBase:
    """One of Today's lists, whole, for the signed-in person."""
    build = TODAY_TABLES.get(list_name)
    if build is None:
        raise Http404("Today has no such list.")
    return _table_response(fmt, f"today-{list_name}", build(request.user))


@require_GET
@staff_view
def imports_export(request: StaffRequest, fmt: str) -> HttpResponseBase:
    """The history of imports, for those who may import: owners and managers."""
    Actor.for_user(request.user).require_manage()
    return _table_response(fmt, "imports", import_history_table())


@require_GET
@staff_view
def import_problems_export(
    request: StaffRequest, public_id: uuid.UUID, fmt: str
) -> HttpResponseBase:
    """Every problem of one import run, for owners and managers."""
    Actor.for_user(request.user).require_manage()
    run = find_run(public_id)
    name = f"import-{run.pk}-problems"
    return _table_response(fmt, name, import_problems_table(run))


@require_GET
@staff_view
def duplicates_export(request: StaffRequest, fmt: str) -> HttpResponseBase:
    """The duplicate queue, without a pair the user cannot see both sides of."""
    table = duplicates_table(candidates_for(request.user), request.user)
    return _table_response(fmt, "duplicates", table)


@require_GET
@staff_view
def senders_export(request: StaffRequest, fmt: str) -> HttpResponseBase:
    """Every unknown sender waiting for a decision, not only the page's."""
    table = senders_table(UnknownSender.objects.waiting())
    return _table_response(fmt, "unknown-senders", table)


@require_GET
@staff_view
def users_export(request: StaffRequest, fmt: str) -> HttpResponseBase:
    return _table_response(fmt, "users", users_table(people_with_teams()))


@require_GET
@staff_view
def teams_export(request: StaffRequest, fmt: str) -> HttpResponseBase:
    return _table_response(fmt, "teams", teams_table(teams_with_members()))


@require_GET
@staff_view
def mailboxes_export(request: StaffRequest, fmt: str) -> HttpResponseBase:
    return _table_response(fmt, "mailboxes", mailboxes_table(mailbox_health()))


def _table_response(fmt: str, name: str, table: Table) -> HttpResponseBase:
    return spreadsheet_response(fmt, name, table.header, table.rows, title=table.title)


def _vcard_response(cards: Iterable[str], filename: str) -> HttpResponseBase:
    response = StreamingHttpResponse(cards, content_type=VCARD_TYPE)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=filename
    )
    return response


def _dated(name: str, suffix: str) -> str:
    return f"{name}-{timezone.localdate():%Y-%m-%d}.{suffix}"
