from __future__ import annotations

import datetime as dt

import strawberry

from domain.visit.models import PrenatalVisit as VisitRow
from graphql_schema.base import GestationalAge, Node, to_global_id


@strawberry.type(description="产前检查记录（antenatal visit）")
class PrenatalVisit(Node):
    db_id: strawberry.Private[int]
    pregnancy_db_id: strawberry.Private[int]
    visit_date: dt.date = strawberry.field(description="检查日期")
    gestational_age: GestationalAge = strawberry.field(description="检查时孕周（由末次月经计算）")
    weight_kg: float | None = strawberry.field(description="体重（kg）")
    systolic_bp: int | None = strawberry.field(description="收缩压（mmHg）")
    diastolic_bp: int | None = strawberry.field(description="舒张压（mmHg）")
    fundal_height_cm: float | None = strawberry.field(description="宫底高度（cm）")
    abdominal_circumference_cm: float | None = strawberry.field(description="腹围（cm）")
    fetal_heart_rate: int | None = strawberry.field(description="胎心率（次/分）")
    fetal_position: str | None = strawberry.field(description="胎位")
    remarks: str | None = strawberry.field(
        description="备注/特殊记录（remarks）：唯一的文字记录，手册打印和桂妇儿“处理”字段都用它"
    )
    next_visit_date: dt.date | None = strawberry.field(description="下次随访日期")
    doctor_name: str | None = strawberry.field(description="检查医生")
    version: int = strawberry.field(description="版本号，每次修改加一")
    updated_at: dt.datetime = strawberry.field(description="最后修改时间")

    @classmethod
    def from_row(cls, row: VisitRow) -> PrenatalVisit:
        return cls(
            id=to_global_id("PrenatalVisit", row.id),
            db_id=row.id,
            pregnancy_db_id=row.pregnancy_id,
            visit_date=row.visit_date,
            gestational_age=GestationalAge.of(row.gestational_days),
            weight_kg=row.weight_kg,
            systolic_bp=row.systolic_bp,
            diastolic_bp=row.diastolic_bp,
            fundal_height_cm=row.fundal_height_cm,
            abdominal_circumference_cm=row.abdominal_circumference_cm,
            fetal_heart_rate=row.fetal_heart_rate,
            fetal_position=row.fetal_position,
            remarks=row.remarks,
            next_visit_date=row.next_visit_date,
            doctor_name=row.doctor_name,
            version=row.version,
            updated_at=row.updated_at,
        )
