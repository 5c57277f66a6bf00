"""The EMR as requests see it: the configured adapter behind a deadline and a short cache."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from domain.parameter.service import Parameters
from integrations.emr.port import (
    EmrClient,
    EmrDiagnosis,
    EmrNotConfigured,
    EmrPatientId,
    EmrUnavailable,
)

TIMEOUT_PARAMETER = "emr_timeout_s"
TIMEOUT_DEFAULT_S = 2.0
CACHE_PARAMETER = "emr_cache_ttl_s"
CACHE_DEFAULT_S = 60.0


class EmrGateway:
    """`EmrClient` that bounds each call by `emr_timeout_s` and caches answers `emr_cache_ttl_s`.

    Both are system parameters, read on each call, so an administrator's change applies
    without a restart. The cache is this process's only (a copy of the EMR's answers, kept
    seconds, not state): each process asks the EMR at most once per woman per TTL. Failures
    are not cached.
    """

    def __init__(
        self,
        client: EmrClient | None,
        parameters: Parameters,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.parameters = parameters
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[EmrPatientId, tuple[float, list[EmrDiagnosis]]] = OrderedDict()

    @property
    def configured(self) -> bool:
        return self._client is not None

    def clear(self) -> None:
        self._cache.clear()

    async def diagnoses_for(
        self, patients: Sequence[EmrPatientId]
    ) -> dict[EmrPatientId, list[EmrDiagnosis]]:
        if self._client is None:
            raise EmrNotConfigured
        ttl = await self.parameters.number(CACHE_PARAMETER, CACHE_DEFAULT_S)
        now = self._clock()
        found: dict[EmrPatientId, list[EmrDiagnosis]] = {}
        missing: list[EmrPatientId] = []
        for patient in dict.fromkeys(patients):
            cached = self._cache.get(patient)
            # Age against today's TTL, so lowering the parameter applies to answers held.
            if cached is not None and now - cached[0] < ttl:
                found[patient] = cached[1]
            else:
                missing.append(patient)
        if missing:
            timeout = await self.parameters.number(TIMEOUT_PARAMETER, TIMEOUT_DEFAULT_S)
            try:
                async with asyncio.timeout(timeout):
                    fetched = await self._client.diagnoses_for(missing)
            except TimeoutError as exc:
                raise EmrUnavailable(f"EMR 在 {timeout:g} 秒内未答复") from exc
            for patient in missing:
                found[patient] = fetched.get(patient, [])
            if ttl > 0:
                self._store(missing, found, self._clock())
        return found

    def _store(
        self,
        patients: list[EmrPatientId],
        found: dict[EmrPatientId, list[EmrDiagnosis]],
        fetched_at: float,
    ) -> None:
        for patient in patients:
            self._cache[patient] = (fetched_at, found[patient])
            self._cache.move_to_end(patient)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
