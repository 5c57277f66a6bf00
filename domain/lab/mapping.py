"""Map a local LIS item code (or a LOINC code) to a standard lab item through the dictionary."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dictionary.models import DictionaryEntry

LAB_ITEM = "lab_item"
LIS_CODE = "lis_code"


@dataclass(frozen=True)
class StandardItem:
    code: str
    name: str
    loinc: tuple[str, ...]
    unit: str | None
    value_kind: str
    proposes_factor: str | None


def _item(entry: DictionaryEntry) -> StandardItem:
    attrs = entry.attributes
    loinc = attrs.get("loinc")
    unit = attrs.get("unit")
    proposes = attrs.get("proposesFactor")
    return StandardItem(
        code=entry.code,
        name=entry.name,
        loinc=tuple(str(x) for x in loinc) if isinstance(loinc, list) else (),
        unit=unit if isinstance(unit, str) else None,
        value_kind=str(attrs.get("valueKind", "text")),
        proposes_factor=proposes if isinstance(proposes, str) else None,
    )


class LabDictionary:
    """A snapshot of the lab dictionary, loaded once per batch of messages."""

    def __init__(self, items: dict[str, StandardItem], local: dict[str, str]) -> None:
        self.items = items
        self._local = local
        self._loinc = {code: item.code for item in items.values() for code in item.loinc}

    @classmethod
    async def load(cls, session: AsyncSession) -> LabDictionary:
        rows = (
            await session.scalars(
                select(DictionaryEntry).where(
                    DictionaryEntry.kind.in_((LAB_ITEM, LIS_CODE)),
                    DictionaryEntry.active.is_(True),
                )
            )
        ).all()
        items = {r.code: _item(r) for r in rows if r.kind == LAB_ITEM}
        local = {
            r.code.upper(): str(r.attributes.get("item"))
            for r in rows
            if r.kind == LIS_CODE and str(r.attributes.get("item")) in items
        }
        return cls(items, local)

    def resolve(self, local_code: str | None, loinc: str | None = None) -> StandardItem | None:
        """The standard item for a local code, else for a LOINC code; None = unmapped."""
        if local_code:
            code = self._local.get(local_code.strip().upper())
            if code:
                return self.items[code]
        if loinc and loinc.strip() in self._loinc:
            return self.items[self._loinc[loinc.strip()]]
        return None
