"""GraphQL documents and small builders shared by the API tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.patient.rules import make_resident_id
from tests.conftest import Api

TODAY = dt.date.today()

REGISTER = """
mutation Register($input: RegisterPatientInput!) {
  registerPatient(input: $input) {
    patient { id name nameInitials residentId birthDate phone ethnicity identifiersMasked }
    userErrors { field message code }
  }
}
"""

BOOK = """
mutation Book($input: BookPregnancyInput!) {
  bookPregnancy(input: $input) {
    pregnancy { id lmp edd eddFromLmp gravidity parity bookingDate status riskColor infectious
                gestationalAgeToday { weeks days text } }
    userErrors { field message code }
  }
}
"""

RECORD_VISIT = """
mutation Visit($input: RecordVisitInput!) {
  recordVisit(input: $input) {
    visit { id visitDate gestationalAge { text totalDays } weightKg systolicBp diastolicBp
            fundalHeightCm abdominalCircumferenceCm fetalHeartRate fetalPosition remarks
            nextVisitDate doctorName version }
    userErrors { field message code }
  }
}
"""

ADD_FACTOR = """
mutation Add($input: AddRiskFactorInput!) {
  addRiskFactor(input: $input) {
    riskFactor { id code name color diagnosis diagnosisSource icd10Code version }
    userErrors { field message code }
  }
}
"""

PREGNANCY_RISK = """
query Risk($id: ID!) {
  node(id: $id) {
    ... on Pregnancy {
      riskColor infectious
      riskAssessment { color infectious colorFactors { code } infectiousFactors { code } rule }
    }
  }
}
"""


def resident_id(
    sequence: int, birth: dt.date = dt.date(1994, 5, 17), region: str = "450103"
) -> str:
    return make_resident_id(region, birth, sequence)


def patient_input(sequence: int = 1, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "黄丽萍",
        "residentId": resident_id(sequence),
        "phone": f"1387710{sequence:04d}",
        "address": "广西南宁市青秀区民族大道100号",
        "ethnicity": "壮族",
    }
    values.update(overrides)
    return values


async def register(api: Api, sequence: int = 1, **overrides: Any) -> str:
    body = await api.gql(REGISTER, {"input": patient_input(sequence, **overrides)})
    payload = body["data"]["registerPatient"]
    assert payload["userErrors"] == [], payload
    return str(payload["patient"]["id"])


async def book(api: Api, patient_id: str, *, weeks: int = 12, **overrides: Any) -> dict[str, Any]:
    lmp = TODAY - dt.timedelta(weeks=weeks)
    values: dict[str, Any] = {
        "patientId": patient_id,
        "lmp": lmp.isoformat(),
        "gravidity": 2,
        "parity": 1,
        "bookingDate": TODAY.isoformat(),
    }
    values.update(overrides)
    body = await api.gql(BOOK, {"input": values})
    payload: dict[str, Any] = body["data"]["bookPregnancy"]
    assert payload["userErrors"] == [], payload
    return dict(payload["pregnancy"])


async def add_factor(api: Api, pregnancy_id: str, code: str, **extra: Any) -> dict[str, Any]:
    body = await api.gql(
        ADD_FACTOR, {"input": {"pregnancyId": pregnancy_id, "code": code, **extra}}
    )
    payload: dict[str, Any] = body["data"]["addRiskFactor"]
    assert payload["userErrors"] == [], payload
    return dict(payload["riskFactor"])


async def count_rows(api: Api, table: str) -> int:
    from sqlalchemy import text

    async with api.services.db.reader() as session:
        return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608 (fixed table names from tests)
