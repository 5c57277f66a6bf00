"""The definitions of the system parameters (系统参数): type, meaning, unit, range, default.

The `parameter` table holds the values; what a key means and which values it accepts is
fixed here, beside the code that reads it. A key without a row reads as its default.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from domain.errors import FieldError


class ValueType(enum.StrEnum):
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"


@dataclass(frozen=True)
class Definition:
    key: str
    value_type: ValueType
    label: str
    description: str
    default: float | int | bool | str
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 512


DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "nt_cutoff_mm",
        ValueType.NUMBER,
        "NT 增厚界值",
        "NT（颈项透明层）大于或等于该值时标记为增厚并提示医生",
        3.0,
        unit="mm",
        minimum=1.0,
        maximum=10.0,
    ),
    Definition(
        "emr_timeout_s",
        ValueType.NUMBER,
        "EMR 调用超时",
        "实时查询电子病历（EMR）诊断的最长等待时间；超时则返回部分数据并提示",
        2.0,
        unit="秒",
        minimum=0.1,
        maximum=30.0,
    ),
    Definition(
        "emr_cache_ttl_s",
        ValueType.NUMBER,
        "EMR 诊断缓存时间",
        "EMR 诊断在本进程中缓存的时间；0 表示不缓存",
        60,
        unit="秒",
        minimum=0,
        maximum=3600,
    ),
    Definition(
        "push_sweep_interval_s",
        ValueType.INTEGER,
        "推送扫描间隔",
        "推送任务检查待推送记录（桂妇儿平台）的间隔",
        30,
        unit="秒",
        minimum=1,
        maximum=3600,
    ),
    Definition(
        "push_backoff_base_s",
        ValueType.NUMBER,
        "推送重试初始间隔",
        "推送失败（可重试）后第一次重试前的等待时间，之后每次加倍",
        2,
        unit="秒",
        minimum=0.1,
        maximum=600,
    ),
    Definition(
        "push_backoff_max_s",
        ValueType.NUMBER,
        "推送重试最长间隔",
        "推送重试的等待时间加倍后不超过该值；不能小于重试初始间隔",
        600,
        unit="秒",
        minimum=1,
        maximum=86400,
    ),
    Definition(
        "push_coalesce_s",
        ValueType.NUMBER,
        "推送合并等待时间",
        "同一记录在该时间内的多次修改合并为一次推送",
        2,
        unit="秒",
        minimum=0,
        maximum=300,
    ),
    Definition(
        "push_requires_review",
        ValueType.BOOLEAN,
        "推送前需复核",
        "开启后，记录须经第二人复核才推送到桂妇儿平台（工作流程开关）",
        False,
    ),
    Definition(
        "reconcile_interval_h",
        ValueType.INTEGER,
        "平台对账间隔",
        "与桂妇儿平台核对已推送记录的间隔",
        24,
        unit="小时",
        minimum=1,
        maximum=720,
    ),
    Definition(
        "inspection_interval_days",
        ValueType.INTEGER,
        "自动巡检间隔",
        "距上次巡检报告满该天数时自动生成新报告（至少每季度一次）",
        91,
        unit="天",
        minimum=1,
        maximum=92,
    ),
    Definition(
        "backup_max_age_h",
        ValueType.INTEGER,
        "备份最长间隔",
        "巡检时最新数据库备份早于该时长即报警告",
        26,
        unit="小时",
        minimum=1,
        maximum=720,
    ),
    Definition(
        "backup_dir",
        ValueType.STRING,
        "备份目录",
        "数据库备份文件所在目录（绝对路径，巡检检查其中最新文件的时间）；为空表示未配置",
        "",
        max_length=512,
    ),
)

BY_KEY = {d.key: d for d in DEFINITIONS}

# Pairs (smaller, larger) that must stay ordered whichever of the two is changed.
ORDERED = (("push_backoff_base_s", "push_backoff_max_s"),)

_TYPE_LABELS = {
    ValueType.NUMBER: "数字",
    ValueType.INTEGER: "整数",
    ValueType.BOOLEAN: "是/否",
    ValueType.STRING: "文字",
}


def _shown(raw: object) -> str:
    try:
        return json.dumps(raw, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(raw)


def _bound(value: float) -> str:
    return f"{value:g}"


def coerce(definition: Definition, raw: object) -> float | int | bool | str | FieldError:
    """The value in the parameter's type, or why it is not acceptable (Chinese)."""
    kind = definition.value_type
    wrong = FieldError(
        "value",
        f"参数「{definition.label}」应为{_TYPE_LABELS[kind]}，收到的是 {_shown(raw)}",
        "INVALID_TYPE",
    )
    if kind is ValueType.BOOLEAN:
        return raw if isinstance(raw, bool) else wrong
    if kind is ValueType.STRING:
        if not isinstance(raw, str):
            return wrong
        return _string(definition, raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return wrong
    if not math.isfinite(raw):
        return wrong
    value: int | float
    if kind is ValueType.INTEGER:
        if isinstance(raw, float) and not raw.is_integer():
            return FieldError(
                "value", f"参数「{definition.label}」应为整数，收到的是 {raw:g}", "INVALID_TYPE"
            )
        value = int(raw)
    else:
        value = float(raw)
    low, high = definition.minimum, definition.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        unit = definition.unit or ""
        return FieldError(
            "value",
            f"参数「{definition.label}」应在{_bound(low or 0)}到{_bound(high or 0)}{unit}之间，"
            f"当前为{_bound(value)}",
            "OUT_OF_RANGE",
        )
    return value


def _string(definition: Definition, value: str) -> str | FieldError:
    if len(value) > definition.max_length:
        return FieldError(
            "value",
            f"参数「{definition.label}」不能超过{definition.max_length}个字符",
            "TOO_LONG",
        )
    if "\x00" in value:
        return FieldError("value", f"参数「{definition.label}」含有无效字符", "INVALID_FORMAT")
    if (
        definition.key == "backup_dir"
        and value
        and not (PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute())
    ):
        return FieldError(
            "value",
            "备份目录应为绝对路径，例如 /var/backups/mhub；留空表示未配置",
            "INVALID_FORMAT",
        )
    return value


def ordering_error(
    key: str, value: float | int | bool | str, current: dict[str, object]
) -> FieldError | None:
    """A change that would put an ordered pair out of order (e.g. back-off max < base)."""
    for low_key, high_key in ORDERED:
        if key not in (low_key, high_key):
            continue
        low = value if key == low_key else current.get(low_key, BY_KEY[low_key].default)
        high = value if key == high_key else current.get(high_key, BY_KEY[high_key].default)
        if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            return FieldError(
                "value",
                f"「{BY_KEY[low_key].label}」（{_bound(low)}）不能大于"
                f"「{BY_KEY[high_key].label}」（{_bound(high)}）",
                "OUT_OF_RANGE",
            )
    return None
