"""Typed system parameters: a short read cache, and audited changes that apply within seconds.

Every process reads through its own `Parameters` cache, which reloads the table when
it is older than `CACHE_SECONDS`; a change made anywhere is therefore seen by every API
process and worker within that time, without a restart.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from domain import request
from domain.audit.models import AuditEvent
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.errors import FieldError, ValidationFailed, fail
from domain.parameter import rules
from domain.parameter.models import Parameter

CACHE_SECONDS = 5.0


class Parameters:
    """Per-process read cache of the `parameter` table (the table is the truth)."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._clock = clock
        self._values: dict[str, object] = {}
        self._loaded_at = float("-inf")

    async def _refresh(self) -> None:
        if self._clock() - self._loaded_at < CACHE_SECONDS:
            return
        async with self._db.reader() as session:
            rows = (await session.execute(select(Parameter.key, Parameter.value))).all()
        self._values = {row[0]: row[1] for row in rows}
        self._loaded_at = self._clock()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def _get(self, key: str) -> object:
        await self._refresh()
        return self._values.get(key)

    async def number(self, key: str, default: float | None = None) -> float:
        """The stored value as a float; when unset or unusable `default`, else the definition's."""
        value = await self._get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return default if default is not None else float(_definition_default(key))

    async def integer(self, key: str, default: int | None = None) -> int:
        value = await self._get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        return default if default is not None else int(_definition_default(key))

    async def boolean(self, key: str, default: bool | None = None) -> bool:
        value = await self._get(key)
        if isinstance(value, bool):
            return value
        return default if default is not None else bool(_definition_default(key))

    async def text(self, key: str, default: str | None = None) -> str:
        value = await self._get(key)
        if isinstance(value, str):
            return value
        return default if default is not None else str(_definition_default(key))


def _definition_default(key: str) -> float | int | bool | str:
    definition = rules.BY_KEY.get(key)
    if definition is None:
        raise KeyError(f"parameter {key} has no definition; pass a default")
    return definition.default


@dataclass(frozen=True)
class ParameterValue:
    """A parameter's definition beside its current value (the default when never set)."""

    definition: rules.Definition
    value: object
    updated_at: dt.datetime | None
    updated_by: str | None


async def list_parameters(db: Database) -> list[ParameterValue]:
    """Every defined parameter in definition order, with its stored value or its default."""
    async with db.reader() as session:
        rows = {row.key: row for row in (await session.scalars(select(Parameter))).all()}
    found = []
    for definition in rules.DEFINITIONS:
        row = rows.get(definition.key)
        found.append(
            ParameterValue(
                definition,
                row.value if row is not None else definition.default,
                row.updated_at if row is not None else None,
                row.updated_by if row is not None else None,
            )
        )
    return found


async def set_parameter(db: Database, actor: Actor, key: str, raw: object) -> ParameterValue:
    """Validate and store a parameter's value; the change and the value it replaced are audited."""
    definition = rules.BY_KEY.get(key)
    if definition is None:
        known = "、".join(d.key for d in rules.DEFINITIONS)
        raise fail("key", f"未知的参数 {key}；可设置的参数：{known}", "UNKNOWN_PARAMETER")
    value = rules.coerce(definition, raw)
    if isinstance(value, FieldError):
        raise ValidationFailed([value])
    async with db.transaction() as session:
        rows = (await session.scalars(select(Parameter).with_for_update())).all()
        current = {row.key: row.value for row in rows}
        ordering = rules.ordering_error(key, value, current)
        if ordering is not None:
            raise ValidationFailed([ordering])
        row = next((r for r in rows if r.key == key), None)
        before = row.value if row is not None else definition.default
        now = utcnow()
        if row is None:
            row = Parameter(key=key)
            session.add(row)
        row.value = value
        row.value_type = definition.value_type.value
        row.description = definition.description
        row.updated_at = now
        row.updated_by = actor.username
        session.add(
            AuditEvent(
                at=now,
                user_id=actor.user_id,
                username=actor.username,
                action="SET_PARAMETER",
                operation_name=request.operation_name.get(),
                request_id=request.request_id.get(),
                entity="parameter",
                entity_id=None,
                patient_ids=[],
                detail={"key": key, "before": before, "after": value},
            )
        )
    return ParameterValue(definition, value, now, actor.username)
