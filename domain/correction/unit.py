"""Running existing domain services inside a transaction that is already open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import Database


class JoinedTransaction(Database):
    """The application's database, with every unit of work joining one open session.

    Domain services open `db.transaction()` themselves. Given this instead, their work
    (the change, its history, its audit event, the push outbox) becomes part of the
    caller's transaction: the correction and the change it approves commit together or
    not at all. The caller owns commit and rollback.
    """

    def __init__(self, db: Database, session: AsyncSession) -> None:
        # Share the engines and everything else of the real database; only the unit of
        # work differs. (Not calling Database.__init__, which would open new engines.)
        self.__dict__.update(vars(db))
        self._session = session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        yield self._session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        # Reads see the transaction's own uncommitted changes.
        yield self._session
