"""The legacy database as MaternityHub uses it live: a lab-result source for the merged
history (source `LEGACY`, matched by resident ID) and a per-request loader of women's
legacy pregnancies (one legacy query for all the women of a request).

`mhub import-legacy` (importer.py) moves the women, their results and their pregnancies
over; until then, and for records the import skipped, this live view shows them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from domain.database import Database
from domain.lab.history import PulledResults, UpstreamUnavailable
from domain.lab.service import IncomingResult
from domain.patient.models import Patient
from integrations.legacy.database import (
    SYSTEM,
    LegacyDatabase,
    LegacyLabResult,
    LegacyPregnancy,
    LegacyUnavailable,
)


def incoming(patient_id: int, result: LegacyLabResult) -> IncomingResult | None:
    """A legacy result as MaternityHub receives results; None without any time."""
    reported = result.reported_at or result.specimen_at
    if reported is None:
        return None
    return IncomingResult(
        patient_id=patient_id,
        source=SYSTEM,
        source_id=result.legacy_id,
        raw_value=result.value,
        reported_at=reported,
        local_code=result.item_code,
        local_name=result.item_name,
        unit=result.unit,
        reference_range=result.reference_range,
        specimen_at=result.specimen_at,
    )


class LegacyLabSource:
    """`LabResultSource` over the legacy database; patients are identified by resident ID."""

    name = SYSTEM

    def __init__(self, legacy: LegacyDatabase) -> None:
        self._legacy = legacy

    async def pull(
        self,
        patients: Sequence[tuple[int, str]],
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> dict[int, PulledResults | UpstreamUnavailable]:
        try:
            found = await self._legacy.lab_results([rid for _, rid in patients])
        except LegacyUnavailable as exc:
            problem = UpstreamUnavailable(SYSTEM, exc.message)
            return {pid: problem for pid, _ in patients}
        answers: dict[int, PulledResults | UpstreamUnavailable] = {}
        for pid, rid in patients:
            results = found.get(rid.upper())
            pulled = PulledResults(known=results is not None)
            for result in results or []:
                row = incoming(pid, result)
                if row is None:
                    continue
                tested = row.specimen_at or row.reported_at
                if (since is None or tested >= since) and (until is None or tested < until):
                    pulled.results.append(row)
            answers[pid] = pulled
        return answers


@dataclass(frozen=True)
class LegacyProblem:
    """Why the legacy database gave nothing (a value: a DataLoader would raise an exception)."""

    message: str


class LegacyPregnanciesLoader(DataLoader[int, list[LegacyPregnancy] | LegacyProblem]):
    """Patient id → her legacy pregnancies: one local and one legacy query per batch."""

    def __init__(self, db: Database, legacy: LegacyDatabase | None) -> None:
        super().__init__(load_fn=self._load)
        self._db = db
        self._legacy = legacy

    async def _load(self, keys: Sequence[int]) -> list[list[LegacyPregnancy] | LegacyProblem]:
        if self._legacy is None:
            return [[] for _ in keys]
        async with self._db.reader() as session:
            residents = dict(
                (
                    await session.execute(
                        select(Patient.id, Patient.resident_id).where(Patient.id.in_(list(keys)))
                    )
                ).all()
            )
        try:
            found = await self._legacy.pregnancies(sorted(set(residents.values())))
        except LegacyUnavailable as exc:
            return [LegacyProblem(exc.message) for _ in keys]
        return [list(found.get(residents.get(key, "").upper(), [])) for key in keys]
