from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping

import strawberry
from strawberry.types import Info

from domain.lab.history import MergedRow
from domain.lab.models import LabResult as LabRow
from domain.lab.models import LabResultAmendment as AmendmentRow
from domain.lab.screening import SCREENING_ITEMS
from domain.risk.proposal_models import RiskFactorProposal as ProposalRow
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

    @strawberry.field(
        description="修订历史（医生修改或检验系统更正），最早的在前；第一条的 before 是检验系统的原始值"
    )
    async def amendments(self, info: Info) -> list[LabResultAmendment]:
        if not self.amended:
            return []
        rows = await info.context.loaders.amendments_by_lab_result.load(self.db_id)
        return [LabResultAmendment.from_row(row, source=self.source) for row in rows]


@strawberry.type(description="检验结果的值（修订前或修订后）")
class LabValue:
    value_numeric: float | None = strawberry.field(description="数值结果")
    comparator: str | None = strawberry.field(description="数值前的比较符，例如 <")
    value_qualitative: str | None = strawberry.field(
        description="定性结果：POSITIVE / NEGATIVE / WEAK_POSITIVE"
    )
    value_text: str | None = strawberry.field(description="文字结果，例如 阴性")
    unit: str | None = strawberry.field(description="单位")
    reference_range: str | None = strawberry.field(description="参考范围")
    abnormal_flag: str | None = strawberry.field(description="异常标志（H/L/A）")

    @classmethod
    def from_json(cls, values: Mapping[str, object]) -> LabValue:
        def text(key: str) -> str | None:
            value = values.get(key)
            return None if value is None else str(value)

        numeric = values.get("value_numeric")
        return cls(
            value_numeric=float(numeric) if isinstance(numeric, int | float) else None,
            comparator=text("comparator"),
            value_qualitative=text("value_qualitative"),
            value_text=text("value_text"),
            unit=text("unit"),
            reference_range=text("reference_range"),
            abnormal_flag=text("abnormal_flag"),
        )


@strawberry.type(description="检验结果的一次修订（修订前后的值、修订人、时间和原因）")
class LabResultAmendment:
    before: LabValue = strawberry.field(description="修订前的值")
    after: LabValue = strawberry.field(description="修订后的值")
    reason: str | None = strawberry.field(description="修订原因")
    amended_by: str = strawberry.field(description="修订人（用户名）；检验系统更正时为 LIS")
    amended_at: dt.datetime = strawberry.field(description="修订时间")
    source_correction: bool = strawberry.field(
        description="是否为检验系统自己的更正（而非医生修改）"
    )

    @classmethod
    def from_row(cls, row: AmendmentRow, *, source: str) -> LabResultAmendment:
        """`source` is the result's source: its own corrections are recorded under its name."""
        return cls(
            before=LabValue.from_json(row.before),
            after=LabValue.from_json(row.after),
            reason=row.reason,
            amended_by=row.amended_by,
            amended_at=row.amended_at,
            source_correction=row.amended_by == source,
        )


@strawberry.enum(description="定性结果（阴性、阳性、弱阳性）")
class QualitativeResult(enum.Enum):
    POSITIVE = strawberry.enum_value("POSITIVE", description="阳性")
    NEGATIVE = strawberry.enum_value("NEGATIVE", description="阴性")
    WEAK_POSITIVE = strawberry.enum_value("WEAK_POSITIVE", description="弱阳性")


def _qualitative(value: str | None) -> QualitativeResult | None:
    return QualitativeResult(value) if value in QualitativeResult.__members__ else None


@strawberry.type(description="传染病筛查中的一项：该项最新结果及其自己的检验日期")
class ScreeningItem:
    item_code: str = strawberry.field(description="标准项目编码，例如 HBSAG")
    item_name: str = strawberry.field(description="项目名称，例如 乙肝表面抗原")
    result: QualitativeResult | None = strawberry.field(
        description="定性结果；未检测或无法判读时为空"
    )
    value_text: str | None = strawberry.field(description="文字结果，例如 阴性、阳性(1:8)")
    value_numeric: float | None = strawberry.field(description="数值结果（如 S/CO、IU/mL）")
    tested_at: dt.datetime | None = strawberry.field(
        description="该项自己的检验时间：采样时间，缺失时为报告时间；未检测为空"
    )
    source: str | None = strawberry.field(description="来源：LIS / LEGACY / MANUAL")
    lab_result: LabResult | None = strawberry.field(description="所依据的检验结果")
    amended: bool = strawberry.field(description="该结果是否被医生修订过（原值在修订历史中）")

    @classmethod
    def of(cls, code: str, name: str, row: LabRow | None) -> ScreeningItem:
        if row is None:
            return cls(
                item_code=code,
                item_name=name,
                result=None,
                value_text=None,
                value_numeric=None,
                tested_at=None,
                source=None,
                lab_result=None,
                amended=False,
            )
        return cls(
            item_code=code,
            item_name=row.item_name,
            result=_qualitative(row.value_qualitative),
            value_text=row.value_text,
            value_numeric=row.value_numeric,
            tested_at=row.specimen_at or row.reported_at,
            source=row.source,
            lab_result=LabResult.from_row(row),
            amended=row.amendment_count > 0,
        )


@strawberry.type(
    description="传染病筛查（乙肝五项、HIV、梅毒 TP/RPR、丙肝）：本次孕期每项的最新结果，顺序固定"
)
class InfectiousScreening:
    items: list[ScreeningItem] = strawberry.field(
        description="HBSAG、ANTI_HBS、HBEAG、ANTI_HBE、ANTI_HBC、HIV、TP、RPR、HCV，每项一条"
    )
    complete: bool = strawberry.field(description="九项是否都已有结果")

    @classmethod
    def of(cls, latest: Mapping[str, LabRow]) -> InfectiousScreening:
        items = [ScreeningItem.of(code, name, latest.get(code)) for code, name in SCREENING_ITEMS]
        return cls(items=items, complete=all(item.lab_result is not None for item in items))


@strawberry.enum(description="高危因素建议的状态")
class ProposalStatus(enum.Enum):
    PENDING = strawberry.enum_value("PENDING", description="待医生确认")
    CONFIRMED = strawberry.enum_value("CONFIRMED", description="已确认（已添加高危因素）")
    DISMISSED = strawberry.enum_value("DISMISSED", description="已驳回")


@strawberry.type(
    description="系统建议的高危因素（例如乙肝表面抗原阳性 → 紫色传染病因素），由医生确认或驳回"
)
class RiskFactorProposal:
    id: strawberry.ID = strawberry.field(description="全局ID，确认或驳回时使用")
    db_id: strawberry.Private[int]
    lab_result_db_id: strawberry.Private[int | None]
    code: str = strawberry.field(description="建议的高危因素编码（数据字典），例如 P-HEPATITIS")
    factor_name: str | None = strawberry.field(description="高危因素名称（数据字典）")
    reason: str = strawberry.field(description="建议原因，例如 乙肝表面抗原阳性（2024-03-01）")
    status: ProposalStatus = strawberry.field(description="状态：待确认、已确认、已驳回")
    proposed_at: dt.datetime = strawberry.field(description="提出时间")
    decided_by: str | None = strawberry.field(description="确认或驳回的医生（用户名）")
    decided_at: dt.datetime | None = strawberry.field(description="确认或驳回的时间")

    @classmethod
    def from_row(cls, row: ProposalRow, factor_name: str | None = None) -> RiskFactorProposal:
        return cls(
            id=to_global_id("RiskFactorProposal", row.id),
            db_id=row.id,
            lab_result_db_id=row.lab_result_id,
            code=row.code,
            factor_name=factor_name,
            reason=row.reason,
            status=ProposalStatus(row.status),
            proposed_at=row.proposed_at,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
        )

    @strawberry.field(description="引起建议的检验结果")
    async def lab_result(self, info: Info) -> LabResult | None:
        if self.lab_result_db_id is None:
            return None
        row = await info.context.loaders.lab_result_by_id.load(self.lab_result_db_id)
        return LabResult.from_row(row) if row is not None else None


@strawberry.type(
    description="检验结果历史中的一条：同一结果在多个来源中出现时只列一次，sources 列出全部来源"
)
class LabHistoryEntry:
    item_code: str = strawberry.field(description="标准项目编码，例如 HGB、HBSAG")
    item_name: str = strawberry.field(description="项目名称")
    loinc: str | None = strawberry.field(description="LOINC 编码（有时）")
    value_numeric: float | None = strawberry.field(description="数值结果")
    comparator: str | None = strawberry.field(description="数值前的比较符，例如 <")
    value_qualitative: str | None = strawberry.field(
        description="定性结果：POSITIVE / NEGATIVE / WEAK_POSITIVE"
    )
    value_text: str | None = strawberry.field(description="文字结果")
    unit: str | None = strawberry.field(description="单位")
    reference_range: str | None = strawberry.field(description="参考范围")
    abnormal_flag: str | None = strawberry.field(description="异常标志（H/L/A）")
    specimen_at: dt.datetime | None = strawberry.field(description="采样时间")
    reported_at: dt.datetime = strawberry.field(description="报告时间")
    tested_at: dt.datetime = strawberry.field(description="检验时间：采样时间，缺失时为报告时间")
    sources: list[str] = strawberry.field(
        description="在哪些来源中找到：LOCAL（本系统已存）、LIS（检验系统实时查询）、LEGACY（旧系统）"
    )
    lab_result: LabResult | None = strawberry.field(
        description="本系统中的检验结果（仅在检验系统中、尚未入库时为空）"
    )
    amended: bool = strawberry.field(description="是否被医生修订过")

    @classmethod
    def of(cls, merged: MergedRow) -> LabHistoryEntry:
        row = merged.row
        return cls(
            item_code=row.item_code,
            item_name=row.item_name,
            loinc=row.loinc,
            value_numeric=row.value_numeric,
            comparator=row.comparator,
            value_qualitative=row.value_qualitative,
            value_text=row.value_text,
            unit=row.unit,
            reference_range=row.reference_range,
            abnormal_flag=row.abnormal_flag,
            specimen_at=row.specimen_at,
            reported_at=row.reported_at,
            tested_at=row.tested_at,
            sources=list(merged.sources),
            lab_result=LabResult.from_row(row.lab_result) if row.lab_result else None,
            amended=row.amended,
        )
