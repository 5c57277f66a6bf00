from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from domain.database import Database
from domain.visit.models import PrenatalVisit
from resolvers.loading import many_per_key, one_per_key

# Antenatal care is a dozen visits or so; the cap keeps a corrupt record from flooding a page.
MAX_VISITS_PER_PREGNANCY = 100


class VisitsByPregnancyLoader(DataLoader[int, list[PrenatalVisit]]):
    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[list[PrenatalVisit]]:
        async with self._db.reader() as session:
            rows = (
                await session.scalars(
                    select(PrenatalVisit)
                    .where(PrenatalVisit.pregnancy_id.in_(keys))
                    .order_by(PrenatalVisit.visit_date, PrenatalVisit.id)
                )
            ).all()
        return [
            group[-MAX_VISITS_PER_PREGNANCY:]
            for group in many_per_key(keys, rows, lambda r: r.pregnancy_id)
        ]


class VisitByIdLoader(DataLoader[int, PrenatalVisit | None]):
    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[PrenatalVisit | None]:
        async with self._db.reader() as session:
            rows = (
                await session.scalars(select(PrenatalVisit).where(PrenatalVisit.id.in_(keys)))
            ).all()
        return one_per_key(keys, rows, lambda r: r.id)
