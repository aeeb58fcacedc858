"""Reading dates written the many ways files write them.

Whether "01/02/1990" is the first of February or the second of January
cannot be told from the value alone. It is decided for a whole column: a
value such as 25/12/1979 proves the day comes first, one such as 12/25/1979
that the month does. A column that proves neither borrows the proof of
another date column of the same file, else the business's region decides
(THREADLINE_DEFAULT_REGION, through the region's short date format in the
Unicode CLDR data that babel carries), and the report says it was assumed.
"""

import datetime as dt
import logging
import re
from dataclasses import dataclass
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.dates import get_date_format, get_month_names
from django.utils import timezone

from threadline.parties.names import fold

logger = logging.getLogger(__name__)

DAY_FIRST = "dmy"
MONTH_FIRST = "mdy"
ORDER_NAMES = {DAY_FIRST: "day/month/year", MONTH_FIRST: "month/day/year"}
# 12/03/1985, 12.03.85, 3-12-1985: day and month in an order to be decided.
NUMERIC = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})")
ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+\-][\d:]+)?)?")
YEAR_FIRST = re.compile(r"(\d{4})([/.])(\d{1,2})\2(\d{1,2})\.?")
# 12-Mar-1985, 12 March 1985, 12. März 1985
DAY_MONTH_NAME = re.compile(r"(\d{1,2})\.?[\s\-/]*([^\W\d_]+)\.?[\s\-/,]*(\d{4}|\d{2})")
# March 12, 1985; Mar 12th 1985
MONTH_NAME_DAY = re.compile(r"([^\W\d_]+)\.?\s*(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
# A number in a date column is a date as Excel counts them.
SERIAL = re.compile(r"\d{3,7}(?:\.\d+)?|\d{1,2}")
# vCard and Google write a birthday without its year as --MM-DD.
NO_YEAR = re.compile(r"--(\d{2})-?(\d{2})")
# Outlook writes 0/0/00 for a contact without a birthday.
NO_DATE = re.compile(r"0{1,2}([/.\-])0{1,2}\1(?:0{2}|0{4})")
EXCEL_EPOCH = dt.date(1899, 12, 30)
# Excel counts a 29 February 1900 that never was (it copied Lotus 1-2-3), so
# its serials up to 59 are one day off from the ones after.
EXCEL_PHANTOM_LEAP_DAY = 60
EXCEL_LAST_SERIAL = 2958465
# Four digits alone in a date column are a year, not a day in 1902-1908.
YEARS = range(1000, 3000)
# Month names of the languages contact files are most often written in.
MONTH_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "sv", "da", "pl")
# What a column of dates must mostly be to lend its order to another column.
DATE_COLUMN_SHARE = 0.9


class DateProblem(ValueError):
    """A value that cannot be read as a date, with the reason in words."""


@dataclass
class ColumnDates:
    """What one column's values show about how its dates are written."""

    filled: int = 0
    numeric: int = 0
    dotted: int = 0
    ambiguous: int = 0
    day_first: int = 0
    month_first: int = 0
    # The first value proving each order, with its line: ("25/12/1979", 4).
    day_first_proof: tuple[str, int] | None = None
    month_first_proof: tuple[str, int] | None = None

    def observe(self, value: str, line: int) -> None:
        text = value.strip()
        if not text:
            return
        self.filled += 1
        if not text[0].isdigit():
            return
        match = NUMERIC.fullmatch(text)
        if match is None:
            return
        self.numeric += 1
        self.dotted += match.group(2) == "."
        first, second = int(match.group(1)), int(match.group(3))
        if first > 12 and 0 < second <= 12:
            self.day_first += 1
            self.day_first_proof = self.day_first_proof or (text, line)
        elif second > 12 and 0 < first <= 12:
            self.month_first += 1
            self.month_first_proof = self.month_first_proof or (text, line)
        elif first and second:
            self.ambiguous += 1

    @property
    def is_date_column(self) -> bool:
        return self.numeric > 0 and self.numeric >= DATE_COLUMN_SHARE * self.filled

    @property
    def proven_order(self) -> str:
        """The one order the column proves, or "" for none or both."""
        if self.day_first and not self.month_first:
            return DAY_FIRST
        if self.month_first and not self.day_first:
            return MONTH_FIRST
        return ""


@dataclass(frozen=True)
class DateReading:
    """How one column's dates are read, and why, in words for the report."""

    column: str
    order: str
    reason: str = ""
    assumed: bool = False

    def describe(self) -> str:
        """Say how the column's dates are read; nothing when none of them
        depends on the order."""
        if not self.reason:
            return ""
        return f"{self.column}: {ORDER_NAMES[self.order]} {self.reason}"


def resolve_order(
    column: str,
    own: ColumnDates,
    others: dict[str, ColumnDates],
    *,
    override: str = "",
    region: str = "",
) -> DateReading:
    """Decide how a date column's day and month are ordered: as the mapping
    says, else as the column proves, else as another date column of the file
    proves, else as the region writes dates."""
    if override:
        return DateReading(column, override, "(as the mapping says)")
    if own.day_first and own.month_first:
        return _mixed(column, own, region)
    if own.proven_order:
        value, line = _proof(own)
        return DateReading(
            column, own.proven_order, f"({value} on line {line} shows it)"
        )
    if not own.ambiguous:
        return DateReading(column, region_order(region)[0])

    borrowed = _borrowed(column, others)
    if borrowed is not None:
        return borrowed
    if own.dotted * 2 > own.numeric:
        return DateReading(
            column, DAY_FIRST, "(dates written with dots put the day first)"
        )
    return _assumed(column, region)


def _proof(evidence: ColumnDates) -> tuple[str, int]:
    proof = evidence.day_first_proof or evidence.month_first_proof
    assert proof is not None
    return proof


def _borrowed(column: str, others: dict[str, ColumnDates]) -> DateReading | None:
    for name, evidence in others.items():
        if evidence.is_date_column and evidence.proven_order:
            value, line = _proof(evidence)
            reason = f"(as {value} in {name} on line {line} shows)"
            return DateReading(column, evidence.proven_order, reason)
    return None


def _assumed(column: str, region: str) -> DateReading:
    order, pattern = region_order(region)
    other = MONTH_FIRST if order == DAY_FIRST else DAY_FIRST
    reason = (
        "ASSUMED: no date in the file shows whether the day or the month comes "
        f"first, so the usual order for region {region or 'unknown'} ({pattern}) "
        f"was used. If they are {ORDER_NAMES[other]}, import again with --mapping "
        f'and a JSON file holding {{"options": {{"date_order": "{other}"}}}}'
    )
    return DateReading(column, order, reason, assumed=True)


def _mixed(column: str, own: ColumnDates, region: str) -> DateReading:
    if own.day_first == own.month_first:
        order = region_order(region)[0]
    else:
        order = DAY_FIRST if own.day_first > own.month_first else MONTH_FIRST
    reason = (
        f"(most dates; {own.day_first} prove day/month/year and "
        f"{own.month_first} month/day/year, and the rows that contradict "
        "this order are reported)"
    )
    return DateReading(column, order, reason)


@cache
def region_order(region: str) -> tuple[str, str]:
    """The order of day and month in the region's short date format."""
    try:
        locale = Locale.parse(f"und_{region}")
        pattern = get_date_format("short", locale=locale).pattern
    except (UnknownLocaleError, ValueError, TypeError):
        logger.debug("No date format known for region %r", region)
        return DAY_FIRST, "day first"
    letters = re.sub(r"'[^']*'", "", pattern)
    month, day = letters.find("M"), letters.find("d")
    if month < 0 or day < 0:
        return DAY_FIRST, pattern
    return (MONTH_FIRST if month < day else DAY_FIRST), pattern


def parse_date(text: str, order: str, today: dt.date | None = None) -> dt.date | None:
    """Read one value as a date, with day and month in the given order.

    Returns None for an empty value; raises DateProblem saying why a value
    is not a date. Two-digit years are the latest such year not in the
    future, as suits birthdays.
    """
    value = " ".join(text.split())
    if not value or NO_DATE.fullmatch(value):
        return None
    today = today or timezone.localdate()

    for pattern, reader in _READERS:
        match = pattern.fullmatch(value)
        if match is not None:
            return reader(match, order, today)
    raise DateProblem(f"{value!r} is not a date")


def _numeric(match: re.Match[str], order: str, today: dt.date) -> dt.date:
    first, second = int(match.group(1)), int(match.group(3))
    year = _full_year(match.group(4), today)
    day, month = (first, second) if order == DAY_FIRST else (second, first)
    try:
        return dt.date(year, month, day)
    except ValueError:
        pass
    try:
        dt.date(year, day, month)
    except ValueError as error:
        raise DateProblem(f"{match.group(0)!r} is not a date") from error
    other = MONTH_FIRST if order == DAY_FIRST else DAY_FIRST
    raise DateProblem(
        f"{match.group(0)!r} reads only as {ORDER_NAMES[other]}, but this "
        f"column's dates are {ORDER_NAMES[order]}"
    )


def _iso(match: re.Match[str], order: str, today: dt.date) -> dt.date:
    return _date(
        match.group(0), int(match.group(1)), int(match.group(2)), int(match.group(3))
    )


def _year_first(match: re.Match[str], order: str, today: dt.date) -> dt.date:
    return _date(
        match.group(0), int(match.group(1)), int(match.group(3)), int(match.group(4))
    )


def _day_month_name(match: re.Match[str], order: str, today: dt.date) -> dt.date:
    month = _month(match.group(2), match.group(0))
    year = _full_year(match.group(3), today)
    return _date(match.group(0), year, month, int(match.group(1)))


def _month_name_day(match: re.Match[str], order: str, today: dt.date) -> dt.date:
    month = _month(match.group(1), match.group(0))
    return _date(match.group(0), int(match.group(3)), month, int(match.group(2)))


def _no_year(match: re.Match[str], order: str, today: dt.date) -> dt.date:
    raise DateProblem(f"{match.group(0)!r} has a day and month but no year")


def _serial(match: re.Match[str], order: str, today: dt.date) -> dt.date:
    text = match.group(0)
    number = int(float(text))
    if "." not in text and number in YEARS:
        raise DateProblem(f"{text!r} is only a year, not a date")
    if not 1 <= number <= EXCEL_LAST_SERIAL:
        raise DateProblem(f"{text!r} is not a date")
    if number == EXCEL_PHANTOM_LEAP_DAY:
        raise DateProblem(
            f"{text!r} is Excel's 29 February 1900, a day that did not exist"
        )
    offset = number if number > EXCEL_PHANTOM_LEAP_DAY else number + 1
    return EXCEL_EPOCH + dt.timedelta(days=offset)


_READERS = (
    (ISO, _iso),
    (NO_YEAR, _no_year),
    (YEAR_FIRST, _year_first),
    (NUMERIC, _numeric),
    (SERIAL, _serial),
    (DAY_MONTH_NAME, _day_month_name),
    (MONTH_NAME_DAY, _month_name_day),
)


def _date(text: str, year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError as error:
        raise DateProblem(f"{text!r} is not a date") from error


def _full_year(digits: str, today: dt.date) -> int:
    year = int(digits)
    if len(digits) == 4:
        return year
    return 2000 + year if 2000 + year <= today.year else 1900 + year


def _month(name: str, text: str) -> int:
    month = month_numbers().get(fold(name).rstrip("."))
    if month is None:
        raise DateProblem(f"{text!r} is not a date: {name!r} is not a month")
    return month


@cache
def month_numbers() -> dict[str, int]:
    """Month names and abbreviations, folded, in several languages."""
    numbers: dict[str, int] = {}
    for language in MONTH_LANGUAGES:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                names = get_month_names(width, context, locale=language)
                for number, name in names.items():
                    numbers.setdefault(fold(name).rstrip("."), number)
    # Common English spellings CLDR does not list.
    numbers.setdefault("sept", 9)
    return numbers
