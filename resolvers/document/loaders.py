from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from domain.database import Database
from domain.document.models import DocumentKind, StoredDocument
from domain.document.service import versions_by_pregnancy
from resolvers.loading import many_per_key


class HandbookDocumentsByPregnancyLoader(DataLoader[int, list[StoredDocument]]):
    """Every handbook version of each pregnancy, newest first (metadata only, no bytes)."""

    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[int]) -> list[list[StoredDocument]]:
        async with self._db.reader() as session:
            rows = await versions_by_pregnancy(session, DocumentKind.HANDBOOK, keys)
        # Every row has a pregnancy: they were selected by it.
        return many_per_key(keys, rows, lambda r: r.pregnancy_id or 0)
