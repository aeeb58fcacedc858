"""Dates in contact files: one order of day and month per column, proven by
the file where it can be, assumed from the business's region where not."""

import datetime as dt
import json

import pytest

from tests.transfer.conftest import DATA
from threadline.parties.models import Party
from threadline.transfer.dates import (
    DAY_FIRST,
    MONTH_FIRST,
    ColumnDates,
    DateProblem,
    parse_date,
    region_order,
    resolve_order,
)
from threadline.transfer.importer import import_path

TODAY = dt.date(2026, 6, 1)


def birthdays() -> dict[str, dt.date | None]:
    return dict(Party.objects.values_list("display_name", "birthday"))


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("1985-03-12", MONTH_FIRST, dt.date(1985, 3, 12)),
        ("1985-03-12T00:00:00", DAY_FIRST, dt.date(1985, 3, 12)),
        ("1985/3/12", DAY_FIRST, dt.date(1985, 3, 12)),
        ("12/03/1985", DAY_FIRST, dt.date(1985, 3, 12)),
        ("12/03/1985", MONTH_FIRST, dt.date(1985, 12, 3)),
        ("12.03.1985", DAY_FIRST, dt.date(1985, 3, 12)),
        ("12-Mar-1985", MONTH_FIRST, dt.date(1985, 3, 12)),
        ("12 March 1985", MONTH_FIRST, dt.date(1985, 3, 12)),
        ("March 12, 1985", DAY_FIRST, dt.date(1985, 3, 12)),
        ("12. März 1985", DAY_FIRST, dt.date(1985, 3, 12)),
        ("3 févr. 1990", DAY_FIRST, dt.date(1990, 2, 3)),
        ("12/03/85", DAY_FIRST, dt.date(1985, 3, 12)),
        ("01/02/20", DAY_FIRST, dt.date(2020, 2, 1)),
        ("01/02/30", DAY_FIRST, dt.date(1930, 2, 1)),
    ],
)
def test_common_ways_of_writing_a_date_are_read(text, order, expected):
    assert parse_date(text, order, TODAY) == expected


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ("1", dt.date(1900, 1, 1)),
        ("59", dt.date(1900, 2, 28)),
        ("61", dt.date(1900, 3, 1)),
        ("31046", dt.date(1984, 12, 30)),
        ("43831", dt.date(2020, 1, 1)),
        ("43831.75", dt.date(2020, 1, 1)),
    ],
)
def test_excel_serials_count_from_1900_with_its_phantom_leap_day(serial, expected):
    assert parse_date(serial, DAY_FIRST, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("60", "29 February 1900, a day that did not exist"),
        ("1985", "only a year"),
        ("--03-12", "no year"),
        ("31/02/1985", "not a date"),
        ("12/25/1985", "reads only as month/day/year"),
        ("12 Foo 1985", "'Foo' is not a month"),
        ("next week", "not a date"),
    ],
)
def test_a_value_that_is_no_date_says_why(text, reason):
    with pytest.raises(DateProblem, match=reason):
        parse_date(text, DAY_FIRST, TODAY)


@pytest.mark.parametrize("text", ["", "  ", "0/0/00", "00.00.0000"])
def test_empty_dates_and_outlooks_zero_date_are_no_date(text):
    assert parse_date(text, MONTH_FIRST, TODAY) is None


@pytest.mark.parametrize(
    ("region", "order"),
    [
        ("US", MONTH_FIRST),
        ("PH", MONTH_FIRST),
        ("CA", MONTH_FIRST),
        ("GB", DAY_FIRST),
        ("DE", DAY_FIRST),
        ("AU", DAY_FIRST),
        ("BR", DAY_FIRST),
    ],
)
def test_the_regions_order_comes_from_its_short_date_format(region, order):
    assert region_order(region)[0] == order


def column(*values: str) -> ColumnDates:
    evidence = ColumnDates()
    for line, value in enumerate(values, start=2):
        evidence.observe(value, line)
    return evidence


def test_one_day_over_twelve_proves_the_whole_column():
    reading = resolve_order("dob", column("12/03/1985", "25/12/1979"), {}, region="US")

    assert reading.order == DAY_FIRST
    assert "25/12/1979 on line 3" in reading.describe()
    assert not reading.assumed


def test_a_column_that_proves_nothing_borrows_another_date_columns_proof():
    others = {"visit": column("04/03/2025", "31/01/2026")}

    reading = resolve_order("dob", column("12/03/1985"), others, region="US")

    assert reading.order == DAY_FIRST
    assert "31/01/2026 in visit" in reading.describe()


def test_a_column_proving_both_orders_follows_most_of_its_rows():
    evidence = column("25/12/1979", "13/01/1980", "12/25/1981")

    reading = resolve_order("dob", evidence, {}, region="US")

    assert reading.order == DAY_FIRST
    assert "2 prove day/month/year and 1 month/day/year" in reading.describe()


def test_nothing_proving_the_order_assumes_the_regions_and_says_how_to_override():
    reading = resolve_order("dob", column("12/03/1985"), {}, region="GB")

    assert (reading.order, reading.assumed) == (DAY_FIRST, True)
    assert "ASSUMED" in reading.describe()
    assert '"date_order": "mdy"' in reading.describe()


@pytest.mark.django_db
def test_handed_case_reads_every_birthday_day_first():
    report = import_path(DATA / "csv_ambiguous_ddmm_birthdates.csv")

    assert birthdays() == {
        "Jane Example": dt.date(1985, 3, 12),
        "Raj Sample": dt.date(1990, 2, 1),
        "Ana Test": dt.date(1979, 12, 25),
    }
    assert "birthdate: day/month/year (25/12/1979 on line 4" in report.description
    assert ("birthdate", "birthday") in report.columns
    assert report.ignored_columns == ["next_visit"]
    assert report.problems == []


@pytest.mark.django_db
def test_handed_case_is_read_day_first_even_in_a_month_first_region(settings):
    settings.DEFAULT_REGION = "US"

    import_path(DATA / "csv_ambiguous_ddmm_birthdates.csv")

    assert birthdays()["Raj Sample"] == dt.date(1990, 2, 1)


@pytest.mark.django_db
def test_unproven_dates_follow_the_region_and_the_report_says_so(settings, tmp_path):
    settings.DEFAULT_REGION = "US"
    path = tmp_path / "people.csv"
    path.write_text("name,dob\nJane Example,01/02/1990\nRaj Sample,03/04/1985\n")

    report = import_path(path)

    assert birthdays()["Jane Example"] == dt.date(1990, 1, 2)
    assert "dob: month/day/year ASSUMED" in report.description
    assert "region US (M/d/yy)" in report.description
    assert '"date_order": "dmy"' in report.description


@pytest.mark.django_db
def test_a_mapping_sets_the_order_when_the_file_cannot(settings, tmp_path):
    settings.DEFAULT_REGION = "US"
    path = tmp_path / "people.csv"
    path.write_text("name,dob\nJane Example,01/02/1990\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"options": {"date_order": "dmy"}}))

    report = import_path(path, mapping=str(mapping))

    assert birthdays()["Jane Example"] == dt.date(1990, 2, 1)
    assert "dob: day/month/year (as the mapping says)" in report.description


@pytest.mark.django_db
def test_a_row_contradicting_its_columns_order_keeps_all_but_its_date(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "name,dob\n"
        "Jane Example,25/12/1979\n"
        "Raj Sample,13/01/1980\n"
        "Ana Test,12/25/1981\n"
    )

    report = import_path(path)

    assert birthdays()["Ana Test"] is None
    [problem] = report.problems
    assert problem.line == 4
    assert not problem.skipped
    assert "reads only as month/day/year" in problem.message


@pytest.mark.django_db
def test_excel_serials_and_implausible_birthdays_in_a_csv(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "name,Birthday\nJane Example,31046\nRaj Sample,2999-01-01\nAna Test,0/0/00\n"
    )

    report = import_path(path)

    assert birthdays() == {
        "Jane Example": dt.date(1984, 12, 30),
        "Raj Sample": None,
        "Ana Test": None,
    }
    assert [(p.line, p.skipped) for p in report.problems] == [(3, False)]
    assert "not plausible" in report.problems[0].message


@pytest.mark.parametrize(
    "header", ["birthday", "Birthdate", "Date of Birth", "DOB", "Geburtstag"]
)
@pytest.mark.django_db
def test_birthday_columns_are_recognised_by_their_common_names(tmp_path, header):
    path = tmp_path / "people.csv"
    path.write_text(f"name,{header}\nJane Example,1985-03-12\n")

    import_path(path)

    assert birthdays()["Jane Example"] == dt.date(1985, 3, 12)


@pytest.mark.django_db
def test_thunderbirds_birth_year_month_and_day_make_one_birthday(tmp_path):
    path = tmp_path / "thunderbird.csv"
    path.write_text(
        "First Name,Last Name,Display Name,Primary Email,Secondary Email,"
        "Birth Year,Birth Month,Birth Day\n"
        "Jane,Example,Jane Example,jane@example.com,,1985,3,12\n"
        "Raj,Sample,Raj Sample,raj@example.com,,,3,12\n"
    )

    report = import_path(path)

    assert report.mapping == "thunderbird"
    assert birthdays() == {"Jane Example": dt.date(1985, 3, 12), "Raj Sample": None}
    [problem] = report.problems
    assert (problem.line, problem.skipped) == (3, False)
    assert "year (none), month 3, day 12 is not a whole date" in problem.message
