from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from domain.audit.service import ReadAudit
from domain.database import Database
from domain.pregnancy.models import Pregnancy
from resolvers.loading import many_per_key, one_per_key

# A woman has a handful of pregnancies; the cap keeps the list bounded all the same.
MAX_PREGNANCIES_PER_PATIENT = 50


class PregnancyByIdLoader(DataLoader[int, Pregnancy | None]):
    def __init__(self, db: Database, audit: ReadAudit) -> None:
        super().__init__(load_fn=self._load)
        self._db = db
        self._audit = audit

    async def _load(self, keys: Sequence[int]) -> list[Pregnancy | None]:
        async with self._db.reader() as session:
            rows = (await session.scalars(select(Pregnancy).where(Pregnancy.id.in_(keys)))).all()
        self._audit.saw(row.patient_id for row in rows)
        return one_per_key(keys, rows, lambda r: r.id)


class PregnanciesByPatientLoader(DataLoader[int, list[Pregnancy]]):
    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[list[Pregnancy]]:
        async with self._db.reader() as session:
            rows = (
                await session.scalars(
                    select(Pregnancy)
                    .where(Pregnancy.patient_id.in_(keys))
                    .order_by(Pregnancy.lmp.desc(), Pregnancy.id.desc())
                )
            ).all()
        return [
            group[:MAX_PREGNANCIES_PER_PATIENT]
            for group in many_per_key(keys, rows, lambda r: r.patient_id)
        ]
