from __future__ import annotations

import datetime as dt
import enum

import strawberry
from strawberry.scalars import JSON

from domain.parameter.service import ParameterValue


@strawberry.enum(description="系统参数的值类型")
class ParameterValueType(enum.Enum):
    NUMBER = strawberry.enum_value("number", description="数字（可有小数）")
    INTEGER = strawberry.enum_value("integer", description="整数")
    BOOLEAN = strawberry.enum_value("boolean", description="是/否（工作流程开关）")
    STRING = strawberry.enum_value("string", description="文字")


@strawberry.type(
    description="系统参数（system parameter，1.5/1.6）：类型、范围与默认值固定，值可在线修改，"
    "各进程在数秒内生效，无需重启；每次修改记入审计日志"
)
class SystemParameter:
    key: str = strawberry.field(description="参数键，例如 nt_cutoff_mm")
    label: str = strawberry.field(description="参数名称（中文）")
    description: str = strawberry.field(description="参数说明")
    value_type: ParameterValueType = strawberry.field(description="值类型")
    value: JSON = strawberry.field(description="当前值（从未修改过时为默认值）")
    default_value: JSON = strawberry.field(description="默认值")
    minimum: float | None = strawberry.field(description="最小值（数字类参数）")
    maximum: float | None = strawberry.field(description="最大值（数字类参数）")
    unit: str | None = strawberry.field(description="单位，例如 mm、秒")
    updated_at: dt.datetime | None = strawberry.field(description="最后修改时间；从未修改为空")
    updated_by: str | None = strawberry.field(description="最后修改人（用户名）")

    @classmethod
    def of(cls, found: ParameterValue) -> SystemParameter:
        d = found.definition
        return cls(
            key=d.key,
            label=d.label,
            description=d.description,
            value_type=ParameterValueType(d.value_type.value),
            value=JSON(found.value),
            default_value=JSON(d.default),
            minimum=d.minimum,
            maximum=d.maximum,
            unit=d.unit,
            updated_at=found.updated_at,
            updated_by=found.updated_by,
        )
