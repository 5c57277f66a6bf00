"""Relay `node(id)`: refetch any object by its global ID."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from graphql_schema.base import BadGlobalId, Node, from_global_id
from graphql_schema.lab.types import LabResult
from graphql_schema.patient.types import Patient
from graphql_schema.permissions import READ
from graphql_schema.pregnancy.types import Pregnancy
from graphql_schema.risk.types import RiskFactor
from graphql_schema.ultrasound.types import UltrasoundExam
from graphql_schema.visit.types import PrenatalVisit
from resolvers.context import Context


async def _audit_pregnancy(ctx: Context, pregnancy_id: int | None) -> None:
    # Loading the pregnancy records the patient it belongs to in the read audit.
    if pregnancy_id is not None:
        await ctx.loaders.pregnancy_by_id.load(pregnancy_id)


async def resolve_node(ctx: Context, global_id: str) -> Node | None:
    try:
        type_name, row_id = from_global_id(global_id)
    except BadGlobalId:
        return None
    loaders = ctx.loaders
    match type_name:
        case "Patient":
            patient = await loaders.patient_by_id.load(row_id)
            return Patient.from_row(patient, reveal=ctx.reveals_identifiers) if patient else None
        case "Pregnancy":
            pregnancy = await loaders.pregnancy_by_id.load(row_id)
            return Pregnancy.from_row(pregnancy) if pregnancy else None
        case "PrenatalVisit":
            visit = await loaders.visit_by_id.load(row_id)
            if visit is None:
                return None
            await _audit_pregnancy(ctx, visit.pregnancy_id)
            return PrenatalVisit.from_row(visit)
        case "RiskFactor":
            factor = await loaders.risk_factor_by_id.load(row_id)
            if factor is None:
                return None
            await _audit_pregnancy(ctx, factor.pregnancy_id)
            return RiskFactor.from_row(factor)
        case "LabResult":
            lab = await loaders.lab_result_by_id.load(row_id)
            if lab is None:
                return None
            await loaders.patient_by_id.load(lab.patient_id)
            return LabResult.from_row(lab)
        case "UltrasoundExam":
            exam = await loaders.ultrasound_by_id.load(row_id)
            if exam is None:
                return None
            await loaders.patient_by_id.load(exam.patient_id)
            return UltrasoundExam.from_row(exam)
    return None


@strawberry.type
class NodeQuery:
    @strawberry.field(permission_classes=READ, description="按全局ID获取任意对象（Relay node）")
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="全局ID")]
    ) -> Node | None:
        return await resolve_node(info.context, id)
