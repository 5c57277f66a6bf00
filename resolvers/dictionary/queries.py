from __future__ import annotations

from domain.dictionary import service
from domain.dictionary.models import DictionaryEntry
from domain.history.models import Revision
from resolvers.context import Context


async def risk_factors(ctx: Context, include_inactive: bool) -> list[DictionaryEntry]:
    return await service.risk_factor_definitions(ctx.db, include_inactive=include_inactive)


async def lab_items(ctx: Context) -> list[DictionaryEntry]:
    return await service.lab_items(ctx.db)


async def lab_code_mappings(ctx: Context) -> list[service.LabCodeMapping]:
    return await service.lab_code_mappings(ctx.db)


async def revisions(ctx: Context, kind: str, key: str) -> list[Revision]:
    return await service.revisions(ctx.db, kind, key)
