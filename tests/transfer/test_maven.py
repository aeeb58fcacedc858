"""The Maven CRM sales data set imports with counts that match its files.

The data set has no stated licence, so it is read from the shared corpus
beside the clone and the test skips when that is absent. Importing 8,800
deals takes seconds, so one test imports it (twice, to prove the second run
creates nothing) and checks each behaviour with a named helper; as one test
it also stays on one worker under pytest-xdist.
"""

import csv
from collections import Counter
from decimal import Decimal

import pytest

from tests.transfer.conftest import corpus_path
from threadline.accounts.models import Role, User
from threadline.parties.models import Party, PartyKind, Stage
from threadline.threads.models import Thread, ThreadKind
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.importer import import_path
from threadline.transfer.report import ImportReport

Files = dict[str, list[dict[str, str]]]


def read(folder, name):
    with (folder / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.django_db
def test_data_set_imports_with_counts_matching_its_files():
    folder = corpus_path("csv/maven_crm_sales")
    files = {
        name: read(folder, name)
        for name in ("accounts", "sales_teams", "sales_pipeline")
    }

    first = import_path(folder)
    second = import_path(folder, mapping="maven-crm")

    accounts_become_organisations(files, first)
    salespeople_become_users_who_cannot_sign_in(files)
    deals_with_an_account_become_threads_with_their_outcome(files)
    won_and_lost_deals_have_accepted_and_declined_quotes(files)
    deals_without_an_account_are_reported_by_line(files, first)
    data_quirks_are_corrected_on_the_way_in()
    second_run_creates_nothing(files, second)


def accounts_become_organisations(files: Files, report: ImportReport) -> None:
    organisations = Party.objects.filter(kind=PartyKind.ORGANISATION)
    assert organisations.count() == len(files["accounts"])
    assert report.created["organisation"] == len(files["accounts"])


def salespeople_become_users_who_cannot_sign_in(files: Files) -> None:
    managers = {row["manager"] for row in files["sales_teams"]}

    assert User.objects.filter(role=Role.STAFF).count() == len(files["sales_teams"])
    assert User.objects.filter(role=Role.MANAGER).count() == len(managers)
    assert not User.objects.filter(is_active=True).exists()
    assert not any(user.has_usable_password() for user in User.objects.all())


def deals_with_an_account_become_threads_with_their_outcome(files: Files) -> None:
    deals = [deal for deal in files["sales_pipeline"] if deal["account"]]
    stages = Counter(deal["deal_stage"] for deal in deals)

    threads = Thread.objects.filter(kind=ThreadKind.DEAL)
    assert threads.count() == len(deals)
    assert threads.filter(status="won").count() == stages["Won"]
    assert threads.filter(status="lost").count() == stages["Lost"]
    assert threads.filter(status="open").count() == (
        stages["Engaging"] + stages["Prospecting"]
    )
    assert User.objects.get(name="Darcel Schlecht").threads.exists()


def won_and_lost_deals_have_accepted_and_declined_quotes(files: Files) -> None:
    deals = [deal for deal in files["sales_pipeline"] if deal["account"]]
    stages = Counter(deal["deal_stage"] for deal in deals)
    won_value = sum(
        Decimal(deal["close_value"]) for deal in deals if deal["deal_stage"] == "Won"
    )

    quotes = Event.objects.filter(kind=Kind.QUOTE)
    accepted = quotes.filter(payload__status="accepted")
    assert accepted.count() == stages["Won"]
    assert quotes.filter(payload__status="declined").count() == stages["Lost"]
    assert not quotes.exclude(payload__currency="USD").exists()
    amounts = accepted.values_list("payload__amount", flat=True)
    assert sum(Decimal(amount) for amount in amounts) == won_value


def deals_without_an_account_are_reported_by_line(
    files: Files, report: ImportReport
) -> None:
    expected = [
        number + 2
        for number, deal in enumerate(files["sales_pipeline"])
        if not deal["account"]
    ]

    skipped = [problem for problem in report.problems if problem.skipped]

    assert [problem.line for problem in skipped] == expected
    assert {problem.file for problem in skipped} == {"sales_pipeline.csv"}
    assert skipped[0].message.startswith("no account")
    assert not [problem for problem in report.problems if not problem.skipped]


def data_quirks_are_corrected_on_the_way_in() -> None:
    acme = Party.objects.get(display_name="Acme Corporation")

    assert list(acme.tags.values_list("name", flat=True)) == ["technology"]
    assert acme.stage == Stage.CUSTOMER
    assert "Sector: technology" in Event.objects.get(party=acme, kind=Kind.NOTE).body
    assert not Thread.objects.filter(title__startswith="GTXPro").exists()
    assert Thread.objects.filter(title__startswith="GTX Pro for").exists()


def second_run_creates_nothing(files: Files, report: ImportReport) -> None:
    with_account = [deal for deal in files["sales_pipeline"] if deal["account"]]

    assert sum(report.created.values()) == 0
    assert Thread.objects.count() == len(with_account)


@pytest.mark.django_db
def test_one_file_of_the_data_set_alone_is_refused_without_naming_its_folder(
    tmp_path,
):
    from threadline.errors import InvalidInput

    path = tmp_path / "sales_pipeline.csv"
    path.write_text(
        "opportunity_id,sales_agent,product,account,deal_stage,engage_date,"
        "close_date,close_value\n1C1I7A6R,Moses Frase,GTX Basic,Cancity,Won,"
        "2016-10-20,2017-03-01,1054\n"
    )

    with pytest.raises(InvalidInput) as refused:
        import_path(path)

    assert str(tmp_path) not in refused.value.message
    assert refused.value.message.startswith(
        "sales_pipeline.csv is one file of the Maven CRM sales data set"
    )
    assert "accounts.csv, products.csv, sales_teams.csv are not beside it" in (
        refused.value.message
    )
    assert not Party.objects.exists()
