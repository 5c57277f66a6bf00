"""Keep the previous values of a clinical record whenever it is edited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from domain.auth.actor import Actor
from domain.database import Base, utcnow
from domain.history.models import Revision


def _plain(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def snapshot(row: Base, fields: Iterable[str]) -> dict[str, object]:
    return {name: _plain(getattr(row, name)) for name in fields}


def record_revision(
    session: AsyncSession,
    actor: Actor,
    *,
    entity: str,
    entity_id: int,
    version: int,
    before: dict[str, object],
    after: dict[str, object],
) -> None:
    changed = {k for k in after if before.get(k) != after.get(k)}
    session.add(
        Revision(
            entity=entity,
            entity_id=entity_id,
            version=version,
            changed_at=utcnow(),
            changed_by=actor.username,
            before={k: before.get(k) for k in changed},
            after={k: after.get(k) for k in changed},
        )
    )
