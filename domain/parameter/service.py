"""Reading typed system parameters; a short cache keeps reads cheap, edits apply within seconds."""

from __future__ import annotations

import time

from sqlalchemy import select

from domain.database import Database
from domain.parameter.models import Parameter

CACHE_SECONDS = 5.0


class Parameters:
    """Per-process read cache of the `parameter` table (the table is the truth)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._values: dict[str, object] = {}
        self._loaded_at = float("-inf")

    async def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < CACHE_SECONDS:
            return
        async with self._db.reader() as session:
            rows = (await session.execute(select(Parameter.key, Parameter.value))).all()
        self._values = {row[0]: row[1] for row in rows}
        self._loaded_at = time.monotonic()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def number(self, key: str, default: float) -> float:
        await self._refresh()
        value = self._values.get(key, default)
        return (
            float(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else default
        )
