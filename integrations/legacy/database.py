"""Read-only access to the old obstetric system's database through the mapping.

One `LegacyDatabase` per process (its own async engine, never MaternityHub's): SQLite
files are opened with `mode=ro`, PostgreSQL connections as read-only transactions, and
only SELECTs built from the mapping are ever sent. Results come back as plain dataclasses
with times converted from the old system's naive local time (Beijing time) to UTC.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, inspect, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from integrations.legacy.mapping import LegacyMapping, LegacyMappingError

SYSTEM = "LEGACY"
TIMEOUT_S = 5.0


class LegacyUnavailable(Exception):
    """The old database could not be read (down, unreachable, too slow, or mismapped)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LegacyPatient:
    legacy_id: str
    name: str
    resident_id: str
    phone: str | None
    birth_date: dt.date | None


@dataclass(frozen=True)
class LegacyPregnancy:
    legacy_id: str
    patient_legacy_id: str
    resident_id: str
    lmp: dt.date | None
    edd: dt.date | None
    booking_date: dt.date | None
    gravidity: int | None
    parity: int | None
    delivered_on: dt.date | None


@dataclass(frozen=True)
class LegacyLabResult:
    legacy_id: str
    patient_legacy_id: str
    resident_id: str
    item_code: str | None
    item_name: str | None
    value: str
    unit: str | None
    reference_range: str | None
    specimen_at: dt.datetime | None
    reported_at: dt.datetime | None


def read_only_url(url: str) -> str:
    """A SQLite file URL opened read-only (`mode=ro`); other URLs unchanged."""
    parsed = make_url(url)
    database = parsed.database or ""
    if not parsed.drivername.startswith("sqlite") or database in ("", ":memory:"):
        return url
    path = database if database.startswith("file:") else f"file:{Path(database).resolve()}"
    query = {**parsed.query, "mode": "ro", "uri": "true"}
    return parsed.set(database=path, query=query).render_as_string(hide_password=False)


class LegacyDatabase:
    def __init__(
        self, url: str, mapping: LegacyMapping | None = None, *, timeout_s: float = TIMEOUT_S
    ) -> None:
        self.url = url
        self.mapping = mapping or LegacyMapping.load()
        self.timeout_s = timeout_s
        self.tz = dt.timezone(dt.timedelta(hours=self.mapping.timezone_offset_hours))
        self.engine: AsyncEngine = create_async_engine(read_only_url(url), pool_pre_ping=True)
        self._verified = False

    @classmethod
    def from_settings(cls, url: str | None) -> LegacyDatabase | None:
        return cls(url) if url else None

    async def dispose(self) -> None:
        await self.engine.dispose()

    # ------------------------------------------------------------------ plumbing

    async def _run(self, statement: Select[Any], convert: Callable[[Any], Any]) -> list[Any]:
        try:
            async with asyncio.timeout(self.timeout_s), self.engine.connect() as conn:
                await self._prepare(conn)
                if not self._verified:
                    await self._verify(conn)
                rows = (await conn.execute(statement)).all()
        except LegacyMappingError as exc:
            raise LegacyUnavailable(exc.message) from exc
        except TimeoutError as exc:
            raise LegacyUnavailable(f"旧产科系统数据库未在 {self.timeout_s:g} 秒内答复") from exc
        except (OSError, SQLAlchemyError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise LegacyUnavailable(f"旧产科系统数据库无法读取：{reason}") from exc
        return [item for row in rows if (item := convert(row)) is not None]

    async def _prepare(self, conn: AsyncConnection) -> None:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    async def verify(self) -> None:
        """Check the mapping against the database; LegacyMappingError names what is missing."""
        async with self.engine.connect() as conn:
            await self._verify(conn)

    async def _verify(self, conn: AsyncConnection) -> None:
        wanted = {t.name.upper() for t in self.mapping.tables}

        def describe(sync: Connection) -> dict[str, set[str]]:
            inspector = inspect(sync)
            names = [n for n in inspector.get_table_names() if n.upper() in wanted]
            return {n: {c["name"] for c in inspector.get_columns(n)} for n in names}

        self.mapping.check(await conn.run_sync(describe))
        self._verified = True

    # ------------------------------------------------------------------ reads

    def _resident_filter(self, resident_ids: Sequence[str]) -> list[str]:
        # Old systems store the check character X in either case.
        return sorted({v for rid in resident_ids for v in (rid, rid.lower())})

    async def patients(self) -> list[LegacyPatient]:
        """Every woman of the old system, in id order."""
        p = self.mapping.patients
        statement = select(*(p.c(f) for f in p.columns)).order_by(p.c("id"))
        return await self._run(statement, self._patient)

    async def pregnancies(self, resident_ids: Sequence[str]) -> dict[str, list[LegacyPregnancy]]:
        """Resident ID → her pregnancies (newest LMP first), in one statement."""
        if not resident_ids:
            return {}
        p, g = self.mapping.patients, self.mapping.pregnancies
        statement = (
            select(*(g.c(f) for f in g.columns), p.c("resident_id"))
            .select_from(g.table.join(p.table, g.c("patient_id") == p.c("id")))
            .where(p.c("resident_id").in_(self._resident_filter(resident_ids)))
            .order_by(g.c("lmp").desc(), g.c("id"))
        )
        found: dict[str, list[LegacyPregnancy]] = {}
        for pregnancy in await self._run(statement, self._pregnancy):
            found.setdefault(pregnancy.resident_id, []).append(pregnancy)
        return found

    async def lab_results(
        self, resident_ids: Sequence[str] | None = None
    ) -> dict[str, list[LegacyLabResult]]:
        """Resident ID → her results (newest first), in one statement; None = everyone's."""
        if resident_ids is not None and not resident_ids:
            return {}
        p, r = self.mapping.patients, self.mapping.lab_results
        statement = (
            select(*(r.c(f) for f in r.columns), p.c("resident_id"))
            .select_from(r.table.join(p.table, r.c("patient_id") == p.c("id")))
            .order_by(r.c("specimen_at").desc(), r.c("id"))
        )
        if resident_ids is not None:
            statement = statement.where(p.c("resident_id").in_(self._resident_filter(resident_ids)))
        found: dict[str, list[LegacyLabResult]] = {}
        for result in await self._run(statement, self._lab_result):
            found.setdefault(result.resident_id, []).append(result)
        return found

    # ------------------------------------------------------------------ conversion

    def _patient(self, row: Any) -> LegacyPatient | None:
        m = self.mapping.patients.columns
        values = row._mapping
        resident = _text(values[m["resident_id"]])
        if resident is None:
            return None
        return LegacyPatient(
            legacy_id=str(values[m["id"]]),
            name=_text(values[m["name"]]) or "",
            resident_id=resident.upper(),
            phone=_text(values[m["phone"]]),
            birth_date=_date(values[m["birth_date"]]),
        )

    def _pregnancy(self, row: Any) -> LegacyPregnancy | None:
        m = self.mapping.pregnancies.columns
        values = row._mapping
        return LegacyPregnancy(
            legacy_id=str(values[m["id"]]),
            patient_legacy_id=str(values[m["patient_id"]]),
            resident_id=str(values[self.mapping.patients.columns["resident_id"]]).upper(),
            lmp=_date(values[m["lmp"]]),
            edd=_date(values[m["edd"]]),
            booking_date=_date(values[m["booking_date"]]),
            gravidity=_int(values[m["gravidity"]]),
            parity=_int(values[m["parity"]]),
            delivered_on=_date(values[m["delivered_on"]]),
        )

    def _lab_result(self, row: Any) -> LegacyLabResult | None:
        m = self.mapping.lab_results.columns
        values = row._mapping
        value = _text(values[m["value"]])
        if value is None:
            return None
        return LegacyLabResult(
            legacy_id=str(values[m["id"]]),
            patient_legacy_id=str(values[m["patient_id"]]),
            resident_id=str(values[self.mapping.patients.columns["resident_id"]]).upper(),
            item_code=_text(values[m["item_code"]]),
            item_name=_text(values[m["item_name"]]),
            value=value,
            unit=_text(values[m["unit"]]),
            reference_range=_text(values[m["reference_range"]]),
            specimen_at=self._moment(values[m["specimen_at"]]),
            reported_at=self._moment(values[m["reported_at"]]),
        )

    def _moment(self, raw: object) -> dt.datetime | None:
        """A naive local time (text or timestamp) as a UTC instant."""
        if isinstance(raw, dt.datetime):
            moment = raw
        elif isinstance(raw, dt.date):
            moment = dt.datetime.combine(raw, dt.time())
        elif isinstance(raw, str) and raw.strip():
            try:
                moment = dt.datetime.fromisoformat(raw.strip().replace("/", "-"))
            except ValueError:
                return None
        else:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.astimezone(dt.UTC)


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def _int(raw: object) -> int | None:
    try:
        return int(str(raw).strip()) if raw is not None and str(raw).strip() else None
    except ValueError:
        return None


def _date(raw: object) -> dt.date | None:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            return dt.date.fromisoformat(raw.strip().replace("/", "-")[:10])
        except ValueError:
            return None
    return None
