"""The loader behind `Patient.labHistory` (1.28.8): every source at once, batched per request."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from domain.database import Database
from domain.lab.history import (
    HistoryFilter,
    LocalRows,
    PatientHistory,
    PatientRef,
    PulledRows,
    ResidentIdRows,
    RowProvider,
    load_histories,
)
from domain.settings import Settings
from integrations.legacy.database import LegacyDatabase
from integrations.legacy.service import LegacyLabSource
from integrations.lis.fhir import LisFhirClient


def history_providers(
    db: Database, settings: Settings | None, legacy: LegacyDatabase | None = None
) -> list[RowProvider]:
    """The local store, then the LIS read live when one is configured, then the legacy
    database (the process's `LegacyDatabase`, when LEGACY_DATABASE_URL is set).

    The order is the order of `sources` and decides whose values a merged row shows.
    """
    providers: list[RowProvider] = [LocalRows(db)]
    lis = LisFhirClient.from_settings(settings, live=True) if settings else None
    if lis is not None:
        providers.append(PulledRows(lis, db))
    if legacy is not None:
        providers.append(ResidentIdRows(LegacyLabSource(legacy), db))
    return providers


@dataclass(frozen=True)
class HistoryKey:
    patient: PatientRef
    query: HistoryFilter


class LabHistoryByPatientLoader(DataLoader[HistoryKey, PatientHistory]):
    """One call per source for all the patients of a request that ask the same filter."""

    def __init__(self, providers: Sequence[RowProvider]) -> None:
        super().__init__(load_fn=self._load)
        self._providers = list(providers)

    async def _load(self, keys: Sequence[HistoryKey]) -> list[PatientHistory]:
        groups: dict[HistoryFilter, list[PatientRef]] = defaultdict(list)
        for key in keys:
            groups[key.query].append(key.patient)
        found: dict[HistoryKey, PatientHistory] = {}
        for query, patients in groups.items():
            unique = list(dict.fromkeys(patients))
            loaded = await load_histories(self._providers, unique, query)
            for patient in unique:
                found[HistoryKey(patient, query)] = loaded[patient.patient_id]
        return [found[key] for key in keys]
