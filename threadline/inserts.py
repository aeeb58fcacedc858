"""Inserting many rows with one statement, for the batch paths of services.

bulk_create builds a model object per row and converts every value through
its field on each call; for an import of a million rows that costs more than
the insert itself. An Inserter looks up each column's conversion once and
hands plain tuples to the driver's executemany, on SQLite and PostgreSQL.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models

logger = logging.getLogger(__name__)


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
        self.fields = [_concrete(model, name) for name in columns]
        quote = connection.ops.quote_name
        names = ", ".join(quote(_column(field)) for field in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        self.sql = (
            f"INSERT INTO {quote(model._meta.db_table)} ({names}) "
            f"VALUES ({marks}){conflict}"
        )
        self.converters = [_converter(field) for field in self.fields]

    def insert(self, rows: Iterable[Sequence[Any]]) -> int:
        """Insert the rows; return how many the database stored."""
        converted = _converted(self.converters, rows)
        if not converted:
            return 0
        with connection.cursor() as cursor:
            cursor.executemany(self.sql, converted)
            stored = cursor.rowcount
        logger.debug("Inserted %d of %d rows: %s", stored, len(converted), self.sql)
        return stored


class Updater:
    """Set columns of many rows, each to its own values, in one statement.

    Rows are tuples of the new values in `columns` order followed by the
    value of the `where` column that picks the row.
    """

    def __init__(
        self, model: type[models.Model], columns: Sequence[str], *, where: str
    ) -> None:
        self.fields = [_concrete(model, name) for name in (*columns, where)]
        quote = connection.ops.quote_name
        assignments = ", ".join(
            f"{quote(_column(field))} = %s" for field in self.fields[:-1]
        )
        self.sql = (
            f"UPDATE {quote(model._meta.db_table)} SET {assignments} "
            f"WHERE {quote(_column(self.fields[-1]))} = %s"
        )
        self.converters = [_converter(field) for field in self.fields]

    def update(self, rows: Iterable[Sequence[Any]]) -> None:
        converted = _converted(self.converters, rows)
        if converted:
            with connection.cursor() as cursor:
                cursor.executemany(self.sql, converted)


def _converted(
    converters: list[Callable[[Any], Any] | None], rows: Iterable[Sequence[Any]]
) -> list[Sequence[Any]]:
    """The rows with each converted column's values in the driver's form."""
    changing = [
        (index, convert)
        for index, convert in enumerate(converters)
        if convert is not None
    ]
    # A batch shares one "now" across its rows: each column remembers its
    # last time, so the same moment is converted once, not once per row
    # (times only: they cannot change in between, unlike a JSON payload).
    last: list[tuple[Any, Any]] = [(None, None)] * len(converters)
    converted: list[Sequence[Any]] = []
    for row in rows:
        values = list(row)
        if len(values) != len(converters):
            raise ValueError(f"a row of {len(values)} values for {len(converters)}")
        for index, convert in changing:
            value = values[index]
            if value is None:
                continue
            seen, result = last[index]
            if not _same_time(value, seen):
                result = convert(value)
                if isinstance(value, dt.date):
                    last[index] = (value, result)
            values[index] = result
        converted.append(values)
    return converted


def _same_time(value: Any, seen: Any) -> bool:
    """Say whether a value is the time remembered, of the same type: a date
    and the midnight that starts it are written differently."""
    return value is seen or (type(value) is type(seen) and value == seen)


def _concrete(model: type[models.Model], name: str) -> "models.Field[Any, Any]":
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def _column(field: "models.Field[Any, Any]") -> str:
    if field.column is None:
        raise TypeError(f"{field.name} has no column")
    return field.column


def _converter(field: Any) -> Callable[[Any], Any] | None:
    """The driver form of a field's values; None where it is the value."""
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        if connection.vendor == "sqlite" and connection.timezone_name == "UTC":
            return _utc_text
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.UUIDField):
        if connection.features.has_native_uuid_field:
            return None
        return _uuid_hex
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: ops.adapt_json_value(value, encoder)
    if isinstance(field, models.DecimalField):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def _utc_text(value: Any) -> Any:
    """SQLite's text form of a time, as Django writes it; the path for UTC
    times skips the conversion that a batch of a million would pay for."""
    if isinstance(value, dt.datetime) and value.tzinfo is dt.UTC:
        return str(value.replace(tzinfo=None))
    return connection.ops.adapt_datetimefield_value(value)


def _uuid_hex(value: Any) -> Any:
    return value.hex if value is not None else None
