"""A deterministic demo of the old obstetric system's database (SQLite, `legacy.db`).

Its women are MaternityHub's own patients (by resident ID) plus some women only the old
system knows; each has pregnancies from 2015–2023 and years of lab results. Times are
naive local-time text ('YYYY-MM-DD HH:MM:SS', Beijing time), as the old system kept them.
A few results copy ones MaternityHub already holds (same item, specimen time, value), so
the merged history shows them once with both sources.

`LegacyWriter` writes rows in the layout of `mapping.json`; the tests build small
databases with it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from domain.database import Database
from domain.lab.models import LabResult
from domain.lab.normalise import normalise
from domain.patient.models import Patient
from domain.patient.rules import make_resident_id

RANDOM_SEED = 2015_0101
_CST = dt.timezone(dt.timedelta(hours=8))
_SCHEMA = """
CREATE TABLE YF_BRXX (BRID VARCHAR(20) PRIMARY KEY, BRXM VARCHAR(50), SFZH VARCHAR(18),
                      LXDH VARCHAR(20), CSRQ VARCHAR(10));
CREATE TABLE YF_CQDA (DAID INTEGER PRIMARY KEY, BRID VARCHAR(20), MCYJ VARCHAR(10),
                      YCQ VARCHAR(10), JDRQ VARCHAR(10), YC INTEGER, CC INTEGER,
                      FMRQ VARCHAR(10));
CREATE TABLE JY_JGMX (JGID INTEGER PRIMARY KEY, BRID VARCHAR(20), XMDM VARCHAR(20),
                      XMMC VARCHAR(50), JG VARCHAR(100), DW VARCHAR(20), CKFW VARCHAR(50),
                      CYSJ VARCHAR(19), BGSJ VARCHAR(19));
CREATE INDEX IX_CQDA_BRID ON YF_CQDA (BRID);
CREATE INDEX IX_JGMX_BRID ON JY_JGMX (BRID);
"""


def local_text(moment: dt.datetime) -> str:
    """An instant as the old system stores it: naive Beijing time."""
    return moment.astimezone(_CST).strftime("%Y-%m-%d %H:%M:%S")


class LegacyWriter:
    """Rows written in the old system's layout (a fresh file each time)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path)
        self.conn.executescript(_SCHEMA)
        self.patients = self.pregnancies = self.results = 0

    def patient(
        self, brid: str, name: str, resident_id: str, phone: str | None, birth: dt.date | None
    ) -> None:
        self.conn.execute(
            "INSERT INTO YF_BRXX VALUES (?, ?, ?, ?, ?)",
            (brid, name, resident_id, phone, birth.isoformat() if birth else None),
        )
        self.patients += 1

    def pregnancy(
        self,
        daid: int,
        brid: str,
        lmp: dt.date,
        *,
        gravidity: int,
        parity: int,
        booking: dt.date | None = None,
        delivered: dt.date | None = None,
    ) -> None:
        edd = lmp + dt.timedelta(days=280)
        booked = booking or lmp + dt.timedelta(days=56)
        self.conn.execute(
            "INSERT INTO YF_CQDA VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (daid, brid, lmp.isoformat(), edd.isoformat(), booked.isoformat(), gravidity, parity,
             delivered.isoformat() if delivered else None),
        )  # fmt: skip
        self.pregnancies += 1

    def result(
        self,
        jgid: int,
        brid: str,
        code: str,
        name: str,
        value: str,
        taken: dt.datetime,
        *,
        unit: str | None = None,
        reference: str | None = None,
        reported: dt.datetime | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO JY_JGMX VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (jgid, brid, code, name, value, unit, reference, local_text(taken),
             local_text(reported or taken + dt.timedelta(hours=3))),
        )  # fmt: skip
        self.results += 1

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()


@dataclass(frozen=True)
class LegacyDemoSummary:
    path: Path
    patients: int
    pregnancies: int
    lab_results: int
    duplicates: int

    def describe(self) -> str:
        return (
            f"孕妇 {self.patients}，孕产档案 {self.pregnancies}，检验结果 {self.lab_results}"
            f"（其中 {self.duplicates} 条与本系统重复）"
        )


@dataclass(frozen=True)
class _Item:
    code: str
    name: str
    unit: str | None
    reference: str | None
    low: float = 0.0
    high: float = 0.0


_HGB = _Item("XCG-HGB", "血红蛋白", "g/L", "110-150", 95, 140)
_PLT = _Item("XCG-PLT", "血小板计数", "10^9/L", "125-350", 140, 320)
_GLU = _Item("SH-GLU", "空腹血糖", "mmol/L", "3.9-5.1", 4.0, 5.6)
_SEROLOGY = (
    _Item("HBsAg", "乙肝表面抗原", None, "阴性"),
    _Item("MY-HIV", "HIV抗体", None, "阴性"),
    _Item("MY-TP", "梅毒螺旋体抗体", None, "阴性"),
)
_SURNAMES = "韦黄覃陆蒙莫梁李农廖"
_GIVEN = ("秀兰", "海燕", "美玲", "春花", "丽娟", "小红", "桂芳", "金凤", "玉梅", "雪梅")
_REGIONS = ("450102", "450103", "450105", "450107", "450202", "450305", "451002")


async def generate_demo_legacy(
    path: Path, db: Database, *, legacy_only: int = 20, duplicates_per_patient: int = 1
) -> LegacyDemoSummary:
    """Write `path` from MaternityHub's patients (and their results, for the duplicates)."""
    async with db.reader() as session:
        women = (
            await session.execute(
                select(Patient.id, Patient.name, Patient.resident_id, Patient.phone,
                       Patient.birth_date).order_by(Patient.id)
            )
        ).all()  # fmt: skip
        labs = (
            await session.execute(
                select(LabResult.patient_id, LabResult.local_code, LabResult.item_name,
                       LabResult.value_text, LabResult.value_numeric,
                       LabResult.value_qualitative, LabResult.unit,
                       LabResult.reference_range, LabResult.specimen_at)
                .where(LabResult.local_code.is_not(None), LabResult.specimen_at.is_not(None))
                .order_by(LabResult.patient_id, LabResult.specimen_at, LabResult.id)
            )
        ).all()  # fmt: skip
    copies: dict[int, list[tuple[str, str, str, str | None, str | None, dt.datetime]]] = {}
    for pid, code, name, text, numeric, qualitative, unit, reference, taken in labs:
        value = text if text else (f"{numeric:g}" if numeric is not None else None)
        chosen = copies.setdefault(pid, [])
        if not (code and value and taken) or len(chosen) >= duplicates_per_patient:
            continue
        # Only values the old system's text reproduces (not "阴性" for a stored 0.44 S/CO).
        again = normalise(value)
        if (again.numeric, again.qualitative) == (numeric, qualitative):
            chosen.append((code, name, value, unit, reference, taken))

    def write() -> LegacyDemoSummary:
        rng = random.Random(RANDOM_SEED)  # noqa: S311 (reproducible fake data)
        writer = LegacyWriter(path)
        builder = _Builder(writer, rng)
        duplicates = 0
        for pid, name, resident_id, phone, birth in women:
            brid = builder.woman(name, resident_id, phone, birth)
            for code, item, value, unit, reference, taken in copies.get(pid, []):
                builder.copy(brid, code, item, value, unit, reference, taken)
                duplicates += 1
        for index in range(legacy_only):
            birth = dt.date(1985 + index % 12, 1 + index % 12, 1 + (index * 7) % 28)
            resident_id = make_resident_id(_REGIONS[index % len(_REGIONS)], birth, 500 + index)
            if index == legacy_only - 1:
                # Typed in wrongly years ago: the import reports and skips her.
                resident_id = resident_id[:17] + ("0" if resident_id[17] != "0" else "1")
            woman = _SURNAMES[index % len(_SURNAMES)] + _GIVEN[(index * 3) % len(_GIVEN)]
            builder.woman(woman, resident_id, f"139{7700_0000 + index:08d}", birth)
        writer.close()
        return LegacyDemoSummary(
            path, writer.patients, writer.pregnancies, writer.results, duplicates
        )

    return await asyncio.to_thread(write)


class _Builder:
    def __init__(self, writer: LegacyWriter, rng: random.Random) -> None:
        self.writer = writer
        self.rng = rng
        self.brid = 100000
        self.daid = 5000
        self.jgid = 900000

    def woman(self, name: str, resident_id: str, phone: str | None, birth: dt.date | None) -> str:
        self.brid += 1
        brid = str(self.brid)
        self.writer.patient(brid, name, resident_id, phone, birth)
        rng = self.rng
        first = dt.date(rng.randint(2015, 2018), rng.randint(1, 12), rng.randint(1, 28))
        lmps = [first]
        if rng.random() < 0.5:
            lmps.append(first + dt.timedelta(days=rng.randint(2 * 365, 4 * 365)))
        for number, lmp in enumerate(lmps):
            self.daid += 1
            delivered = lmp + dt.timedelta(days=rng.randint(266, 287))
            self.writer.pregnancy(
                self.daid, brid, lmp, gravidity=number + 1, parity=number, delivered=delivered
            )
            self._labs(brid, lmp)
        return brid

    def _labs(self, brid: str, lmp: dt.date) -> None:
        rng = self.rng
        booking = lmp + dt.timedelta(days=rng.randint(49, 84))
        for item in (_HGB, _PLT, *_SEROLOGY):
            self._result(brid, item, booking)
        self._result(brid, _GLU, lmp + dt.timedelta(days=rng.randint(170, 195)))
        self._result(brid, _HGB, lmp + dt.timedelta(days=rng.randint(220, 250)))

    def _result(self, brid: str, item: _Item, day: dt.date) -> None:
        rng = self.rng
        taken = dt.datetime.combine(day, dt.time(rng.randint(7, 10), rng.randint(0, 59)), _CST)
        if item.unit is None:
            value = "阴性"
        elif item is _GLU:
            value = f"{rng.uniform(item.low, item.high):.1f}"
        else:
            value = str(rng.randint(int(item.low), int(item.high)))
        self.jgid += 1
        self.writer.result(
            self.jgid, brid, item.code, item.name, value, taken,
            unit=item.unit, reference=item.reference,
            reported=taken + dt.timedelta(minutes=rng.randint(90, 300)),
        )  # fmt: skip

    def copy(
        self,
        brid: str,
        code: str,
        name: str,
        value: str,
        unit: str | None,
        reference: str | None,
        taken: dt.datetime,
    ) -> None:
        self.jgid += 1
        self.writer.result(
            self.jgid, brid, code, name, value, taken, unit=unit, reference=reference
        )
