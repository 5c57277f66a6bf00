from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.patient import rules
from domain.patient.models import Patient as PatientRow
from graphql_schema.base import Connection, Node, checked_page, connection_of, to_global_id
from integrations.emr.port import EmrPatientId
from integrations.legacy import database as legacy
from resolvers.lab.loaders import LabCountKey, LabPageKey

if TYPE_CHECKING:
    from graphql_schema.emr.types import EmrDiagnosis
    from graphql_schema.lab.types import LabHistoryEntry, LabResult
    from graphql_schema.pregnancy.types import Pregnancy


@strawberry.type(
    description="旧产科系统中的孕产档案（只读）：从旧系统数据库实时读取；mhub import-legacy 可将其导入为已分娩或已归档的档案"
)
class LegacyPregnancy:
    legacy_id: str = strawberry.field(description="旧系统中的档案编号")
    description: str = strawberry.field(description="摘要，例如 2019-03-02 建档，G2P1，已分娩")
    lmp: dt.date | None = strawberry.field(description="末次月经")
    edd: dt.date | None = strawberry.field(description="预产期")
    booking_date: dt.date | None = strawberry.field(description="建档日期")
    gravidity: int | None = strawberry.field(description="孕次")
    parity: int | None = strawberry.field(description="产次")
    delivered_on: dt.date | None = strawberry.field(description="分娩日期")

    @classmethod
    def of(cls, row: legacy.LegacyPregnancy) -> LegacyPregnancy:
        parts = [f"{row.booking_date.isoformat()} 建档" if row.booking_date else "建档日期不详"]
        if row.gravidity is not None and row.parity is not None:
            parts.append(f"G{row.gravidity}P{row.parity}")
        parts.append(f"{row.delivered_on.isoformat()} 分娩" if row.delivered_on else "未记录分娩")
        return cls(
            legacy_id=row.legacy_id,
            description="，".join(parts),
            lmp=row.lmp,
            edd=row.edd,
            booking_date=row.booking_date,
            gravidity=row.gravidity,
            parity=row.parity,
            delivered_on=row.delivered_on,
        )


@strawberry.type(description="孕妇 / 患者（patient）")
class Patient(Node):
    db_id: strawberry.Private[int]
    emr_key: strawberry.Private[EmrPatientId]
    name: str = strawberry.field(description="姓名")
    name_initials: str = strawberry.field(description="姓名拼音首字母，用于检索，例如 WXM")
    resident_id: str = strawberry.field(description="身份证号码；无权限的角色看到脱敏值")
    birth_date: dt.date = strawberry.field(description="出生日期（由身份证号码得出）")
    phone: str | None = strawberry.field(description="联系电话；无权限的角色看到脱敏值")
    address: str | None = strawberry.field(description="现住址")
    ethnicity: str | None = strawberry.field(description="民族")
    emr_record_no: str | None = strawberry.field(description="电子病历（EMR）病历号")
    lis_record_no: str | None = strawberry.field(description="检验系统（LIS）病人号")
    legacy_id: str | None = strawberry.field(description="旧产科系统中的编号")
    identifiers_masked: bool = strawberry.field(description="身份证号和电话是否已脱敏")

    @classmethod
    def from_row(cls, row: PatientRow, *, reveal: bool) -> Patient:
        return cls(
            id=to_global_id("Patient", row.id),
            db_id=row.id,
            emr_key=EmrPatientId.of(row.emr_record_no, row.resident_id),
            name=row.name,
            name_initials=row.name_initials,
            resident_id=row.resident_id if reveal else rules.mask_resident_id(row.resident_id),
            birth_date=row.birth_date,
            phone=(row.phone if reveal else rules.mask_phone(row.phone)) if row.phone else None,
            address=row.address,
            ethnicity=row.ethnicity,
            emr_record_no=row.emr_record_no,
            lis_record_no=row.lis_record_no,
            legacy_id=row.legacy_id,
            identifiers_masked=not reveal,
        )

    @strawberry.field(description="年龄（周岁，按今天计算）")
    def age(self) -> int:
        today = dt.date.today()
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    @strawberry.field(
        description="电子病历（EMR）中的就诊诊断（ICD-10），实时读取，最新的在前；本次响应中所有孕妇"
        "一次批量查询。EMR 不可用或未配置时为 null，并附一条 UPSTREAM_UNAVAILABLE 错误"
    )
    async def emr_diagnoses(
        self, info: Info
    ) -> list[Annotated[EmrDiagnosis, strawberry.lazy("graphql_schema.emr.types")]] | None:
        from graphql_schema.emr.schema import emr_diagnoses

        return await emr_diagnoses(info, self.emr_key)

    @strawberry.field(description="该孕妇的全部孕产档案（建档），最近的在前")
    async def pregnancies(
        self, info: Info
    ) -> list[Annotated[Pregnancy, strawberry.lazy("graphql_schema.pregnancy.types")]]:
        from graphql_schema.pregnancy.types import Pregnancy

        rows = await info.context.loaders.pregnancies_by_patient.load(self.db_id)
        return [Pregnancy.from_row(row) for row in rows]

    @strawberry.field(
        description="旧产科系统中的孕产档案（按身份证号匹配），实时读取，末次月经最近的在前；"
        "本次响应中所有孕妇一次批量查询。未配置旧系统时为空列表；旧系统不可用时为空列表，"
        "并附一条 UPSTREAM_UNAVAILABLE 错误"
    )
    async def legacy_pregnancies(self, info: Info) -> list[LegacyPregnancy]:
        from integrations.legacy.service import LegacyProblem
        from resolvers.context import UpstreamProblem

        found = await info.context.loaders.legacy_pregnancies.load(self.db_id)
        if isinstance(found, LegacyProblem):
            path = tuple(info.path.as_list())
            info.context.upstream_problems.append(
                UpstreamProblem(legacy.SYSTEM, found.message, path)
            )
            return []
        return [LegacyPregnancy.of(row) for row in found]

    @strawberry.field(
        description="检验结果历史（血液检查、传染病筛查等），跨年份、跨孕次，最新的在前，分页"
    )
    async def lab_results(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        item_code: Annotated[
            str | None, strawberry.argument(description="只看某个标准项目，例如 HBSAG、HGB")
        ] = None,
    ) -> Connection[Annotated[LabResult, strawberry.lazy("graphql_schema.lab.types")]]:
        from graphql_schema.lab.types import LabResult

        loaders = info.context.loaders
        size, after_id = checked_page(first, after)
        key = LabPageKey(self.db_id, size, after_id, item_code)
        page = await loaders.lab_page_by_patient.load(key)
        count_key = LabCountKey(self.db_id, item_code)
        return connection_of(
            page,
            [LabResult.from_row(row) for row in page.rows],
            lambda: loaders.lab_count_by_patient.load(count_key),
        )

    @strawberry.field(
        description="完整检验历史：本系统、检验系统（LIS，实时）与旧产科系统（LEGACY，实时）中的"
        "全部结果，跨年份、跨孕次，同一结果只列一次（sources 列出来源），最新的在前，分页；"
        "外部系统不可用时返回其余来源的结果并附 UPSTREAM_UNAVAILABLE 错误"
    )
    async def lab_history(
        self,
        info: Info,
        items: Annotated[
            list[str] | None,
            strawberry.argument(description='只看这些标准项目，例如 ["HGB", "HBSAG"]'),
        ] = None,
        from_: Annotated[
            dt.date | None, strawberry.argument(name="from", description="检验日期起（含）")
        ] = None,
        to: Annotated[dt.date | None, strawberry.argument(description="检验日期止（含）")] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Annotated[LabHistoryEntry, strawberry.lazy("graphql_schema.lab.types")]]:
        from graphql_schema.lab.schema import lab_history

        return await lab_history(info, self, items, from_, to, first, after)
