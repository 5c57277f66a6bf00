"""`UltrasoundExam.matchedText`, `ntAtOrAboveCutoff` and `fetuses` for exams made by `record_report`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from domain.database import Database
from domain.ultrasound.models import UltrasoundExam
from domain.ultrasound.service import record_report
from graphql_schema.base import from_global_id
from tests.conftest import Api
from tests.helpers import TODAY, book, register

SCANS = """
query Scans($id: ID!) {
  node(id: $id) {
    ... on Pregnancy {
      ultrasoundExams { examDate ntMm crlMm gestationalAge { text } extractionStatus
                        matchedText ntAtOrAboveCutoff fetuses { label ntMm } source }
    }
  }
}
"""

TWINS = "双胎妊娠。胎儿A：NT 1.2mm，头臀长58mm；胎儿B：NT 1.4mm，头臀长60mm。孕12+3周"
SINGLE = "宫内单活胎，NT：２.８mm，CRL 55mm，相当于孕12周"


async def test_new_fields_for_exams_recorded_by_the_service(api: Api, db: Database) -> None:
    patient_gid = await register(api, 11)
    pregnancy = await book(api, patient_gid, weeks=13)
    patient_id = from_global_id(patient_gid)[1]
    pregnancy_id = from_global_id(pregnancy["id"])[1]
    async with db.transaction() as session:
        for days_ago, text, source_id in (
            (7, SINGLE, "MANUAL-1"),
            (0, TWINS, "MANUAL-2"),
            (0, "宫内早孕，NT未测", "MANUAL-3"),
        ):
            await record_report(
                session,
                patient_id=patient_id,
                pregnancy_id=pregnancy_id,
                exam_date=TODAY - dt.timedelta(days=days_ago),
                text=text,
                source="MANUAL",
                source_id=source_id,
                cutoff_mm=1.4,
            )

    body = await api.gql(SCANS, {"id": pregnancy["id"]})

    assert body == {
        "data": {
            "node": {
                "ultrasoundExams": [
                    {
                        "examDate": (TODAY - dt.timedelta(days=7)).isoformat(),
                        "ntMm": 2.8,
                        "crlMm": 55.0,
                        "gestationalAge": {"text": "12+0"},
                        "extractionStatus": "EXTRACTED",
                        "matchedText": "NT:2.8mm",
                        "ntAtOrAboveCutoff": True,
                        "fetuses": [{"label": None, "ntMm": 2.8}],
                        "source": "MANUAL",
                    },
                    {
                        "examDate": TODAY.isoformat(),
                        "ntMm": None,
                        "crlMm": None,
                        "gestationalAge": {"text": "12+3"},
                        "extractionStatus": "MULTIPLE",
                        "matchedText": "NT 1.2mm；NT 1.4mm",
                        "ntAtOrAboveCutoff": True,
                        "fetuses": [
                            {"label": "胎儿A", "ntMm": 1.2},
                            {"label": "胎儿B", "ntMm": 1.4},
                        ],
                        "source": "MANUAL",
                    },
                    {
                        "examDate": TODAY.isoformat(),
                        "ntMm": None,
                        "crlMm": None,
                        "gestationalAge": None,
                        "extractionStatus": "NOT_MEASURED",
                        "matchedText": "NT未测",
                        "ntAtOrAboveCutoff": None,
                        "fetuses": [],
                        "source": "MANUAL",
                    },
                ]
            }
        }
    }


async def test_record_report_returns_an_existing_exam_unchanged(api: Api, db: Database) -> None:
    patient_id = from_global_id(await register(api, 12))[1]
    async with db.transaction() as session:
        first = await record_report(
            session,
            patient_id=patient_id,
            pregnancy_id=None,
            exam_date=TODAY,
            text="NT 1.6mm",
            source="RIS",
            source_id="R-1",
            cutoff_mm=3.0,
        )
    async with db.transaction() as session:
        again = await record_report(
            session,
            patient_id=patient_id,
            pregnancy_id=None,
            exam_date=TODAY,
            text="NT 3.6mm",
            source="RIS",
            source_id="R-1",
            cutoff_mm=1.0,
        )
        assert again.id == first.id
    async with db.reader() as session:
        stored = (await session.scalars(select(UltrasoundExam))).all()
    assert [(e.nt_mm, e.report_text, e.nt_at_or_above_cutoff) for e in stored] == [
        (1.6, "NT 1.6mm", False)
    ]
