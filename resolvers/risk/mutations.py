from __future__ import annotations

from domain.errors import FieldError
from domain.risk import service
from domain.risk.models import RiskFactor
from resolvers.context import Context
from resolvers.errors import outcome


async def add(
    ctx: Context, pregnancy_id: int, code: str, diagnosis: service.FactorDiagnosis
) -> service.RecordedFactor | list[FieldError]:
    return await outcome(
        service.record_risk_factor(ctx.db, ctx.acting, pregnancy_id, code, diagnosis, ctx.emr)
    )


async def edit(
    ctx: Context, factor_id: int, changes: dict[str, str | None]
) -> RiskFactor | list[FieldError]:
    return await outcome(service.edit_risk_factor(ctx.db, ctx.acting, factor_id, changes))


async def remove(ctx: Context, factor_id: int, reason: str | None) -> RiskFactor | list[FieldError]:
    return await outcome(service.remove_risk_factor(ctx.db, ctx.acting, factor_id, reason))
