"""A report definition document, checked against the source registry.

The document (JSON, stored in `report_definition.document`) chooses among what one
source declares; any value may instead name a parameter, `{"param": "date_from"}`,
whose value is given when the report is run:

    {
      "source": "pregnancy_risk",
      "parameters": [
        {"name": "date_from", "label": "开始日期", "type": "DATE"},
        {"name": "date_to", "label": "结束日期", "type": "DATE"},
        {"name": "basis", "label": "统计口径", "type": "CHOICE", "default": "booking_date",
         "choices": [{"value": "booking_date", "label": "按建档日期"},
                     {"value": "assessed_on", "label": "按评估日期"}]}
      ],
      "dateRange": {"field": {"param": "basis"},
                    "from": {"param": "date_from"}, "to": {"param": "date_to"}},
      "dimensions": ["month"],
      "measures": ["pregnancies", "green", "yellow", "orange", "red", "purple"],
      "filters": [{"filter": "status", "value": ["ACTIVE", "DELIVERED"]}],
      "arguments": {},
      "chart": {"kind": "STACKED", "series": ["green", "yellow", "orange", "red"]},
      "labels": {"pregnancies": "建档人数"}
    }

`parse_definition` reports every broken rule at once (Chinese messages, paths such as
`definition.measures[2]`); `resolve_parameters` checks the values of one run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.errors import FieldError, ValidationFailed
from domain.report.sources import PERIODS, SOURCES, Dimension, FilterKind, Source

PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_PARAMETERS = 20
MAX_DIMENSIONS = 3
MAX_MEASURES = 30
MAX_FILTERS = 20
MAX_CHOICES = 50
MAX_LABELS = 60
MAX_LABEL = 40

_DOCUMENT_KEYS = frozenset(
    {
        "source",
        "parameters",
        "dateRange",
        "dimensions",
        "measures",
        "filters",
        "arguments",
        "chart",
        "labels",
    }
)
_PARAMETER_KEYS = frozenset(
    {
        "name",
        "label",
        "type",
        "default",
        "required",
        "choices",
        "minimum",
        "maximum",
        "systemParameter",
    }
)


class ParameterType(enum.StrEnum):
    DATE = "DATE"
    INTEGER = "INTEGER"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    CHOICE = "CHOICE"


class ChartKind(enum.StrEnum):
    BAR = "BAR"
    LINE = "LINE"
    STACKED = "STACKED"


_TYPE_NAMES = {
    ParameterType.DATE: "日期（YYYY-MM-DD）",
    ParameterType.INTEGER: "整数",
    ParameterType.NUMBER: "数字",
    ParameterType.BOOLEAN: "是/否（true/false）",
    ParameterType.CHOICE: "选项之一",
}


@dataclass(frozen=True)
class ParamRef:
    """A place in the definition whose value is the named parameter's value."""

    name: str


Slot = str | ParamRef


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    label: str
    type: ParameterType
    default: object = None
    required: bool = False
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    system_parameter: str | None = None


@dataclass(frozen=True)
class FilterSpec:
    key: str
    value: object  # list[str] for CHOICE, bool for BOOLEAN, or a ParamRef


@dataclass(frozen=True)
class DateRangeSpec:
    field: Slot
    start: dt.date | ParamRef | None
    end: dt.date | ParamRef | None


@dataclass(frozen=True)
class ChartSpec:
    kind: ChartKind
    series: tuple[str, ...]
    # A second dimension whose values become one series each (e.g. a line per record type).
    split: Slot | None = None


@dataclass(frozen=True)
class ReportSpec:
    source: Source
    parameters: tuple[ParameterSpec, ...]
    dimensions: tuple[Slot, ...]
    measures: tuple[str, ...]
    filters: tuple[FilterSpec, ...] = ()
    date_range: DateRangeSpec | None = None
    arguments: Mapping[str, float | ParamRef] = field(default_factory=dict)
    chart: ChartSpec | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def parameter(self, name: str) -> ParameterSpec | None:
        return next((p for p in self.parameters if p.name == name), None)


# --------------------------------------------------------------------------- values


def check_value(spec: ParameterSpec, value: object, path: str) -> tuple[object, FieldError | None]:
    """A parameter value converted to its Python form (dates become `date`), or the error."""

    def wrong(message: str, code: str = "INVALID_TYPE") -> tuple[object, FieldError]:
        return None, FieldError(path, message, code)

    name = f"参数「{spec.label}」"
    match spec.type:
        case ParameterType.DATE:
            if not isinstance(value, str) or not ISO_DATE.match(value):
                return wrong(f"{name}应为日期，格式 YYYY-MM-DD", "INVALID_DATE")
            try:
                return dt.date.fromisoformat(value), None
            except ValueError:
                return wrong(f"{name}不是有效日期：{value}", "INVALID_DATE")
        case ParameterType.INTEGER | ParameterType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return wrong(f"{name}应为{_TYPE_NAMES[spec.type]}")
            if spec.type == ParameterType.INTEGER and not isinstance(value, int):
                return wrong(f"{name}应为整数")
            if not math.isfinite(value):
                return wrong(f"{name}应为有限的数字")
            if spec.minimum is not None and value < spec.minimum:
                return wrong(f"{name}不能小于 {_number(spec.minimum)}", "OUT_OF_RANGE")
            if spec.maximum is not None and value > spec.maximum:
                return wrong(f"{name}不能大于 {_number(spec.maximum)}", "OUT_OF_RANGE")
            return (value if spec.type == ParameterType.INTEGER else float(value)), None
        case ParameterType.BOOLEAN:
            if not isinstance(value, bool):
                return wrong(f"{name}应为 true 或 false")
            return value, None
        case ParameterType.CHOICE:
            allowed = [c.value for c in spec.choices]
            if not isinstance(value, str) or value not in allowed:
                shown = "、".join(f"{c.value}（{c.label}）" for c in spec.choices)
                return wrong(f"{name}只能取：{shown}", "INVALID_CHOICE")
            return value, None
    raise AssertionError(spec.type)


def _echo(value: object) -> str:
    """A value the caller sent, shortened for a message (it may be anything, of any size)."""
    text = str(value)
    return text if len(text) <= 64 else text[:63] + "…"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def to_json(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


# --------------------------------------------------------------------------- the document


class _Checker:
    """Collects every broken rule of one document, with its path."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.errors: list[FieldError] = []
        self.parameters: dict[str, ParameterSpec] = {}
        self.used: set[str] = set()

    def error(self, path: str, message: str, code: str) -> None:
        self.errors.append(
            FieldError(f"{self.prefix}.{path}" if path else self.prefix, message, code)
        )

    def keys(self, value: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
        # A handful is enough to see the mistake; a flood of keys is not echoed back.
        for key in [k for k in value if k not in allowed][:10]:
            if key not in allowed:
                shown = "、".join(sorted(allowed))
                self.error(
                    f"{path}.{key}" if path else key,
                    f"不认识的项「{_echo(key)}」，可用：{shown}",
                    "UNKNOWN_KEY",
                )

    def ref(self, value: object, path: str) -> ParamRef | None:
        """`{"param": name}` naming a declared parameter; None (and an error) otherwise."""
        if not (isinstance(value, dict) and set(value) == {"param"}):
            return None
        name = value["param"]
        if not isinstance(name, str) or name not in self.parameters:
            self.error(path, f"引用了未定义的参数「{_echo(name)}」", "UNKNOWN_PARAMETER")
            return ParamRef("")
        self.used.add(name)
        return ParamRef(name)

    def ref_of_type(
        self, ref: ParamRef, types: tuple[ParameterType, ...], path: str, what: str
    ) -> ParameterSpec | None:
        spec = self.parameters.get(ref.name)
        if spec is None:
            return None
        if spec.type not in types:
            allowed = "或".join(_TYPE_NAMES[t] for t in types)
            self.error(
                path, f"参数「{spec.label}」用于{what}，类型应为{allowed}", "INVALID_PARAMETER"
            )
            return None
        return spec


def parse_definition(document: object, *, prefix: str = "definition") -> ReportSpec:
    """The checked definition, or ValidationFailed listing every problem (nothing partial)."""
    check = _Checker(prefix)
    if not isinstance(document, dict):
        check.error("", "报表定义应为 JSON 对象", "INVALID_TYPE")
        raise ValidationFailed(check.errors)
    check.keys(document, _DOCUMENT_KEYS, "")
    code = document.get("source")
    source = SOURCES.get(code) if isinstance(code, str) else None
    if source is None:
        shown = "、".join(f"{s.code}（{s.label}）" for s in SOURCES.values())
        check.error("source", f"数据来源「{_echo(code)}」不存在，可选：{shown}", "UNKNOWN_SOURCE")
        raise ValidationFailed(check.errors)
    parameters = _parameters(check, document.get("parameters", []))
    date_range = _date_range(check, source, document.get("dateRange"))
    dimensions = _dimensions(check, source, document.get("dimensions", []), date_range)
    measures = _measures(check, source, document.get("measures"))
    filters = _filters(check, source, document.get("filters", []))
    arguments = _arguments(check, source, document.get("arguments", {}))
    chart = _chart(check, document.get("chart"), dimensions, measures)
    labels = _labels(check, source, document.get("labels", {}))
    for spec in parameters:
        if spec.name not in check.used:
            check.error(
                "parameters",
                f"参数「{spec.label}」（{spec.name}）定义了但没有被使用",
                "UNUSED_PARAMETER",
            )
    if check.errors:
        raise ValidationFailed(check.errors)
    return ReportSpec(
        source=source,
        parameters=parameters,
        dimensions=dimensions,
        measures=measures,
        filters=filters,
        date_range=date_range,
        arguments=arguments,
        chart=chart,
        labels=labels,
    )


def _text(check: _Checker, value: object, path: str, what: str, *, max_len: int = MAX_LABEL) -> str:
    if not isinstance(value, str) or not value.strip():
        check.error(path, f"{what}不能为空", "REQUIRED")
        return ""
    if len(value.strip()) > max_len:
        check.error(path, f"{what}不能超过 {max_len} 个字", "TOO_LONG")
    return value.strip()


def _list(check: _Checker, value: object, path: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        check.error(path, f"{what}应为列表", "INVALID_TYPE")
        return []
    return value


def _parameters(check: _Checker, raw: object) -> tuple[ParameterSpec, ...]:
    items = _list(check, raw, "parameters", "参数")
    if len(items) > MAX_PARAMETERS:
        check.error("parameters", f"参数不能超过 {MAX_PARAMETERS} 个", "TOO_MANY")
    specs: list[ParameterSpec] = []
    for i, item in enumerate(items):
        path = f"parameters[{i}]"
        if not isinstance(item, dict):
            check.error(path, "参数定义应为 JSON 对象", "INVALID_TYPE")
            continue
        check.keys(item, _PARAMETER_KEYS, path)
        name = item.get("name")
        if not isinstance(name, str) or not PARAMETER_NAME.match(name):
            check.error(
                f"{path}.name",
                "参数名应以小写字母开头，只含小写字母、数字和下划线（不超过32个字符）",
                "INVALID_NAME",
            )
            continue
        if name in check.parameters:
            check.error(f"{path}.name", f"参数名「{name}」重复", "DUPLICATE")
            continue
        label = _text(check, item.get("label"), f"{path}.label", "参数名称")
        try:
            kind = ParameterType(str(item.get("type")))
        except ValueError:
            shown = "、".join(t.value for t in ParameterType)
            check.error(
                f"{path}.type",
                f"参数类型「{_echo(item.get('type'))}」无效，可选：{shown}",
                "INVALID_PARAMETER",
            )
            continue
        spec = ParameterSpec(
            name=name,
            label=label or name,
            type=kind,
            required=_boolean(check, item.get("required", False), f"{path}.required"),
            choices=_choices(check, kind, item.get("choices"), path),
            minimum=_bound(check, kind, item.get("minimum"), f"{path}.minimum"),
            maximum=_bound(check, kind, item.get("maximum"), f"{path}.maximum"),
            system_parameter=_system_parameter(check, item.get("systemParameter"), path),
        )
        if spec.minimum is not None and spec.maximum is not None and spec.minimum > spec.maximum:
            check.error(f"{path}.maximum", "最大值不能小于最小值", "OUT_OF_RANGE")
        default = item.get("default")
        if default is not None:
            _, problem = check_value(spec, default, f"{check.prefix}.{path}.default")
            if problem is not None:
                check.errors.append(problem)
        spec = dataclasses.replace(spec, default=default)
        check.parameters[name] = spec
        specs.append(spec)
    return tuple(specs)


def _boolean(check: _Checker, value: object, path: str) -> bool:
    if not isinstance(value, bool):
        check.error(path, "应为 true 或 false", "INVALID_TYPE")
        return False
    return value


def _choices(check: _Checker, kind: ParameterType, raw: object, path: str) -> tuple[Choice, ...]:
    if kind != ParameterType.CHOICE:
        if raw is not None:
            check.error(f"{path}.choices", "只有 CHOICE 类型的参数才有选项", "INVALID_PARAMETER")
        return ()
    items = _list(check, raw, f"{path}.choices", "选项")
    if not items:
        check.error(f"{path}.choices", "CHOICE 类型的参数至少要有一个选项", "REQUIRED")
    if len(items) > MAX_CHOICES:
        check.error(f"{path}.choices", f"选项不能超过 {MAX_CHOICES} 个", "TOO_MANY")
        return ()
    choices: list[Choice] = []
    for j, item in enumerate(items):
        where = f"{path}.choices[{j}]"
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("value"), str)
            or not item["value"]
        ):
            check.error(where, '选项应为 {"value": 取值, "label": 名称}', "INVALID_TYPE")
            continue
        check.keys(item, frozenset({"value", "label"}), where)
        if any(c.value == item["value"] for c in choices):
            check.error(f"{where}.value", f"选项「{item['value']}」重复", "DUPLICATE")
            continue
        choices.append(
            Choice(item["value"], _text(check, item.get("label"), f"{where}.label", "选项名称"))
        )
    return tuple(choices)


def _bound(check: _Checker, kind: ParameterType, raw: object, path: str) -> float | None:
    if raw is None:
        return None
    if kind not in (ParameterType.INTEGER, ParameterType.NUMBER):
        check.error(path, "只有数字类型的参数才有最小值、最大值", "INVALID_PARAMETER")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        check.error(path, "应为数字", "INVALID_TYPE")
        return None
    return float(raw)


def _system_parameter(check: _Checker, raw: object, path: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not PARAMETER_NAME.match(raw):
        check.error(f"{path}.systemParameter", "系统参数名无效", "INVALID_PARAMETER")
        return None
    return raw


def _date_range(check: _Checker, source: Source, raw: object) -> DateRangeSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        check.error(
            "dateRange", '日期范围应为 JSON 对象：{"field": …, "from": …, "to": …}', "INVALID_TYPE"
        )
        return None
    check.keys(raw, frozenset({"field", "from", "to"}), "dateRange")
    if not source.date_fields:
        check.error(
            "dateRange", f"数据来源「{source.label}」没有可用于日期范围的日期字段", "NO_DATE_FIELD"
        )
        return None
    fields = [d.key for d in source.date_fields]
    shown = "、".join(f"{d.key}（{d.label}）" for d in source.date_fields)
    value = raw.get("field", fields[0])
    ref = check.ref(value, "dateRange.field")
    slot: Slot = fields[0]
    if ref is not None:
        spec = check.ref_of_type(ref, (ParameterType.CHOICE,), "dateRange.field", "日期字段")
        for choice in spec.choices if spec else ():
            if choice.value not in fields:
                check.error(
                    "dateRange.field",
                    f"参数选项「{choice.value}」不是日期字段，可选：{shown}",
                    "UNKNOWN_DATE_FIELD",
                )
        slot = ref
    elif isinstance(value, str) and value in fields:
        slot = value
    else:
        check.error(
            "dateRange.field",
            f"日期字段「{_echo(value)}」不存在，可选：{shown}",
            "UNKNOWN_DATE_FIELD",
        )
    start = _date_bound(check, raw.get("from"), "dateRange.from")
    end = _date_bound(check, raw.get("to"), "dateRange.to")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and start > end:
        check.error("dateRange.to", "结束日期不能早于开始日期", "DATE_ORDER")
    return DateRangeSpec(slot, start, end)


def _date_bound(check: _Checker, raw: object, path: str) -> dt.date | ParamRef | None:
    if raw is None:
        return None
    ref = check.ref(raw, path)
    if ref is not None:
        check.ref_of_type(ref, (ParameterType.DATE,), path, "日期范围")
        return ref
    if isinstance(raw, str) and ISO_DATE.match(raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            pass
    check.error(path, '应为日期（YYYY-MM-DD）或 {"param": 参数名}', "INVALID_DATE")
    return None


def _dimensions(
    check: _Checker, source: Source, raw: object, date_range: DateRangeSpec | None
) -> tuple[Slot, ...]:
    items = _list(check, raw, "dimensions", "分组维度")
    if len(items) > MAX_DIMENSIONS:
        check.error("dimensions", f"分组维度不能超过 {MAX_DIMENSIONS} 个", "TOO_MANY")
    shown = "、".join(f"{d.key}（{d.label}）" for d in source.all_dimensions())
    slots: list[Slot] = []
    for i, item in enumerate(items):
        path = f"dimensions[{i}]"
        ref = check.ref(item, path)
        keys: list[str] = []
        if ref is not None:
            spec = check.ref_of_type(ref, (ParameterType.CHOICE,), path, "分组维度")
            keys = [c.value for c in spec.choices] if spec else []
            slot: Slot = ref
        elif isinstance(item, str):
            keys = [item]
            slot = item
        else:
            check.error(path, '分组维度应为维度名或 {"param": 参数名}', "INVALID_TYPE")
            continue
        for key in keys:
            dimension = source.dimension(key)
            if dimension is None:
                check.error(
                    path,
                    f"数据来源「{source.label}」没有分组维度「{_echo(key)}」，可选：{shown}",
                    "UNKNOWN_DIMENSION",
                )
            elif key in PERIODS and date_range is None:
                check.error(
                    path,
                    f"按{dimension.label}分组需要先指定日期范围（dateRange），说明按哪个日期统计",
                    "NO_DATE_FIELD",
                )
        if slot in slots:
            check.error(path, "分组维度重复", "DUPLICATE")
            continue
        slots.append(slot)
    return tuple(slots)


def _measures(check: _Checker, source: Source, raw: object) -> tuple[str, ...]:
    if raw is None or raw == []:
        check.error("measures", "至少要有一个统计指标", "REQUIRED")
        return ()
    items = _list(check, raw, "measures", "统计指标")
    if len(items) > MAX_MEASURES:
        check.error("measures", f"统计指标不能超过 {MAX_MEASURES} 个", "TOO_MANY")
    shown = "、".join(f"{m.key}（{m.label}）" for m in source.measures)
    keys: list[str] = []
    for i, item in enumerate(items):
        path = f"measures[{i}]"
        if not isinstance(item, str) or source.measure(item) is None:
            check.error(
                path,
                f"数据来源「{source.label}」没有统计指标「{_echo(item)}」，可选：{shown}",
                "UNKNOWN_MEASURE",
            )
        elif item in keys:
            check.error(path, f"统计指标「{_echo(item)}」重复", "DUPLICATE")
        else:
            keys.append(item)
    return tuple(keys)


def _filters(check: _Checker, source: Source, raw: object) -> tuple[FilterSpec, ...]:
    items = _list(check, raw, "filters", "筛选条件")
    if len(items) > MAX_FILTERS:
        check.error("filters", f"筛选条件不能超过 {MAX_FILTERS} 个", "TOO_MANY")
        return ()
    shown = "、".join(f"{f.key}（{f.label}）" for f in source.filters) or "（无）"
    specs: list[FilterSpec] = []
    for i, item in enumerate(items):
        path = f"filters[{i}]"
        if not isinstance(item, dict):
            check.error(path, '筛选条件应为 {"filter": 条件名, "value": 取值}', "INVALID_TYPE")
            continue
        check.keys(item, frozenset({"filter", "value"}), path)
        key = item.get("filter")
        found = source.filter(key) if isinstance(key, str) else None
        if found is None:
            check.error(
                f"{path}.filter",
                f"数据来源「{source.label}」没有筛选条件「{_echo(key)}」，可选：{shown}",
                "UNKNOWN_FILTER",
            )
            continue
        if any(s.key == found.key for s in specs):
            check.error(f"{path}.filter", f"筛选条件「{found.label}」重复", "DUPLICATE")
            continue
        codes = [code for code, _ in found.values]
        value = item.get("value")
        ref = check.ref(value, f"{path}.value")
        if ref is not None:
            if found.kind == FilterKind.BOOLEAN:
                check.ref_of_type(
                    ref, (ParameterType.BOOLEAN,), f"{path}.value", f"筛选条件「{found.label}」"
                )
            else:
                spec = check.ref_of_type(
                    ref, (ParameterType.CHOICE,), f"{path}.value", f"筛选条件「{found.label}」"
                )
                for choice in spec.choices if spec else ():
                    if choice.value not in codes:
                        check.error(
                            f"{path}.value",
                            f"参数选项「{choice.value}」不是筛选条件「{found.label}」的取值",
                            "INVALID_FILTER_VALUE",
                        )
            specs.append(FilterSpec(found.key, ref))
        elif found.kind == FilterKind.BOOLEAN:
            if not isinstance(value, bool):
                check.error(
                    f"{path}.value",
                    f"筛选条件「{found.label}」的取值应为 true 或 false",
                    "INVALID_FILTER_VALUE",
                )
                continue
            specs.append(FilterSpec(found.key, value))
        else:
            allowed = "、".join(f"{c}（{label}）" for c, label in found.values)
            if not isinstance(value, list) or not value or any(v not in codes for v in value):
                check.error(
                    f"{path}.value",
                    f"筛选条件「{found.label}」的取值应为非空列表，可选：{allowed}",
                    "INVALID_FILTER_VALUE",
                )
                continue
            specs.append(FilterSpec(found.key, list(dict.fromkeys(value))))
    return tuple(specs)


def _arguments(check: _Checker, source: Source, raw: object) -> dict[str, float | ParamRef]:
    if not isinstance(raw, dict):
        check.error("arguments", "数据来源参数应为 JSON 对象", "INVALID_TYPE")
        return {}
    shown = "、".join(f"{a.key}（{a.label}）" for a in source.arguments) or "（无）"
    bound: dict[str, float | ParamRef] = {}
    if len(raw) > len(source.arguments) + 5:
        check.error("arguments", f"数据来源「{source.label}」只有这些参数：{shown}", "TOO_MANY")
        return {}
    for key, value in raw.items():
        path = f"arguments.{key}"
        argument = source.argument(key)
        if argument is None:
            check.error(
                path,
                f"数据来源「{source.label}」没有参数「{_echo(key)}」，可选：{shown}",
                "UNKNOWN_ARGUMENT",
            )
            continue
        ref = check.ref(value, path)
        if ref is not None:
            check.ref_of_type(
                ref, (ParameterType.NUMBER, ParameterType.INTEGER), path, argument.label
            )
            bound[key] = ref
        elif isinstance(value, bool) or not isinstance(value, int | float):
            check.error(path, f'{argument.label}应为数字或 {{"param": 参数名}}', "INVALID_TYPE")
        elif not argument.minimum <= value <= argument.maximum:
            check.error(
                path,
                f"{argument.label}应在 {_number(argument.minimum)} 到 {_number(argument.maximum)} 之间",
                "OUT_OF_RANGE",
            )
        else:
            bound[key] = float(value)
    return bound


def _chart(
    check: _Checker, raw: object, dimensions: tuple[Slot, ...], measures: tuple[str, ...]
) -> ChartSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        check.error("chart", '图表应为 JSON 对象：{"kind": …, "series": […]}', "INVALID_TYPE")
        return None
    check.keys(raw, frozenset({"kind", "series", "split"}), "chart")
    try:
        kind = ChartKind(str(raw.get("kind")))
    except ValueError:
        shown = "、".join(k.value for k in ChartKind)
        check.error(
            "chart.kind",
            f"图表类型「{_echo(raw.get('kind'))}」无效，可选：{shown}",
            "INVALID_CHART",
        )
        return None
    if not dimensions:
        check.error("chart", "图表需要至少一个分组维度作为横轴", "INVALID_CHART")
    series = _list(check, raw.get("series"), "chart.series", "图表系列")
    if not series:
        check.error("chart.series", "图表至少要有一个系列（统计指标）", "REQUIRED")
    for i, key in enumerate(series):
        if key not in measures:
            check.error(
                f"chart.series[{i}]",
                f"图表系列「{_echo(key)}」不在本报表的统计指标中",
                "UNKNOWN_MEASURE",
            )
    split: Slot | None = None
    if raw.get("split") is not None:
        value = raw["split"]
        split = check.ref(value, "chart.split") or (value if isinstance(value, str) else None)
        if split is None or split not in dimensions[1:]:
            check.error(
                "chart.split",
                "图表分组（split）应为本报表除第一个以外的某个分组维度",
                "INVALID_CHART",
            )
    return ChartSpec(kind, tuple(k for k in series if isinstance(k, str)), split)


def _labels(check: _Checker, source: Source, raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        check.error("labels", '列名应为 JSON 对象：{"指标或维度名": "中文列名"}', "INVALID_TYPE")
        return {}
    if len(raw) > MAX_LABELS:
        check.error("labels", f"列名不能超过 {MAX_LABELS} 个", "TOO_MANY")
        return {}
    labels: dict[str, str] = {}
    for key, value in raw.items():
        if source.dimension(key) is None and source.measure(key) is None:
            check.error(
                f"labels.{key}",
                f"「{_echo(key)}」不是数据来源「{source.label}」的维度或指标",
                "UNKNOWN_KEY",
            )
            continue
        labels[key] = _text(check, value, f"labels.{key}", "列名")
    return labels


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class BoundReport:
    """A definition with every parameter replaced by its value for one run."""

    dimensions: tuple[Dimension, ...]
    measures: tuple[str, ...]
    filters: tuple[tuple[str, object], ...]
    date_field: str | None
    start: dt.date | None
    end: dt.date | None
    arguments: Mapping[str, float]
    split: str | None
    values: Mapping[str, object]


def resolve_parameters(
    spec: ReportSpec, raw: object, system: Mapping[str, object]
) -> dict[str, object]:
    """The run's parameter values: given ones checked, the rest from defaults.

    A parameter with `systemParameter` defaults to that system parameter's current
    value (when it is valid for the parameter), else to its own default.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationFailed([FieldError("parameters", "报表参数应为 JSON 对象", "INVALID_TYPE")])
    errors: list[FieldError] = []
    known = {p.name for p in spec.parameters}
    for key in raw:
        if key not in known:
            shown = "、".join(f"{p.name}（{p.label}）" for p in spec.parameters) or "（无）"
            errors.append(
                FieldError(
                    f"parameters.{key}",
                    f"本报表没有参数「{_echo(key)}」，可用：{shown}",
                    "UNKNOWN_PARAMETER",
                )
            )
    values: dict[str, object] = {}
    for p in spec.parameters:
        path = f"parameters.{p.name}"
        given = raw.get(p.name)
        if given is None:
            given = _default(p, system)
        if given is None:
            if p.required:
                errors.append(FieldError(path, f"请填写参数「{p.label}」", "REQUIRED"))
            values[p.name] = None
            continue
        value, problem = check_value(p, given, path)
        if problem is not None:
            errors.append(problem)
        values[p.name] = value
    for key, given in spec.arguments.items():
        argument = spec.source.argument(key)
        value = values.get(given.name) if isinstance(given, ParamRef) else None
        if argument is None or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if not argument.minimum <= value <= argument.maximum:
            low, high = _number(argument.minimum), _number(argument.maximum)
            errors.append(
                FieldError(
                    f"parameters.{given.name}" if isinstance(given, ParamRef) else "parameters",
                    f"{argument.label}应在 {low} 到 {high} 之间",
                    "OUT_OF_RANGE",
                )
            )
    if spec.date_range is not None:
        start, end = spec.date_range.start, spec.date_range.end
        first = values.get(start.name) if isinstance(start, ParamRef) else start
        last = values.get(end.name) if isinstance(end, ParamRef) else end
        if isinstance(first, dt.date) and isinstance(last, dt.date) and first > last:
            field_name = f"parameters.{end.name}" if isinstance(end, ParamRef) else "parameters"
            errors.append(FieldError(field_name, "结束日期不能早于开始日期", "DATE_ORDER"))
    if errors:
        raise ValidationFailed(errors)
    return values


def _default(p: ParameterSpec, system: Mapping[str, object]) -> object:
    if p.system_parameter is not None and system.get(p.system_parameter) is not None:
        value = system[p.system_parameter]
        if check_value(p, value, "")[1] is None:
            return value
    return p.default


def effective_default(p: ParameterSpec, system: Mapping[str, object]) -> object:
    """The default a client should show: the system parameter's value where it has one."""
    return _default(p, system)


def bind(
    spec: ReportSpec, values: Mapping[str, object], system: Mapping[str, object]
) -> BoundReport:
    """Replace every parameter reference with its value (values come from `resolve_parameters`)."""

    def pick(slot: Slot) -> str:
        return str(values[slot.name]) if isinstance(slot, ParamRef) else slot

    source = spec.source
    dimensions: list[Dimension] = []
    for slot in spec.dimensions:
        dimension = source.dimension(pick(slot))
        if dimension is not None and dimension not in dimensions:
            dimensions.append(dimension)
    filters: list[tuple[str, object]] = []
    for f in spec.filters:
        value = values[f.value.name] if isinstance(f.value, ParamRef) else f.value
        if value is None:
            continue  # an optional parameter left empty: no filter
        found = source.filter(f.key)
        if found is not None and found.kind == FilterKind.CHOICE and isinstance(value, str):
            value = [value]
        filters.append((f.key, value))
    arguments: dict[str, float] = {}
    for argument in source.arguments:
        given = spec.arguments.get(argument.key)
        value = values.get(given.name) if isinstance(given, ParamRef) else given
        if value is None and argument.system_parameter is not None:
            value = system.get(argument.system_parameter)
        if isinstance(value, bool) or not isinstance(value, int | float):
            value = argument.default
        arguments[argument.key] = min(max(float(value), argument.minimum), argument.maximum)
    date_range = spec.date_range
    start = end = None
    if date_range is not None:
        raw_start = (
            values[date_range.start.name]
            if isinstance(date_range.start, ParamRef)
            else date_range.start
        )
        raw_end = (
            values[date_range.end.name] if isinstance(date_range.end, ParamRef) else date_range.end
        )
        start = raw_start if isinstance(raw_start, dt.date) else None
        end = raw_end if isinstance(raw_end, dt.date) else None
    split = None
    if spec.chart is not None and spec.chart.split is not None:
        split = pick(spec.chart.split)
    return BoundReport(
        dimensions=tuple(dimensions),
        measures=spec.measures,
        filters=tuple(filters),
        date_field=pick(date_range.field) if date_range is not None else None,
        start=start,
        end=end,
        arguments=arguments,
        split=split,
        values=values,
    )


_TRUE = {"true", "1", "yes", "是"}
_FALSE = {"false", "0", "no", "否"}


def parameters_from_text(spec: ReportSpec, text: Mapping[str, str]) -> dict[str, object]:
    """Command-line `key=value` pairs as JSON values of the parameters' types.

    A value that does not read as its type is passed on as text, so that the usual
    check reports it (in Chinese) instead of a second set of messages here.
    """
    values: dict[str, object] = {}
    for key, raw in text.items():
        parameter = spec.parameter(key)
        value: object = raw
        if parameter is not None and parameter.type == ParameterType.INTEGER:
            value = int(raw) if re.fullmatch(r"[-+]?\d+", raw.strip()) else raw
        elif parameter is not None and parameter.type == ParameterType.NUMBER:
            try:
                value = float(raw)
            except ValueError:
                value = raw
        elif parameter is not None and parameter.type == ParameterType.BOOLEAN:
            lowered = raw.strip().lower()
            value = True if lowered in _TRUE else False if lowered in _FALSE else raw
        values[key] = value
    return values
