from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from domain.database import Database
from domain.risk.models import RiskFactor
from resolvers.loading import many_per_key, one_per_key


class RiskFactorsByPregnancyLoader(DataLoader[int, list[RiskFactor]]):
    """The current (not removed) factors of each pregnancy."""

    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[list[RiskFactor]]:
        async with self._db.reader() as session:
            rows = (
                await session.scalars(
                    select(RiskFactor)
                    .where(RiskFactor.pregnancy_id.in_(keys), RiskFactor.removed_at.is_(None))
                    .order_by(RiskFactor.recorded_at, RiskFactor.id)
                )
            ).all()
        return many_per_key(keys, rows, lambda r: r.pregnancy_id)


class RiskFactorByIdLoader(DataLoader[int, RiskFactor | None]):
    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[RiskFactor | None]:
        async with self._db.reader() as session:
            rows = (await session.scalars(select(RiskFactor).where(RiskFactor.id.in_(keys)))).all()
        return one_per_key(keys, rows, lambda r: r.id)
