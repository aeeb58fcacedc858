"""A file of interactions lands each row on its party's timeline, once."""

import datetime as dt
import json
from pathlib import Path

import pytest
from django.db import DatabaseError

from tests.transfer.conftest import DATA
from tests.transfer.record_snapshot import run_and_forget
from threadline.parties.models import Party
from threadline.timeline.models import Event
from threadline.transfer.events import (
    import_events,
    is_events_file,
    parse_amount,
    plan_event_columns,
)
from threadline.transfer.importer import import_path
from threadline.transfer.reading import open_table

pytestmark = pytest.mark.django_db

CASE = DATA / "csv_merge_duplicates_with_timeline.csv"
HEADER = "event_id,contact_ref,name,email,type,when,summary,direction,amount,currency\n"


def write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(header + "".join(rows))
    return path


def interactions(party: Party) -> list[tuple[str, str]]:
    events = party.events.exclude(kind__in=["profile_change", "import"])
    return list(events.order_by("occurred_at").values_list("kind", "summary"))


def test_two_contact_ids_sharing_an_email_land_on_one_timeline_in_order():
    report = import_path(CASE)

    jane = Party.objects.get()
    assert [kind for kind, _ in interactions(jane)] == [
        "call",
        "quote",
        "message",
        "booking",
        "payment",
    ]
    assert report.rows_used == 5
    assert report.problems == []
    assert jane.last_interaction_at == dt.datetime(2025, 2, 2, 16, 45, tzinfo=dt.UTC)


def test_a_second_run_of_the_case_adds_nothing():
    import_path(CASE)
    count = Event.objects.count()

    again = import_path(CASE)

    assert Event.objects.count() == count
    assert again.created_text() == "nothing new"


def test_an_amount_in_the_summary_is_kept_and_a_missing_one_is_unknown():
    import_path(CASE)

    quote = Event.objects.get(kind="quote")
    payment = Event.objects.get(kind="payment")
    assert (quote.payload["amount"], quote.payload["currency"]) == ("1200.00", "EUR")
    assert payment.payload["amount"] is None


def test_every_event_carries_the_runs_actor_label():
    report = import_path(CASE)

    assert report.run is not None
    labels = set(Event.objects.values_list("actor_label", flat=True))
    assert labels == {report.run.actor_label}


def test_a_dry_run_changes_nothing_and_counts_what_it_would_do():
    report = import_path(CASE, dry_run=True)

    assert report.created["call"] == 1
    assert not Event.objects.exists()
    assert not Party.objects.exists()


def test_naive_times_are_read_in_the_business_time_zone(tmp_path, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    path = write(tmp_path, ["e1,,Ann Lee,ann@example.com,call,2025-03-10 09:00,,,,\n"])

    import_path(path)

    event = Event.objects.get(kind="call")
    assert event.occurred_at == dt.datetime(2025, 3, 10, 8, 0, tzinfo=dt.UTC)


def test_written_dates_types_and_directions_are_understood(tmp_path):
    path = write(
        tmp_path,
        [
            "e1,,Ann Lee,ann@example.com,SMS,10.03.2025 14:30,Running late,in,,\n",
            'e2,,Ann Lee,ann@example.com,Invoice,2025-03-11,Boiler,,"1.200,50",EUR\n',
            "e3,,Ann Lee,ann@example.com,Site visit,1741687200,Checked,,,\n",
        ],
    )

    import_path(path)

    ann = Party.objects.get()
    sms = Event.objects.get(kind="message")
    invoice = Event.objects.get(kind="invoice")
    assert (sms.payload["channel"], sms.direction) == ("sms", "inbound")
    assert invoice.payload["amount"] == "1200.50"
    assert invoice.occurred_at.hour == 12
    assert Event.objects.filter(kind="visit").exists()
    assert ann.awaiting_reply_since is None


def test_calls_without_a_direction_are_ours_and_the_reading_says_so(tmp_path):
    path = write(
        tmp_path,
        [
            "e1,,Ann Lee,ann@example.com,call,2025-03-10T09:00Z,Hello,,,\n",
            "e2,,Ann Lee,ann@example.com,call,2025-03-11T09:00Z,Back,inbound,,\n",
            "e3,,Ann Lee,ann@example.com,note,2025-03-12T09:00Z,Noted,,,\n",
        ],
    )

    report = import_path(path)

    directions = Event.objects.filter(kind="call").order_by("occurred_at")
    assert list(directions.values_list("direction", flat=True)) == [
        "outbound",
        "inbound",
    ]
    assert report.description.endswith(
        "; 1 call or message without a direction taken as by us"
    )
    assert report.run is not None
    assert report.run.description == report.description


def test_bad_rows_are_reported_with_their_line_and_the_rest_imported(tmp_path):
    path = write(
        tmp_path,
        [
            "e1,,Ann Lee,ann@example.com,call,2025-03-10T09:00Z,Hello,,,\n",
            "e2,,Ann Lee,ann@example.com,telegram,2025-03-10T09:00Z,Hi,,,\n",
            "e3,,Ann Lee,ann@example.com,call,not a date,Hi,,,\n",
            "e4,,Ann Lee,ann@example.com,payment,2025-03-10T09:00Z,Paid,,12,XYZ\n",
            "e5,C9,,,call,2025-03-10T09:00Z,Who?,,,\n",
            "e6,,Ann Lee,ann@example.com,call,2099-01-01T09:00Z,Later,,,\n",
        ],
    )

    report = import_path(path)

    assert report.rows_used == 1
    problems = {problem.line: problem.message for problem in report.problems}
    assert "'telegram' is not one Threadline knows" in problems[3]
    assert "'not a date' is not a date" in problems[4]
    assert "ISO 4217" in problems[5]
    assert "no customer with contact id 'C9'" in problems[6]
    assert "out of range" in problems[7]
    assert all(problem.skipped for problem in report.problems)


def test_contact_ids_link_rows_to_an_earlier_contact_import(tmp_path):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,name,phone\nC7,Bo Park,+1 202 555 0100\n")
    import_path(contacts, source="shop")
    path = write(tmp_path, ["e1,C7,,,note,2025-03-10T09:00Z,Likes tea,,,\n"])

    report = import_path(path, source="shop")

    bo = Party.objects.get()
    assert interactions(bo) == [("note", "Likes tea")]
    assert "person" not in report.created


def test_a_mapping_names_the_columns_of_any_file(tmp_path):
    mapping = tmp_path / "mine.json"
    mapping.write_text(
        json.dumps(
            {
                "name": "mine",
                "columns": {
                    "Wann": "occurred_at",
                    "Was": "event_type",
                    "Kunde": "email",
                    "Text": "summary",
                },
            }
        )
    )
    path = write(
        tmp_path,
        ["2025-03-10T09:00Z;anruf;ann@example.com;Rückruf\n"],
        header="Wann;Was;Kunde;Text\n",
    )

    report = import_path(path, mapping=str(mapping))

    assert report.rows_used == 1
    assert Event.objects.get(kind="call").summary == "Rückruf"


def test_a_file_without_a_type_column_is_refused_with_its_fix(tmp_path):
    path = write(tmp_path, ["2025-03-10,ann@example.com\n"], header="date,email\n")
    table = open_table(path)

    with pytest.raises(Exception, match="no column for its type"):
        import_events(table, None)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1200", "1200"),
        ("1,200.50", "1200.50"),
        ("1.200,50", "1200.50"),
        ("12,5", "12.5"),
    ],
)
def test_amounts_are_read_in_either_notation(text, amount):
    assert str(parse_amount(text)) == amount


def test_batch_and_row_paths_record_the_same_events(tmp_path):
    rows = [
        f"e{n},,Person {n % 7},p{n % 7}@example.com,{kind},2025-03-{n % 28 + 1:02d}"
        f"T09:00Z,Row {n},{direction},{amount},EUR\n"
        for n, (kind, direction, amount) in enumerate(
            [("call", "out", ""), ("email", "in", ""), ("payment", "", "10")] * 10
        )
    ]
    rows.append("e99,,,,call,2025-03-01T09:00Z,Nobody,,,\n")
    path = write(tmp_path, rows)

    def run(bulk: bool) -> object:
        import_events(open_table(CASE), None, bulk=bulk)
        return import_events(open_table(path), None, bulk=bulk)

    assert run_and_forget(lambda: run(True)) == run_and_forget(lambda: run(False))


def test_a_batch_that_fails_as_a_whole_is_written_row_by_row(monkeypatch):
    def refuse(self, batch):
        raise DatabaseError("disk full")

    monkeypatch.setattr("threadline.transfer.events.EventWriter.write_batch", refuse)
    retried = run_and_forget(lambda: import_events(open_table(CASE), None))
    per_row = run_and_forget(lambda: import_events(open_table(CASE), None, bulk=False))

    assert retried == per_row
    assert retried[0][:2] == (5, 5)


def test_a_file_is_read_as_events_only_with_a_time_and_an_interaction_type():
    assert is_events_file(["Customer ID", "Activity Type", "Activity Date"], None)
    assert not is_events_file(["Name", "Email", "Contact type", "Date"], None)
    plan = plan_event_columns(["Customer No", "Kind", "When", "Subject"], None)
    assert plan.columns == {
        "contact_ref": 0,
        "event_type": 1,
        "occurred_at": 2,
        "summary": 3,
    }


@pytest.mark.parametrize("bulk", [True, False], ids=["batch", "row"])
def test_a_row_with_only_a_phone_lands_on_the_customer_whose_name_agrees(
    tmp_path, bulk
):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "name,phone\nBo Park,+1 202 555 0100\nAda Kim,+1 202 555 0199\n"
    )
    import_path(contacts)
    path = write(
        tmp_path,
        [
            "call,2025-03-10T09:00Z,BO PARK,(202) 555-0100,Boiler noise\n",
            "note,2025-03-11T09:00Z,,202.555.0199,Prefers mornings\n",
            "call,2025-03-12T09:00Z,Cy Park,202 555 0100,Asked for Bo\n",
        ],
        header="type,when,name,phone,summary\n",
    )

    report = import_events(open_table(path), None, bulk=bulk)

    bo = Party.objects.get(display_name="Bo Park")
    ada = Party.objects.get(display_name="Ada Kim")
    cy = Party.objects.get(display_name="Cy Park")
    assert interactions(bo) == [("call", "Boiler noise")]
    assert interactions(ada) == [("note", "Prefers mornings")]
    assert interactions(cy) == [("call", "Asked for Bo")]
    assert report.created["person"] == 1
    assert report.problems == []


def test_a_row_with_only_an_unknown_phone_and_no_name_is_reported(tmp_path):
    path = write(
        tmp_path,
        ["call,2025-03-10T09:00Z,,+1 202 555 0142,Who?\n"],
        header="type,when,name,phone,summary\n",
    )

    report = import_path(path)

    assert report.rows_used == 0
    assert "no customer with this phone" in report.problems[0].message
    assert not Party.objects.exists()
