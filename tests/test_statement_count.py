"""SQL statements per request do not grow with the length of the list (DataLoaders)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from domain.database import utcnow
from domain.lab.models import LabResult
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy
from domain.risk.models import RiskFactor
from domain.ultrasound.models import UltrasoundExam
from domain.visit.models import PrenatalVisit
from tests.conftest import Api
from tests.helpers import resident_id

WORKLIST = """
query Worklist($first: Int) {
  pregnancies(first: $first, filter: {status: "ACTIVE"}) {
    totalCount
    edges {
      node {
        id edd riskColor infectious gestationalAgeToday { text }
        patient {
          name residentId
          labResults(first: 3) { totalCount edges { node { itemCode valueText reportedAt } } }
        }
        visits { visitDate remarks weightKg }
        riskFactors { code diagnosis }
        riskAssessment { color colorFactors { code } }
        ultrasoundExams { ntMm extractionStatus }
      }
    }
  }
}
"""


async def _seed(api: Api, count: int) -> None:
    today = dt.date.today()
    async with api.services.db.transaction() as session:
        for n in range(count):
            patient = Patient(
                name=f"测试{n}",
                name_initials="CS",
                resident_id=resident_id(n),
                birth_date=dt.date(1994, 5, 17),
            )
            session.add(patient)
            await session.flush()
            lmp = today - dt.timedelta(days=100)
            pregnancy = Pregnancy(
                patient_id=patient.id,
                lmp=lmp,
                edd=lmp + dt.timedelta(days=280),
                gravidity=1,
                parity=0,
                booking_date=lmp + dt.timedelta(days=60),
                risk_color="YELLOW",
            )
            session.add(pregnancy)
            await session.flush()
            session.add_all(
                [
                    PrenatalVisit(
                        pregnancy_id=pregnancy.id,
                        visit_date=lmp + dt.timedelta(days=d),
                        gestational_days=d,
                        weight_kg=55.0,
                        remarks="血压正常",
                    )
                    for d in (60, 80)
                ]
            )
            session.add(
                RiskFactor(
                    pregnancy_id=pregnancy.id, code="Y-GDM", name="妊娠期糖尿病", color="YELLOW"
                )
            )
            session.add(
                UltrasoundExam(
                    patient_id=patient.id,
                    pregnancy_id=pregnancy.id,
                    exam_date=lmp + dt.timedelta(days=84),
                    report_text="NT 1.5mm",
                    nt_mm=1.5,
                    extraction_status="EXTRACTED",
                    source="RIS",
                    source_id=f"us-{n}",
                )
            )
            session.add_all(
                [
                    LabResult(
                        patient_id=patient.id,
                        item_code="HGB",
                        item_name="血红蛋白",
                        value_numeric=118,
                        value_text="118",
                        reported_at=utcnow(),
                        source="LIS",
                        source_id=f"lab-{n}-{k}",
                    )
                    for k in range(5)
                ]
            )


@contextmanager
def counting(api: Api) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = api.services.db.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _statements_for(api: Api, first: int) -> tuple[int, list[str]]:
    with counting(api) as statements:
        body = await api.gql(WORKLIST, {"first": first})
        await api.flush_audit()
    assert "errors" not in body, body
    return len(body["data"]["pregnancies"]["edges"]), statements


async def test_nested_pregnancy_list_uses_the_same_statements_for_10_and_100(api: Api) -> None:
    await _seed(api, 100)

    rows_10, statements_10 = await _statements_for(api, 10)
    rows_100, statements_100 = await _statements_for(api, 100)

    assert (rows_10, rows_100) == (10, 100)
    assert len(statements_10) == len(statements_100), (statements_10, statements_100)
    # token lookup, page, count, patients, visits, factors, exams, lab page, lab count, audit insert
    assert len(statements_100) <= 10
