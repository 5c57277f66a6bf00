"""Deterministic demo data: Guangxi patients with pregnancies, visits, factors and results."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.auth.actor import Role
from domain.auth.service import demo_password, ensure_user
from domain.database import Base, Database
from domain.dictionary.models import DictionaryEntry
from domain.lab.models import LabResult
from domain.patient.models import Patient
from domain.patient.rules import make_resident_id, name_initials
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from domain.pregnancy.rules import edd_from_lmp, gestational_days
from domain.push.outbox import refresh_pregnancy
from domain.risk.models import RiskFactor
from domain.risk.rules import FACTOR_COLORS, grade
from domain.ultrasound.models import NtExtractionStatus, UltrasoundExam
from domain.visit.models import PrenatalVisit

DATA_DIR = Path(__file__).resolve().parent / "data"
DICTIONARY_FILE = Path(__file__).resolve().parents[1] / "dictionary/data/risk_factors_2017.json"
# Fixed so that the same `today` always yields the same rows, whoever runs the seed.
RANDOM_SEED = 4501_2017
FIRST_LEGACY_ID = "DEMO-000001"
DOCTOR_USERNAME = "doctor"
DOCTOR_NAME = "李医生"
# Clinic hours are Beijing time; timestamps are stored in UTC.
_CST = dt.timezone(dt.timedelta(hours=8), "CST")
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    roles: tuple[str, ...]
    display_name: str


@dataclass(frozen=True)
class SeedSummary:
    created: bool
    patients: int
    pregnancies: int
    visits: int
    risk_factors: int
    lab_results: int
    ultrasound_exams: int
    users: tuple[DemoUser, ...]


_USERS: tuple[tuple[str, str, Role], ...] = (
    (DOCTOR_USERNAME, DOCTOR_NAME, Role.DOCTOR),
    ("admin", "系统管理员", Role.ADMIN),
    ("auditor", "审计员", Role.AUDITOR),
    ("approver", "审核人", Role.APPROVER),
)


async def seed_demo(
    db: Database,
    *,
    secret_key: str,
    today: dt.date | None = None,
    patients: int = 240,
) -> SeedSummary:
    """Create the demo users and, once per database, the demo clinical data.

    The users (doctor, admin, auditor, approver) are created or brought up to date on every call,
    with passwords from `demo_password(secret_key, username)`. The clinical data is
    inserted only when patient `DEMO-000001` is absent, so a re-run changes nothing
    (`created=False`). Dates are relative to `today`; the same `today` and `patients`
    always produce the same rows. The counts are of the rows now in the database.
    """
    today = today or dt.date.today()
    async with db.transaction() as session:
        users, doctor_id = await _ensure_users(session, secret_key)
        existing = await session.scalar(
            select(Patient.id).where(Patient.legacy_id == FIRST_LEGACY_ID)
        )
        created = existing is None
        if created:
            factor_table = await _factor_table(session)
            # Reproducible fake data, nothing secret: a seeded PRNG is what is wanted here.
            rng = random.Random(RANDOM_SEED)  # noqa: S311
            plan = _Builder(rng, today, factor_table, doctor_id).build(patients)
            await _insert(session, plan)
            # The seeded records enter the 桂妇儿 outbox exactly as a doctor's saves do.
            for pregnancy_id in (
                await session.scalars(select(Pregnancy.id).order_by(Pregnancy.id))
            ).all():
                await refresh_pregnancy(session, pregnancy_id, changed_by=DOCTOR_USERNAME)
        return SeedSummary(
            created=created,
            patients=await _count(session, Patient),
            pregnancies=await _count(session, Pregnancy),
            visits=await _count(session, PrenatalVisit),
            risk_factors=await _count(session, RiskFactor),
            lab_results=await _count(session, LabResult),
            ultrasound_exams=await _count(session, UltrasoundExam),
            users=users,
        )


async def _ensure_users(session: AsyncSession, secret_key: str) -> tuple[tuple[DemoUser, ...], int]:
    users: list[DemoUser] = []
    doctor_id = 0
    for username, display_name, role in _USERS:
        password = demo_password(secret_key, username)
        user = await ensure_user(
            session, username, display_name=display_name, roles=[role], password=password
        )
        users.append(DemoUser(username, password, (role.value,), display_name))
        if username == DOCTOR_USERNAME:
            doctor_id = user.id
    return tuple(users), doctor_id


async def _factor_table(session: AsyncSession) -> dict[str, tuple[str, str]]:
    """Risk-factor code → (name, colour) from the dictionary table, else its source file.

    The table wins because the hospital edits colours there; the file only serves a
    database whose dictionary was never loaded.
    """
    rows = await session.execute(
        select(DictionaryEntry.code, DictionaryEntry.name, DictionaryEntry.attributes)
        .where(DictionaryEntry.kind == "risk_factor", DictionaryEntry.active.is_(True))
        .order_by(DictionaryEntry.code)
    )
    table = {
        code: (name, str(attributes.get("color")))
        for code, name, attributes in rows
        if attributes.get("color") in FACTOR_COLORS
    }
    if table:
        return table
    entries = json.loads(DICTIONARY_FILE.read_text(encoding="utf-8"))["entries"]
    return {e["code"]: (e["name"], e["color"]) for e in entries if e["color"] in FACTOR_COLORS}


async def _count(session: AsyncSession, model: type[Base]) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


async def _insert(session: AsyncSession, plan: _Plan) -> None:
    # No relationships are mapped, so parents are flushed first to learn their ids.
    session.add_all(plan.patients)
    await session.flush()
    for patient, pregnancy in plan.pregnancies:
        pregnancy.patient_id = patient.id
    session.add_all(pregnancy for _, pregnancy in plan.pregnancies)
    await session.flush()
    # Nothing needs the children's ids, so they go in as executemany batches rather
    # than the unit of work's one INSERT … RETURNING per row on SQLite (ten times slower).
    await _bulk(
        session,
        RiskFactor,
        [{**_values(factor), "pregnancy_id": preg.id} for preg, factor in plan.factors],
    )
    await _bulk(
        session,
        PrenatalVisit,
        [{**_values(visit), "pregnancy_id": preg.id} for preg, visit in plan.visits],
    )
    await _bulk(
        session,
        LabResult,
        [
            {**_values(lab), "patient_id": patient.id, "pregnancy_id": preg.id if preg else None}
            for patient, preg, lab in plan.labs
        ],
    )
    await _bulk(
        session,
        UltrasoundExam,
        [
            {**_values(exam), "patient_id": patient.id, "pregnancy_id": preg.id}
            for patient, preg, exam in plan.exams
        ],
    )


async def _bulk(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]) -> None:
    if rows:
        # NULLs are sent, not omitted, so that every row has the same columns and the
        # whole list is one batch.
        await session.execute(insert(model).execution_options(render_nulls=True), rows)


def _values(row: Base) -> dict[str, Any]:
    """The column values given to a transient ORM object's constructor."""
    return {key: value for key, value in vars(row).items() if not key.startswith("_")}


# ---------------------------------------------------------------- reference data


def _load(name: str) -> Any:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class _Region:
    code: str
    area: str
    weight: int
    local_unit: str
    streets: tuple[str, ...]


@dataclass(frozen=True)
class _FactorTemplate:
    code: str
    weight: int
    min_weeks: int
    diagnoses: tuple[tuple[str, str | None], ...]
    needs_parity: bool


@dataclass(frozen=True)
class _LabItem:
    code: str
    name: str
    loinc: str
    local_code: str
    unit: str | None
    reference_range: str | None
    low: float | None = None
    high: float | None = None


_HGB = _LabItem("HGB", "血红蛋白", "718-7", "XCG-HGB", "g/L", "110-150", 110, 150)
_PLT = _LabItem("PLT", "血小板计数", "777-3", "XCG-PLT", "10^9/L", "125-350", 125, 350)
# Fasting glucose with the pregnancy cut-off (5.1 mmol/L) as its upper bound.
_GLU = _LabItem("GLU", "空腹血糖", "14771-0", "SH-GLU", "mmol/L", "3.9-5.1", 3.9, 5.1)
_ABO = _LabItem("ABO", "ABO血型", "883-9", "XX-ABO", None, None)
_RH = _LabItem("RH", "Rh(D)血型", "10331-7", "XX-RHD", None, None)
_INFECTIOUS = (
    _LabItem("HBSAG", "乙肝表面抗原", "5196-1", "MY-HBSAG", None, "阴性"),
    _LabItem("ANTI_HBS", "乙肝表面抗体", "10900-9", "MY-HBSAB", None, "阴性"),
    _LabItem("HBEAG", "乙肝e抗原", "13954-3", "MY-HBEAG", None, "阴性"),
    _LabItem("ANTI_HBE", "乙肝e抗体", "13953-5", "MY-HBEAB", None, "阴性"),
    _LabItem("ANTI_HBC", "乙肝核心抗体", "13952-7", "MY-HBCAB", None, "阴性"),
    _LabItem("HIV", "HIV抗体", "7918-6", "MY-HIV", None, "阴性"),
    _LabItem("TP", "梅毒螺旋体抗体", "24312-1", "MY-TP", None, "阴性"),
    _LabItem("RPR", "快速血浆反应素试验", "20507-0", "MY-RPR", None, "阴性"),
    _LabItem("HCV", "丙肝抗体", "13955-0", "MY-HCV", None, "阴性"),
)
_INFECTIOUS_BY_CODE = {item.code: item for item in _INFECTIOUS}
# Immunoassays whose analysers also print a signal-to-cutoff ratio.
_SCO_ITEMS = frozenset({"HBSAG", "HBEAG", "HIV", "TP", "HCV"})
# A positive anti-HBs means immunity, not disease, so it is not flagged.
_PROTECTIVE_ITEMS = frozenset({"ANTI_HBS"})

_HBV_PATTERNS: dict[str, frozenset[str]] = {
    "vaccinated": frozenset({"ANTI_HBS"}),
    "past": frozenset({"ANTI_HBS", "ANTI_HBE", "ANTI_HBC"}),
    "susceptible": frozenset(),
    "carrier_e_positive": frozenset({"HBSAG", "HBEAG", "ANTI_HBC"}),
    "carrier_e_negative": frozenset({"HBSAG", "ANTI_HBE", "ANTI_HBC"}),
}

_HYPERTENSIVE = frozenset({"Y-GESTATIONAL-HYPERTENSION", "O-SEVERE-PREECLAMPSIA"})
_DIABETIC = frozenset({"Y-GDM", "O-ENDOCRINE-MEDS"})
_FETAL_POSITIONS = ("头位", "LOA", "ROA", "LOT", "ROT", "臀位")
_FETAL_POSITION_WEIGHTS = (40, 25, 15, 6, 6, 4)
_PHONE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "156", "157", "158", "159", "177", "178", "180", "181", "182", "183", "186",
    "187", "188", "189", "198", "199",
)  # fmt: skip


# ---------------------------------------------------------------- generation


@dataclass(frozen=True)
class _Showcase:
    """A patient placed on purpose so every screen has something to show."""

    status: PregnancyStatus = PregnancyStatus.ACTIVE
    color: str = "GREEN"
    infections: frozenset[str] = frozenset()
    thick_nt: bool = False
    earlier: bool = False


_SHOWCASES = (
    _Showcase(color="GREEN"),
    _Showcase(color="YELLOW"),
    _Showcase(color="ORANGE", infections=frozenset({"HBV"})),
    _Showcase(color="RED"),
    _Showcase(color="RED", infections=frozenset({"HIV"})),
    _Showcase(color="GREEN", infections=frozenset({"SYPHILIS"})),
    _Showcase(color="YELLOW", thick_nt=True),
    _Showcase(color="GREEN", thick_nt=True, earlier=True),
    _Showcase(status=PregnancyStatus.DELIVERED, color="YELLOW", earlier=True),
    _Showcase(status=PregnancyStatus.ARCHIVED, color="ORANGE"),
)


@dataclass(frozen=True)
class _Course:
    """Where a pregnancy stands: care runs from booking to `end` (inclusive)."""

    lmp: dt.date
    booking: dt.date
    status: PregnancyStatus
    end: dt.date
    delivered_on: dt.date | None = None
    archived_on: dt.date | None = None

    @property
    def weeks_reached(self) -> int:
        return gestational_days(self.lmp, self.end) // 7


@dataclass(frozen=True)
class _Span:
    """A factor's code and the dates it was current, to tailor visit notes and labs."""

    code: str
    start: dt.date
    stop: dt.date | None


@dataclass
class _Plan:
    patients: list[Patient] = field(default_factory=list)
    pregnancies: list[tuple[Patient, Pregnancy]] = field(default_factory=list)
    factors: list[tuple[Pregnancy, RiskFactor]] = field(default_factory=list)
    visits: list[tuple[Pregnancy, PrenatalVisit]] = field(default_factory=list)
    labs: list[tuple[Patient, Pregnancy | None, LabResult]] = field(default_factory=list)
    exams: list[tuple[Patient, Pregnancy, UltrasoundExam]] = field(default_factory=list)


class _Builder:
    def __init__(
        self,
        rng: random.Random,
        today: dt.date,
        factor_table: dict[str, tuple[str, str]],
        doctor_id: int,
    ) -> None:
        self.rng = rng
        self.today = today
        self.factor_table = factor_table
        self.doctor_id = doctor_id
        self.plan = _Plan()
        people = _load("people.json")
        self.surnames: list[str] = list(people["surnames"])
        self.surname_weights: list[int] = list(people["surnames"].values())
        self.given_names: list[str] = people["given_names"]
        self.minority_surnames = frozenset(people["minority_surnames"])
        self.ethnicity_minority: dict[str, int] = people["ethnicity_if_minority_surname"]
        self.ethnicity_other: dict[str, int] = people["ethnicity_otherwise"]
        places = _load("regions.json")
        self.hospital: str = places["hospital"]
        self.estates: list[str] = places["estates"]
        self.regions = [
            _Region(r["code"], r["area"], r["weight"], r["local_unit"], tuple(r["streets"]))
            for r in places["regions"]
        ]
        clinical = _load("clinical.json")
        self.age_diagnosis: dict[str, str] = clinical["age_diagnosis"]
        # Only codes the dictionary knows: a hospital may have retired some.
        self.templates = {
            code: _FactorTemplate(
                code,
                spec["weight"],
                spec["min_weeks"],
                tuple((text, icd) for text, icd in spec["diagnoses"]),
                bool(spec.get("needs_parity", False)),
            )
            for code, spec in clinical["risk_factors"].items()
            if code in factor_table
        }
        self.remarks: dict[str, list[str]] = clinical["remarks"]
        # Some advice belongs to part of the pregnancy only (prenatal diagnosis before 20 weeks).
        self.factor_remarks: dict[str, tuple[list[str], int]] = {
            code: (group["texts"], group.get("before_weeks", 99))
            for group in clinical["factor_remarks"]
            for code in group["codes"]
        }
        self.placenta_resolved: str = clinical["placenta_resolved"]
        self.ultrasound: dict[str, Any] = clinical["ultrasound"]
        self.names: set[str] = set()
        self.resident_ids: set[str] = set()
        self.phones: set[str] = set()
        self.handbook_seq = 0
        self.lab_seq = 0
        self.exam_seq = 0
        self.condition_seq = 0

    # ------------------------------------------------------------ patients

    def build(self, count: int) -> _Plan:
        rng = self.rng
        showcase_at = dict(
            zip(rng.sample(range(count), min(count, len(_SHOWCASES))), _SHOWCASES, strict=False)
        )
        emr_numbers = rng.sample(range(10_000_000, 100_000_000), count)
        lis_numbers = rng.sample(range(1_000_000, 10_000_000), count)
        for index in range(count):
            self._patient(index, showcase_at.get(index), emr_numbers[index], lis_numbers[index])
        return self.plan

    def _patient(
        self, index: int, showcase: _Showcase | None, emr_number: int, lis_number: int
    ) -> None:
        rng = self.rng
        region = rng.choices(self.regions, [r.weight for r in self.regions])[0]
        surname, name = self._name()
        status = showcase.status if showcase else self._current_status()
        course = self._current_course(status, showcase)
        age = rng.randint(24, 32) if showcase else self._age()
        birth = self._birth_date(age)
        # Even the youngest demo mother is 17 at her current pregnancy.
        while _age_on(birth, course.lmp) < 17:
            birth = _years_before(birth, 1)
        courses = [course]
        wants_earlier = showcase.earlier if showcase else rng.random() < 0.35
        if wants_earlier and _age_on(birth, course.lmp) >= 21:
            earlier = self._earlier_course(course.lmp)
            if _age_on(birth, earlier.lmp) >= 18:
                courses.insert(0, earlier)
        infections = showcase.infections if showcase else self._infections()
        resident_id = self._resident_id(region.code, birth)
        first_booking = courses[0].booking
        patient = Patient(
            name=name,
            name_initials=name_initials(name),
            resident_id=resident_id,
            birth_date=birth,
            phone=self._phone(),
            address=self._address(region),
            ethnicity=self._ethnicity(surname),
            emr_record_no=f"EMR{emr_number:08d}",
            lis_record_no=f"LIS{lis_number:07d}",
            legacy_id=f"DEMO-{index + 1:06d}",
            created_at=_at(first_booking, rng, 8, 12),
            updated_at=_at(first_booking, rng, 12, 17),
            created_by=DOCTOR_USERNAME,
        )
        self.plan.patients.append(patient)

        gravidity, parity = self._obstetric_history(len(courses) == 2)
        hbv_pattern = self._hbv_pattern("HBV" in infections)
        blood_group = rng.choices(("O", "A", "B", "AB"), (34, 31, 28, 7))[0]
        rh_negative = rng.random() < 0.015
        # The earlier pregnancy ended in a birth: the current history counts that birth
        # and that pregnancy (and maybe a miscarriage since) on top of the earlier one.
        histories = [(gravidity, parity)]
        if len(courses) == 2:
            histories.insert(0, (max(parity, gravidity - rng.choice((1, 1, 2))), parity - 1))
        for position, (course_i, (g, p)) in enumerate(zip(courses, histories, strict=True)):
            current = position == len(courses) - 1
            if current and showcase:
                color = showcase.color
            elif current:
                color = rng.choices(("GREEN", "YELLOW", "ORANGE", "RED"), (38, 32, 21, 9))[0]
            else:
                color = rng.choices(("GREEN", "YELLOW", "ORANGE"), (60, 30, 10))[0]
            # Syphilis and HIV are found in the current pregnancy; hepatitis is lifelong.
            pregnancy_infections = infections if current else infections & {"HBV", "HCV"}
            pregnancy = self._pregnancy(course_i, region, g, p, current)
            self.plan.pregnancies.append((patient, pregnancy))
            spans = self._factors(
                pregnancy, course_i, color, _age_on(birth, course_i.lmp), p, pregnancy_infections
            )
            self._visits(pregnancy, course_i, spans)
            self._labs(
                patient,
                pregnancy,
                course_i,
                spans,
                pregnancy_infections,
                hbv_pattern,
                blood_group if position == 0 else None,
                rh_negative,
            )
            thick_nt = current and showcase is not None and showcase.thick_nt
            self._ultrasound(patient, pregnancy, course_i, thick_nt)
        if rng.random() < 0.6:
            self._pre_pregnancy_labs(patient, courses[0].lmp, hbv_pattern)

    def _name(self) -> tuple[str, str]:
        rng = self.rng
        while True:
            surname = rng.choices(self.surnames, self.surname_weights)[0]
            name = surname + rng.choice(self.given_names)
            if name not in self.names:
                self.names.add(name)
                return surname, name

    def _ethnicity(self, surname: str) -> str:
        table = (
            self.ethnicity_minority if surname in self.minority_surnames else self.ethnicity_other
        )
        return self.rng.choices(list(table), list(table.values()))[0]

    def _age(self) -> int:
        ages = list(range(17, 46))
        weights = [
            1 if age <= 18 else 3 if age <= 21 else 10 if age <= 34 else 4 if age <= 39 else 1
            for age in ages
        ]
        return self.rng.choices(ages, weights)[0]

    def _birth_date(self, age: int) -> dt.date:
        latest = _years_before(self.today, age)
        earliest = _years_before(self.today, age + 1) + _DAY
        return earliest + dt.timedelta(days=self.rng.randint(0, (latest - earliest).days))

    def _resident_id(self, region: str, birth: dt.date) -> str:
        while True:
            # An even sequence digit marks a woman (GB 11643).
            resident_id = make_resident_id(region, birth, self.rng.randrange(0, 1000, 2))
            if resident_id not in self.resident_ids:
                self.resident_ids.add(resident_id)
                return resident_id

    def _phone(self) -> str:
        while True:
            phone = self.rng.choice(_PHONE_PREFIXES) + f"{self.rng.randint(0, 99_999_999):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def _address(self, region: _Region) -> str:
        rng = self.rng
        address = f"广西{region.area}{rng.choice(region.streets)}{rng.randint(1, 399)}号"
        if rng.random() < 0.6:
            address += (
                f"{rng.choice(self.estates)}{rng.randint(1, 28)}栋{rng.randint(1, 4)}单元"
                f"{rng.randint(1, 32)}{rng.randint(1, 6):02d}室"
            )
        return address

    def _infections(self) -> frozenset[str]:
        # Rates are raised above Guangxi's real ones so that the purple list is not empty.
        rates = (("HBV", 0.09), ("SYPHILIS", 0.025), ("HIV", 0.01), ("HCV", 0.01))
        return frozenset(name for name, rate in rates if self.rng.random() < rate)

    def _hbv_pattern(self, infected: bool) -> frozenset[str]:
        rng = self.rng
        if infected:
            key = "carrier_e_positive" if rng.random() < 0.3 else "carrier_e_negative"
        else:
            key = rng.choices(("vaccinated", "past", "susceptible"), (60, 15, 25))[0]
        return _HBV_PATTERNS[key]

    def _obstetric_history(self, has_earlier: bool) -> tuple[int, int]:
        rng = self.rng
        if has_earlier:
            parity = rng.choices((1, 2, 3), (75, 20, 5))[0]
            return parity + rng.choices((1, 2, 3), (70, 22, 8))[0], parity
        gravidity = rng.choices((1, 2, 3, 4, 5), (45, 30, 15, 7, 3))[0]
        return gravidity, rng.choices(range(gravidity), [3**-p for p in range(gravidity)])[0]

    # ------------------------------------------------------------ pregnancies

    def _current_status(self) -> PregnancyStatus:
        return self.rng.choices(
            (PregnancyStatus.ACTIVE, PregnancyStatus.DELIVERED, PregnancyStatus.ARCHIVED),
            (72, 18, 10),
        )[0]

    def _current_course(self, status: PregnancyStatus, showcase: _Showcase | None) -> _Course:
        rng, today = self.rng, self.today
        if status is PregnancyStatus.ACTIVE:
            # Showcases are far enough along for an NT scan and mid-pregnancy findings.
            ga = rng.randint(16 * 7, 36 * 7) if showcase else rng.randint(7 * 7, 41 * 7)
            lmp = today - dt.timedelta(days=ga)
            booking = lmp + dt.timedelta(days=rng.randint(42, min(98, ga)))
            return _Course(lmp, booking, status, today)
        if status is PregnancyStatus.DELIVERED:
            term = rng.randint(245, 258) if rng.random() < 0.08 else rng.randint(259, 290)
            delivered = today - dt.timedelta(days=rng.randint(1, 240))
            lmp = delivered - dt.timedelta(days=term)
            booking = lmp + dt.timedelta(days=rng.randint(42, 98))
            return _Course(lmp, booking, status, delivered - _DAY, delivered_on=delivered)
        # Archived before delivery here: transferred out or lost to follow-up.
        lmp = today - dt.timedelta(days=rng.randint(120, 600))
        booking = lmp + dt.timedelta(days=rng.randint(42, 98))
        latest = min((lmp - booking).days + 280, (today - booking).days - 1)
        archived = booking + dt.timedelta(days=rng.randint(14, latest))
        return _Course(lmp, booking, status, archived, archived_on=archived)

    def _earlier_course(self, before: dt.date) -> _Course:
        rng = self.rng
        delivered = before - dt.timedelta(days=rng.randint(300, 5 * 365))
        lmp = delivered - dt.timedelta(days=rng.randint(259, 290))
        booking = lmp + dt.timedelta(days=rng.randint(42, 98))
        if rng.random() < 0.3:
            # Closed at the 42-day postpartum check.
            archived = delivered + dt.timedelta(days=42)
            return _Course(
                lmp, booking, PregnancyStatus.ARCHIVED, delivered - _DAY, delivered, archived
            )
        return _Course(lmp, booking, PregnancyStatus.DELIVERED, delivered - _DAY, delivered)

    def _pregnancy(
        self, course: _Course, region: _Region, gravidity: int, parity: int, current: bool
    ) -> Pregnancy:
        rng = self.rng
        self.handbook_seq += 1
        at_hospital = rng.random() < (0.9 if current else 0.6)
        booked_at = _at(course.booking, rng, 8, 12)
        archived_by = rng.choice((DOCTOR_USERNAME, "admin")) if course.archived_on else None
        return Pregnancy(
            lmp=course.lmp,
            edd=edd_from_lmp(course.lmp),
            edd_from_lmp=True,
            gravidity=gravidity,
            parity=parity,
            booking_date=course.booking,
            booking_unit=self.hospital if at_hospital else region.local_unit,
            handbook_no=f"{region.code}{course.booking.year}{self.handbook_seq:05d}",
            status=course.status.value,
            delivered_on=course.delivered_on,
            delivered_recorded_by=DOCTOR_USERNAME if course.delivered_on else None,
            archived_at=_at(course.archived_on, rng, 9, 17) if course.archived_on else None,
            archived_by=archived_by,
            created_at=booked_at,
            updated_at=booked_at,
            created_by=DOCTOR_USERNAME,
        )

    # ------------------------------------------------------------ risk factors

    def _factors(
        self,
        pregnancy: Pregnancy,
        course: _Course,
        color: str,
        age: int,
        parity: int,
        infections: frozenset[str],
    ) -> list[_Span]:
        rng = self.rng
        weeks = course.weeks_reached
        codes: list[str] = []
        if age >= 40:
            codes.append("O-AGE40")
        elif age >= 35 or age <= 18:
            codes.append("Y-AGE")
        if color == "YELLOW":
            codes += self._pick("YELLOW", rng.choice((1, 1, 2)), weeks, parity, codes)
        elif color == "ORANGE":
            codes += self._pick("ORANGE", 1, weeks, parity, codes)
            codes += self._pick("YELLOW", rng.choice((0, 1)), weeks, parity, codes)
        elif color == "RED":
            codes += self._pick("RED", 1, weeks, parity, codes)
            codes += self._pick(
                rng.choice(("YELLOW", "ORANGE")), rng.choice((0, 1)), weeks, parity, codes
            )
        if "HBV" in infections:
            codes.append("P-HEPATITIS")
            if rng.random() < 0.3:
                codes.append("Y-HBV-CARRIER")
        for infection, code in (("SYPHILIS", "P-SYPHILIS"), ("HIV", "P-HIV"), ("HCV", "P-HCV")):
            if infection in infections:
                codes.append(code)
        if rng.random() < 0.005:
            codes.append("P-TB")

        current = [code for code in codes if code in self.factor_table]
        spans = [self._factor(pregnancy, course, code, age) for code in current]
        graded = grade((code, self.factor_table[code][1]) for code in current)
        pregnancy.risk_color = graded.color.value
        pregnancy.infectious_flag = graded.infectious

        if (
            weeks >= 33
            and "Y-LOW-PLACENTA" in self.factor_table
            and "Y-LOW-PLACENTA" not in current
            and rng.random() < 0.06
        ):
            spans.append(self._resolved_low_placenta(pregnancy, course))
        return spans

    def _pick(
        self, color: str, count: int, weeks: int, parity: int, taken: Sequence[str]
    ) -> list[str]:
        candidates = [
            t
            for t in self.templates.values()
            if t.weight > 0
            and self.factor_table[t.code][1] == color
            and t.min_weeks <= weeks
            and (parity > 0 or not t.needs_parity)
            and t.code not in taken
        ]
        picked: list[str] = []
        while candidates and len(picked) < count:
            choice = self.rng.choices(candidates, [t.weight for t in candidates])[0]
            candidates.remove(choice)
            picked.append(choice.code)
        return picked

    def _factor(self, pregnancy: Pregnancy, course: _Course, code: str, age: int) -> _Span:
        rng = self.rng
        name, color = self.factor_table[code]
        template = self.templates.get(code)
        if code in ("Y-AGE", "O-AGE40"):
            key = "young" if age <= 18 else "old"
            diagnosis, icd10 = self.age_diagnosis[key].format(age=age), None
        elif template and template.diagnoses:
            diagnosis, icd10 = rng.choice(template.diagnoses)
        else:
            diagnosis, icd10 = name, None
        from_emr = icd10 is not None and rng.random() < 0.75
        min_weeks = template.min_weeks if template else 0
        found = max(course.booking, course.lmp + dt.timedelta(weeks=min_weeks))
        found = min(found + dt.timedelta(days=rng.randint(0, 14)), course.end)
        recorded_at = self._past(found, 8, 17)
        self.condition_seq += 1
        self.plan.factors.append(
            (
                pregnancy,
                RiskFactor(
                    code=code,
                    name=name,
                    color=color,
                    diagnosis=diagnosis,
                    diagnosis_source="EMR" if from_emr else "MANUAL",
                    icd10_code=icd10 if from_emr else None,
                    emr_condition_id=f"Condition/{self.condition_seq:07d}" if from_emr else None,
                    recorded_by=DOCTOR_USERNAME,
                    recorded_at=recorded_at,
                    updated_at=recorded_at,
                ),
            )
        )
        return _Span(code, found, None)

    def _resolved_low_placenta(self, pregnancy: Pregnancy, course: _Course) -> _Span:
        # A factor removed later: the grading must ignore it, its history must stay.
        rng = self.rng
        code = "Y-LOW-PLACENTA"
        name, color = self.factor_table[code]
        found = course.lmp + dt.timedelta(days=rng.randint(20 * 7, 24 * 7))
        cleared = course.lmp + dt.timedelta(days=rng.randint(32 * 7, 33 * 7))
        recorded_at = self._past(found, 8, 17)
        removed_at = self._past(cleared, 8, 17)
        self.plan.factors.append(
            (
                pregnancy,
                RiskFactor(
                    code=code,
                    name=name,
                    color=color,
                    diagnosis="低置胎盘",
                    diagnosis_source="MANUAL",
                    recorded_by=DOCTOR_USERNAME,
                    recorded_at=recorded_at,
                    updated_by=DOCTOR_USERNAME,
                    updated_at=removed_at,
                    removed_at=removed_at,
                    removed_by=DOCTOR_USERNAME,
                    removal_reason=self.placenta_resolved,
                    version=2,
                ),
            )
        )
        return _Span(code, found, cleared)

    def _past(self, day: dt.date, from_hour: int, to_hour: int) -> dt.datetime:
        """`_at`, except that a moment today is today's first minute: never in the future."""
        moment = _at(day, self.rng, from_hour, to_hour)
        if day >= self.today:
            return dt.datetime.combine(self.today, dt.time(0, 0), tzinfo=_CST).astimezone(dt.UTC)
        return moment

    # ------------------------------------------------------------ visits

    def _visits(self, pregnancy: Pregnancy, course: _Course, spans: list[_Span]) -> None:
        rng = self.rng
        dates = [course.booking]
        while True:
            weeks = gestational_days(course.lmp, dates[-1]) // 7
            step = (28 if weeks < 28 else 14 if weeks < 36 else 7) + rng.randint(-3, 3)
            following = dates[-1] + dt.timedelta(days=step)
            if following > course.end:
                break
            dates.append(following)
        if len(dates) > 10:
            dates = [dates[0], *sorted(rng.sample(dates[1:], 9))]

        codes = {span.code for span in spans if span.stop is None}
        overweight = bool(codes & {"Y-BMI", "O-BMI28"})
        start_weight = rng.uniform(64.0, 76.0) if overweight else rng.uniform(45.0, 64.0)
        kilos = 0.0
        base_systolic, base_diastolic = rng.randint(98, 120), rng.randint(60, 76)
        base_girth = rng.uniform(78.0, 86.0)
        twins = "Y-TWINS" in codes
        for index, day in enumerate(dates):
            days = gestational_days(course.lmp, day)
            weeks = days // 7
            gain = 0.1 * weeks if weeks <= 13 else 1.3 + (0.55 if twins else 0.45) * (weeks - 13)
            # Scale noise must not make the curve dip between close visits.
            kilos = max(kilos, min(90.0, round(start_weight + gain + rng.uniform(-0.3, 0.3), 1)))
            active = [s.code for s in spans if s.start <= day and (s.stop is None or day < s.stop)]
            if weeks >= 20 and _HYPERTENSIVE & set(active):
                systolic, diastolic = rng.randint(138, 152), rng.randint(88, 98)
            else:
                systolic = min(139, base_systolic + rng.randint(-6, 8))
                diastolic = min(89, base_diastolic + rng.randint(-5, 6))
            fundal = float(round(weeks - 4 + rng.uniform(-1.5, 1.5))) if weeks >= 20 else None
            girth = base_girth + 0.8 * max(0, weeks - 12) + rng.uniform(-1.0, 1.0)
            position: str | None = None
            if weeks >= 28:
                position = (
                    "臀位"
                    if "Y-MALPRESENTATION" in active and weeks >= 34
                    else rng.choices(_FETAL_POSITIONS, _FETAL_POSITION_WEIGHTS)[0]
                )
            at = _at(day, rng, 8, 17)
            self.plan.visits.append(
                (
                    pregnancy,
                    PrenatalVisit(
                        visit_date=day,
                        gestational_days=days,
                        weight_kg=kilos,
                        systolic_bp=systolic,
                        diastolic_bp=diastolic,
                        fundal_height_cm=fundal,
                        abdominal_circumference_cm=round(min(110.0, max(80.0, girth)), 1),
                        fetal_heart_rate=rng.randint(120, 160) if weeks >= 12 else None,
                        fetal_position=position,
                        remarks=self._remark(index == 0, weeks, active),
                        next_visit_date=day + dt.timedelta(days=rng.choice((14, 21, 28))),
                        doctor_id=self.doctor_id,
                        doctor_name=DOCTOR_NAME,
                        created_at=at,
                        updated_at=at,
                    ),
                )
            )

    def _remark(self, booking: bool, weeks: int, active: list[str]) -> str | None:
        rng = self.rng
        roll = rng.random()
        if booking and roll < 0.85:
            return rng.choice(self.remarks["booking"])
        if roll < 0.1:
            return None
        specific = [
            text
            for code in active
            if code in self.factor_remarks and weeks < self.factor_remarks[code][1]
            for text in self.factor_remarks[code][0]
        ]
        if specific and roll < 0.55:
            return rng.choice(specific)
        stage = (
            "early" if weeks < 14 else "middle" if weeks < 28 else "late" if weeks < 37 else "term"
        )
        return rng.choice(self.remarks[stage])

    # ------------------------------------------------------------ laboratory

    def _labs(
        self,
        patient: Patient,
        pregnancy: Pregnancy,
        course: _Course,
        spans: list[_Span],
        infections: frozenset[str],
        hbv_pattern: frozenset[str],
        blood_group: str | None,
        rh_negative: bool,
    ) -> None:
        rng = self.rng
        codes = {span.code for span in spans if span.stop is None}
        if "R-SEVERE-ANAEMIA" in codes:
            haemoglobin = rng.uniform(36.0, 45.0)
        elif "O-SEVERE-ANAEMIA" in codes:
            haemoglobin = rng.uniform(50.0, 60.0)
        elif "Y-ANAEMIA" in codes:
            haemoglobin = rng.uniform(88.0, 106.0)
        else:
            haemoglobin = rng.gauss(122.0, 8.0)
        if "O-THROMBOCYTOPENIA" in codes:
            platelets = rng.uniform(32.0, 48.0)
        elif "Y-THROMBOCYTOPENIA" in codes:
            platelets = rng.uniform(60.0, 95.0)
        else:
            platelets = rng.uniform(150.0, 320.0)
        diabetic = bool(codes & _DIABETIC)

        def blood_count(day: dt.date, drop: float) -> None:
            self._numeric(patient, pregnancy, _HGB, day, round(haemoglobin - drop, 0))
            self._numeric(patient, pregnancy, _PLT, day, round(platelets + rng.uniform(-15, 15)))

        booked = min(course.booking + dt.timedelta(days=rng.randint(0, 2)), course.end)
        blood_count(booked, 0.0)
        self._numeric(patient, pregnancy, _GLU, booked, round(rng.uniform(4.0, 5.0), 2))
        if blood_group:
            self._text(patient, pregnancy, _ABO, booked, blood_group, None, None)
            rh = ("阴性", "NEGATIVE", "A") if rh_negative else ("阳性", "POSITIVE", None)
            self._text(patient, pregnancy, _RH, booked, *rh)

        positive = set(hbv_pattern)
        if "SYPHILIS" in infections:
            positive |= {"TP", "RPR"}
        if "HIV" in infections:
            positive.add("HIV")
        if "HCV" in infections:
            positive.add("HCV")
        # Often each screening item is drawn or reported on a different day; the
        # platform must push every item with its own date.
        spread = rng.random() < 0.35
        for item in _INFECTIOUS:
            day = booked + dt.timedelta(days=rng.randint(0, 14)) if spread else booked
            self._screen(patient, pregnancy, item, min(day, course.end), item.code in positive)

        mid = course.lmp + dt.timedelta(days=rng.randint(24 * 7, 28 * 7))
        if mid <= course.end:
            blood_count(mid, rng.uniform(3.0, 8.0))
            glucose = rng.uniform(5.2, 6.8) if diabetic else rng.uniform(4.0, 5.0)
            self._numeric(patient, pregnancy, _GLU, mid, round(glucose, 2))
        late = course.lmp + dt.timedelta(days=rng.randint(32 * 7, 36 * 7))
        if late <= course.end:
            blood_count(late, rng.uniform(5.0, 10.0))
            if rng.random() < 0.5:
                for code in ("HBSAG", "HIV", "TP"):
                    day = min(late + dt.timedelta(days=rng.randint(0, 7)), course.end)
                    item = _INFECTIOUS_BY_CODE[code]
                    self._screen(patient, pregnancy, item, day, code in positive)

    def _pre_pregnancy_labs(
        self, patient: Patient, first_lmp: dt.date, hbv_pattern: frozenset[str]
    ) -> None:
        # 孕前优生健康检查: results before any pregnancy record, so no pregnancy id.
        rng = self.rng
        day = first_lmp - dt.timedelta(days=rng.randint(60, 1400))
        self._numeric(patient, None, _HGB, day, round(rng.gauss(125.0, 8.0)))
        self._numeric(patient, None, _PLT, day, round(rng.uniform(150.0, 320.0)))
        self._numeric(patient, None, _GLU, day, round(rng.uniform(4.1, 5.4), 2))
        for code in ("HBSAG", "HIV", "TP"):
            self._screen(patient, None, _INFECTIOUS_BY_CODE[code], day, code in hbv_pattern)

    def _numeric(
        self,
        patient: Patient,
        pregnancy: Pregnancy | None,
        item: _LabItem,
        day: dt.date,
        value: float,
    ) -> None:
        flag = None
        if item.low is not None and value < item.low:
            flag = "L"
        elif item.high is not None and value > item.high:
            flag = "H"
        self._result(patient, pregnancy, item, day, value_numeric=float(value), abnormal_flag=flag)

    def _text(
        self,
        patient: Patient,
        pregnancy: Pregnancy | None,
        item: _LabItem,
        day: dt.date,
        text: str,
        qualitative: str | None,
        flag: str | None,
    ) -> None:
        self._result(
            patient,
            pregnancy,
            item,
            day,
            value_text=text,
            value_qualitative=qualitative,
            abnormal_flag=flag,
        )

    def _screen(
        self,
        patient: Patient,
        pregnancy: Pregnancy | None,
        item: _LabItem,
        day: dt.date,
        positive: bool,
    ) -> None:
        rng = self.rng
        ratio: float | None = None
        if item.code in _SCO_ITEMS and rng.random() < 0.5:
            ratio = round(rng.uniform(8.0, 300.0) if positive else rng.uniform(0.05, 0.6), 2)
        flag = "A" if positive and item.code not in _PROTECTIVE_ITEMS else None
        self._result(
            patient,
            pregnancy,
            item,
            day,
            value_numeric=ratio,
            value_qualitative="POSITIVE" if positive else "NEGATIVE",
            value_text="阳性" if positive else "阴性",
            abnormal_flag=flag,
            unit="S/CO" if ratio is not None else None,
            reference_range="<1.00" if ratio is not None else item.reference_range,
        )

    def _result(
        self,
        patient: Patient,
        pregnancy: Pregnancy | None,
        item: _LabItem,
        day: dt.date,
        *,
        value_numeric: float | None = None,
        value_qualitative: str | None = None,
        value_text: str | None = None,
        abnormal_flag: str | None = None,
        unit: str | None = None,
        reference_range: str | None = None,
    ) -> None:
        rng = self.rng
        self.lab_seq += 1
        specimen_at = _at(day, rng, 7, 10)
        reported_at = specimen_at + dt.timedelta(minutes=rng.randint(90, 360))
        self.plan.labs.append(
            (
                patient,
                pregnancy,
                LabResult(
                    item_code=item.code,
                    item_name=item.name,
                    loinc=item.loinc,
                    local_code=item.local_code,
                    value_numeric=value_numeric,
                    value_qualitative=value_qualitative,
                    value_text=value_text,
                    unit=unit or item.unit,
                    reference_range=reference_range or item.reference_range,
                    abnormal_flag=abnormal_flag,
                    specimen_at=specimen_at,
                    reported_at=reported_at,
                    source="LIS",
                    source_id=f"LIS-{day:%Y%m%d}-{self.lab_seq:07d}",
                    received_at=reported_at + dt.timedelta(minutes=rng.randint(1, 10)),
                ),
            )
        )

    # ------------------------------------------------------------ ultrasound

    def _ultrasound(
        self, patient: Patient, pregnancy: Pregnancy, course: _Course, thick: bool
    ) -> None:
        rng = self.rng
        if course.weeks_reached < 14 or (not thick and rng.random() < 0.12):
            return
        booked_day = gestational_days(course.lmp, course.booking)
        days = rng.randint(max(77, booked_day) if booked_day <= 97 else 77, 97)
        day = course.lmp + dt.timedelta(days=days)
        # Robinson's formula inverted: CRL (mm) from gestational age (days).
        crl = float(round(min(84.0, max(45.0, ((days - 23.73) / 8.052) ** 2 + rng.gauss(0, 2)))))
        roll = rng.random()
        nt: float | None = None
        if not thick and roll < 0.04:
            status = NtExtractionStatus.NOT_MEASURED
            text = self.ultrasound["not_measured"].format(crl=f"{crl:.0f}")
        elif not thick and roll < 0.08:
            status = NtExtractionStatus.NOT_FOUND
            text = self.ultrasound["not_found"].format(crl=f"{crl:.0f}")
        else:
            status = NtExtractionStatus.EXTRACTED
            if thick or roll > 0.97:
                nt = round(rng.uniform(3.0, 4.5), 1)
            else:
                nt = round(min(2.8, max(0.8, rng.gauss(1.6, 0.4))), 1)
            text = rng.choice(self.ultrasound["extracted"]).format(
                crl=f"{crl:.0f}",
                nt=f"{nt:.1f}",
                fhr=rng.randint(140, 170),
                weeks=days // 7,
                days=days % 7,
            )
            if nt >= 3.0:
                text += self.ultrasound["thick_nt"]
        self.exam_seq += 1
        self.plan.exams.append(
            (
                patient,
                pregnancy,
                UltrasoundExam(
                    exam_date=day,
                    report_text=text,
                    nt_mm=nt,
                    crl_mm=crl,
                    gestational_days=days,
                    extraction_status=status.value,
                    source="RIS",
                    source_id=f"RIS-{day:%Y%m%d}-{self.exam_seq:06d}",
                    received_at=_at(day, rng, 10, 17),
                ),
            )
        )


# ---------------------------------------------------------------- date helpers


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


def _age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _at(day: dt.date, rng: random.Random, from_hour: int, to_hour: int) -> dt.datetime:
    """A clinic-hours moment on `day` (Beijing time), as a UTC timestamp."""
    minute = rng.randint(from_hour * 60, to_hour * 60 - 1)
    local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=_CST)
    return local.astimezone(dt.UTC)
