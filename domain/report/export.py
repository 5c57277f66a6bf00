"""A report table as a file: CSV (UTF-8 with BOM, for Excel), XLSX (with a chart), PDF
(an HTML table and an SVG chart rendered by weasyprint through `render_pdf`)."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import html
import io
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from domain.report.definition import ChartKind
from domain.report.engine import TOTAL, Column, ColumnKind, ReportTable
from domain.report.functions import LOCAL_TZ


class ExportFormat(enum.StrEnum):
    CSV = "CSV"
    XLSX = "XLSX"
    PDF = "PDF"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.PDF: "application/pdf",
}
_EXTENSIONS = {ExportFormat.CSV: "csv", ExportFormat.XLSX: "xlsx", ExportFormat.PDF: "pdf"}
_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
TEMPLATES = Path(__file__).resolve().parent / "templates"


def filename(table: ReportTable, file_format: ExportFormat, made_at: dt.datetime) -> str:
    local = made_at.astimezone(LOCAL_TZ)
    name = _UNSAFE_FILENAME.sub("_", table.name).strip() or table.code
    return f"{name}_{local:%Y%m%d-%H%M}.{_EXTENSIONS[file_format]}"


async def render(
    table: ReportTable,
    file_format: ExportFormat,
    *,
    made_at: dt.datetime,
    render_pdf: Callable[[str], Awaitable[bytes]],
) -> bytes:
    if file_format == ExportFormat.CSV:
        return to_csv(table)
    if file_format == ExportFormat.XLSX:
        return to_xlsx(table, made_at)
    return await render_pdf(to_html(table, made_at))


# --------------------------------------------------------------------------- cells


def _shown(column: Column, value: object) -> str:
    """A value as people read it: rates as percentages, empty rates as blank."""
    if value is None:
        return ""
    if column.kind == ColumnKind.RATE and isinstance(value, int | float):
        return f"{value * 100:.2f}%"
    if column.kind == ColumnKind.NUMBER and isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _total_row(table: ReportTable) -> dict[str, object] | None:
    if table.totals is None:
        return None
    dimensions = table.dimension_keys
    row: dict[str, object] = dict.fromkeys(dimensions, "")
    if dimensions:
        row[dimensions[0]] = TOTAL
    row.update(table.totals)
    return row


def _all_rows(table: ReportTable) -> list[dict[str, object]]:
    total = _total_row(table)
    return [*table.rows, *([total] if total is not None else [])]


def _heading_lines(table: ReportTable, made_at: dt.datetime) -> list[str]:
    parameters = "；".join(f"{label}：{value}" for label, value in table.parameter_lines)
    return [
        f"统计条件：{parameters}" if parameters else "统计条件：无",
        f"生成时间：{made_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}（北京时间）",
    ]


# --------------------------------------------------------------------------- CSV


def to_csv(table: ReportTable) -> bytes:
    """Header row of Chinese column labels, one row per group, then the 合计 row.

    UTF-8 with a byte-order mark: without it Excel on Chinese Windows reads the file
    as GBK and the labels come out garbled.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.label for c in table.columns])
    for row in _all_rows(table):
        writer.writerow([_csv_cell(c, row.get(c.key)) for c in table.columns])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(column: Column, value: object) -> str:
    text = _shown(column, value)
    # A cell starting with = + - @ would run as a formula when the file is opened in Excel.
    if column.kind == ColumnKind.DIMENSION and text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


# --------------------------------------------------------------------------- XLSX


@dataclass(frozen=True)
class ChartData:
    categories: list[str]
    series: list[tuple[str, str, list[float | None]]]  # name, colour, one value per category
    percent: bool


def chart_data(table: ReportTable) -> ChartData | None:
    """The chart as categories and series; a split dimension becomes one series per value."""
    chart = table.chart
    if chart is None:
        return None
    columns = {c.key: c for c in table.columns}
    measures = [columns[k] for k in chart.series if k in columns]
    if not measures:
        return None
    dimensions = table.dimension_keys
    percent = all(m.kind == ColumnKind.RATE for m in measures)
    scale = 100.0 if percent else 1.0

    def number(value: object) -> float | None:
        return round(float(value) * scale, 4) if isinstance(value, int | float) else None

    if chart.split is not None:
        categories = list(dict.fromkeys(str(r[chart.x]) for r in table.rows))
        groups = list(dict.fromkeys(str(r[chart.split]) for r in table.rows))
        cells = {(str(r[chart.x]), str(r[chart.split])): r for r in table.rows}
        series = []
        for i, (group, measure) in enumerate((g, m) for g in groups for m in measures):
            name = group if len(measures) == 1 else f"{group}·{measure.label}"
            values = [number(cells.get((x, group), {}).get(measure.key)) for x in categories]
            series.append((name, PALETTE[i % len(PALETTE)], values))
        return ChartData(categories, series, percent)
    categories = [" / ".join(str(r[d]) for d in dimensions) for r in table.rows]
    return ChartData(
        categories,
        [
            (
                m.label,
                m.color or PALETTE[i % len(PALETTE)],
                [number(r.get(m.key)) for r in table.rows],
            )
            for i, m in enumerate(measures)
        ],
        percent,
    )


HEADER_ROW = 5


def to_xlsx(table: ReportTable, made_at: dt.datetime) -> bytes:
    """Sheet 报表: title, conditions, the table from row 5 (rates as Excel percentages)
    and a native chart; sheet 图表数据 holds the chart's series."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "报表"
    sheet["A1"] = table.name
    sheet["A1"].font = Font(bold=True, size=14)
    for i, line in enumerate(_heading_lines(table, made_at)):
        sheet.cell(row=2 + i, column=1, value=line)
    header_fill = PatternFill("solid", fgColor="EEEEEE")
    for j, column in enumerate(table.columns, start=1):
        cell = sheet.cell(row=HEADER_ROW, column=j, value=column.label)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
        width = max(10, min(40, 2 * len(column.label) + 2))
        sheet.column_dimensions[get_column_letter(j)].width = width
    rows = _all_rows(table)
    for i, row in enumerate(rows, start=HEADER_ROW + 1):
        for j, column in enumerate(table.columns, start=1):
            value = row.get(column.key)
            cell = sheet.cell(row=i, column=j, value=value if value != "" else None)
            if column.kind == ColumnKind.RATE:
                cell.number_format = "0.00%"
            elif column.kind == ColumnKind.NUMBER:
                cell.number_format = "0.00"
            if table.totals is not None and i == HEADER_ROW + len(rows):
                cell.font = Font(bold=True)
    sheet.freeze_panes = sheet.cell(row=HEADER_ROW + 1, column=1)
    data = chart_data(table)
    if data is not None and data.categories:
        _xlsx_chart(workbook, sheet, table, data, anchor_row=HEADER_ROW + len(rows) + 3)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_chart(
    workbook: Any, sheet: Any, table: ReportTable, data: ChartData, anchor_row: int
) -> None:
    from openpyxl.chart import BarChart, LineChart, Reference  # type: ignore[import-untyped]

    values = workbook.create_sheet("图表数据")
    labels = {c.key: c.label for c in table.columns}
    values.cell(row=1, column=1, value=labels.get(table.chart.x if table.chart else "", ""))
    for j, (name, _color, _) in enumerate(data.series, start=2):
        values.cell(row=1, column=j, value=name)
    for i, category in enumerate(data.categories, start=2):
        values.cell(row=i, column=1, value=category)
        for j, (_, _, numbers) in enumerate(data.series, start=2):
            values.cell(row=i, column=j, value=numbers[i - 2])
    kind = table.chart.kind if table.chart else ChartKind.BAR
    chart = LineChart() if kind == ChartKind.LINE else BarChart()
    if kind == ChartKind.STACKED and isinstance(chart, BarChart):
        chart.grouping = "stacked"
        chart.overlap = 100
    chart.title = table.name
    chart.y_axis.title = "百分比（%）" if data.percent else "数量"
    chart.height = 9
    chart.width = 22
    last_row = len(data.categories) + 1
    chart.add_data(
        Reference(values, min_col=2, max_col=len(data.series) + 1, min_row=1, max_row=last_row),
        titles_from_data=True,
    )
    chart.set_categories(Reference(values, min_col=1, min_row=2, max_row=last_row))
    for series, (_, color, _) in zip(chart.series, data.series, strict=True):
        if isinstance(chart, BarChart):
            series.graphicalProperties.solidFill = color.lstrip("#")
        series.graphicalProperties.line.solidFill = color.lstrip("#")
    sheet.add_chart(chart, f"A{anchor_row}")


# --------------------------------------------------------------------------- PDF

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def to_html(table: ReportTable, made_at: dt.datetime) -> str:
    """The printable report: title, conditions, the chart (SVG) and the table."""
    data = chart_data(table)
    svg = svg_chart(data, table.chart.kind) if data is not None and table.chart else None
    return _environment.get_template("report.html").render(
        table=table,
        heading=_heading_lines(table, made_at),
        header=[c.label for c in table.columns],
        numeric=[c.kind != ColumnKind.DIMENSION for c in table.columns],
        rows=[[_shown(c, row.get(c.key)) for c in table.columns] for row in table.rows],
        total=[_shown(c, v.get(c.key)) for c in table.columns]
        if (v := _total_row(table))
        else None,
        chart=svg,
        landscape=len(table.columns) > 8,
    )


def svg_chart(data: ChartData, kind: ChartKind, *, width: int = 720, height: int = 300) -> Markup:
    """A bar, stacked-bar or line chart as inline SVG, with axis, gridlines and legend."""
    left, right, top, bottom = 56, 12, 14, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(data.categories), 1)
    stacked = kind == ChartKind.STACKED
    if stacked:
        peak = max(
            (
                sum(v or 0 for v in column)
                for column in zip(*(s[2] for s in data.series), strict=True)
            ),
            default=0.0,
        )
    else:
        peak = max((v or 0 for s in data.series for v in s[2]), default=0.0)
    top_value = _nice_ceiling(peak)
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 18 * _legend_rows(data, width)}" '
        f'font-family="Noto Sans CJK SC, sans-serif" font-size="10">'
    ]

    def y_of(value: float) -> float:
        return top + plot_h - (value / top_value) * plot_h

    for step in range(6):
        value = top_value * step / 5
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#dddddd" stroke-width="0.6"/>'
        )
        label = f"{value:g}%" if data.percent else f"{value:g}"
        parts.append(
            f'<text x="{left - 6}" y="{y + 3:.1f}" text-anchor="end" fill="#444">{html.escape(label)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333" stroke-width="0.8"/>'
    )
    band = plot_w / n
    label_every = max(1, round(n / 24))
    for i, category in enumerate(data.categories):
        if i % label_every:
            continue
        x = left + band * (i + 0.5)
        text = html.escape(category if len(category) <= 12 else category[:11] + "…")
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="end" fill="#333" '
            f'transform="rotate(-35 {x:.1f} {top + plot_h + 14})">{text}</text>'
        )
    if kind == ChartKind.LINE:
        for _name, color, values in data.series:
            points = [
                (left + band * (i + 0.5), y_of(v)) for i, v in enumerate(values) if v is not None
            ]
            if len(points) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6"/>'
                )
            for x, y in points:
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{color}"/>')
    else:
        inner = band * 0.76
        for i in range(n):
            x0 = left + band * i + (band - inner) / 2
            base = 0.0
            for s, (_name, color, values) in enumerate(data.series):
                amount = values[i] if i < len(values) else None
                if amount is None or amount <= 0:
                    continue
                if stacked:
                    y_top, y_bottom = y_of(base + amount), y_of(base)
                    parts.append(
                        f'<rect x="{x0:.1f}" y="{y_top:.1f}" width="{inner:.1f}" height="{y_bottom - y_top:.1f}" fill="{color}"/>'
                    )
                    base += amount
                else:
                    w = inner / len(data.series)
                    y_top = y_of(amount)
                    parts.append(
                        f'<rect x="{x0 + s * w:.1f}" y="{y_top:.1f}" width="{w:.1f}" height="{top + plot_h - y_top:.1f}" fill="{color}"/>'
                    )
    x, y = left, height + 4
    for name, color, _ in data.series:
        item_w = 24 + 11 * len(name)
        if x + item_w > width:
            x, y = left, y + 18
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="{y + 9}" fill="#222">{html.escape(name)}</text>')
        x += item_w
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)


def _legend_rows(data: ChartData, width: int) -> int:
    rows, x = 1, 56
    for name, _, _ in data.series:
        item_w = 24 + 11 * len(name)
        if x + item_w > width:
            rows, x = rows + 1, 56
        x += item_w
    return rows + 1


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above the value (5 even gridlines)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10 if value >= 1 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= value:
            return float(factor * magnitude)
    return float(10 * magnitude)
