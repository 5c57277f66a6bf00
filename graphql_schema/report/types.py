from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping

import strawberry
from strawberry.scalars import JSON

from domain.errors import FieldError, ValidationFailed
from domain.report import engine
from domain.report.definition import (
    ChartSpec,
    ParameterSpec,
    ParamRef,
    ReportSpec,
    Slot,
    effective_default,
    parse_definition,
    to_json,
)
from domain.report.models import ReportDefinition as DefinitionRow
from domain.report.models import ReportDefinitionVersion as VersionRow
from domain.report.sources import Dimension, Source
from graphql_schema.base import UserError, to_global_id


@strawberry.enum(description="报表导出格式（export format）")
class ReportFormat(enum.Enum):
    CSV = strawberry.enum_value("CSV", description="CSV 表格（UTF-8 带 BOM，可直接用 Excel 打开）")
    XLSX = strawberry.enum_value("XLSX", description="Excel 工作簿（含图表）")
    PDF = strawberry.enum_value("PDF", description="PDF（表格与图表，可打印）")


@strawberry.enum(description="报表图表类型（chart kind）")
class ReportChartKind(enum.Enum):
    BAR = strawberry.enum_value("BAR", description="柱状图")
    LINE = strawberry.enum_value("LINE", description="折线图")
    STACKED = strawberry.enum_value("STACKED", description="堆积柱状图")


@strawberry.enum(description="报表列的类型（column kind）")
class ReportColumnKind(enum.Enum):
    DIMENSION = strawberry.enum_value("DIMENSION", description="分组维度：文字（如月份、风险颜色）")
    COUNT = strawberry.enum_value("COUNT", description="计数：整数")
    NUMBER = strawberry.enum_value("NUMBER", description="数值：小数（如 NT 毫米数）")
    RATE = strawberry.enum_value(
        "RATE", description="比率：0 到 1 的小数（显示为百分比）；分母为 0 时为 null"
    )


@strawberry.enum(description="报表参数的类型（parameter type）")
class ReportParameterType(enum.Enum):
    DATE = strawberry.enum_value("DATE", description="日期，字符串 YYYY-MM-DD")
    INTEGER = strawberry.enum_value("INTEGER", description="整数")
    NUMBER = strawberry.enum_value("NUMBER", description="数字")
    BOOLEAN = strawberry.enum_value("BOOLEAN", description="是/否（true/false）")
    CHOICE = strawberry.enum_value("CHOICE", description="从 choices 中选一个 value")


@strawberry.type(description="参数或筛选条件的一个选项（choice）")
class ReportChoice:
    value: str = strawberry.field(description="取值（运行报表时传入）")
    label: str = strawberry.field(description="显示名称（中文）")


@strawberry.type(
    description="报表参数（report parameter）：运行报表时可填写的条件，如日期范围、统计周期"
)
class ReportParameter:
    name: str = strawberry.field(description="参数名，runReport 的 parameters 中的键")
    label: str = strawberry.field(description="参数名称（中文）")
    type: ReportParameterType = strawberry.field(description="参数类型")
    default_value: JSON | None = strawberry.field(
        description="默认值；引用系统参数时为该系统参数的当前值；null 表示不限"
    )
    required: bool = strawberry.field(description="是否必填")
    choices: list[ReportChoice] = strawberry.field(description="CHOICE 类型的选项；其他类型为空")
    minimum: float | None = strawberry.field(description="数字参数的最小值")
    maximum: float | None = strawberry.field(description="数字参数的最大值")
    system_parameter: str | None = strawberry.field(
        description="默认值取自的系统参数（系统参数表中的键），如 nt_cutoff_mm"
    )

    @classmethod
    def of(cls, spec: ParameterSpec, system: Mapping[str, object]) -> ReportParameter:
        return cls(
            name=spec.name,
            label=spec.label,
            type=ReportParameterType(spec.type.value),
            default_value=JSON(to_json(effective_default(spec, system))),
            required=spec.required,
            choices=[ReportChoice(value=c.value, label=c.label) for c in spec.choices],
            minimum=spec.minimum,
            maximum=spec.maximum,
            system_parameter=spec.system_parameter,
        )


@strawberry.type(description="报表的维度或指标（report field）")
class ReportField:
    key: str = strawberry.field(description="键：行数据（rows）中的键，定义中引用它的名字")
    label: str = strawberry.field(description="列名（中文）")
    kind: ReportColumnKind = strawberry.field(description="列的类型")
    description: str = strawberry.field(description="口径说明（中文）")
    parameter: str | None = strawberry.field(
        description="由参数选择时该参数的名字（此处显示其默认选择）；固定时为 null"
    )


@strawberry.type(description="报表图表（chart）：横轴、系列与类型")
class ReportChart:
    kind: ReportChartKind = strawberry.field(description="图表类型")
    x: str = strawberry.field(description="横轴：第一个分组维度的键")
    series: list[str] = strawberry.field(description="系列：统计指标的键，每个指标一条/一组")
    split: str | None = strawberry.field(
        description="拆分维度的键：该维度每个取值各画一条系列（如每种记录类型一条折线）；无则为 null"
    )


@strawberry.type(
    description="报表定义（report definition）：以数据保存的报表——数据来源、维度、指标、筛选、日期范围、参数与图表"
)
class ReportDefinition:
    id: strawberry.ID = strawberry.field(description="全局ID")
    code: str = strawberry.field(description="报表编码，runReport/exportReport 用它指定报表")
    name: str = strawberry.field(description="报表名称")
    description: str = strawberry.field(description="报表说明（统计口径）")
    version: int = strawberry.field(
        description="版本号；每次保存加一，保存时作为 expectedVersion 传回"
    )
    active: bool = strawberry.field(description="是否启用；停用的报表不能运行")
    data_source: str = strawberry.field(description="数据来源的编码，见 reportSources")
    data_source_label: str = strawberry.field(description="数据来源名称（中文）")
    dimensions: list[ReportField] = strawberry.field(
        description="分组维度（按顺序，第一个为图表横轴）"
    )
    measures: list[ReportField] = strawberry.field(description="统计指标（表格的数据列）")
    parameters: list[ReportParameter] = strawberry.field(description="运行报表时可填写的参数")
    chart: ReportChart | None = strawberry.field(description="默认参数下的图表；无图表时为 null")
    definition: JSON = strawberry.field(
        description="定义文档（JSON），编辑后通过 saveReportDefinition 保存"
    )
    problems: list[UserError] = strawberry.field(
        description="定义文档的问题（例如数据来源已变更）；为空表示可以运行"
    )
    created_at: dt.datetime = strawberry.field(description="创建时间")
    created_by: str | None = strawberry.field(description="创建人")
    updated_at: dt.datetime = strawberry.field(description="最后保存时间")
    updated_by: str | None = strawberry.field(description="最后保存人")

    @classmethod
    def from_row(cls, row: DefinitionRow, system: Mapping[str, object]) -> ReportDefinition:
        spec: ReportSpec | None
        try:
            spec = parse_definition(row.document)
            problems: list[FieldError] = []
        except ValidationFailed as exc:
            spec, problems = None, exc.errors
        source_code = row.document.get("source") if isinstance(row.document, dict) else None
        return cls(
            id=to_global_id("ReportDefinition", row.id),
            code=row.code,
            name=row.name,
            description=row.description,
            version=row.version,
            active=row.active,
            data_source=spec.source.code if spec else str(source_code or ""),
            data_source_label=spec.source.label if spec else "",
            dimensions=_dimensions(spec, system) if spec else [],
            measures=_measures(spec) if spec else [],
            parameters=[ReportParameter.of(p, system) for p in spec.parameters] if spec else [],
            chart=_chart(spec, system) if spec else None,
            definition=JSON(row.document),
            problems=[UserError.of(e) for e in problems],
            created_at=row.created_at,
            created_by=row.created_by,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )


def _chosen(spec: ReportSpec, slot: Slot, system: Mapping[str, object]) -> str:
    """The key a slot has with default parameters (a parameter's default, else its first choice)."""
    if not isinstance(slot, ParamRef):
        return slot
    parameter = spec.parameter(slot.name)
    if parameter is None:
        return ""
    default = effective_default(parameter, system)
    if isinstance(default, str):
        return default
    return parameter.choices[0].value if parameter.choices else ""


def _dimension_field(dimension: Dimension, label: str, parameter: str | None) -> ReportField:
    return ReportField(
        key=dimension.key,
        label=label,
        kind=ReportColumnKind.DIMENSION,
        description=dimension.description,
        parameter=parameter,
    )


def _dimensions(spec: ReportSpec, system: Mapping[str, object]) -> list[ReportField]:
    fields = []
    for slot in spec.dimensions:
        dimension = spec.source.dimension(_chosen(spec, slot, system))
        if dimension is not None:
            label = spec.labels.get(dimension.key, dimension.label)
            parameter = slot.name if isinstance(slot, ParamRef) else None
            fields.append(_dimension_field(dimension, label, parameter))
    return fields


def _measures(spec: ReportSpec) -> list[ReportField]:
    fields = []
    for key in spec.measures:
        measure = spec.source.measure(key)
        if measure is not None:
            fields.append(
                ReportField(
                    key=key,
                    label=spec.labels.get(key, measure.label),
                    kind=ReportColumnKind(measure.kind.value),
                    description=measure.description,
                    parameter=None,
                )
            )
    return fields


def _chart(spec: ReportSpec, system: Mapping[str, object]) -> ReportChart | None:
    chart: ChartSpec | None = spec.chart
    if chart is None or not spec.dimensions:
        return None
    return ReportChart(
        kind=ReportChartKind(chart.kind.value),
        x=_chosen(spec, spec.dimensions[0], system),
        series=list(chart.series),
        split=_chosen(spec, chart.split, system) if chart.split is not None else None,
    )


@strawberry.type(description="报表定义的一个历史版本（definition version），保存后不再改变")
class ReportDefinitionVersion:
    version: int = strawberry.field(description="版本号")
    name: str = strawberry.field(description="该版本的报表名称")
    description: str = strawberry.field(description="该版本的报表说明")
    active: bool = strawberry.field(description="该版本是否启用")
    definition: JSON = strawberry.field(description="该版本的定义文档（JSON）")
    saved_at: dt.datetime = strawberry.field(description="保存时间")
    saved_by: str | None = strawberry.field(description="保存人")

    @classmethod
    def from_row(cls, row: VersionRow) -> ReportDefinitionVersion:
        return cls(
            version=row.version,
            name=row.name,
            description=row.description,
            active=row.active,
            definition=JSON(row.document),
            saved_at=row.saved_at,
            saved_by=row.saved_by,
        )


@strawberry.type(description="报表结果的一列（column）")
class ReportColumn:
    key: str = strawberry.field(description="行数据（rows）中该列的键")
    label: str = strawberry.field(description="列名（中文）")
    kind: ReportColumnKind = strawberry.field(description="列的类型：维度、计数、数值或比率")
    color: str | None = strawberry.field(
        description="图表中该指标的颜色（如五色管理的颜色），无则为 null"
    )


@strawberry.type(description="报表运行结果（report result）：列、行、合计与图表")
class ReportResult:
    code: str = strawberry.field(description="报表编码")
    name: str = strawberry.field(description="报表名称")
    columns: list[ReportColumn] = strawberry.field(description="列（先维度后指标）")
    rows: list[JSON] = strawberry.field(
        description="行：以列的 key 为键的对象；维度为中文显示值，计数为整数，比率为 0–1 的小数（分母为 0 时为 null）"
    )
    totals: JSON | None = strawberry.field(
        description="各指标的合计（比率按合计重新计算）；无分组维度时为 null（唯一一行即合计）"
    )
    chart: ReportChart | None = strawberry.field(description="图表；无图表时为 null")
    parameters: JSON = strawberry.field(description="本次实际使用的参数值（含默认值）")
    user_errors: list[UserError] = strawberry.field(
        description="参数错误（未知参数、类型不符、结束日期早于开始日期等）；有错误时列和行为空"
    )

    @classmethod
    def of(cls, table: engine.ReportTable) -> ReportResult:
        chart = table.chart
        return cls(
            code=table.code,
            name=table.name,
            columns=[
                ReportColumn(
                    key=c.key, label=c.label, kind=ReportColumnKind(c.kind.value), color=c.color
                )
                for c in table.columns
            ],
            rows=[JSON(row) for row in table.rows],
            totals=JSON(table.totals) if table.totals is not None else None,
            chart=ReportChart(
                kind=ReportChartKind(chart.kind.value),
                x=chart.x,
                series=list(chart.series),
                split=chart.split,
            )
            if chart
            else None,
            parameters=JSON(table.parameters),
            user_errors=[],
        )

    @classmethod
    def failed(cls, code: str, errors: list[FieldError]) -> ReportResult:
        return cls(
            code=code,
            name="",
            columns=[],
            rows=[],
            totals=None,
            chart=None,
            parameters=JSON({}),
            user_errors=[UserError.of(e) for e in errors],
        )


@strawberry.type(description="数据来源的筛选条件（source filter）")
class ReportSourceFilter:
    key: str = strawberry.field(description="筛选条件名，定义文档 filters[].filter 中使用")
    label: str = strawberry.field(description="名称（中文）")
    kind: str = strawberry.field(description="取值方式：CHOICE（代码列表）或 BOOLEAN（true/false）")
    choices: list[ReportChoice] = strawberry.field(description="CHOICE 的可选代码")


@strawberry.type(description="数据来源的参数（source argument），如 NT 界值")
class ReportSourceArgument:
    key: str = strawberry.field(description="参数名，定义文档 arguments 中使用")
    label: str = strawberry.field(description="名称（中文）")
    minimum: float = strawberry.field(description="最小值")
    maximum: float = strawberry.field(description="最大值")
    default_value: float = strawberry.field(description="未指定且无系统参数时的默认值")
    system_parameter: str | None = strawberry.field(description="默认取值的系统参数")


@strawberry.type(
    description="报表数据来源（report source）：报表定义可以选用的维度、指标、筛选条件与日期字段"
)
class ReportSource:
    code: str = strawberry.field(description="数据来源编码，定义文档 source 中使用")
    label: str = strawberry.field(description="名称（中文）")
    description: str = strawberry.field(description="每行代表什么、口径说明（中文）")
    dimensions: list[ReportField] = strawberry.field(
        description="可用的分组维度；有日期字段时含 year/quarter/month/day（按日期范围所用的日期）"
    )
    measures: list[ReportField] = strawberry.field(description="可用的统计指标")
    filters: list[ReportSourceFilter] = strawberry.field(description="可用的筛选条件")
    date_fields: list[ReportChoice] = strawberry.field(
        description="可作为日期范围（dateRange.field）的日期字段"
    )
    arguments: list[ReportSourceArgument] = strawberry.field(description="数据来源需要的参数")

    @classmethod
    def of(cls, source: Source) -> ReportSource:
        return cls(
            code=source.code,
            label=source.label,
            description=source.description,
            dimensions=[_dimension_field(d, d.label, None) for d in source.all_dimensions()],
            measures=[
                ReportField(
                    key=m.key,
                    label=m.label,
                    kind=ReportColumnKind(m.kind.value),
                    description=m.description,
                    parameter=None,
                )
                for m in source.measures
            ],
            filters=[
                ReportSourceFilter(
                    key=f.key,
                    label=f.label,
                    kind=f.kind.value,
                    choices=[ReportChoice(value=v, label=label) for v, label in f.values],
                )
                for f in source.filters
            ],
            date_fields=[ReportChoice(value=d.key, label=d.label) for d in source.date_fields],
            arguments=[
                ReportSourceArgument(
                    key=a.key,
                    label=a.label,
                    minimum=a.minimum,
                    maximum=a.maximum,
                    default_value=a.default,
                    system_parameter=a.system_parameter,
                )
                for a in source.arguments
            ],
        )
