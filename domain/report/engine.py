"""Running a report: one grouped query over the source's rows, shaped into a table.

The statement is built from the bound definition only through the source registry
(columns, aggregates, filters it declares), so nothing an administrator saved ever
becomes SQL text. Rates are computed after aggregation from their two counts, so a
total row is a rate of totals, never a sum of rates.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Subquery, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import FieldError, ValidationFailed
from domain.parameter.models import Parameter
from domain.report.definition import (
    BoundReport,
    ChartKind,
    ReportSpec,
    bind,
    resolve_parameters,
    to_json,
)
from domain.report.functions import period_of
from domain.report.sources import PERIODS, Dimension, FilterKind, Measure, MeasureKind, Source

# More groups than a person reads; the caller narrows the date range or the grouping.
MAX_ROWS = 2000
MISSING = "（空）"
TOTAL = "合计"


class ColumnKind(enum.StrEnum):
    DIMENSION = "DIMENSION"
    COUNT = "COUNT"
    NUMBER = "NUMBER"
    RATE = "RATE"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: ColumnKind
    color: str | None = None


@dataclass(frozen=True)
class Chart:
    kind: ChartKind
    x: str
    series: tuple[str, ...]
    split: str | None = None


@dataclass(frozen=True)
class ReportTable:
    """A report's result: columns, one row per group (dimension values as their Chinese
    labels), the totals of the measures, and how to chart it."""

    code: str
    name: str
    columns: tuple[Column, ...]
    rows: list[dict[str, object]]
    totals: dict[str, object] | None
    chart: Chart | None
    parameters: dict[str, object]
    # (label, shown value) of each parameter, for the heading of exports.
    parameter_lines: tuple[tuple[str, str], ...]

    @property
    def dimension_keys(self) -> list[str]:
        return [c.key for c in self.columns if c.kind == ColumnKind.DIMENSION]


async def system_values(session: AsyncSession, spec: ReportSpec) -> dict[str, object]:
    """The system parameters (系统参数) the definition's defaults and arguments read."""
    keys = {p.system_parameter for p in spec.parameters if p.system_parameter}
    keys |= {a.system_parameter for a in spec.source.arguments if a.system_parameter}
    if not keys:
        return {}
    rows = await session.execute(
        select(Parameter.key, Parameter.value).where(Parameter.key.in_(sorted(keys)))
    )
    return {row[0]: row[1] for row in rows}


async def run_report(
    session: AsyncSession, *, code: str, name: str, spec: ReportSpec, raw_parameters: object
) -> ReportTable:
    """Check the parameters, run the query and shape the table (ValidationFailed on bad input)."""
    system = await system_values(session, spec)
    values = resolve_parameters(spec, raw_parameters, system)
    bound = bind(spec, values, system)
    source = spec.source
    rows = source.rows(bound.arguments)
    wanted = _measures_needed(source, bound.measures)
    where = _conditions(source, rows, bound)
    group = [_dimension_expr(source, rows, bound, d) for d in bound.dimensions]
    aggregates = [m.aggregate(rows).label(f"m_{m.key}") for m in wanted if m.aggregate]
    statement = (
        select(*(g.label(f"d_{i}") for i, g in enumerate(group)), *aggregates)
        .where(*where)
        .group_by(*group)
        .limit(MAX_ROWS + 1)
    )
    result = (await session.execute(statement)).mappings().all()
    if len(result) > MAX_ROWS:
        raise ValidationFailed(
            [
                FieldError(
                    "parameters",
                    f"结果超过 {MAX_ROWS} 行，请缩小日期范围或减少分组维度",
                    "TOO_MANY_ROWS",
                )
            ]
        )
    totals = None
    if bound.dimensions:
        total_row = (await session.execute(select(*aggregates).where(*where))).mappings().one()
        totals = _measure_values(source, bound.measures, total_row)
    table_rows = [
        {
            **{d.key: _shown(d, row[f"d_{i}"]) for i, d in enumerate(bound.dimensions)},
            **_measure_values(source, bound.measures, row),
        }
        for row in sorted(result, key=lambda r: _order(bound.dimensions, r))
    ]
    return ReportTable(
        code=code,
        name=name,
        columns=_columns(spec, bound),
        rows=table_rows,
        totals=totals,
        chart=_chart(spec, bound),
        parameters={k: to_json(v) for k, v in values.items()},
        parameter_lines=_parameter_lines(spec, bound),
    )


def _measures_needed(source: Source, keys: Sequence[str]) -> list[Measure]:
    """The requested measures and the counts their rates are made of."""
    needed: dict[str, Measure] = {}

    def add(key: str) -> None:
        measure = source.measure(key)
        if measure is None or key in needed:
            return
        if measure.ratio is not None:
            add(measure.ratio[0])
            add(measure.ratio[1])
        needed[key] = measure

    for key in keys:
        add(key)
    return list(needed.values())


def _conditions(source: Source, rows: Subquery, bound: BoundReport) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if bound.date_field is not None:
        field = source.date_field(bound.date_field)
        if field is not None:
            column = rows.c[field.column]
            if bound.start is not None:
                conditions.append(column >= bound.start)
            if bound.end is not None:
                conditions.append(column <= bound.end)
    for key, value in bound.filters:
        found = source.filter(key)
        if found is None:
            continue
        column = rows.c[found.column]
        if found.kind == FilterKind.BOOLEAN:
            conditions.append(column == (1 if value else 0))
        elif isinstance(value, list):
            conditions.append(column.in_([str(v) for v in value]))
    return conditions


def _dimension_expr(
    source: Source, rows: Subquery, bound: BoundReport, dimension: Dimension
) -> ColumnElement[Any]:
    if dimension.key in PERIODS:
        field = source.date_field(bound.date_field or "")
        if field is None:
            raise ValueError("a period dimension needs the date range's field")
        return period_of(dimension.key, rows.c[field.column])
    return rows.c[dimension.column]


def _shown(dimension: Dimension, value: object) -> str:
    if value is None:
        return MISSING
    return dict(dimension.values).get(str(value), str(value))


def _order(
    dimensions: Sequence[Dimension], row: Mapping[Any, Any]
) -> tuple[tuple[int, int, str], ...]:
    """Coded dimensions in their declared order (绿 黄 橙 红), others as text, empty last."""
    key: list[tuple[int, int, str]] = []
    for i, dimension in enumerate(dimensions):
        value = row[f"d_{i}"]
        codes = [code for code, _ in dimension.values]
        if value is None:
            key.append((2, 0, ""))
        elif str(value) in codes:
            key.append((0, codes.index(str(value)), ""))
        else:
            key.append((1, 0, str(value)))
    return tuple(key)


def _measure_values(
    source: Source, keys: Sequence[str], row: Mapping[Any, Any]
) -> dict[str, object]:
    counts: dict[str, float | int | None] = {}

    def value(key: str) -> float | int | None:
        if key in counts:
            return counts[key]
        measure = source.measure(key)
        result: float | int | None
        if measure is None:
            result = None
        elif measure.ratio is not None:
            top, bottom = value(measure.ratio[0]), value(measure.ratio[1])
            result = round(top / bottom, 4) if top is not None and bottom else None
        else:
            raw = row.get(f"m_{key}")
            if measure.kind == MeasureKind.COUNT:
                result = int(raw or 0)
            else:
                result = round(float(raw), 2) if raw is not None else None
        counts[key] = result
        return result

    return {key: value(key) for key in keys}


def _columns(spec: ReportSpec, bound: BoundReport) -> tuple[Column, ...]:
    source = spec.source
    columns = [
        Column(d.key, spec.labels.get(d.key, d.label), ColumnKind.DIMENSION)
        for d in bound.dimensions
    ]
    for key in bound.measures:
        measure = source.measure(key)
        if measure is not None:
            columns.append(
                Column(
                    key,
                    spec.labels.get(key, measure.label),
                    ColumnKind(measure.kind.value),
                    measure.color,
                )
            )
    return tuple(columns)


def _chart(spec: ReportSpec, bound: BoundReport) -> Chart | None:
    if spec.chart is None or not bound.dimensions:
        return None
    split = bound.split if bound.split in {d.key for d in bound.dimensions[1:]} else None
    return Chart(spec.chart.kind, bound.dimensions[0].key, spec.chart.series, split)


def _parameter_lines(spec: ReportSpec, bound: BoundReport) -> tuple[tuple[str, str], ...]:
    lines: list[tuple[str, str]] = []
    for p in spec.parameters:
        value = bound.values.get(p.name)
        if value is None:
            shown = "不限"
        elif isinstance(value, bool):
            shown = "是" if value else "否"
        elif isinstance(value, dt.date):
            shown = value.isoformat()
        else:
            shown = next((c.label for c in p.choices if c.value == value), str(value))
        lines.append((p.label, shown))
    return tuple(lines)
