from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import FieldError, NotFound, ValidationFailed
from domain.parameter.models import Parameter
from domain.report import service
from domain.report.definition import parse_definition
from domain.report.engine import ReportTable
from domain.report.models import ReportDefinition, ReportDefinitionVersion
from resolvers.context import Context


@dataclass(frozen=True)
class Definitions:
    """Definitions and the system parameters their defaults read (one query for all)."""

    rows: Sequence[ReportDefinition]
    system: dict[str, object]


async def _system_parameters(
    session: AsyncSession, rows: Sequence[ReportDefinition]
) -> dict[str, object]:
    keys: set[str] = set()
    for row in rows:
        try:
            spec = parse_definition(row.document)
        except ValidationFailed:
            continue
        keys |= {p.system_parameter for p in spec.parameters if p.system_parameter}
    if not keys:
        return {}
    found = await session.execute(
        select(Parameter.key, Parameter.value).where(Parameter.key.in_(sorted(keys)))
    )
    return {row[0]: row[1] for row in found}


async def definitions(ctx: Context, *, include_inactive: bool) -> Definitions:
    async with ctx.db.reader() as session:
        rows = await service.list_definitions(session, include_inactive=include_inactive)
        return Definitions(rows, await _system_parameters(session, rows))


async def definition(ctx: Context, code: str) -> Definitions:
    async with ctx.db.reader() as session:
        row = await service.get_definition(session, code)
        rows = [row] if row is not None else []
        return Definitions(rows, await _system_parameters(session, rows))


async def versions(ctx: Context, code: str) -> list[ReportDefinitionVersion]:
    async with ctx.db.reader() as session:
        row = await service.get_definition(session, code)
        if row is None:
            return []
        return (await service.definition_versions(session, [row.id]))[row.id]


async def run(ctx: Context, code: str, parameters: object) -> ReportTable | list[FieldError]:
    try:
        return await service.run(ctx.db, code, parameters)
    except ValidationFailed as exc:
        return exc.errors
    except NotFound as exc:
        return [exc.error]
