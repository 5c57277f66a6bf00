from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.audit.models import AuditEvent as AuditRow
from graphql_schema.base import Node, to_global_id

if TYPE_CHECKING:
    from graphql_schema.patient.types import Patient

ENTITY_TYPES = {
    "patient": "Patient",
    "pregnancy": "Pregnancy",
    "prenatal_visit": "PrenatalVisit",
    "risk_factor": "RiskFactor",
    "lab_result": "LabResult",
    "correction_request": "Correction",
}


@strawberry.type(
    description="审计事件（audit event）：谁在何时通过哪个操作读取或修改了哪些孕妇的数据"
)
class AuditEvent(Node):
    db_id: strawberry.Private[int]
    patient_db_ids: strawberry.Private[list[int]]
    at: dt.datetime = strawberry.field(description="时间")
    username: str | None = strawberry.field(description="操作人（用户名）；系统任务为 system")
    action: str = strawberry.field(
        description="动作：READ（读取）、CREATE、UPDATE、DELETE、ARCHIVE、REOPEN、"
        "REQUEST_CORRECTION、APPROVE_CORRECTION、REJECT_CORRECTION、SET_PARAMETER 等"
    )
    operation_name: str | None = strawberry.field(description="GraphQL 操作名")
    request_id: str | None = strawberry.field(description="请求编号（与日志对应）")
    entity: str | None = strawberry.field(description="被修改的记录类型，例如 prenatal_visit")
    entity_id: int | None = strawberry.field(description="被修改的记录编号")
    target_id: strawberry.ID | None = strawberry.field(
        description="被修改记录的全局ID（可用 node 查询的类型才有）"
    )
    patient_ids: list[strawberry.ID] = strawberry.field(description="涉及的孕妇（全局ID）")
    detail: JSON = strawberry.field(description="详情，例如修改的字段、原因、参数前后值")

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEvent:
        kind = ENTITY_TYPES.get(row.entity or "")
        ids = [int(i) for i in row.patient_ids]
        return cls(
            id=to_global_id("AuditEvent", row.id),
            db_id=row.id,
            patient_db_ids=ids,
            at=row.at,
            username=row.username,
            action=row.action,
            operation_name=row.operation_name,
            request_id=row.request_id,
            entity=row.entity,
            entity_id=row.entity_id,
            target_id=to_global_id(kind, row.entity_id) if kind and row.entity_id else None,
            patient_ids=[to_global_id("Patient", i) for i in ids],
            detail=JSON(row.detail),
        )

    @strawberry.field(description="涉及的孕妇（姓名等；身份证号按查看人的权限脱敏）")
    async def patients(
        self, info: Info
    ) -> list[Annotated[Patient, strawberry.lazy("graphql_schema.patient.types")]]:
        from graphql_schema.patient.types import Patient

        ctx = info.context
        rows = await ctx.loaders.patient_by_id.load_many(self.patient_db_ids[:50])
        reveal = ctx.reveals_identifiers
        return [Patient.from_row(r, reveal=reveal) for r in rows if r is not None]
