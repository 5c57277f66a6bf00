from __future__ import annotations

from domain.correction import service
from domain.correction.models import CorrectionRequest
from domain.errors import FieldError
from resolvers.context import Context
from resolvers.errors import outcome


async def request(
    ctx: Context, data: service.CorrectionInput
) -> CorrectionRequest | list[FieldError]:
    return await outcome(service.request_correction(ctx.db, ctx.acting, data))


async def approve(ctx: Context, correction_id: int) -> CorrectionRequest | list[FieldError]:
    return await outcome(service.approve_correction(ctx.db, ctx.acting, correction_id))


async def reject(
    ctx: Context, correction_id: int, reason: str
) -> CorrectionRequest | list[FieldError]:
    return await outcome(service.reject_correction(ctx.db, ctx.acting, correction_id, reason))
