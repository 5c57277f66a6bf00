"""Synthetic archived pregnancies for the archive benchmark, loaded with COPY (PostgreSQL).

Names follow Guangxi's surname mix and common female given names, so that a surname
matches a few percent of the rows, a two-character given name some dozens to hundreds,
and a full name a handful — the spread that decides whether a search can use its index.
Resident IDs are valid (GB 11643) and unique, phone numbers and handbook numbers look
like real ones. The same count always produces the same rows.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from sqlalchemy import Table

from domain.patient.models import Patient
from domain.patient.rules import check_digit, name_initials
from domain.pregnancy.models import Pregnancy

SEED = 20261127
MARKER = "bench-archive"
CHUNK = 50_000
# Guangxi surnames by rough frequency (黄 李 韦 … ; 覃 reads Qín).
SURNAMES = (
    ("黄", 90), ("李", 70), ("韦", 60), ("陈", 55), ("覃", 45), ("梁", 45), ("莫", 35),
    ("蒙", 30), ("刘", 30), ("罗", 28), ("农", 22), ("廖", 22), ("蓝", 18), ("谭", 18),
    ("卢", 18), ("周", 18), ("杨", 18), ("王", 16), ("张", 16), ("吴", 15), ("林", 15),
    ("何", 14), ("潘", 14), ("唐", 13), ("苏", 12), ("陆", 12), ("冯", 10), ("邓", 10),
    ("钟", 10), ("谢", 10), ("赵", 8), ("胡", 8), ("曾", 8), ("凌", 6), ("甘", 6),
    ("欧阳", 2), ("司马", 1),
)  # fmt: skip
GIVEN = (
    "丽萍芳娟燕红霞敏静婷玲梅秀英华兰凤琴云莲艳珍丹洁雪慧颖佳欣怡雯琳晶茜倩媛"
    "春秋冬月桂香美玉金银翠莉菊梦思婧妍瑶璐露蕾蓉晓晨曦彤悦诗雅柳青萱宁薇岚"
    "海燕小妹春花秀兰凤英桂兰丽娟丽华美玲晓燕海霞春梅玉兰秀芳丽红雪梅艳红"
)
REGIONS = ("450102", "450103", "450105", "450107", "450108", "450109", "450110", "450122",
           "450123", "450126", "450127", "450203", "450204", "450205", "450302", "450305",
           "450311", "450321", "450405", "450502", "450602", "450702", "450802", "450902",
           "451002", "451102", "451202", "451302", "451402")  # fmt: skip
BIRTH_START = dt.date(1972, 1, 1)
BIRTH_DAYS = 34 * 365
# More IDs than any benchmark needs; an odd multiplier walks them without repeats.
_ID_SPACE = len(REGIONS) * BIRTH_DAYS * 1000
_ID_STEP = 1_000_003
UTC = dt.UTC
CST = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class Plan:
    """How many rows of each kind a benchmark database holds."""

    archived: int

    @property
    def patients(self) -> int:
        # One woman in twelve has two archived pregnancies.
        return self.archived - self.archived // 13

    @property
    def active(self) -> int:
        # Pregnancies in care (not archived) beside the archive: the status filter matters.
        return max(1, self.archived // 20)


def _resident_id(index: int) -> tuple[str, dt.date]:
    slot = (index * _ID_STEP) % _ID_SPACE
    region = REGIONS[slot % len(REGIONS)]
    slot //= len(REGIONS)
    birth = BIRTH_START + dt.timedelta(days=slot % BIRTH_DAYS)
    sequence = slot // BIRTH_DAYS
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17), birth


class Names:
    """Weighted random names with their pinyin initials (computed once per character)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._surnames = [s for s, _ in SURNAMES]
        self._weights = [w for _, w in SURNAMES]
        chars = sorted(set(GIVEN))
        # Early characters are more common: a Zipf-like spread.
        self._given = chars
        self._given_weights = [1 / (i + 3) for i in range(len(chars))]
        self._initials = {c: name_initials("王" + c)[1:] for c in chars}
        self._surname_initials = {s: name_initials(s) for s in self._surnames}

    def draw(self) -> tuple[str, str]:
        surname = self._rng.choices(self._surnames, self._weights)[0]
        length = 1 if self._rng.random() < 0.25 else 2
        given = "".join(self._rng.choices(self._given, self._given_weights, k=length))
        initials = self._surname_initials[surname] + "".join(self._initials[c] for c in given)
        return surname + given, initials


def _row(table: Table, values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(c.name) for c in table.columns)


def patient_rows(plan: Plan, now: dt.datetime) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(SEED)  # noqa: S311 (reproducible fake data)
    names = Names(rng)
    table = cast(Table, Patient.__table__)
    for index in range(plan.patients):
        name, initials = names.draw()
        resident_id, birth = _resident_id(index)
        prefix = rng.choice("3456789")
        yield _row(
            table,
            {
                "id": index + 1,
                "name": name,
                "name_initials": initials,
                "resident_id": resident_id,
                "birth_date": birth,
                "phone": f"1{prefix}{(index * 7_919_113 + 12_345) % 1_000_000_000:09d}",
                "created_at": now,
                "updated_at": now,
                "created_by": MARKER,
            },
        )


def pregnancy_rows(plan: Plan, now: dt.datetime) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(SEED + 1)  # noqa: S311 (reproducible fake data)
    table = cast(Table, Pregnancy.__table__)
    today = now.date()
    total = plan.archived + plan.active
    for index in range(total):
        archived = index < plan.archived
        # The first pregnancies of the second-pregnancy women come first (older).
        patient = index % plan.patients + 1 if archived else (index * 7) % plan.patients + 1
        if archived:
            delivered = today - dt.timedelta(days=rng.randint(60, 3650))
            lmp = delivered - dt.timedelta(days=rng.randint(259, 290))
            archived_at = dt.datetime.combine(
                delivered + dt.timedelta(days=rng.randint(42, 120)),
                dt.time(rng.randint(8, 17), rng.randint(0, 59)),
                CST,
            ).astimezone(UTC)
        else:
            lmp = today - dt.timedelta(days=rng.randint(40, 270))
            delivered, archived_at = None, None
        booking = lmp + dt.timedelta(days=rng.randint(42, 90))
        region = REGIONS[patient % len(REGIONS)]
        yield _row(
            table,
            {
                "id": index + 1,
                "patient_id": patient,
                "lmp": lmp,
                "edd": lmp + dt.timedelta(days=280),
                "edd_from_lmp": True,
                "gravidity": 2,
                "parity": 1 if archived else 0,
                "booking_date": min(booking, today),
                "booking_unit": "广西壮族自治区妇幼保健院",
                "handbook_no": f"{region}{booking.year}{index + 1:07d}",
                "status": "ARCHIVED" if archived else "ACTIVE",
                "delivered_on": delivered,
                "archived_at": archived_at,
                "archived_by": MARKER if archived else None,
                "risk_color": rng.choice(("GREEN", "GREEN", "YELLOW", "ORANGE", "RED")),
                "infectious_flag": rng.random() < 0.03,
                "created_at": now,
                "updated_at": now,
                "created_by": MARKER,
            },
        )


async def _copy(
    conn: asyncpg.Connection,
    table: Table,
    rows: Iterator[tuple[Any, ...]],
    total: int,
    progress: Callable[[str, int, int], None],
) -> None:
    columns: Sequence[str] = [c.name for c in table.columns]
    done = 0
    while True:
        chunk = [row for _, row in zip(range(CHUNK), rows, strict=False)]
        if not chunk:
            return
        await conn.copy_records_to_table(table.name, records=chunk, columns=columns)
        done += len(chunk)
        progress(table.name, done, total)


async def load(dsn: str, plan: Plan, progress: Callable[[str, int, int], None]) -> None:
    """Replace the benchmark rows with `plan`'s (indexes dropped during the load, rebuilt after)."""
    now = dt.datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    try:
        indexes = await conn.fetch(
            """
            SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relname IN ('patient', 'pregnancy')
              AND NOT x.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
            """
        )
        await conn.execute("TRUNCATE patient, pregnancy RESTART IDENTITY CASCADE")
        for index in indexes:
            await conn.execute(f'DROP INDEX IF EXISTS "{index["name"]}"')
        await _copy(
            conn, cast(Table, Patient.__table__), patient_rows(plan, now), plan.patients, progress
        )
        await _copy(
            conn,
            cast(Table, Pregnancy.__table__),
            pregnancy_rows(plan, now),
            plan.archived + plan.active,
            progress,
        )
        for index in indexes:
            progress(f"index {index['name']}", 0, 0)
            await conn.execute(index["definition"])
        for table in ("patient", "pregnancy"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (fixed names)
                f"(SELECT max(id) FROM {table}))"
            )
        # Index-only scans need the visibility map that VACUUM writes.
        await conn.execute("VACUUM ANALYZE patient")
        await conn.execute("VACUUM ANALYZE pregnancy")
    finally:
        await conn.close()


async def loaded(dsn: str) -> int:
    """How many benchmark archived pregnancies the database holds (0 if none)."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pregnancy WHERE status = 'ARCHIVED' AND created_by = $1",
                MARKER,
            )
        )
    finally:
        await conn.close()
