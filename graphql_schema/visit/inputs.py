from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry import UNSET

from domain.visit.service import FIELD_NAMES, VisitValues


@strawberry.input(description="录入产前检查（record visit）的输入")
class RecordVisitInput:
    pregnancy_id: strawberry.ID = strawberry.field(description="孕产档案的全局ID")
    visit_date: dt.date = strawberry.field(description="检查日期")
    weight_kg: float | None = strawberry.field(default=None, description="体重（kg）")
    systolic_bp: int | None = strawberry.field(default=None, description="收缩压（mmHg）")
    diastolic_bp: int | None = strawberry.field(default=None, description="舒张压（mmHg）")
    fundal_height_cm: float | None = strawberry.field(default=None, description="宫底高度（cm）")
    abdominal_circumference_cm: float | None = strawberry.field(
        default=None, description="腹围（cm）"
    )
    fetal_heart_rate: int | None = strawberry.field(default=None, description="胎心率（次/分）")
    fetal_position: str | None = strawberry.field(default=None, description="胎位")
    remarks: str | None = strawberry.field(default=None, description="备注/特殊记录，最多2000字")
    next_visit_date: dt.date | None = strawberry.field(default=None, description="下次随访日期")

    def to_values(self) -> VisitValues:
        return VisitValues(**{name: getattr(self, name) for name in FIELD_NAMES})


@strawberry.input(description="修改产前检查的输入：只改给出的字段，给 null 表示清空")
class EditVisitInput:
    visit_id: strawberry.ID = strawberry.field(description="产检记录的全局ID")
    visit_date: dt.date | None = strawberry.field(default=UNSET, description="检查日期")
    weight_kg: float | None = strawberry.field(default=UNSET, description="体重（kg）")
    systolic_bp: int | None = strawberry.field(default=UNSET, description="收缩压（mmHg）")
    diastolic_bp: int | None = strawberry.field(default=UNSET, description="舒张压（mmHg）")
    fundal_height_cm: float | None = strawberry.field(default=UNSET, description="宫底高度（cm）")
    abdominal_circumference_cm: float | None = strawberry.field(
        default=UNSET, description="腹围（cm）"
    )
    fetal_heart_rate: int | None = strawberry.field(default=UNSET, description="胎心率（次/分）")
    fetal_position: str | None = strawberry.field(default=UNSET, description="胎位")
    remarks: str | None = strawberry.field(default=UNSET, description="备注/特殊记录，最多2000字")
    next_visit_date: dt.date | None = strawberry.field(default=UNSET, description="下次随访日期")

    def changes(self) -> dict[str, Any]:
        return {
            name: getattr(self, name) for name in FIELD_NAMES if getattr(self, name) is not UNSET
        }
