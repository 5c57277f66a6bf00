from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from domain.database import Database
from domain.ultrasound.models import UltrasoundExam
from resolvers.loading import many_per_key, one_per_key

# A pregnancy has a few scans; the cap keeps the list bounded.
MAX_EXAMS_PER_PREGNANCY = 50


class UltrasoundExamsByPregnancyLoader(DataLoader[int, list[UltrasoundExam]]):
    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[list[UltrasoundExam]]:
        async with self._db.reader() as session:
            rows = (
                await session.scalars(
                    select(UltrasoundExam)
                    .where(UltrasoundExam.pregnancy_id.in_(keys))
                    .order_by(UltrasoundExam.exam_date, UltrasoundExam.id)
                )
            ).all()
        return [
            group[-MAX_EXAMS_PER_PREGNANCY:]
            for group in many_per_key(keys, rows, lambda r: r.pregnancy_id or 0)
        ]


class UltrasoundExamByIdLoader(DataLoader[int, UltrasoundExam | None]):
    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[UltrasoundExam | None]:
        async with self._db.reader() as session:
            rows = (
                await session.scalars(select(UltrasoundExam).where(UltrasoundExam.id.in_(keys)))
            ).all()
        return one_per_key(keys, rows, lambda r: r.id)
