from __future__ import annotations

from domain.dictionary import service
from domain.dictionary.models import DictionaryEntry
from domain.errors import FieldError
from resolvers.context import Context
from resolvers.errors import outcome


async def save_risk_factor(
    ctx: Context, data: service.RiskFactorDefinition
) -> DictionaryEntry | list[FieldError]:
    return await outcome(service.save_risk_factor(ctx.db, ctx.acting, data))


async def save_lab_code_mapping(
    ctx: Context, local_code: str, item_code: str
) -> service.LabCodeMapping | list[FieldError]:
    return await outcome(service.save_lab_code_mapping(ctx.db, ctx.acting, local_code, item_code))
