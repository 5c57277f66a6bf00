"""Date and JSON expressions that read the same on PostgreSQL and SQLite.

Reports group by month or day and compare gestational ages, and the two databases
spell those differently (`to_char` against `strftime`, date subtraction against
`julianday`). Each construct below is one SQLAlchemy expression with a compiled form
per dialect, so a data source is written once. Days are counted in China time
(UTC+8, no daylight saving): a result reported at 23:30 UTC belongs to the next
local day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, Float, Integer, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

# Hours east of UTC of the hospital's day (Asia/Shanghai).
LOCAL_OFFSET_HOURS = 8
LOCAL_TZ = dt.timezone(dt.timedelta(hours=LOCAL_OFFSET_HOURS), "Asia/Shanghai")


def _args(compiler: SQLCompiler, element: FunctionElement[Any], **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


class local_date(FunctionElement[dt.date]):
    """The China-time calendar date of a UTC timestamp."""

    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(local_date, "postgresql")
def _local_date_pg(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    (ts,) = _args(compiler, element, **kw)
    return f"CAST(({ts} AT TIME ZONE INTERVAL '+{LOCAL_OFFSET_HOURS:02d}:00') AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    (ts,) = _args(compiler, element, **kw)
    return f"date({ts}, '+{LOCAL_OFFSET_HOURS} hours')"


class days_between(FunctionElement[int]):
    """Whole days from the first date to the second (negative when the second is earlier)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between, "postgresql")
def _days_between_pg(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(compiler, element, **kw)
    return f"(CAST({end} AS DATE) - CAST({start} AS DATE))"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(compiler, element, **kw)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


class period_of(FunctionElement[str]):
    """A date's period as sortable text: year `2026`, quarter `2026-Q1`, month `2026-03`,
    day `2026-03-07`. The grain is the first argument (a literal)."""

    type = String()
    inherit_cache = True
    name = "period_of"
    # The grain changes the SQL, so it is part of the statement cache key.
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy reads a class attribute)
        *FunctionElement._traverse_internals,
        ("grain", InternalTraversal.dp_string),
    ]

    def __init__(self, grain: str, value: Any) -> None:
        if grain not in GRAINS:
            raise ValueError(f"unknown period grain {grain!r}")
        self.grain = grain
        super().__init__(value)


GRAINS = ("year", "quarter", "month", "day")
_PG_FORMATS = {"year": "YYYY", "quarter": 'YYYY-"Q"Q', "month": "YYYY-MM", "day": "YYYY-MM-DD"}
_SQLITE_FORMATS = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d"}


@compiles(period_of, "postgresql")
def _period_pg(element: period_of, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = _args(compiler, element, **kw)
    return f"to_char({value}, '{_PG_FORMATS[element.grain]}')"


@compiles(period_of, "sqlite")
def _period_sqlite(element: period_of, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = _args(compiler, element, **kw)
    if element.grain == "quarter":
        return (
            f"(strftime('%Y', {value}) || '-Q' || "
            f"((CAST(strftime('%m', {value}) AS INTEGER) + 2) / 3))"
        )
    return f"strftime('{_SQLITE_FORMATS[element.grain]}', {value})"


class max_json_number(FunctionElement[float]):
    """The largest number under `key` among the objects of a JSON array column
    (e.g. the thickest NT of twins in `ultrasound_exam.fetuses`); NULL for an empty
    array or a value that is not an array. The key is a literal."""

    type = Float()
    inherit_cache = True
    name = "max_json_number"
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy reads a class attribute)
        *FunctionElement._traverse_internals,
        ("key", InternalTraversal.dp_string),
    ]

    def __init__(self, array: Any, key: str) -> None:
        if not key.replace("_", "").isalnum():
            raise ValueError(f"JSON key must be a plain name, got {key!r}")
        self.key = key
        super().__init__(array)


@compiles(max_json_number, "postgresql")
def _max_json_pg(element: max_json_number, compiler: SQLCompiler, **kw: Any) -> str:
    (array,) = _args(compiler, element, **kw)
    # The key was checked to be a plain name and `array` is compiled SQL, not input.
    return (
        f"(CASE WHEN jsonb_typeof({array}) = 'array' THEN "  # noqa: S608
        f"(SELECT max(CAST(e.value ->> '{element.key}' AS DOUBLE PRECISION)) "
        f"FROM jsonb_array_elements({array}) AS e "
        f"WHERE jsonb_typeof(e.value -> '{element.key}') = 'number') END)"
    )


@compiles(max_json_number, "sqlite")
def _max_json_sqlite(element: max_json_number, compiler: SQLCompiler, **kw: Any) -> str:
    (array,) = _args(compiler, element, **kw)
    return (
        f"(CASE WHEN json_type({array}) = 'array' THEN "  # noqa: S608 (as above)
        f"(SELECT max(json_extract(e.value, '$.{element.key}')) FROM json_each({array}) AS e "
        f"WHERE json_type(e.value, '$.{element.key}') IN ('integer', 'real')) END)"
    )
