"""Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select

import domain.models  # noqa: F401  (registers every table)
from domain.database import Base, Database
from domain.dictionary.models import DictionaryEntry
from domain.migrate import current_revision, head_revision, upgrade


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_database_matches_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_diff)

    assert differences == []
    assert await current_revision(db.engine) == head_revision()


async def test_upgrade_is_idempotent_and_seeds_the_risk_factor_dictionary(db: Database) -> None:
    await upgrade(db.engine)

    async with db.reader() as session:
        attributes = (
            await session.scalars(
                select(DictionaryEntry.attributes).where(DictionaryEntry.kind == "risk_factor")
            )
        ).all()

    assert len(attributes) == 61
    assert sorted({a["color"] for a in attributes}) == ["ORANGE", "PURPLE", "RED", "YELLOW"]  # type: ignore[type-var]
