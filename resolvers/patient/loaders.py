from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from domain.audit.service import ReadAudit
from domain.database import Database
from domain.patient.models import Patient
from resolvers.loading import one_per_key


class PatientByIdLoader(DataLoader[int, Patient | None]):
    def __init__(self, db: Database, audit: ReadAudit) -> None:
        super().__init__(load_fn=self._load)
        self._db = db
        self._audit = audit

    async def _load(self, keys: Sequence[int]) -> list[Patient | None]:
        async with self._db.reader() as session:
            rows = (await session.scalars(select(Patient).where(Patient.id.in_(keys)))).all()
        self._audit.saw(row.id for row in rows)
        return one_per_key(keys, rows, lambda r: r.id)
