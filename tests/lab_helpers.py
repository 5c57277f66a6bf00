"""Builders shared by the lab tests: patients and pregnancies in the database, FHIR
Observations for the LIS simulator, and lab results as the ingestion receives them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.database import Database
from domain.lab.service import IncomingResult
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from graphql_schema.base import to_global_id
from tests.helpers import resident_id

CST = dt.timezone(dt.timedelta(hours=8))
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
LOCAL = "http://lis.gxmch.example.cn/fhir/CodeSystem/item"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def cst(year: int, month: int, day: int, hour: int = 8, minute: int = 30) -> dt.datetime:
    """A Beijing-time moment as the UTC timestamp the database holds."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=CST).astimezone(dt.UTC)


async def seed_patient(
    db: Database,
    sequence: int = 1,
    *,
    lis_record_no: str | None = "LIS0000001",
    lmp: dt.date | None = dt.date(2024, 1, 10),
    delivered_on: dt.date | None = None,
    status: str = PregnancyStatus.ACTIVE,
) -> tuple[int, int | None]:
    """A patient (and a pregnancy from `lmp`, unless None); their database ids."""
    async with db.transaction() as session:
        patient = Patient(
            name="黄丽萍",
            name_initials="HLP",
            resident_id=resident_id(sequence),
            birth_date=dt.date(1994, 5, 17),
            lis_record_no=lis_record_no,
        )
        session.add(patient)
        await session.flush()
        if lmp is None:
            return patient.id, None
        pregnancy = Pregnancy(
            patient_id=patient.id,
            lmp=lmp,
            edd=lmp + dt.timedelta(days=280),
            gravidity=1,
            parity=0,
            booking_date=lmp + dt.timedelta(days=50),
            status=status,
            delivered_on=delivered_on,
            risk_color="GREEN",
            infectious_flag=False,
        )
        session.add(pregnancy)
        await session.flush()
        return patient.id, pregnancy.id


async def add_pregnancy(
    db: Database, patient_id: int, lmp: dt.date, *, delivered_on: dt.date | None = None
) -> int:
    async with db.transaction() as session:
        pregnancy = Pregnancy(
            patient_id=patient_id,
            lmp=lmp,
            edd=lmp + dt.timedelta(days=280),
            gravidity=2,
            parity=1 if delivered_on is None else 0,
            booking_date=lmp + dt.timedelta(days=50),
            status=PregnancyStatus.DELIVERED if delivered_on else PregnancyStatus.ACTIVE,
            delivered_on=delivered_on,
            risk_color="GREEN",
            infectious_flag=False,
        )
        session.add(pregnancy)
        await session.flush()
        return pregnancy.id


def incoming(
    patient_id: int,
    source_id: str,
    raw_value: str,
    *,
    local_code: str | None = "MY-HBSAG",
    loinc: str | None = None,
    specimen_at: dt.datetime | None = None,
    reported_at: dt.datetime | None = None,
    **extra: Any,
) -> IncomingResult:
    taken = specimen_at or cst(2024, 3, 1)
    return IncomingResult(
        patient_id=patient_id,
        source="LIS",
        source_id=source_id,
        raw_value=raw_value,
        reported_at=reported_at or taken + dt.timedelta(hours=3),
        local_code=local_code,
        loinc=loinc,
        specimen_at=taken,
        **extra,
    )


def observation(
    obs_id: str,
    *,
    loinc: str | None = "5196-1",
    local: str | None = "MY-HBSAG",
    name: str = "乙肝表面抗原",
    effective: str | None = "2024-03-01T08:30:00+08:00",
    issued: str | None = "2024-03-01T11:00:00+08:00",
    patient: str | None = None,
    **value: Any,
) -> dict[str, Any]:
    """A FHIR laboratory Observation; `value` holds valueX, interpretation, referenceRange."""
    coding = []
    if loinc:
        coding.append({"system": LOINC, "code": loinc, "display": name})
    if local:
        coding.append({"system": LOCAL, "code": local, "display": name})
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": obs_id,
        "status": "final",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"coding": coding, "text": name},
    }
    if patient:
        resource["subject"] = {"reference": f"Patient/{patient}"}
    if effective:
        resource["effectiveDateTime"] = effective
    if issued:
        resource["issued"] = issued
    resource.update(value)
    return resource


def entry(resource: object) -> dict[str, Any]:
    return {"resource": resource, "search": {"mode": "match"}}


def snomed(positive: bool, text: str | None = None) -> dict[str, Any]:
    code = ("10828004", "Positive") if positive else ("260385009", "Negative")
    concept: dict[str, Any] = {"coding": [{"system": SNOMED, "code": code[0], "display": code[1]}]}
    if text:
        concept["text"] = text
    return concept


def reading(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": V3, "code": code}]}]


def gid(kind: str, row_id: int | None) -> str:
    assert row_id is not None
    return str(to_global_id(kind, row_id))
