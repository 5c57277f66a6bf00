from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.errors import FieldError
from domain.visit.models import PrenatalVisit as VisitRow
from graphql_schema.base import UserError, expect_id
from graphql_schema.permissions import WRITE
from graphql_schema.visit.inputs import EditVisitInput, RecordVisitInput
from graphql_schema.visit.payloads import VisitPayload
from graphql_schema.visit.types import PrenatalVisit
from resolvers.push import queries as push_queries
from resolvers.visit import mutations


async def _payload(info: Info | None, result: VisitRow | list[FieldError]) -> VisitPayload:
    if isinstance(result, list) or info is None:
        errors = result if isinstance(result, list) else []
        return VisitPayload(visit=None, user_errors=[UserError.of(e) for e in errors])
    warnings = await push_queries.preflight_warnings(info.context, result.pregnancy_id)
    return VisitPayload(
        visit=PrenatalVisit.from_row(result),
        user_errors=[],
        push_warnings=[UserError.of(w) for w in warnings],
    )


@strawberry.type
class VisitMutation:
    @strawberry.mutation(permission_classes=WRITE, description="录入产前检查（含备注/特殊记录）")
    async def record_visit(self, info: Info, input: RecordVisitInput) -> VisitPayload:
        pregnancy_id = expect_id(input.pregnancy_id, "Pregnancy", "pregnancyId")
        if isinstance(pregnancy_id, FieldError):
            return await _payload(info, [pregnancy_id])
        return await _payload(
            info, await mutations.record(info.context, pregnancy_id, input.to_values())
        )

    @strawberry.mutation(permission_classes=WRITE, description="修改产前检查；旧值保留在修改历史中")
    async def edit_visit(self, info: Info, input: EditVisitInput) -> VisitPayload:
        visit_id = expect_id(input.visit_id, "PrenatalVisit", "visitId")
        if isinstance(visit_id, FieldError):
            return await _payload(info, [visit_id])
        return await _payload(info, await mutations.edit(info.context, visit_id, input.changes()))
