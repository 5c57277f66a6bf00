from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from integrations.emr.port import EmrClient, EmrDiagnosis, EmrPatientId, EmrUnavailable


class EmrDiagnosesByPatientLoader(DataLoader[EmrPatientId, list[EmrDiagnosis]]):
    """The EMR's encounter diagnoses of every woman a response shows, in one upstream round.

    When the EMR cannot answer, every key of the batch fails with the same
    `EmrUnavailable` (and stays failed for the rest of the request).
    """

    def __init__(self, emr: EmrClient) -> None:
        super().__init__(load_fn=self._load)
        self._emr = emr

    async def _load(self, keys: Sequence[EmrPatientId]) -> list[list[EmrDiagnosis] | BaseException]:
        try:
            found = await self._emr.diagnoses_for(keys)
        except EmrUnavailable as exc:
            return [exc for _ in keys]
        return [found.get(key, []) for key in keys]
