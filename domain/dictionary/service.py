"""Reading the data dictionary (数据字典)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dictionary.models import DictionaryEntry

RISK_FACTOR = "risk_factor"


async def active_entry(session: AsyncSession, kind: str, code: str) -> DictionaryEntry | None:
    return await session.scalar(
        select(DictionaryEntry).where(
            DictionaryEntry.kind == kind,
            DictionaryEntry.code == code,
            DictionaryEntry.active.is_(True),
        )
    )


def color_of(entry: DictionaryEntry) -> str:
    color = entry.attributes.get("color")
    if not isinstance(color, str):
        raise ValueError(f"dictionary entry {entry.kind}/{entry.code} has no colour")
    return color
