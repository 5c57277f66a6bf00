from __future__ import annotations

import datetime as dt

import strawberry

from graphql_schema.risk.types import RiskColor


@strawberry.input(description="建档（book pregnancy）的输入")
class BookPregnancyInput:
    patient_id: strawberry.ID = strawberry.field(description="孕妇的全局ID")
    lmp: dt.date = strawberry.field(description="末次月经")
    gravidity: int = strawberry.field(description="孕次（含本次）")
    parity: int = strawberry.field(description="产次，必须小于孕次")
    edd: dt.date | None = strawberry.field(
        default=None, description="预产期；不填则按末次月经+280天推算"
    )
    booking_date: dt.date | None = strawberry.field(default=None, description="建档日期，默认今天")
    booking_unit: str | None = strawberry.field(default=None, description="建档单位")
    handbook_no: str | None = strawberry.field(default=None, description="母子健康手册编号")


@strawberry.input(description="登记分娩的输入")
class RecordDeliveryInput:
    pregnancy_id: strawberry.ID = strawberry.field(description="孕产档案的全局ID")
    delivered_on: dt.date = strawberry.field(description="分娩日期")


@strawberry.input(description="归档孕产档案的输入")
class ArchivePregnancyInput:
    pregnancy_id: strawberry.ID = strawberry.field(description="孕产档案的全局ID")


@strawberry.input(description="孕产档案筛选条件")
class PregnancyFilterInput:
    status: str | None = strawberry.field(
        default=None, description="状态：ACTIVE、DELIVERED、ARCHIVED"
    )
    risk_colors: list[RiskColor] | None = strawberry.field(default=None, description="风险颜色之一")
    infectious: bool | None = strawberry.field(default=None, description="是否有紫色（传染病）标记")
    patient_id: strawberry.ID | None = strawberry.field(default=None, description="只看某位孕妇")
    booked_from: dt.date | None = strawberry.field(default=None, description="建档日期起")
    booked_to: dt.date | None = strawberry.field(default=None, description="建档日期止")
    edd_from: dt.date | None = strawberry.field(default=None, description="预产期起")
    edd_to: dt.date | None = strawberry.field(default=None, description="预产期止")
