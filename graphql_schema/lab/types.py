from __future__ import annotations

import datetime as dt

import strawberry

from domain.lab.models import LabResult as LabRow
from graphql_schema.base import Node, to_global_id


@strawberry.type(description="检验结果（lab result），映射到标准项目")
class LabResult(Node):
    db_id: strawberry.Private[int]
    item_code: str = strawberry.field(description="标准项目编码，例如 HBSAG、HGB")
    item_name: str = strawberry.field(description="项目名称")
    loinc: str | None = strawberry.field(description="LOINC 编码（有时）")
    local_code: str | None = strawberry.field(description="检验系统本地项目编码")
    value_numeric: float | None = strawberry.field(description="数值结果")
    comparator: str | None = strawberry.field(description="数值前的比较符，例如 <")
    value_qualitative: str | None = strawberry.field(
        description="定性结果：POSITIVE / NEGATIVE / WEAK_POSITIVE"
    )
    value_text: str | None = strawberry.field(description="原始文字结果，例如 阴性")
    unit: str | None = strawberry.field(description="单位")
    reference_range: str | None = strawberry.field(description="参考范围")
    abnormal_flag: str | None = strawberry.field(description="异常标志（H/L/A）")
    specimen_at: dt.datetime | None = strawberry.field(description="采样时间")
    reported_at: dt.datetime = strawberry.field(description="报告时间（该项目自己的检验日期）")
    source: str = strawberry.field(description="来源：LIS / LEGACY / MANUAL")
    source_id: str = strawberry.field(description="来源系统中的编号")
    amended: bool = strawberry.field(description="是否被医生修订过（原值保留在修订历史中）")

    @classmethod
    def from_row(cls, row: LabRow) -> LabResult:
        return cls(
            id=to_global_id("LabResult", row.id),
            db_id=row.id,
            item_code=row.item_code,
            item_name=row.item_name,
            loinc=row.loinc,
            local_code=row.local_code,
            value_numeric=row.value_numeric,
            comparator=row.comparator,
            value_qualitative=row.value_qualitative,
            value_text=row.value_text,
            unit=row.unit,
            reference_range=row.reference_range,
            abnormal_flag=row.abnormal_flag,
            specimen_at=row.specimen_at,
            reported_at=row.reported_at,
            source=row.source,
            source_id=row.source_id,
            amended=row.amendment_count > 0,
        )
