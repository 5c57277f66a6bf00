"""Shared by the handbook, job and document tests: an app whose in-process runner runs
jobs, a pregnancy with visits, labs and an NT scan, and PDF text extraction."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from api.app import create_app
from domain.database import Database
from domain.lab.mapping import LabDictionary
from domain.lab.service import IncomingResult, store_results
from domain.settings import Settings
from domain.ultrasound.service import record_report
from graphql_schema.base import from_global_id
from tests.conftest import PASSWORD, USERS, Api
from tests.helpers import RECORD_VISIT, book, register
from tests.lab_helpers import cst

ARTEFACTS = Path(__file__).resolve().parent / "artefacts"

RENDER = """
mutation Render($id: ID!) {
  renderHandbook(pregnancyId: $id) {
    job { id kind status progress message createdBy }
    userErrors { field message code }
  }
}
"""

JOB = """
query Job($id: ID!) {
  job(id: $id) { id kind status progress message result createdBy downloadUrl }
}
"""

VERSIONS = """
query Versions($id: ID!) {
  node(id: $id) {
    ... on Pregnancy {
      handbookDocuments { id filename contentHash size createdAt createdBy downloadUrl }
    }
  }
}
"""


@pytest.fixture
async def embedded(settings: Settings, db: Database) -> AsyncIterator[Api]:
    """The app as `mhub serve` runs it in embedded mode: its in-process runner runs jobs."""
    from domain.auth.service import ensure_user, issue_token

    tokens: dict[str, str] = {}
    async with db.transaction() as session:
        for username, (display, roles) in USERS.items():
            await ensure_user(
                session, username, display_name=display, roles=roles, password=PASSWORD
            )
            tokens[username] = await issue_token(session, username, label="tests")
    app = create_app(settings, run_jobs=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=client, app=app, tokens=tokens)


async def wait_for_job(
    api: Api, job_id: str, *, as_user: str = "doctor", limit_s: float = 120.0
) -> dict[str, Any]:
    """Poll `job(id)` until the job has finished (the limit only guards against a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        body = await api.gql(JOB, {"id": job_id}, as_user=as_user)
        assert "errors" not in body, body
        job: dict[str, Any] = body["data"]["job"]
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
        assert loop.time() < deadline, f"job still {job['status']}: {job['message']}"
        await asyncio.sleep(0.1)


async def render(api: Api, pregnancy_id: str, *, as_user: str = "doctor") -> dict[str, Any]:
    """renderHandbook, then wait for the job; the finished job."""
    body = await api.gql(RENDER, {"id": pregnancy_id}, as_user=as_user)
    assert "errors" not in body, body
    payload = body["data"]["renderHandbook"]
    assert payload["userErrors"] == [], payload
    return await wait_for_job(api, payload["job"]["id"], as_user=as_user)


async def download(api: Api, url: str) -> bytes:
    response = await api.client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The text of a PDF as poppler reads it back (content-stream order)."""
    source = tmp_path / "extract.pdf"
    source.write_bytes(pdf)
    done = subprocess.run(  # noqa: S603 (fixed tool, our own file)
        ["pdftotext", "-raw", "-enc", "UTF-8", str(source), "-"],  # noqa: S607
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8")


def squeeze(text: str) -> str:
    """Text without whitespace: line breaks of a wrapped table cell are layout, not content."""
    return "".join(text.split())


def pages(pdf: bytes) -> int:
    return len(PdfReader(BytesIO(pdf)).pages)


def page_png(pdf: bytes, page: int, name: str) -> Path:
    """Render one page to tests/artefacts/<name>.png for a person to look at."""
    ARTEFACTS.mkdir(exist_ok=True)
    source = ARTEFACTS / f"{name}.pdf"
    source.write_bytes(pdf)
    target = ARTEFACTS / name
    subprocess.run(  # noqa: S603 (fixed tool, our own files)
        [  # noqa: S607 (poppler's pdftoppm from PATH, like pdftotext)
            "pdftoppm",
            "-png",
            "-r",
            "110",
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(source),
            str(target),
        ],
        check=True,
    )
    return target.with_suffix(".png")


@dataclass(frozen=True)
class Given:
    """A booked pregnancy with visits, labs and an NT scan, as the handbook should print it."""

    pregnancy_id: str
    pregnancy_db_id: int
    patient_name: str
    remarks: list[str]
    nt_text: str
    screening: dict[str, tuple[str, str]]  # item name → (printed result, test date)


VISIT_REMARKS = [
    "建档，告知孕期保健注意事项，继续补充叶酸。",
    "血压偏高，嘱低盐饮食，一周后复测血压。\n如有头痛、视物模糊立即就诊。",
    "胎动好，无腹痛及阴道流血；建议OGTT（75g）检查 & 复查血常规 <2周内>。",
]


async def given_pregnancy(
    api: Api, *, sequence: int = 1, extra_remarks: list[str] | None = None
) -> Given:
    """A woman booked at 8 weeks, 3+ visits with remarks, screening, blood tests and an NT."""
    today = dt.date.today()
    lmp = today - dt.timedelta(weeks=30)
    patient_id = await register(api, sequence, name="韦春燕")
    pregnancy = await book(
        api,
        patient_id,
        weeks=30,
        bookingDate=(lmp + dt.timedelta(weeks=8)).isoformat(),
        bookingUnit="南宁市妇幼保健院",
        handbookNo=f"45010720240{sequence:05d}",
    )
    remarks = VISIT_REMARKS + (extra_remarks or [])
    for index, text in enumerate(remarks):
        visit_day = lmp + dt.timedelta(weeks=8 + 4 * index)
        body = await api.gql(
            RECORD_VISIT,
            {
                "input": {
                    "pregnancyId": pregnancy["id"],
                    "visitDate": visit_day.isoformat(),
                    "weightKg": 55.5 + index,
                    "systolicBp": 112 + index,
                    "diastolicBp": 70,
                    "fundalHeightCm": 20.0 + index if index else None,
                    "fetalHeartRate": 145 if index else None,
                    "fetalPosition": "LOA" if index else None,
                    "remarks": text,
                    "nextVisitDate": (visit_day + dt.timedelta(weeks=4)).isoformat(),
                }
            },
        )
        assert body["data"]["recordVisit"]["userErrors"] == [], body
    _, pregnancy_db_id = from_global_id(pregnancy["id"])
    _, patient_db_id = from_global_id(patient_id)
    db = api.services.db
    taken = lmp + dt.timedelta(weeks=9)
    hbsag_day, hiv_day, tp_day = (
        taken,
        taken + dt.timedelta(days=13),
        taken + dt.timedelta(days=20),
    )

    def at(day: dt.date) -> dt.datetime:
        return cst(day.year, day.month, day.day, 8, 30)

    async with db.transaction() as session:
        dictionary = await LabDictionary.load(session)
        outcome = await store_results(
            session,
            dictionary,
            [
                IncomingResult(
                    patient_db_id,
                    "LIS",
                    f"hb-{sequence}",
                    "阴性",
                    at(hbsag_day) + dt.timedelta(hours=3),
                    "MY-HBSAG",
                    specimen_at=at(hbsag_day),
                ),
                IncomingResult(
                    patient_db_id,
                    "LIS",
                    f"hiv-{sequence}",
                    "阴性",
                    at(hiv_day) + dt.timedelta(hours=3),
                    "MY-HIV",
                    specimen_at=at(hiv_day),
                ),
                IncomingResult(
                    patient_db_id,
                    "LIS",
                    f"tp-{sequence}",
                    "阴性",
                    at(tp_day) + dt.timedelta(hours=3),
                    "MY-TP",
                    specimen_at=at(tp_day),
                ),
                IncomingResult(
                    patient_db_id,
                    "LIS",
                    f"hgb-{sequence}",
                    "118",
                    at(taken) + dt.timedelta(hours=2),
                    "HGB",
                    unit="g/L",
                    specimen_at=at(taken),
                ),
                IncomingResult(
                    patient_db_id,
                    "LIS",
                    f"abo-{sequence}",
                    "O",
                    at(taken) + dt.timedelta(hours=2),
                    "ABO",
                    specimen_at=at(taken),
                ),
            ],
        )
        assert outcome.errors == []
        await record_report(
            session,
            patient_id=patient_db_id,
            pregnancy_id=pregnancy_db_id,
            exam_date=lmp + dt.timedelta(weeks=12, days=3),
            text="早孕期超声：单活胎，头臀长 62mm，颈项透明层厚度（NT）1.8mm。",
            source="RIS",
            source_id=f"us-{sequence}",
            cutoff_mm=3.0,
        )
    return Given(
        pregnancy_id=pregnancy["id"],
        pregnancy_db_id=pregnancy_db_id,
        patient_name="韦春燕",
        remarks=remarks,
        nt_text="1.8 mm",
        screening={
            "乙肝表面抗原": ("阴性", hbsag_day.isoformat()),
            "HIV抗体": ("阴性", hiv_day.isoformat()),
            "梅毒螺旋体抗体": ("阴性", tp_day.isoformat()),
        },
    )


def copy_artefact(source: Path, name: str) -> Path:
    ARTEFACTS.mkdir(exist_ok=True)
    target = ARTEFACTS / name
    shutil.copyfile(source, target)
    return target
