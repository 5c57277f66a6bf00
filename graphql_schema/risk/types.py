from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.risk.models import RiskFactor as RiskFactorRow
from graphql_schema.base import Node, to_global_id

if TYPE_CHECKING:
    from graphql_schema.emr.types import EmrDiagnosis


@strawberry.enum(description="妊娠风险颜色（五色管理中的绿黄橙红；紫色是单独的传染病标记）")
class RiskColor(enum.Enum):
    GREEN = strawberry.enum_value("GREEN", description="绿色：未发现高危因素")
    YELLOW = strawberry.enum_value("YELLOW", description="黄色：一般风险")
    ORANGE = strawberry.enum_value("ORANGE", description="橙色：较高风险")
    RED = strawberry.enum_value("RED", description="红色：高风险")


@strawberry.enum(description="高危因素的颜色（含紫色：传染病）")
class FactorColor(enum.Enum):
    YELLOW = strawberry.enum_value("YELLOW", description="黄色")
    ORANGE = strawberry.enum_value("ORANGE", description="橙色")
    RED = strawberry.enum_value("RED", description="红色")
    PURPLE = strawberry.enum_value("PURPLE", description="紫色：传染病")


@strawberry.enum(description="诊断来源")
class DiagnosisSource(enum.Enum):
    EMR = strawberry.enum_value("EMR", description="来自电子病历（EMR）诊断")
    MANUAL = strawberry.enum_value("MANUAL", description="医生手工录入或修改")


@strawberry.type(description="高危因素（risk factor），编码来自数据字典")
class RiskFactor(Node):
    db_id: strawberry.Private[int]
    pregnancy_db_id: strawberry.Private[int]
    code: str = strawberry.field(description="数据字典中的高危因素编码")
    name: str = strawberry.field(description="高危因素名称")
    color: FactorColor = strawberry.field(description="该因素的颜色")
    diagnosis: str | None = strawberry.field(description="诊断（原“处理意见”）")
    diagnosis_source: DiagnosisSource = strawberry.field(description="诊断来源：EMR 或 MANUAL")
    icd10_code: str | None = strawberry.field(description="ICD-10 编码（已知时）")
    emr_condition_id: str | None = strawberry.field(
        description="诊断来自电子病历（EMR）时，该诊断的 Condition 引用"
    )
    recorded_by: str | None = strawberry.field(description="录入人")
    recorded_at: dt.datetime = strawberry.field(description="录入时间")
    updated_by: str | None = strawberry.field(description="最后修改人")
    updated_at: dt.datetime = strawberry.field(description="最后修改时间")
    version: int = strawberry.field(description="版本号，每次修改加一")

    @classmethod
    def from_row(cls, row: RiskFactorRow) -> RiskFactor:
        return cls(
            id=to_global_id("RiskFactor", row.id),
            db_id=row.id,
            pregnancy_db_id=row.pregnancy_id,
            code=row.code,
            name=row.name,
            color=FactorColor(row.color),
            diagnosis=row.diagnosis,
            diagnosis_source=DiagnosisSource(row.diagnosis_source),
            icd10_code=row.icd10_code,
            emr_condition_id=row.emr_condition_id,
            recorded_by=row.recorded_by,
            recorded_at=row.recorded_at,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
            version=row.version,
        )

    @strawberry.field(
        description="电子病历（EMR）中与该高危因素的 ICD-10 范围相符的诊断，供医生选择"
        "（优先级高的范围在前，同一范围内最新的在前）；EMR 不可用或未配置时为 null，"
        "并附一条 UPSTREAM_UNAVAILABLE 错误"
    )
    async def diagnosis_suggestions(
        self, info: Info
    ) -> list[Annotated[EmrDiagnosis, strawberry.lazy("graphql_schema.emr.types")]] | None:
        from graphql_schema.emr.schema import diagnosis_suggestions

        return await diagnosis_suggestions(info, self.pregnancy_db_id, self.code)


@strawberry.type(description="妊娠风险评估结果：颜色、紫色标记及产生它们的高危因素")
class RiskAssessment:
    color: RiskColor = strawberry.field(description="风险颜色：当前高危因素中最高的颜色")
    infectious: bool = strawberry.field(description="紫色（传染病）标记")
    color_factors: list[RiskFactor] = strawberry.field(description="决定该颜色的高危因素")
    infectious_factors: list[RiskFactor] = strawberry.field(description="产生紫色标记的高危因素")
    rule: str = strawberry.field(description="评定规则说明")
