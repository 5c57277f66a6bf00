"""Loaders behind infectious screening (1.28.7): latest results, amendments, proposals.

Each is one statement for every key of the request (one pregnancy list of 50 costs the
same as one pregnancy).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from domain.database import Database
from domain.lab.models import LabResult, LabResultAmendment
from domain.lab.screening import latest_screening
from domain.risk.proposal_models import RiskFactorProposal
from domain.risk.proposals import pending_for
from resolvers.loading import many_per_key


class ScreeningByPregnancyLoader(DataLoader[int, dict[str, LabResult]]):
    """Pregnancy id → item code → the latest result of that screening item."""

    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[dict[str, LabResult]]:
        async with self._db.reader() as session:
            latest = await latest_screening(session, keys)
        return [latest[key] for key in keys]


class PendingProposalsByPregnancyLoader(
    DataLoader[int, list[tuple[RiskFactorProposal, str | None]]]
):
    """Pregnancy id → pending factor proposals with the factor's name."""

    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[list[tuple[RiskFactorProposal, str | None]]]:
        async with self._db.reader() as session:
            found = await pending_for(session, keys)
        return [found[key] for key in keys]


class AmendmentsByLabResultLoader(DataLoader[int, list[LabResultAmendment]]):
    """Lab result id → its amendments, oldest first."""

    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[list[LabResultAmendment]]:
        async with self._db.reader() as session:
            rows = (
                await session.scalars(
                    select(LabResultAmendment)
                    .where(LabResultAmendment.lab_result_id.in_(keys))
                    .order_by(LabResultAmendment.id)
                )
            ).all()
        return many_per_key(keys, rows, lambda r: r.lab_result_id)
