"""Downloads of the web app's lists: CSV, XLSX and vCard, only what one may see."""

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import vobject
from django.core.management import call_command
from django.db import connection
from django.http import FileResponse, StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from threadline.accounts.models import Team, User
from threadline.accounts.services import create_team, create_user, set_team_members
from threadline.followups.services import create_follow_up
from threadline.mail.models import Mailbox, SenderStatus, UnknownSender
from threadline.parties.duplicates import find_duplicates
from threadline.parties.models import Party, PartyKind, RelationshipKind
from threadline.parties.services import (
    add_relationship,
    end_relationship,
    pin_fact,
    restrict_party,
    unpin_fact,
)
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import record_event
from threadline.transfer.importer import import_path
from threadline.transfer.models import ImportRun

SETUP = Actor.system("test setup")


def body(response: StreamingHttpResponse | FileResponse) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[arg-type]


def csv_rows(response: StreamingHttpResponse) -> list[list[str]]:
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def names_in(rows: list[list[str]]) -> list[str]:
    return [row[0] for row in rows[1:]]


@pytest.fixture
def hidden(make_party: Callable[..., Party], owner: User, staff: User) -> Party:
    """A customer only Olivia and Sam may see."""
    party = make_party("Hidden Hanna", emails=["hanna@example.com"], owner=staff)
    restrict_party(party, Actor.for_user(owner), restricted=True, users=[staff])
    return party


def test_a_manager_downloads_the_customer_list_with_its_search(
    signed_in: Callable[[User], Client],
    manager: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    make_party("Someone Else")
    url = reverse("web:export", args=["csv"])

    response = signed_in(manager).get(url, {"q": "jane"})

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="customers-{today}.csv"'
    )
    rows = csv_rows(response)
    assert rows[0][:3] == ["Name", "Kind", "Stage"]
    assert names_in(rows) == ["Jane Example"]
    assert rows[1][6:8] == ["jane@example.com", "'+1 415-555-0134"]


def test_a_formula_in_a_name_is_downloaded_as_text(
    signed_in: Callable[[User], Client],
    owner: User,
    make_party: Callable[..., Party],
) -> None:
    make_party('=HYPERLINK("http://evil.example","Hi")')

    csv_response = signed_in(owner).get(reverse("web:export", args=["csv"]))
    xlsx_response = signed_in(owner).get(reverse("web:export", args=["xlsx"]))

    assert names_in(csv_rows(csv_response)) == [
        '\'=HYPERLINK("http://evil.example","Hi")'
    ]
    sheet = load_workbook(io.BytesIO(body(xlsx_response))).active
    assert sheet["A2"].value == '=HYPERLINK("http://evil.example","Hi")'
    assert sheet["A2"].data_type == "s"


def test_the_customer_list_never_holds_a_customer_the_manager_cannot_see(
    signed_in: Callable[[User], Client], manager: User, jane: Party, hidden: Party
) -> None:
    client = signed_in(manager)

    rows = csv_rows(client.get(reverse("web:export", args=["csv"])))
    sheet = load_workbook(
        io.BytesIO(body(client.get(reverse("web:export", args=["xlsx"]))))
    ).active
    cards = body(client.get(reverse("web:export", args=["vcf"]))).decode()

    assert names_in(rows) == ["Jane Example"]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        "Jane Example"
    ]
    assert "Jane Example" in cards
    assert "Hanna" not in cards


def test_the_customer_list_as_vcards_reads_back(
    signed_in: Callable[[User], Client], owner: User, jane: Party
) -> None:
    response = signed_in(owner).get(reverse("web:export", args=["vcf"]))

    assert response["Content-Type"] == "text/vcard; charset=utf-8"
    [card] = list(vobject.readComponents(body(response).decode()))
    assert card.fn.value == "Jane Example"
    assert card.uid.value == str(jane.public_id)


def test_a_customer_download_edited_in_a_spreadsheet_imports_back_onto_the_same(
    signed_in: Callable[[User], Client],
    manager: User,
    jane: Party,
    make_party: Callable[..., Party],
    tmp_path: Path,
) -> None:
    """Rows are matched by their Threadline id, so a customer known only by
    name, or whose name was retyped, is not created a second time."""
    cher = make_party("Cher")
    bo = make_party("Bo Park", phones=["+1 212 555 0101"])
    rows = csv_rows(signed_in(manager).get(reverse("web:export", args=["csv"])))
    header, edited = rows[0], {row[0]: row for row in rows[1:]}
    edited["Cher"][header.index("Phone")] = "+1 305 555 0177"
    edited["Bo Park"][0] = "Bo-Young Park"
    download = tmp_path / "customers.csv"
    with download.open("w", newline="", encoding="utf-8-sig") as stream:
        csv.writer(stream).writerows([header, *edited.values()])

    report = import_path(download)

    assert (report.rows_used, report.problems) == (3, [])
    assert Party.objects.count() == 3
    assert "person" not in report.created
    assert report.created["contact point"] == 1
    assert cher.contact_points.get().value == "+13055550177"
    assert [p.value for p in bo.contact_points.all()] == ["+12125550101"]
    assert [p.value for p in jane.contact_points.order_by("kind")] == [
        "jane@example.com",
        "+14155550134",
    ]


def test_two_customers_ids_swapped_in_a_download_are_refused_not_merged(
    make_party: Callable[..., Party], tmp_path: Path
) -> None:
    ann = make_party("Ann Lee", emails=["ann@example.com"])
    bo = make_party("Bo Park", emails=["bo@example.com"])
    download = tmp_path / "customers.csv"
    download.write_text(
        "Name,Email,Threadline id\n"
        f"Ann Lee,ann@example.com,{bo.public_id}\n"
        f"Bo Park,bo@example.com,{ann.public_id}\n",
        encoding="utf-8",
    )

    report = import_path(download)

    assert report.rows_used == 0
    assert [p.message.split(";")[0] for p in report.problems] == [
        f"conflict: Threadline id {bo.public_id} belongs to 'Bo Park', not 'Ann Lee'",
        f"conflict: Threadline id {ann.public_id} belongs to 'Ann Lee', not 'Bo Park'",
    ]
    assert [p.value for p in ann.contact_points.all()] == ["ann@example.com"]
    assert [p.value for p in bo.contact_points.all()] == ["bo@example.com"]


@pytest.fixture
def ruth(make_party: Callable[..., Party]) -> Party:
    """A customer with several of everything, an employer and pinned facts."""
    ruth = make_party(
        "Ruth Field",
        emails=["ruth@example.com", ("ruth@acme.example", "work"), "rf@old.example"],
        phones=["+1 415 555 0101", ("+1 415 555 0199", "mobile")],
        addresses=[
            "1 Main St, Springfield",
            ("Unit 4: 9 Dock Rd, Shelbyville", "work"),
        ],
        tags=["vip"],
    )
    acme = make_party("Acme Ltd", kind=PartyKind.ORGANISATION)
    former = make_party("Old Works", kind=PartyKind.ORGANISATION)
    add_relationship(ruth, acme, SETUP, RelationshipKind.WORKS_AT, role="Buyer")
    left = add_relationship(ruth, former, SETUP, RelationshipKind.WORKS_AT)
    end_relationship(left, SETUP)
    pin_fact(ruth, SETUP, "Prefers calls after 4pm")
    unpin_fact(pin_fact(ruth, SETUP, "Dog in the yard"), SETUP)
    pin_fact(ruth, SETUP, "Gate code 4411")
    return ruth


def customer_rows(client: Client) -> dict[str, dict[str, str]]:
    rows = csv_rows(client.get(reverse("web:export", args=["csv"])))
    return {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}


def download_to(path: Path, client: Client) -> Path:
    path.write_bytes(body(client.get(reverse("web:export", args=["csv"]))))
    return path


def record_of_customers() -> dict[str, Any]:
    """Each party's contact points, employers and notes, as a re-import
    should bring them back."""
    return {
        party.display_name: (
            sorted(party.contact_points.values_list("kind", "value", "label")),
            list(
                party.contact_points.filter(is_primary=True)
                .order_by("kind")
                .values_list("value", flat=True)
            ),
            sorted(
                party.relationships_out.filter(ended_on__isnull=True).values_list(
                    "to_party__display_name", "role"
                )
            ),
            sorted(party.tags.values_list("name", flat=True)),
        )
        for party in Party.objects.all()
    }


def test_the_customer_download_holds_every_contact_point_employer_and_fact(
    signed_in: Callable[[User], Client], owner: User, ruth: Party
) -> None:
    row = customer_rows(signed_in(owner))["Ruth Field"]

    assert row["Company"] == "Acme Ltd"
    assert row["Job title"] == "Buyer"
    assert row["Email"] == "ruth@example.com"
    assert row["Other emails"] == "work: ruth@acme.example\nrf@old.example"
    assert row["Phone"] == "'+1 415-555-0101"
    assert row["Other phones"] == "mobile: +1 415-555-0199"
    assert row["Address"] == "1 Main St, Springfield"
    assert row["Other addresses"] == "work: Unit 4: 9 Dock Rd, Shelbyville"
    assert row["Notes"] == "Prefers calls after 4pm\nGate code 4411"


def test_the_customer_download_columns_read_in_order(
    signed_in: Callable[[User], Client], owner: User, jane: Party
) -> None:
    header = csv_rows(signed_in(owner).get(reverse("web:export", args=["csv"])))[0]

    assert header == [
        "Name",
        "Kind",
        "Stage",
        "Owner",
        "Company",
        "Job title",
        "Email",
        "Phone",
        "Address",
        "Other emails",
        "Other phones",
        "Other addresses",
        "Tags",
        "Birthday",
        "Notes",
        "Last contact",
        "Added",
        "Threadline id",
    ]


def test_an_employer_the_manager_may_not_see_is_left_off_the_download(
    signed_in: Callable[[User], Client],
    owner: User,
    manager: User,
    staff: User,
    jane: Party,
    make_party: Callable[..., Party],
) -> None:
    secret = make_party("Secret Works", kind=PartyKind.ORGANISATION)
    restrict_party(secret, Actor.for_user(owner), restricted=True, users=[staff])
    add_relationship(jane, secret, SETUP, RelationshipKind.WORKS_AT, role="Spy")

    row = customer_rows(signed_in(manager))["Jane Example"]

    assert (row["Company"], row["Job title"]) == ("", "")
    assert "Secret Works" in customer_rows(signed_in(owner))["Jane Example"].values()


def test_a_customer_download_imports_whole_into_an_empty_install(
    signed_in: Callable[[User], Client], owner: User, ruth: Party, tmp_path: Path
) -> None:
    before = record_of_customers()
    download = download_to(tmp_path / "customers.csv", signed_in(owner))
    connection.check_constraints()
    call_command("flush", interactive=False, verbosity=0)

    report = import_path(download)

    assert report.problems == []
    assert record_of_customers() == before
    ruth_again = Party.objects.get(display_name="Ruth Field")
    [note] = ruth_again.events.filter(kind=Kind.NOTE)
    assert note.body == "Prefers calls after 4pm\nGate code 4411"


def test_organisations_and_households_come_back_with_their_kind_name_and_stage(
    signed_in: Callable[[User], Client],
    owner: User,
    make_party: Callable[..., Party],
    tmp_path: Path,
) -> None:
    make_party(
        "Acme, Inc.",
        kind=PartyKind.ORGANISATION,
        stage="customer",
        emails=["office@acme.example"],
    )
    make_party("The Millers", kind=PartyKind.HOUSEHOLD, stage="prospect")
    make_party("Lee, Ann", stage="customer")
    download = download_to(tmp_path / "customers.csv", signed_in(owner))
    # PostgreSQL truncates only with no deferred constraint check pending.
    connection.check_constraints()
    call_command("flush", interactive=False, verbosity=0)

    report = import_path(download)

    parties = Party.objects.order_by("display_name")
    assert report.problems == []
    assert [(p.display_name, p.kind, p.stage) for p in parties] == [
        ("Acme, Inc.", "organisation", "customer"),
        ("Ann Lee", "person", "customer"),
        ("The Millers", "household", "prospect"),
    ]
    assert parties[0].contact_points.get().value == "office@acme.example"


def test_a_customer_download_imported_into_the_same_install_adds_nothing(
    signed_in: Callable[[User], Client], owner: User, ruth: Party, tmp_path: Path
) -> None:
    before = record_of_customers()
    notes = Event.objects.filter(kind=Kind.NOTE).count()
    download = download_to(tmp_path / "customers.csv", signed_in(owner))

    report = import_path(download)

    assert report.problems == []
    assert set(report.created) <= {"import record"}
    assert record_of_customers() == before
    assert Event.objects.filter(kind=Kind.NOTE).count() == notes


def test_a_note_added_to_a_download_is_recorded_on_import(
    signed_in: Callable[[User], Client], owner: User, ruth: Party, tmp_path: Path
) -> None:
    rows = csv_rows(signed_in(owner).get(reverse("web:export", args=["csv"])))
    notes = rows[0].index("Notes")
    edited = [row for row in rows if row[0] in ("Name", "Ruth Field")]
    edited[1][notes] += "\nAsked for a quote in May"
    download = tmp_path / "customers.csv"
    with download.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(edited)

    report = import_path(download)

    assert report.created["note"] == 1
    [note] = ruth.events.filter(kind=Kind.NOTE)
    assert note.body.endswith("Gate code 4411\nAsked for a quote in May")


@pytest.mark.parametrize("fixture", ["staff", "viewer"])
def test_staff_and_viewers_may_not_download_the_whole_customer_list(
    signed_in: Callable[[User], Client],
    request: pytest.FixtureRequest,
    fixture: str,
    jane: Party,
) -> None:
    client = signed_in(request.getfixturevalue(fixture))

    refused = client.get(reverse("web:export", args=["csv"]))
    page = client.get(reverse("web:customers")).content.decode()

    assert refused.status_code == 403
    assert "Only owners and managers can download the customer list" in page
    assert reverse("web:export", args=["csv"]) not in page


def test_the_customers_page_offers_downloads_with_its_filters(
    signed_in: Callable[[User], Client], manager: User, jane: Party
) -> None:
    page = signed_in(manager).get(reverse("web:customers"), {"q": "jane"})

    assert reverse("web:export", args=["xlsx"]) + "?q=jane" in page.content.decode()


def test_an_unknown_format_is_not_found(
    signed_in: Callable[[User], Client], owner: User
) -> None:
    response = signed_in(owner).get(reverse("web:export", args=["pdf"]))

    assert response.status_code == 404


def test_a_viewer_downloads_one_customers_card(
    signed_in: Callable[[User], Client], viewer: User, jane: Party
) -> None:
    response = signed_in(viewer).get(reverse("web:party_vcard", args=[jane.public_id]))

    assert response.status_code == 200
    today = timezone.localdate().isoformat()
    assert f'filename="jane-example-{today}.vcf"' in response["Content-Disposition"]
    card = vobject.readOne(body(response).decode())
    assert card.email.value == "jane@example.com"


def test_a_restricted_customers_card_and_timeline_are_not_found_for_outsiders(
    signed_in: Callable[[User], Client], outsider: User, hidden: Party
) -> None:
    client = signed_in(outsider)

    card = client.get(reverse("web:party_vcard", args=[hidden.public_id]))
    timeline = client.get(
        reverse("web:export_timeline", args=[hidden.public_id, "csv"])
    )

    assert card.status_code == timeline.status_code == 404


def test_a_timeline_downloads_with_its_kind_filter_and_every_page(
    signed_in: Callable[[User], Client], viewer: User, jane: Party, now: dt.datetime
) -> None:
    for number in range(30):
        record_event(
            jane,
            "call",
            f"Call {number}",
            actor=SETUP,
            occurred_at=now - dt.timedelta(hours=number + 1),
            payload={"direction": "outbound"},
        )
    record_event(jane, "note", "A note", actor=SETUP)
    url = reverse("web:export_timeline", args=[jane.public_id, "csv"])

    rows = csv_rows(signed_in(viewer).get(url, {"kind": "call"}))

    assert rows[0][:4] == ["When", "What", "Direction", "Summary"]
    assert [row[3] for row in rows[1:]] == [f"Call {n}" for n in range(30)]
    assert {row[1] for row in rows[1:]} == {"Call"}


def test_a_timeline_download_keeps_amounts_as_numbers(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    record_event(
        jane,
        "payment",
        "Refund",
        actor=SETUP,
        payload={"amount": "-42.50", "currency": "EUR"},
    )
    url = reverse("web:export_timeline", args=[jane.public_id, "xlsx"])

    sheet = load_workbook(io.BytesIO(body(signed_in(staff).get(url)))).active

    refund = next(
        row for row in sheet.iter_rows(values_only=True) if row[3] == "Refund"
    )
    assert refund[5] == -42.5
    assert refund[6] == "EUR"


def test_a_timeline_download_hides_a_linked_customer_the_viewer_cannot_see(
    signed_in: Callable[[User], Client],
    outsider: User,
    jane: Party,
    hidden: Party,
) -> None:
    add_relationship(jane, hidden, SETUP, RelationshipKind.HOUSEHOLD)
    url = reverse("web:export_timeline", args=[jane.public_id, "csv"])

    text = body(signed_in(outsider).get(url)).decode()

    assert "Hanna" not in text
    assert "Linked to or from a customer you do not have access to" in text


def test_today_lists_download_whole_and_only_visible_customers(
    signed_in: Callable[[User], Client],
    staff: User,
    outsider: User,
    jane: Party,
    hidden: Party,
    now: dt.datetime,
) -> None:
    for party in (jane, hidden):
        record_event(
            party,
            "message",
            "Can you come on Friday?",
            actor=SETUP,
            payload={"direction": "inbound"},
        )
    for number in range(25):
        create_follow_up(
            jane, Actor.for_user(staff), f"Call {number}", now - dt.timedelta(1), staff
        )

    follow_ups = csv_rows(
        signed_in(staff).get(reverse("web:export_today", args=["follow-ups", "csv"]))
    )
    waiting_for_staff = csv_rows(
        signed_in(staff).get(reverse("web:export_today", args=["waiting", "csv"]))
    )
    waiting_for_outsider = csv_rows(
        signed_in(outsider).get(reverse("web:export_today", args=["waiting", "csv"]))
    )

    assert len(follow_ups) == 26
    assert follow_ups[1][1:4] == ["yes", "Call 0", "Jane Example"]
    assert sorted(names_in(waiting_for_staff)) == ["Hidden Hanna", "Jane Example"]
    assert names_in(waiting_for_outsider) == ["Jane Example"]


@pytest.mark.parametrize("list_name", ["follow-ups", "waiting", "bookings", "quiet"])
def test_every_today_list_downloads_as_a_workbook(
    signed_in: Callable[[User], Client], viewer: User, list_name: str
) -> None:
    url = reverse("web:export_today", args=[list_name, "xlsx"])

    response = signed_in(viewer).get(url)

    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    assert load_workbook(io.BytesIO(body(response))).active.max_row == 1


def test_an_unknown_today_list_is_not_found(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    url = reverse("web:export_today", args=["everything", "csv"])

    assert signed_in(staff).get(url).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get(reverse("web:export_today", args=["quiet", "csv"]))

    assert response.status_code == 302


def test_the_import_history_downloads_for_managers_only(
    signed_in: Callable[[User], Client],
    manager: User,
    staff: User,
    tmp_path: Path,
) -> None:
    path = tmp_path / "=evil.vcf"
    path.write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nEND:VCARD\r\n")
    import_path(path, user=manager)
    url = reverse("web:export_imports", args=["csv"])

    rows = csv_rows(signed_in(manager).get(url))
    refused = signed_in(staff).get(url)

    assert rows[0][:3] == ["Started", "File", "Format"]
    assert rows[1][1:3] == ["'=evil.vcf", "VCARD"]
    assert rows[1][5:9] == ["done", "1", "1", "0"]
    assert refused.status_code == 403


def test_the_customer_download_reads_a_fixed_number_of_queries(
    signed_in: Callable[[User], Client],
    owner: User,
    make_party: Callable[..., Party],
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    client = signed_in(owner)
    acme = make_party("Acme Ltd", kind=PartyKind.ORGANISATION)
    for number in range(30):
        person = make_party(
            f"Person {number}",
            emails=[f"p{number}@example.com", f"p{number}@acme.example"],
            tags=["vip"],
        )
        add_relationship(person, acme, SETUP, RelationshipKind.WORKS_AT, role="Buyer")
        pin_fact(person, SETUP, "Pays on time")

    with django_assert_max_num_queries(8):
        rows = csv_rows(client.get(reverse("web:export", args=["csv"])))

    assert len(rows) == 32
    assert rows[-1][4:6] == ["Acme Ltd", "Buyer"]


@pytest.fixture
def import_run(manager: User, tmp_path: Path) -> ImportRun:
    """A finished import whose problems quote a file's hostile cells."""
    path = tmp_path / "cards.vcf"
    path.write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nEND:VCARD\r\n")
    import_path(path, user=manager)
    run = ImportRun.objects.get()
    run.problems = [
        {"file": "", "line": 3, "message": "No name", "skipped": True},
        {"file": "", "line": 7, "message": " =cmd|' /C calc'!A0", "skipped": False},
        {"file": "", "line": 9, "message": "\n@SUM(A1)", "skipped": True},
    ]
    run.save()
    return run


def problems_url(run: ImportRun, fmt: str) -> str:
    return reverse("web:export_import_problems", args=[run.public_id, fmt])


def test_an_imports_problems_download_with_formulas_as_text(
    signed_in: Callable[[User], Client], manager: User, import_run: ImportRun
) -> None:
    client = signed_in(manager)

    response = client.get(problems_url(import_run, "csv"))
    sheet = load_workbook(
        io.BytesIO(body(client.get(problems_url(import_run, "xlsx"))))
    ).active

    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="import-{import_run.pk}-problems-{today}.csv"'
    )
    assert csv_rows(response) == [
        ["File", "Line", "Outcome", "Problem"],
        ["cards.vcf", "3", "row skipped", "No name"],
        ["cards.vcf", "7", "the rest of the row imported", "' =cmd|' /C calc'!A0"],
        ["cards.vcf", "9", "row skipped", "'\n@SUM(A1)"],
    ]
    assert [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        "No name",
        " =cmd|' /C calc'!A0",
        "\n@SUM(A1)",
    ]
    assert {cell.data_type for row in sheet.iter_rows() for cell in row} <= {"s", "n"}
    assert sheet["B2"].value == 3


def test_only_owners_and_managers_download_an_imports_problems(
    signed_in: Callable[[User], Client], staff: User, import_run: ImportRun
) -> None:
    response = signed_in(staff).get(problems_url(import_run, "csv"))

    assert response.status_code == 403


def test_an_import_runs_page_offers_its_problems_as_csv_and_excel(
    signed_in: Callable[[User], Client], manager: User, import_run: ImportRun
) -> None:
    run_page = reverse("web:import_run", args=[import_run.public_id])

    page = signed_in(manager).get(run_page).content.decode()

    assert problems_url(import_run, "csv") in page
    assert problems_url(import_run, "xlsx") in page


@pytest.fixture
def pairs(make_party: Callable[..., Party], hidden: Party) -> None:
    """Jane written twice, and Hidden Hanna written twice."""
    make_party("Jane Example", emails=["jane@example.com"], phones=["+12025550143"])
    make_party("Jane  Example", emails=["JANE@EXAMPLE.COM"])
    make_party("Hidden  Hanna", emails=["HANNA@example.com"])
    find_duplicates()


def test_the_duplicate_queue_downloads_both_sides_of_each_pair(
    signed_in: Callable[[User], Client], outsider: User, pairs: None
) -> None:
    url = reverse("web:export_duplicates", args=["csv"])

    rows = csv_rows(signed_in(outsider).get(url))

    header = rows[0]
    assert header[:3] == ["Score", "Why", "Left name"]
    assert header[-1] == "Found"
    [pair] = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert "Same email jane@example.com" in pair["Why"]
    assert pair["Left name"] == pair["Right name"] == "Jane Example"
    assert pair["Left Threadline id"] != pair["Right Threadline id"]
    points = pair["Left contact points"] + pair["Right contact points"]
    assert "Phone +1 202-555-0143" in points
    assert pair["Left restricted"] == "no"


def test_the_duplicate_download_shows_a_restricted_pair_to_those_who_see_it(
    signed_in: Callable[[User], Client], staff: User, pairs: None
) -> None:
    url = reverse("web:export_duplicates", args=["xlsx"])

    sheet = load_workbook(io.BytesIO(body(signed_in(staff).get(url)))).active

    names = {row[2] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names == {"Jane Example", "Hidden Hanna"}


def test_the_duplicate_download_reads_the_same_queries_for_one_pair_or_many(
    signed_in: Callable[[User], Client],
    staff: User,
    make_party: Callable[..., Party],
    pairs: None,
) -> None:
    client = signed_in(staff)
    url = reverse("web:export_duplicates", args=["csv"])
    csv_rows(client.get(url))
    with CaptureQueriesContext(connection) as few:
        csv_rows(client.get(url))
    for number in range(4):
        for name in (f"Tom Sample {number}", f"Tom  Sample {number}"):
            make_party(name, emails=[f"tom{number}@example.com"])
    find_duplicates()

    with CaptureQueriesContext(connection) as many:
        rows = csv_rows(client.get(url))

    assert len(rows) == 7
    assert len(many) == len(few)


def test_the_duplicates_page_offers_its_downloads(
    signed_in: Callable[[User], Client], viewer: User, pairs: None
) -> None:
    page = signed_in(viewer).get(reverse("web:duplicates")).content.decode()

    assert reverse("web:export_duplicates", args=["xlsx"]) in page


def sender(address: str, **fields: Any) -> UnknownSender:
    return UnknownSender.objects.create(address=address, **fields)


def test_unknown_senders_download_only_those_waiting_for_a_decision(
    signed_in: Callable[[User], Client],
    viewer: User,
    hidden: Party,
    now: dt.datetime,
) -> None:
    sender(
        "jiri@example.cz",
        name="Jiří Příklad",
        message_count=2,
        latest_subject="=1+2 faktura",
        latest_at=now,
    )
    sender("hanna@example.org", status=SenderStatus.ADDED, party=hidden)
    sender("spam@example.org", status=SenderStatus.IGNORED)
    url = reverse("web:export_senders", args=["csv"])

    response = signed_in(viewer).get(url)
    rows = csv_rows(response)

    assert rows[0] == ["Name", "Address", "Emails", "Latest subject", "Latest email"]
    assert rows[1:] == [
        [
            "Jiří Příklad",
            "jiri@example.cz",
            "2",
            "'=1+2 faktura",
            timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
        ]
    ]
    assert "unknown-senders-" in response["Content-Disposition"]


def test_the_senders_page_offers_its_downloads(
    signed_in: Callable[[User], Client], staff: User
) -> None:
    sender("jiri@example.cz")

    page = signed_in(staff).get(reverse("web:mail_senders")).content.decode()

    assert reverse("web:export_senders", args=["csv"]) in page


@pytest.fixture
def crew(owner: User, staff: User, viewer: User) -> Team:
    team = create_team("Crew", Actor.for_user(owner))
    return set_team_members(team, [staff, viewer], Actor.for_user(owner))


def test_settings_users_download_with_roles_and_teams(
    signed_in: Callable[[User], Client], viewer: User, owner: User, crew: Team
) -> None:
    url = reverse("web:export_users", args=["csv"])

    rows = csv_rows(signed_in(viewer).get(url))

    assert rows[0][:5] == ["Name", "Email", "Role", "Active", "Teams"]
    by_email = {row[1]: row for row in rows[1:]}
    assert by_email["vera@example.com"][:5] == [
        "Vera Viewer",
        "vera@example.com",
        "Viewer",
        "yes",
        "Crew",
    ]
    assert by_email[owner.email][4] == ""


def test_settings_teams_download_with_their_members(
    signed_in: Callable[[User], Client], staff: User, crew: Team
) -> None:
    url = reverse("web:export_teams", args=["xlsx"])

    sheet = load_workbook(io.BytesIO(body(signed_in(staff).get(url)))).active

    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Team", "Members", "Added")
    assert rows[1][:2] == ("Crew", "Sam Staff, Vera Viewer")


@pytest.mark.parametrize("list_name", ["users", "teams"])
def test_settings_lists_read_the_same_queries_for_few_people_or_many(
    signed_in: Callable[[User], Client],
    owner: User,
    crew: Team,
    list_name: str,
) -> None:
    client = signed_in(owner)
    url = reverse(f"web:export_{list_name}", args=["csv"])
    csv_rows(client.get(url))
    with CaptureQueriesContext(connection) as few:
        csv_rows(client.get(url))
    people = [create_user(f"p{n}@example.com", None, name=f"P {n}") for n in range(4)]
    set_team_members(crew, people, Actor.for_user(owner))
    set_team_members(
        create_team("Office", Actor.for_user(owner)), people, Actor.for_user(owner)
    )

    with CaptureQueriesContext(connection) as many:
        csv_rows(client.get(url))

    assert len(many) == len(few)


def test_settings_pages_offer_their_downloads(
    signed_in: Callable[[User], Client], staff: User, crew: Team
) -> None:
    client = signed_in(staff)

    users = client.get(reverse("web:settings_users")).content.decode()
    teams = client.get(reverse("web:settings_teams")).content.decode()

    assert reverse("web:export_users", args=["xlsx"]) in users
    assert reverse("web:export_teams", args=["xlsx"]) in teams


def test_settings_mailboxes_download_with_a_stopped_sync_said(
    signed_in: Callable[[User], Client],
    viewer: User,
    monkeypatch: pytest.MonkeyPatch,
    now: dt.datetime,
) -> None:
    monkeypatch.setenv("THREADLINE_IMAP_HOST", "imap.example.com")
    monkeypatch.setenv("THREADLINE_IMAP_USER", "desk@example.com")
    monkeypatch.setenv("THREADLINE_IMAP_PASSWORD", "secret")
    Mailbox.objects.create(
        name="main",
        last_attempt_at=now,
        last_success_at=now - dt.timedelta(days=2),
        messages_waiting=12,
        last_error="-imap.example.com refused the password.",
    )
    client = signed_in(viewer)

    rows = csv_rows(client.get(reverse("web:export_mailboxes", args=["csv"])))
    page = client.get(reverse("web:settings_mailboxes")).content.decode()

    assert rows[0][:5] == ["Name", "Account", "Folder", "Configured", "Sync stopped"]
    account = "desk@example.com on imap.example.com"
    assert rows[1][:5] == ["main", account, "INBOX", "yes", "yes"]
    assert rows[1][7:] == ["12", "0", "'-imap.example.com refused the password."]
    assert reverse("web:export_mailboxes", args=["csv"]) in page


@pytest.mark.parametrize(
    "name", ["export_duplicates", "export_senders", "export_users", "export_teams"]
)
def test_signed_out_visitors_download_no_list(client: Client, name: str) -> None:
    response = client.get(reverse(f"web:{name}", args=["csv"]))

    assert response.status_code == 302


def test_a_company_named_by_an_earlier_row_takes_its_own_rows_stage(
    db: None, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "Name,Kind,Stage,Company,Email\n"
        'Pat Worker,Person,Lead,"Widgets, LLC",pat@w.example\n'
        '"Widgets, LLC",Organisation,Customer,,info@w.example\n'
    )

    import_path(path)

    widgets = Party.objects.get(display_name="Widgets, LLC")
    assert widgets.stage == "customer"
    assert widgets.contact_points.get().value == "info@w.example"


def test_an_organisation_row_finds_its_organisation_by_email_and_warns_of_a_person(
    db: None, tmp_path: Path, make_party: Callable[..., Party]
) -> None:
    make_party("Widgets", kind=PartyKind.ORGANISATION, emails=["info@w.example"])
    make_party("House Five", emails=["h5@home.example"])
    path = tmp_path / "customers.csv"
    path.write_text(
        "Name,Kind,Email\n"
        '"Widgets, LLC",Organisation,info@w.example\n'
        "The Fives,Household,h5@home.example\n"
        "Pat Partner,Partner,pat@example.com\n"
        ",Organisation,office@nameless.example\n"
    )

    report = import_path(path)

    messages = [problem.message for problem in report.problems]
    assert Party.objects.filter(kind=PartyKind.ORGANISATION).count() == 1
    assert Party.objects.filter(kind=PartyKind.HOUSEHOLD).count() == 1
    assert any(
        "a person; this row was imported as a separate household" in m for m in messages
    )
    assert any("kind 'Partner' is not one Threadline knows" in m for m in messages)
    assert any("this organisation row has no name" in m for m in messages)
