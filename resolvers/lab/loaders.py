"""Lab results are the longest per-patient list (years of history), so they are paged
per patient in one statement: ROW_NUMBER() over each patient's results."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from strawberry.dataloader import DataLoader

from domain.database import Database
from domain.lab.models import LabResult
from resolvers.loading import one_per_key
from resolvers.pagination import Page


@dataclass(frozen=True)
class LabPageKey:
    patient_id: int
    first: int
    after_id: int | None
    item_code: str | None


class LabResultPageByPatientLoader(DataLoader[LabPageKey, Page[LabResult]]):
    """Newest first; the cursor is the id of the last result seen (ids grow with arrival,
    so the page boundary is the id, and results of one page are shown by report time)."""

    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[LabPageKey]) -> list[Page[LabResult]]:
        groups: dict[tuple[int, int | None, str | None], list[int]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after_id, key.item_code)].append(key.patient_id)
        found: dict[LabPageKey, Page[LabResult]] = {}
        async with self._db.reader() as session:
            for (first, after_id, item_code), patient_ids in groups.items():
                numbered = select(
                    LabResult.id,
                    func.row_number()
                    .over(partition_by=LabResult.patient_id, order_by=LabResult.id.desc())
                    .label("n"),
                ).where(LabResult.patient_id.in_(patient_ids))
                if after_id is not None:
                    numbered = numbered.where(LabResult.id < after_id)
                if item_code is not None:
                    numbered = numbered.where(LabResult.item_code == item_code)
                sub = numbered.subquery()
                rows = (
                    await session.scalars(
                        select(LabResult)
                        .join(sub, sub.c.id == LabResult.id)
                        .where(sub.c.n <= first + 1)
                        .order_by(LabResult.id.desc())
                    )
                ).all()
                by_patient: dict[int, list[LabResult]] = defaultdict(list)
                for row in rows:
                    by_patient[row.patient_id].append(row)
                for patient_id in patient_ids:
                    mine = by_patient.get(patient_id, [])
                    found[LabPageKey(patient_id, first, after_id, item_code)] = Page(
                        rows=mine[:first],
                        has_next=len(mine) > first,
                        has_previous=after_id is not None,
                    )
        return [found[key] for key in keys]


@dataclass(frozen=True)
class LabCountKey:
    patient_id: int
    item_code: str | None


class LabResultCountByPatientLoader(DataLoader[LabCountKey, int]):
    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[LabCountKey]) -> list[int]:
        counts: dict[LabCountKey, int] = {}
        by_item: dict[str | None, list[int]] = defaultdict(list)
        for key in keys:
            by_item[key.item_code].append(key.patient_id)
        async with self._db.reader() as session:
            for item_code, patient_ids in by_item.items():
                query = (
                    select(LabResult.patient_id, func.count())
                    .where(LabResult.patient_id.in_(patient_ids))
                    .group_by(LabResult.patient_id)
                )
                if item_code is not None:
                    query = query.where(LabResult.item_code == item_code)
                for patient_id, count in (await session.execute(query)).all():
                    counts[LabCountKey(patient_id, item_code)] = count
        return [counts.get(key, 0) for key in keys]


class LabResultByIdLoader(DataLoader[int, LabResult | None]):
    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[LabResult | None]:
        async with self._db.reader() as session:
            rows = (await session.scalars(select(LabResult).where(LabResult.id.in_(keys)))).all()
        return one_per_key(keys, rows, lambda r: r.id)
