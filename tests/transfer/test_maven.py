"""The Maven CRM sales data set imports with counts that match its files.

The data set has no stated licence, so it is read from the shared corpus
beside the clone and the tests skip when that is absent. It is imported once
for the module, twice over, because an import of 8,800 deals takes seconds.
"""

import csv
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command

from tests.transfer.conftest import corpus_path
from threadline.accounts.models import Role, User
from threadline.parties.models import Party, PartyKind, Stage
from threadline.threads.models import Thread, ThreadKind
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.importer import import_path


def read(folder, name):
    with (folder / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def imported(django_db_setup, django_db_blocker):
    folder = corpus_path("csv/maven_crm_sales")
    files = {
        name: read(folder, name)
        for name in ("accounts", "sales_teams", "sales_pipeline")
    }
    with django_db_blocker.unblock():
        first = import_path(folder)
        second = import_path(folder, mapping="maven-crm")
        yield files, first, second
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def deals(imported):
    files, _, _ = imported
    return [deal for deal in files["sales_pipeline"] if deal["account"]]


@pytest.mark.django_db
def test_accounts_become_organisations(imported):
    files, first, _ = imported

    assert Party.objects.filter(kind=PartyKind.ORGANISATION).count() == len(
        files["accounts"]
    )
    assert first.created["organisation"] == len(files["accounts"])


@pytest.mark.django_db
def test_salespeople_become_staff_and_managers_who_cannot_sign_in(imported):
    files, _, _ = imported
    managers = {row["manager"] for row in files["sales_teams"]}

    assert User.objects.filter(role=Role.STAFF).count() == len(files["sales_teams"])
    assert User.objects.filter(role=Role.MANAGER).count() == len(managers)
    imported_users = User.objects.all()
    assert not imported_users.filter(is_active=True).exists()
    assert not any(user.has_usable_password() for user in imported_users)


@pytest.mark.django_db
def test_each_deal_with_an_account_is_a_thread_with_its_outcome(imported, deals):
    stages = Counter(deal["deal_stage"] for deal in deals)

    threads = Thread.objects.filter(kind=ThreadKind.DEAL)
    assert threads.count() == len(deals)
    assert threads.filter(status="won").count() == stages["Won"]
    assert threads.filter(status="lost").count() == stages["Lost"]
    assert threads.filter(status="open").count() == (
        stages["Engaging"] + stages["Prospecting"]
    )
    assert User.objects.get(name="Darcel Schlecht").threads.exists()


@pytest.mark.django_db
def test_won_and_lost_deals_have_accepted_and_declined_quotes(imported, deals):
    stages = Counter(deal["deal_stage"] for deal in deals)
    won_value = sum(
        Decimal(deal["close_value"]) for deal in deals if deal["deal_stage"] == "Won"
    )

    quotes = Event.objects.filter(kind=Kind.QUOTE)
    accepted = quotes.filter(payload__status="accepted")
    assert accepted.count() == stages["Won"]
    assert quotes.filter(payload__status="declined").count() == stages["Lost"]
    assert quotes.exclude(payload__currency="USD").count() == 0
    amounts = accepted.values_list("payload__amount", flat=True)
    assert sum(Decimal(amount) for amount in amounts) == won_value


@pytest.mark.django_db
def test_deals_without_an_account_are_reported_by_line(imported):
    files, first, _ = imported
    expected = [
        number + 2
        for number, deal in enumerate(files["sales_pipeline"])
        if not deal["account"]
    ]

    skipped = [problem for problem in first.problems if problem.skipped]

    assert [problem.line for problem in skipped] == expected
    assert {problem.file for problem in skipped} == {"sales_pipeline.csv"}
    assert skipped[0].message.startswith("no account")


@pytest.mark.django_db
def test_data_quirks_are_corrected_on_the_way_in(imported):
    acme = Party.objects.get(display_name="Acme Corporation")

    assert list(acme.tags.values_list("name", flat=True)) == ["technology"]
    assert acme.stage == Stage.CUSTOMER
    assert "Sector: technology" in Event.objects.get(party=acme, kind=Kind.NOTE).body
    assert not Thread.objects.filter(title__startswith="GTXPro").exists()
    assert Thread.objects.filter(title__startswith="GTX Pro for").exists()


@pytest.mark.django_db
def test_second_import_creates_nothing(imported, deals):
    _, _, second = imported

    assert sum(second.created.values()) == 0
    assert Thread.objects.count() == len(deals)
