from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.pregnancy.models import Pregnancy as PregnancyRow
from domain.pregnancy.models import PregnancyStatus as StatusValue
from domain.pregnancy.rules import gestational_days
from domain.risk.rules import PURPLE, grade
from graphql_schema.base import GestationalAge, Node, to_global_id
from graphql_schema.risk.types import RiskAssessment, RiskColor, RiskFactor
from graphql_schema.ultrasound.types import UltrasoundExam
from graphql_schema.visit.types import PrenatalVisit

if TYPE_CHECKING:
    from graphql_schema.document.types import HandbookDocument
    from graphql_schema.lab.types import InfectiousScreening, RiskFactorProposal
    from graphql_schema.patient.types import Patient

GRADING_RULE = "颜色取当前高危因素中最高者（绿<黄<橙<红）；紫色为传染病标记，可与任何颜色并存"


@strawberry.enum(description="孕产档案状态")
class PregnancyStatus(enum.Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="孕期管理中")
    DELIVERED = strawberry.enum_value("DELIVERED", description="已分娩")
    ARCHIVED = strawberry.enum_value("ARCHIVED", description="已归档（只读）")


@strawberry.type(description="孕产档案（pregnancy record），建档时开立")
class Pregnancy(Node):
    db_id: strawberry.Private[int]
    patient_db_id: strawberry.Private[int]
    lmp: dt.date = strawberry.field(description="末次月经（LMP）")
    edd: dt.date = strawberry.field(description="预产期（EDD）；未提供时由末次月经推算（+280天）")
    edd_from_lmp: bool = strawberry.field(description="预产期是否由末次月经推算")
    gravidity: int = strawberry.field(description="孕次（含本次）")
    parity: int = strawberry.field(description="产次（小于孕次）")
    booking_date: dt.date = strawberry.field(description="建档日期")
    booking_unit: str | None = strawberry.field(description="建档单位")
    handbook_no: str | None = strawberry.field(description="母子健康手册编号")
    status: PregnancyStatus = strawberry.field(description="状态：管理中、已分娩、已归档")
    delivered_on: dt.date | None = strawberry.field(description="分娩日期")
    delivered_recorded_by: str | None = strawberry.field(description="登记分娩的人")
    archived_at: dt.datetime | None = strawberry.field(description="归档时间")
    archived_by: str | None = strawberry.field(description="归档人")
    risk_color: RiskColor = strawberry.field(description="妊娠风险颜色（由高危因素得出）")
    infectious: bool = strawberry.field(description="紫色（传染病）标记，可与任何颜色并存")
    gestational_age_today: GestationalAge | None = strawberry.field(
        description="今天的孕周（仅管理中的档案）"
    )
    gestational_age_at_delivery: GestationalAge | None = strawberry.field(description="分娩时孕周")

    @classmethod
    def from_row(cls, row: PregnancyRow) -> Pregnancy:
        active = row.status == StatusValue.ACTIVE
        return cls(
            id=to_global_id("Pregnancy", row.id),
            db_id=row.id,
            patient_db_id=row.patient_id,
            lmp=row.lmp,
            edd=row.edd,
            edd_from_lmp=row.edd_from_lmp,
            gravidity=row.gravidity,
            parity=row.parity,
            booking_date=row.booking_date,
            booking_unit=row.booking_unit,
            handbook_no=row.handbook_no,
            status=PregnancyStatus(row.status),
            delivered_on=row.delivered_on,
            delivered_recorded_by=row.delivered_recorded_by,
            archived_at=row.archived_at,
            archived_by=row.archived_by,
            risk_color=RiskColor(row.risk_color),
            infectious=row.infectious_flag,
            gestational_age_today=(
                GestationalAge.of(gestational_days(row.lmp, dt.date.today())) if active else None
            ),
            gestational_age_at_delivery=(
                GestationalAge.of(gestational_days(row.lmp, row.delivered_on))
                if row.delivered_on
                else None
            ),
        )

    @strawberry.field(description="孕妇")
    async def patient(
        self, info: Info
    ) -> Annotated[Patient, strawberry.lazy("graphql_schema.patient.types")]:
        from graphql_schema.patient.types import Patient

        row = await info.context.loaders.patient_by_id.load(self.patient_db_id)
        return Patient.from_row(row, reveal=info.context.reveals_identifiers)

    @strawberry.field(description="产前检查记录，按日期排列")
    async def visits(self, info: Info) -> list[PrenatalVisit]:
        rows = await info.context.loaders.visits_by_pregnancy.load(self.db_id)
        return [PrenatalVisit.from_row(row) for row in rows]

    @strawberry.field(description="当前高危因素")
    async def risk_factors(self, info: Info) -> list[RiskFactor]:
        rows = await info.context.loaders.risk_factors_by_pregnancy.load(self.db_id)
        return [RiskFactor.from_row(row) for row in rows]

    @strawberry.field(description="风险评估：颜色、紫色标记，以及产生它们的高危因素（规则）")
    async def risk_assessment(self, info: Info) -> RiskAssessment:
        rows = await info.context.loaders.risk_factors_by_pregnancy.load(self.db_id)
        grading = grade((row.code, row.color) for row in rows)
        color_codes = set(grading.color_factor_codes)
        return RiskAssessment(
            color=RiskColor(grading.color.value),
            infectious=grading.infectious,
            color_factors=[RiskFactor.from_row(r) for r in rows if r.code in color_codes],
            infectious_factors=[RiskFactor.from_row(r) for r in rows if r.color == PURPLE],
            rule=GRADING_RULE,
        )

    @strawberry.field(description="超声检查（含 NT），按日期排列")
    async def ultrasound_exams(self, info: Info) -> list[UltrasoundExam]:
        rows = await info.context.loaders.ultrasound_by_pregnancy.load(self.db_id)
        return [UltrasoundExam.from_row(row) for row in rows]

    @strawberry.field(
        description="传染病筛查（乙肝五项、HIV、梅毒、丙肝）：每项最新结果及其自己的检验日期"
    )
    async def infectious_screening(
        self, info: Info
    ) -> Annotated[InfectiousScreening, strawberry.lazy("graphql_schema.lab.types")]:
        from graphql_schema.lab.schema import infectious_screening

        return await infectious_screening(info, self.db_id)

    @strawberry.field(
        description="母子健康手册 PDF 的各个版本（最新在前）：内容哈希、生成时间与生成人、短时有效的下载链接"
    )
    async def handbook_documents(
        self, info: Info
    ) -> list[Annotated[HandbookDocument, strawberry.lazy("graphql_schema.document.types")]]:
        from graphql_schema.document.types import HandbookDocument

        rows = await info.context.loaders.handbook_documents_by_pregnancy.load(self.db_id)
        return [HandbookDocument.from_row(row) for row in rows]

    @strawberry.field(description="待医生确认的高危因素建议（如检验阳性建议紫色传染病因素）")
    async def risk_factor_proposals(
        self, info: Info
    ) -> list[Annotated[RiskFactorProposal, strawberry.lazy("graphql_schema.lab.types")]]:
        from graphql_schema.lab.schema import pending_proposals

        return await pending_proposals(info, self.db_id)
