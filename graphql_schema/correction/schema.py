from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.auth.actor import Permission
from domain.correction import rules, service
from domain.correction.models import CorrectionRequest
from domain.errors import FieldError
from graphql_schema.base import (
    BadGlobalId,
    Connection,
    UserError,
    checked_page,
    connection_of,
    expect_id,
    from_global_id,
)
from graphql_schema.correction.inputs import (
    ApproveCorrectionInput,
    CorrectionFilter,
    RejectCorrectionInput,
    RequestCorrectionInput,
)
from graphql_schema.correction.payloads import CorrectionPayload
from graphql_schema.correction.permissions import DECIDE, REQUEST, SEE
from graphql_schema.correction.types import CorrectableField, Correction
from graphql_schema.errors import bad_input
from graphql_schema.permissions import IsAuthenticated
from resolvers.context import Context
from resolvers.correction import mutations, queries


def _masks(ctx: Context) -> bool:
    actor = ctx.actor
    return not (
        actor is not None
        and (actor.can(Permission.SEE_IDENTIFIERS) or actor.can(Permission.APPROVE_CORRECTIONS))
    )


async def _payload(ctx: Context, result: CorrectionRequest | list[FieldError]) -> CorrectionPayload:
    if isinstance(result, list):
        return CorrectionPayload(correction=None, user_errors=[UserError.of(e) for e in result])
    current = await queries.with_current(ctx, result)
    return CorrectionPayload(
        correction=Correction.from_row(result, current, mask=_masks(ctx)), user_errors=[]
    )


def _filter(f: CorrectionFilter | None) -> queries.CorrectionFilter:
    if f is None:
        return queries.CorrectionFilter()
    patient_id = None
    if f.patient_id is not None:
        found = expect_id(f.patient_id, "Patient", "filter.patientId")
        if isinstance(found, FieldError):
            raise bad_input(found.message)
        patient_id = found
    if f.target_type is not None and f.target_type not in rules.BY_TARGET:
        raise bad_input(f"未知的记录类型 {f.target_type}，可选：{'、'.join(rules.BY_TARGET)}")
    for value in (f.requested_from, f.requested_to):
        if value is not None and value.tzinfo is None:
            raise bad_input("申请时间须带时区，例如 2025-03-01T00:00:00+08:00")
    return queries.CorrectionFilter(
        status=str(f.status.value) if f.status is not None else None,
        target_type=f.target_type,
        requested_by=f.requested_by.strip() if f.requested_by else None,
        patient_id=patient_id,
        requested_from=f.requested_from,
        requested_to=f.requested_to,
    )


@strawberry.type
class CorrectionQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="可申请更正的字段（白名单）：记录类型、字段与值类型",
    )
    def correctable_fields(self) -> list[CorrectableField]:
        return [CorrectableField.of(f) for f in rules.FIELDS]

    @strawberry.field(
        permission_classes=SEE,
        description="数据更正申请列表，最新的在前，可按状态、记录类型、申请人、孕妇、时间筛选",
    )
    async def corrections(
        self,
        info: Info,
        filter: Annotated[
            CorrectionFilter | None, strawberry.argument(description="筛选条件")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="每页条数，最多200")] = None,
        after: Annotated[str | None, strawberry.argument(description="上一页的 endCursor")] = None,
    ) -> Connection[Correction]:
        ctx = info.context
        f = _filter(filter)
        checked_page(first, after)
        page, current = await queries.corrections_page(ctx, f, first, after)
        mask = _masks(ctx)
        return connection_of(
            page,
            [Correction.from_row(r, c, mask=mask) for r, c in zip(page.rows, current, strict=True)],
            lambda: queries.corrections_count(ctx, f),
        )


def _correction_id(global_id: str) -> int | FieldError:
    return expect_id(global_id, "Correction", "correctionId")


@strawberry.type
class CorrectionMutation:
    @strawberry.mutation(
        permission_classes=REQUEST,
        description="提出数据更正申请：记录、字段、新值与原因；保存申请时的当前值，"
        "新值须符合该字段的规则（医生、管理员）",
    )
    async def request_correction(
        self, info: Info, input: RequestCorrectionInput
    ) -> CorrectionPayload:
        ctx = info.context
        try:
            target_type, target_id = from_global_id(input.target_id)
        except BadGlobalId:
            error = FieldError("targetId", f"无效的ID：{input.target_id}", "INVALID_ID")
            return await _payload(ctx, [error])
        data = service.CorrectionInput(
            target_type=target_type,
            target_id=target_id,
            field=input.field.strip(),
            new_value=input.new_value,
            reason=input.reason,
        )
        return await _payload(ctx, await mutations.request(ctx, data))

    @strawberry.mutation(
        permission_classes=DECIDE,
        description="批准更正申请（审核人，不能是申请人）：在同一事务中修改数据、保留前后值并重新推送；"
        "若该字段的值自申请后已变，则失败且不做任何修改",
    )
    async def approve_correction(
        self, info: Info, input: ApproveCorrectionInput
    ) -> CorrectionPayload:
        ctx = info.context
        correction_id = _correction_id(input.correction_id)
        if isinstance(correction_id, FieldError):
            return await _payload(ctx, [correction_id])
        return await _payload(ctx, await mutations.approve(ctx, correction_id))

    @strawberry.mutation(
        permission_classes=DECIDE,
        description="驳回更正申请（审核人，不能是申请人；须填写原因）",
    )
    async def reject_correction(
        self, info: Info, input: RejectCorrectionInput
    ) -> CorrectionPayload:
        ctx = info.context
        correction_id = _correction_id(input.correction_id)
        if isinstance(correction_id, FieldError):
            return await _payload(ctx, [correction_id])
        return await _payload(ctx, await mutations.reject(ctx, correction_id, input.reason))
