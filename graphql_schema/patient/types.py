from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.patient import rules
from domain.patient.models import Patient as PatientRow
from graphql_schema.base import Connection, Node, connection_of, to_global_id
from resolvers.lab.loaders import LabCountKey, LabPageKey
from resolvers.pagination import decode_cursor, page_size

if TYPE_CHECKING:
    from graphql_schema.lab.types import LabResult
    from graphql_schema.pregnancy.types import Pregnancy


@strawberry.type(description="孕妇 / 患者（patient）")
class Patient(Node):
    db_id: strawberry.Private[int]
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

    @strawberry.field(description="该孕妇的全部孕产档案（建档），最近的在前")
    async def pregnancies(
        self, info: Info
    ) -> list[Annotated[Pregnancy, strawberry.lazy("graphql_schema.pregnancy.types")]]:
        from graphql_schema.pregnancy.types import Pregnancy

        rows = await info.context.loaders.pregnancies_by_patient.load(self.db_id)
        return [Pregnancy.from_row(row) for row in rows]

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
        size = page_size(first)
        key = LabPageKey(self.db_id, size, decode_cursor(after) if after else None, item_code)
        page = await loaders.lab_page_by_patient.load(key)
        count_key = LabCountKey(self.db_id, item_code)
        return connection_of(
            page,
            [LabResult.from_row(row) for row in page.rows],
            lambda: loaders.lab_count_by_patient.load(count_key),
        )
