"""The demo seeder: realistic and self-consistent data, deterministic and idempotent."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from domain.auth.models import User
from domain.auth.service import authenticate, demo_password
from domain.database import Database
from domain.demo.seed import SeedSummary, seed_demo
from domain.dictionary.models import DictionaryEntry
from domain.lab.models import LabResult
from domain.migrate import upgrade
from domain.patient.models import Patient
from domain.patient.rules import name_initials, validate_resident_id
from domain.pregnancy.models import Pregnancy
from domain.pregnancy.rules import edd_from_lmp
from domain.risk.models import RiskFactor
from domain.risk.rules import grade
from domain.ultrasound.models import UltrasoundExam
from domain.visit.models import PrenatalVisit

TODAY = dt.date(2026, 11, 27)
INFECTIOUS_ITEMS = {
    "HBSAG", "ANTI_HBS", "HBEAG", "ANTI_HBE", "ANTI_HBC", "HIV", "TP", "RPR", "HCV",
}  # fmt: skip


async def fresh_database(path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db.engine)
    return db


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SeedSummary]:
    """One seeded database file per module; each test works on its own copy."""
    path = tmp_path_factory.mktemp("demo") / "template.db"
    database = await fresh_database(path)
    summary = await seed_demo(database, secret_key="k", today=TODAY)
    await database.dispose()
    return path, summary


@pytest.fixture
async def demo_db(tmp_path: Path, template: tuple[Path, SeedSummary]) -> AsyncIterator[Database]:
    path = tmp_path / "t.db"
    shutil.copyfile(template[0], path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()


@pytest.fixture
def seeded(template: tuple[Path, SeedSummary]) -> SeedSummary:
    return template[1]


async def test_patients_have_valid_unique_identifiers(
    demo_db: Database, seeded: SeedSummary
) -> None:
    async with demo_db.reader() as session:
        patients = (await session.scalars(select(Patient).order_by(Patient.id))).all()

    assert seeded.created
    assert seeded.patients == len(patients) >= 200
    for patient in patients:
        validated = validate_resident_id(patient.resident_id, today=TODAY)
        assert validated == (patient.resident_id, patient.birth_date), patient.name
        birth = patient.birth_date
        age = TODAY.year - birth.year - ((TODAY.month, TODAY.day) < (birth.month, birth.day))
        assert 17 <= age <= 45
        assert int(patient.resident_id[16]) % 2 == 0  # a woman
        assert patient.phone is not None
        assert re.fullmatch(r"1[3-9]\d{9}", patient.phone)
        assert patient.address is not None
        assert patient.address.startswith("广西")
        assert patient.name_initials == name_initials(patient.name)
    assert [p.legacy_id for p in patients] == [f"DEMO-{i:06d}" for i in range(1, len(patients) + 1)]
    assert len({p.phone for p in patients}) == len(patients)
    assert any(p.name.startswith(("欧阳", "司徒", "上官", "诸葛")) for p in patients)
    assert {"汉族", "壮族"} <= {p.ethnicity for p in patients}


async def test_pregnancies_are_graded_from_their_current_factors(
    demo_db: Database, seeded: SeedSummary
) -> None:
    async with demo_db.reader() as session:
        pregnancies = (await session.scalars(select(Pregnancy))).all()
        factors = (await session.scalars(select(RiskFactor))).all()
        dictionary = {
            e.code: e.attributes["color"]
            for e in await session.scalars(
                select(DictionaryEntry).where(DictionaryEntry.kind == "risk_factor")
            )
        }

    current: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for factor in factors:
        assert factor.color == dictionary[factor.code]
        assert factor.diagnosis
        if factor.diagnosis_source == "EMR":
            assert factor.icd10_code
        else:
            assert factor.diagnosis_source == "MANUAL"
            assert factor.icd10_code is None
        if factor.removed_at is None:
            current[factor.pregnancy_id].append((factor.code, factor.color))
    for pregnancy in pregnancies:
        graded = grade(current[pregnancy.id])
        assert (pregnancy.risk_color, pregnancy.infectious_flag) == (
            graded.color.value,
            graded.infectious,
        )

    colors = {p.risk_color for p in pregnancies}
    assert colors == {"GREEN", "YELLOW", "ORANGE", "RED"}
    assert any(p.infectious_flag and p.risk_color != "GREEN" for p in pregnancies)
    assert any(p.infectious_flag and p.risk_color == "GREEN" for p in pregnancies)
    assert seeded.risk_factors == len(factors)


async def test_pregnancy_dates_history_and_statuses_are_consistent(
    demo_db: Database, seeded: SeedSummary
) -> None:
    async with demo_db.reader() as session:
        pregnancies = (await session.scalars(select(Pregnancy))).all()

    assert seeded.pregnancies == len(pregnancies) > seeded.patients
    for p in pregnancies:
        assert 0 <= p.parity < p.gravidity
        assert p.edd_from_lmp
        assert p.edd == edd_from_lmp(p.lmp)
        assert 42 <= (p.booking_date - p.lmp).days <= 98
        assert p.booking_date <= TODAY
        if p.status == "DELIVERED":
            assert p.delivered_on is not None
            assert p.delivered_on <= TODAY
            assert p.delivered_recorded_by == "doctor"
        if p.status == "ARCHIVED":
            assert p.archived_at is not None
            assert p.archived_at.utcoffset() == dt.timedelta(0)
            assert p.archived_by is not None
    statuses = {p.status for p in pregnancies}
    assert statuses == {"ACTIVE", "DELIVERED", "ARCHIVED"}
    assert len({p.handbook_no for p in pregnancies}) == len(pregnancies)


async def test_visits_follow_the_pregnancy(demo_db: Database, seeded: SeedSummary) -> None:
    async with demo_db.reader() as session:
        pregnancies = {p.id: p for p in await session.scalars(select(Pregnancy))}
        visits = (await session.scalars(select(PrenatalVisit))).all()
        doctor_id = await session.scalar(select(User.id).where(User.username == "doctor"))

    per_pregnancy: dict[int, int] = defaultdict(int)
    for visit in visits:
        pregnancy = pregnancies[visit.pregnancy_id]
        per_pregnancy[visit.pregnancy_id] += 1
        last_day = pregnancy.delivered_on or TODAY
        assert pregnancy.booking_date <= visit.visit_date <= min(last_day, TODAY)
        assert visit.gestational_days == (visit.visit_date - pregnancy.lmp).days
        assert visit.doctor_id == doctor_id
        assert visit.weight_kg is not None
        assert 45 <= visit.weight_kg <= 90
        weeks = visit.gestational_days // 7
        assert (visit.fetal_heart_rate is not None) == (weeks >= 12)
        assert (visit.fetal_position is not None) == (weeks >= 28)
    assert set(per_pregnancy) == set(pregnancies)
    assert all(1 <= count <= 10 for count in per_pregnancy.values())
    assert sum(1 for v in visits if v.remarks) > len(visits) // 2
    assert seeded.visits == len(visits)


async def test_lab_history_spans_years_and_matches_infections(
    demo_db: Database, seeded: SeedSummary
) -> None:
    async with demo_db.reader() as session:
        labs = (await session.scalars(select(LabResult))).all()
        hepatitis = set(
            await session.scalars(
                select(Pregnancy.patient_id)
                .join(RiskFactor, RiskFactor.pregnancy_id == Pregnancy.id)
                .where(RiskFactor.code == "P-HEPATITIS", RiskFactor.removed_at.is_(None))
            )
        )

    assert seeded.lab_results == len(labs)
    assert len({lab.source_id for lab in labs}) == len(labs)
    assert all(lab.source == "LIS" and lab.reported_at.tzinfo is not None for lab in labs)
    assert len({lab.specimen_at.year for lab in labs if lab.specimen_at}) >= 3
    assert hepatitis
    positive_hbsag = {
        lab.patient_id
        for lab in labs
        if lab.item_code == "HBSAG" and lab.value_qualitative == "POSITIVE"
    }
    assert hepatitis <= positive_hbsag
    # Each screening item has its own date: some pregnancies show several dates.
    dates: dict[int, set[dt.date]] = defaultdict(set)
    for lab in labs:
        if lab.item_code in INFECTIOUS_ITEMS and lab.pregnancy_id and lab.specimen_at:
            assert lab.value_text in ("阴性", "阳性")
            dates[lab.pregnancy_id].add(lab.specimen_at.date())
    assert any(len(days) > 1 for days in dates.values())
    assert {lab.item_code for lab in labs} >= INFECTIOUS_ITEMS | {"HGB", "PLT", "ABO", "RH", "GLU"}


async def test_ultrasound_reports_cover_every_extraction_outcome(
    demo_db: Database, seeded: SeedSummary
) -> None:
    async with demo_db.reader() as session:
        exams = (await session.scalars(select(UltrasoundExam))).all()

    assert seeded.ultrasound_exams == len(exams)
    assert {e.extraction_status for e in exams} == {"EXTRACTED", "NOT_MEASURED", "NOT_FOUND"}
    for exam in exams:
        assert exam.gestational_days is not None
        assert 77 <= exam.gestational_days <= 97
        assert (exam.nt_mm is not None) == (exam.extraction_status == "EXTRACTED")
    assert any(e.nt_mm is not None and e.nt_mm >= 3.0 for e in exams)
    assert any("NT 未测" in e.report_text for e in exams if e.extraction_status == "NOT_MEASURED")


async def test_second_run_changes_nothing_and_keeps_logins(
    demo_db: Database, seeded: SeedSummary
) -> None:
    first = seeded
    second = await seed_demo(demo_db, secret_key="k", today=TODAY + dt.timedelta(days=30))

    assert first.created
    assert not second.created
    assert second == dataclasses.replace(first, created=False)
    async with demo_db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Patient)) == first.patients
        for username, role in (
            ("doctor", "doctor"),
            ("admin", "admin"),
            ("auditor", "auditor"),
            ("approver", "approver"),
        ):
            user = await authenticate(session, username, demo_password("k", username))
            assert user is not None
            assert user.roles == [role]
        assert await authenticate(session, "doctor", "wrong") is None
    assert [u.username for u in first.users] == ["doctor", "admin", "auditor", "approver"]
    assert first.users[0].password == demo_password("k", "doctor")


async def test_same_today_gives_identical_data(demo_db: Database, tmp_path: Path) -> None:
    other = await fresh_database(tmp_path / "other.db")
    await seed_demo(other, secret_key="another key", today=TODAY)

    rows = []
    for database in (demo_db, other):
        async with database.reader() as session:
            patients = await session.execute(
                select(Patient.name, Patient.resident_id, Patient.phone).order_by(Patient.id)
            )
            pregnancies = await session.execute(
                select(Pregnancy.lmp, Pregnancy.status, Pregnancy.risk_color).order_by(Pregnancy.id)
            )
            rows.append((patients.all(), pregnancies.all()))
    await other.dispose()

    assert len(rows[0][0]) == 240
    assert rows[0] == rows[1]


async def test_patient_count_is_a_parameter(tmp_path: Path) -> None:
    db = await fresh_database(tmp_path / "small.db")
    summary = await seed_demo(db, secret_key="k", today=TODAY, patients=12)
    await db.dispose()

    assert summary.created
    assert summary.patients == 12
