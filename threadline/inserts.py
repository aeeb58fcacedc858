"""Inserting many rows with one statement, for the batch paths of services.

bulk_create builds a model object per row and converts every value through
its field on each call; for an import of a million rows that costs more than
the insert itself. A RowForm looks up each column's conversion once and
turns plain tuples into the values the database driver takes; an Inserter
hands such tuples to the driver's executemany, on SQLite and PostgreSQL.

Rows can be put in the driver's form where they are prepared, even in a
process with no database connection (the conversions read only settings):
those values are plain text, numbers and times, which cross between
processes cheaply, and the writer inserts them as they are.
"""

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models

logger = logging.getLogger(__name__)

Convert = Callable[[Any], Any]


class RowForm:
    """Turns rows of one model's columns, in `columns` order, into the
    values the database driver takes."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.fields = [_concrete(model, name) for name in columns]
        self.changing = [
            (index, convert)
            for index, field in enumerate(self.fields)
            if (convert := _converter(field)) is not None
        ]
        # A batch shares one "now" across its rows: each time column
        # remembers its last time and its form, so the same moment is
        # converted once, not once per row (times only: they cannot change
        # in between, unlike a JSON payload).
        self.last: list[tuple[Any, Any]] = [(None, None)] * len(self.fields)

    def of(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """The row's values in the driver's form."""
        values = list(row)
        if len(values) != len(self.fields):
            raise ValueError(f"a row of {len(values)} values for {len(self.fields)}")
        last = self.last
        for index, convert in self.changing:
            value = values[index]
            if value is None:
                continue
            seen, form = last[index]
            # A date and the midnight that starts it are equal, but are
            # written differently.
            if value is seen or (type(value) is type(seen) and value == seen):
                values[index] = form
                continue
            values[index] = form = convert(value)
            if isinstance(value, dt.date):
                last[index] = (value, form)
        return tuple(values)


class Inserter:
    """Insert rows of one model's table given as tuples in `columns` order.

    With `ignore_conflicts`, a row that would break a unique constraint is
    left out (INSERT ... ON CONFLICT DO NOTHING), which is how a re-run of a
    batch doubles nothing.
    """

    def __init__(
        self,
        model: type[models.Model],
        columns: Sequence[str],
        *,
        ignore_conflicts: bool = False,
    ) -> None:
        self.form = RowForm(model, columns)
        quote = connection.ops.quote_name
        names = ", ".join(quote(_column(field)) for field in self.form.fields)
        marks = ", ".join(["%s"] * len(self.form.fields))
        conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        self.sql = (
            f"INSERT INTO {quote(model._meta.db_table)} ({names}) "
            f"VALUES ({marks}){conflict}"
        )

    def insert(self, rows: Iterable[Sequence[Any]]) -> int:
        """Insert the rows; return how many the database stored."""
        return self.insert_formed([self.form.of(row) for row in rows])

    def insert_formed(self, rows: Sequence[Sequence[Any]]) -> int:
        """Insert rows already in the driver's form (RowForm.of); return how
        many the database stored."""
        if not rows:
            return 0
        with connection.cursor() as cursor:
            cursor.executemany(self.sql, rows)
            stored = cursor.rowcount
        logger.debug("Inserted %d of %d rows: %s", stored, len(rows), self.sql)
        return stored


class Updater:
    """Set columns of many rows, each to its own values, in one statement.

    Rows are tuples of the new values in `columns` order followed by the
    value of the `where` column that picks the row.
    """

    def __init__(
        self, model: type[models.Model], columns: Sequence[str], *, where: str
    ) -> None:
        self.form = RowForm(model, (*columns, where))
        quote = connection.ops.quote_name
        fields = self.form.fields
        assignments = ", ".join(
            f"{quote(_column(field))} = %s" for field in fields[:-1]
        )
        self.sql = (
            f"UPDATE {quote(model._meta.db_table)} SET {assignments} "
            f"WHERE {quote(_column(fields[-1]))} = %s"
        )

    def update(self, rows: Iterable[Sequence[Any]]) -> None:
        converted = [self.form.of(row) for row in rows]
        if converted:
            with connection.cursor() as cursor:
                cursor.executemany(self.sql, converted)


def _concrete(model: type[models.Model], name: str) -> "models.Field[Any, Any]":
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def _column(field: "models.Field[Any, Any]") -> str:
    if field.column is None:
        raise TypeError(f"{field.name} has no column")
    return field.column


def _converter(field: Any) -> Convert | None:
    """The driver form of a field's values; None where it is the value.

    Ids and JSON go as text on every database: PostgreSQL reads a uuid or
    a jsonb column's value from its text, and text is what crosses between
    processes most cheaply.
    """
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        if connection.vendor == "sqlite" and connection.timezone_name == "UTC":
            return _utc_text
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.UUIDField):
        return _uuid_hex
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: json.dumps(value, cls=encoder)
    if isinstance(field, models.DecimalField):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def _utc_text(value: Any) -> Any:
    """SQLite's text form of a time, as Django writes it; the path for UTC
    times skips the conversion that a batch of a million would pay for."""
    if isinstance(value, dt.datetime) and value.tzinfo is dt.UTC:
        return str(value.replace(tzinfo=None))
    return connection.ops.adapt_datetimefield_value(value)


def _uuid_hex(value: Any) -> str:
    """An id as 32 hex digits, given as a UUID (of the standard library or
    of uuid_utils) or as its text."""
    return str(uuid.UUID(value).hex if isinstance(value, str) else value.hex)
