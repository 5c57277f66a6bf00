"""The 桂妇儿 outbox and its delivery: right content, written with the change, sent in order.

Changes go through the GraphQL API (and the lab/ultrasound ingestion services); the
outbox is delivered by the real `Deliverer` to the strict simulator over HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import Database, utcnow
from domain.lab.mapping import LabDictionary
from domain.lab.service import store_results
from domain.parameter.models import Parameter
from domain.pregnancy.models import Pregnancy
from domain.push import reconcile
from domain.push.delivery import Deliverer, backoff_s
from domain.push.models import PushAttempt, PushChannel, PushRecord
from domain.settings import Settings
from domain.ultrasound.service import record_report
from graphql_schema.base import from_global_id
from integrations.guifuer.client import GuifuerClient
from integrations.guifuer.port import RecordType
from integrations.guifuer.simulator import (
    DEMO_APP_ID,
    DEMO_APP_SECRET,
    DEMO_ORG_CODE,
    Faults,
    GuifuerSimulator,
)
from tests.conftest import Api
from tests.helpers import RECORD_VISIT, TODAY, add_factor, book, register
from tests.lab_helpers import cst, incoming

REG = RecordType.MATERNAL_REGISTRATION
VISIT = RecordType.PRENATAL_VISIT
HRA = RecordType.HIGH_RISK_ASSESSMENT
SCREENING = RecordType.INFECTIOUS_SCREENING
NT = RecordType.ULTRASOUND_NT

RECORDS = """
query Records($filter: PushRecordFilter) {
  pushRecords(filter: $filter, first: 100) {
    totalCount
    edges { node { id recordType recordId version deliveredVersion status attempts payload
                   lastError { outcome code message fieldErrors { field reason } } } }
  }
}
"""
EDIT_VISIT = """
mutation Edit($input: EditVisitInput!) {
  editVisit(input: $input) { visit { id remarks version } userErrors { field code }
                             pushWarnings { field message code } }
}
"""
EDIT_FACTOR = """
mutation Edit($input: EditRiskFactorInput!) {
  editRiskFactor(input: $input) { riskFactor { id diagnosis } userErrors { field code }
                                  pushWarnings { field message code } }
}
"""
ADD_FACTOR_WARNINGS = """
mutation Add($input: AddRiskFactorInput!) {
  addRiskFactor(input: $input) { riskFactor { id } userErrors { field code }
                                 pushWarnings { field message code } }
}
"""
PREVIEW = """
query Preview($id: ID!) {
  pushPreview(pregnancyId: $id) { recordType recordId version changed status body
                                  problems { field reason } }
}
"""


@dataclass
class Platform:
    simulator: GuifuerSimulator
    deliverer: Deliverer
    db: Database

    async def deliver(self) -> None:
        """Everything waiting is due now (no coalescing wait), then drained."""
        async with self.db.transaction() as session:
            await session.execute(
                update(PushRecord)
                .where(PushRecord.status == "PENDING")
                .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
            )
        await self.deliverer.drain(budget_s=30)

    def held(self, record_type: RecordType, record_id: str) -> Any:
        return self.simulator.records.get((record_type, record_id))


@pytest.fixture
async def platform(api: Api) -> AsyncIterator[Platform]:
    simulator = GuifuerSimulator(org_code=DEMO_ORG_CODE)
    async with simulator.running() as url, httpx.AsyncClient() as http:
        client = GuifuerClient(
            http, url, app_id=DEMO_APP_ID, app_secret=DEMO_APP_SECRET, org_code=DEMO_ORG_CODE
        )
        db = api.services.db
        yield Platform(simulator, Deliverer(db, client, worker="test", rng=lambda: 0.5), db)


async def records(api: Api, pregnancy_id: str, **filters: Any) -> dict[str, dict[str, Any]]:
    body = await api.gql(RECORDS, {"filter": {"pregnancyId": pregnancy_id, **filters}})
    assert "errors" not in body, body
    return {e["node"]["recordId"]: e["node"] for e in body["data"]["pushRecords"]["edges"]}


def only(found: dict[str, dict[str, Any]], record_type: RecordType) -> dict[str, Any]:
    (match,) = [r for r in found.values() if r["recordType"] == record_type.value]
    return match


async def booked(api: Api, sequence: int = 1, weeks: int = 20) -> str:
    patient = await register(api, sequence)
    return str((await book(api, patient, weeks=weeks, handbookNo=f"GX{sequence:08d}"))["id"])


async def visit(api: Api, pregnancy_id: str, remarks: str | None, **extra: Any) -> dict[str, Any]:
    values = {
        "pregnancyId": pregnancy_id,
        "visitDate": TODAY.isoformat(),
        "weightKg": 61.5,
        "systolicBp": 118,
        "diastolicBp": 76,
        "fetalHeartRate": 146,
        "remarks": remarks,
        **extra,
    }
    body = await api.gql(RECORD_VISIT, {"input": values})
    payload: dict[str, Any] = body["data"]["recordVisit"]
    assert payload["userErrors"] == [], payload
    return dict(payload["visit"])


# ------------------------------------------------------------------------- the outbox


async def test_booking_and_a_visit_write_their_records_with_the_change(api: Api) -> None:
    # Given a booked pregnancy
    pregnancy = await booked(api)
    # When a doctor records a visit with remarks
    saved = await visit(api, pregnancy, "建议低盐饮食，两周后复查血压")
    # Then the outbox holds the registration, the assessment and the visit, each version 1
    found = await records(api, pregnancy)
    assert sorted(r["recordType"] for r in found.values()) == sorted(
        [REG.value, HRA.value, VISIT.value]
    )
    record = only(found, VISIT)
    assert (record["version"], record["status"]) == (1, "PENDING")
    data = record["payload"]["data"]
    assert data["treatment"] == "建议低盐饮食，两周后复查血压"  # 1.28.3: the visit's remarks
    assert data["weightKg"] == 61.5
    assert data["systolic"] == 118
    assert data["diastolic"] == 76
    assert data["riskColor"] == "GREEN"
    assert data["infectiousFlag"] is False
    assert "diagnosis" not in data
    assert data["doctorName"] == "李医生"
    assert record["recordId"] == f"visit-{_db_id(saved['id'])}"


def _db_id(global_id: str) -> int:
    return from_global_id(global_id)[1]


async def _patient_of(session: AsyncSession, pregnancy_id: int) -> int:
    pregnancy = await session.get(Pregnancy, pregnancy_id)
    assert pregnancy is not None
    return pregnancy.patient_id


async def test_a_refused_change_writes_nothing_to_the_outbox(api: Api) -> None:
    pregnancy = await booked(api)
    before = await records(api, pregnancy)
    body = await api.gql(
        RECORD_VISIT,
        {"input": {"pregnancyId": pregnancy, "visitDate": TODAY.isoformat(), "weightKg": 900}},
    )
    assert body["data"]["recordVisit"]["userErrors"][0]["field"] == "weightKg"
    assert await records(api, pregnancy) == before


async def test_rapid_edits_before_sending_coalesce_into_one_version(
    api: Api, platform: Platform
) -> None:
    pregnancy = await booked(api)
    saved = await visit(api, pregnancy, "第一稿")
    for text in ("第二稿", "第三稿：定期复查"):
        body = await api.gql(EDIT_VISIT, {"input": {"visitId": saved["id"], "remarks": text}})
        assert body["data"]["editVisit"]["userErrors"] == []
    record = only(await records(api, pregnancy), VISIT)
    assert (record["version"], record["payload"]["data"]["treatment"]) == (1, "第三稿：定期复查")
    await platform.deliver()
    sent = [a for a in platform.simulator.accepted if a.record_type is VISIT]
    assert [(a.version, a.data["treatment"]) for a in sent] == [(1, "第三稿：定期复查")]


async def test_an_edit_after_delivery_is_pushed_again_as_the_next_version(
    api: Api, platform: Platform
) -> None:
    # 1.28.6: the doctor edits in MaternityHub, nobody touches the platform
    pregnancy = await booked(api)
    saved = await visit(api, pregnancy, "血压正常")
    await platform.deliver()
    record_id = f"visit-{_db_id(saved['id'])}"
    assert platform.held(VISIT, record_id).version == 1
    body = await api.gql(
        EDIT_VISIT, {"input": {"visitId": saved["id"], "remarks": "血压偏高，一周后复查"}}
    )
    assert body["data"]["editVisit"]["userErrors"] == []
    record = only(await records(api, pregnancy), VISIT)
    assert (record["version"], record["deliveredVersion"], record["status"]) == (2, 1, "PENDING")
    await platform.deliver()
    held = platform.held(VISIT, record_id)
    assert (held.version, held.data["treatment"]) == (2, "血压偏高，一周后复查")
    record = only(await records(api, pregnancy), VISIT)
    assert (record["deliveredVersion"], record["status"]) == (2, "DELIVERED")


async def test_diagnosis_is_the_factors_diagnoses_and_its_absence_is_flagged_at_save(
    api: Api, platform: Platform
) -> None:
    pregnancy = await booked(api)
    # A factor with no diagnosis (no EMR here): a non-green visit would be refused
    body = await api.gql(
        ADD_FACTOR_WARNINGS, {"input": {"pregnancyId": pregnancy, "code": "Y-GDM"}}
    )
    factor = body["data"]["addRiskFactor"]
    saved_visit = await api.gql(
        RECORD_VISIT,
        {
            "input": {
                "pregnancyId": pregnancy,
                "visitDate": TODAY.isoformat(),
                "remarks": "控制饮食",
            }
        },
    )
    # The save succeeds, and the doctor is told now, not hours later
    warnings = saved_visit["data"]["recordVisit"]
    assert warnings["userErrors"] == []
    visit_id = _db_id(warnings["visit"]["id"])
    body = await api.gql(
        """mutation($input: RecordVisitInput!) { recordVisit(input: $input) {
             userErrors { field } pushWarnings { field message code } } }""",
        {"input": {"pregnancyId": pregnancy, "visitDate": TODAY.isoformat()}},
    )
    flagged = body["data"]["recordVisit"]["pushWarnings"]
    assert {w["code"] for w in flagged} == {"PUSH_PREFLIGHT"}
    assert any(w["field"] == f"visit-{visit_id}:data.diagnosis" for w in flagged), flagged
    assert all("诊断" in w["message"] for w in flagged if w["field"].endswith("data.diagnosis"))
    record = (await records(api, pregnancy))[f"visit-{visit_id}"]
    assert record["status"] == "REJECTED"
    assert record["lastError"]["outcome"] == "PREFLIGHT"
    # When the doctor gives the factor its diagnosis, the records are fixed and sent
    body = await api.gql(
        EDIT_FACTOR,
        {"input": {"riskFactorId": factor["riskFactor"]["id"], "diagnosis": "妊娠期糖尿病 A1级"}},
    )
    assert body["data"]["editRiskFactor"]["pushWarnings"] == []
    record = (await records(api, pregnancy))[f"visit-{visit_id}"]
    assert record["status"] == "PENDING"
    assert record["payload"]["data"]["diagnosis"] == "妊娠期糖尿病 A1级"
    assert record["payload"]["data"]["riskColor"] == "YELLOW"
    await platform.deliver()
    assert platform.held(VISIT, f"visit-{visit_id}").data["diagnosis"] == "妊娠期糖尿病 A1级"
    assessment = platform.held(HRA, f"hra-{_db_id(pregnancy)}")
    assert assessment.data["factors"][0]["code"] == "Y-GDM"
    assert assessment.data["diagnosis"] == "妊娠期糖尿病 A1级"


async def test_purple_is_the_flag_and_the_colour_comes_from_the_others(api: Api) -> None:
    pregnancy = await booked(api)
    await add_factor(api, pregnancy, "O-AGE40", diagnosis="高龄初产")
    await add_factor(api, pregnancy, "P-HEPATITIS", diagnosis="慢性乙型病毒性肝炎")
    await visit(api, pregnancy, None)
    data = only(await records(api, pregnancy), VISIT)["payload"]["data"]
    assert (data["riskColor"], data["infectiousFlag"]) == ("ORANGE", True)
    assert data["diagnosis"] == "高龄初产；慢性乙型病毒性肝炎"
    factors = only(await records(api, pregnancy), HRA)["payload"]["data"]["factors"]
    assert [(f["code"], f["color"]) for f in factors] == [
        ("O-AGE40", "ORANGE"),
        ("P-HEPATITIS", "PURPLE"),
    ]


async def test_nt_is_sent_as_a_number_with_one_decimal(api: Api, platform: Platform) -> None:
    pregnancy = await booked(api, weeks=12)
    pregnancy_id = _db_id(pregnancy)
    db = api.services.db
    async with db.transaction() as session:
        patient_id = await _patient_of(session, pregnancy_id)
        exam = await record_report(
            session,
            patient_id=patient_id,
            pregnancy_id=pregnancy_id,
            exam_date=TODAY,
            text="单活胎，CRL 55mm，孕12+0周，NT：2.25mm。",
            source="TEST",
            source_id="us-1",
            cutoff_mm=3.0,
        )
    record = (await records(api, pregnancy))[f"nt-{exam.id}"]
    data = record["payload"]["data"]
    assert data["ntMm"] == 2.3
    assert isinstance(data["ntMm"], float)
    assert data["gestationalAge"] == "12+0"
    await platform.deliver()
    assert platform.held(NT, f"nt-{exam.id}").data["ntMm"] == 2.3


async def test_screening_items_keep_their_own_test_dates(api: Api, platform: Platform) -> None:
    pregnancy = await booked(api, weeks=16)
    pregnancy_id = _db_id(pregnancy)
    db = api.services.db
    drawn_hbsag = cst(TODAY.year, TODAY.month, TODAY.day) - dt.timedelta(days=20)
    drawn_hiv = cst(TODAY.year, TODAY.month, TODAY.day) - dt.timedelta(days=6)
    async with db.transaction() as session:
        patient_id = await _patient_of(session, pregnancy_id)
        dictionary = await LabDictionary.load(session)
        await store_results(
            session,
            dictionary,
            [
                incoming(patient_id, "r1", "阴性", local_code="MY-HBSAG", specimen_at=drawn_hbsag),
                incoming(patient_id, "r2", "阴性", local_code="MY-HIV", specimen_at=drawn_hiv),
            ],
        )
    data = only(await records(api, pregnancy), SCREENING)["payload"]["data"]
    assert data["items"] == [
        {"item": "HBSAG", "result": "NEGATIVE", "testDate": _local_day(drawn_hbsag)},
        {"item": "HIV", "result": "NEGATIVE", "testDate": _local_day(drawn_hiv)},
    ]
    await platform.deliver()
    assert platform.held(SCREENING, f"inf-{pregnancy_id}").data == data


def _local_day(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat()


async def test_preview_is_exactly_what_the_platform_receives(api: Api, platform: Platform) -> None:
    pregnancy = await booked(api)
    await add_factor(api, pregnancy, "Y-GDM", diagnosis="妊娠期糖尿病")
    await visit(api, pregnancy, "复查 OGTT")
    body = await api.gql(PREVIEW, {"id": pregnancy})
    previews = body["data"]["pushPreview"]
    assert all(p["problems"] == [] and p["changed"] is False for p in previews)
    await platform.deliver()
    for preview in previews:
        held = platform.held(RecordType(preview["recordType"]), preview["recordId"])
        assert preview["body"]["data"] == held.data
        assert preview["body"]["version"] == held.version


async def test_a_womans_registration_is_accepted_before_her_other_records(
    api: Api, platform: Platform
) -> None:
    pregnancies = [await booked(api, sequence=n) for n in (1, 2, 3)]
    for pregnancy in pregnancies:
        await add_factor(api, pregnancy, "Y-GDM", diagnosis="妊娠期糖尿病")
        await visit(api, pregnancy, "随访")
    await platform.deliver()
    first_seen: dict[str, RecordType] = {}
    for accepted in platform.simulator.accepted:
        first_seen.setdefault(accepted.id_card_no, accepted.record_type)
    assert set(first_seen.values()) == {REG}
    async with api.services.db.reader() as session:
        codes = (await session.scalars(select(PushAttempt.code))).all()
    assert 2004 not in codes
    assert len(platform.simulator.accepted) == 9


async def test_retry_after_is_honoured_and_the_channel_backs_off(
    api: Api, platform: Platform
) -> None:
    pregnancy = await booked(api)
    platform.simulator.faults = Faults(rate_limit_every=1, retry_after_s=7)
    before = utcnow()
    await platform.deliver()
    async with api.services.db.reader() as session:
        row = await session.scalar(select(PushRecord).where(PushRecord.record_type == REG.value))
        channel = await session.get(PushChannel, "guifuer")
    assert row is not None
    assert channel is not None
    assert row.status == "PENDING"
    assert row.attempts == 1
    assert row.next_attempt_at is not None
    assert row.next_attempt_at >= before + dt.timedelta(seconds=7)
    assert channel.retry_at is not None
    assert channel.retry_at >= before + dt.timedelta(seconds=7)
    # A second drain inside the window sends nothing
    requests = platform.simulator.requests
    await platform.deliverer.drain(budget_s=5)
    assert platform.simulator.requests == requests
    assert only(await records(api, pregnancy), REG)["lastError"]["outcome"] == "TRY_LATER"


async def test_a_signature_error_pauses_the_channel_instead_of_burning_retries(
    api: Api, platform: Platform
) -> None:
    await booked(api)
    await booked(api, sequence=2)
    wrong = GuifuerClient(
        httpx.AsyncClient(),
        platform.deliverer.port.base_url,  # type: ignore[attr-defined]
        app_id=DEMO_APP_ID,
        app_secret="not-the-secret",
        org_code=DEMO_ORG_CODE,
    )
    misconfigured = Deliverer(api.services.db, wrong, worker="test", rng=lambda: 0.5)
    async with api.services.db.transaction() as session:
        await session.execute(
            update(PushRecord).values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
        )
    stats = await misconfigured.drain(budget_s=5)
    await misconfigured.drain(budget_s=5)
    assert stats.outcomes == {"FIX_CONFIGURATION": 2}
    assert platform.simulator.accepted == []
    body = await api.gql("{ pushChannel { paused pauseReason } }", as_user="admin")
    channel = body["data"]["pushChannel"]
    assert channel["paused"] is True
    assert "GUIFUER_APP_SECRET" in channel["pauseReason"]
    async with api.services.db.reader() as session:
        attempts = (await session.scalars(select(PushAttempt))).all()
    assert len(attempts) == 2  # one batch, then nothing while paused
    health = (await api.client.get("/health")).json()
    assert health["status"] == "degraded"
    assert health["push"]["status"] == "paused"
    # The operator fixes the secret and resumes: everything goes
    body = await api.gql(
        "mutation { resumePushChannel { channel { paused } userErrors { code } } }",
        as_user="admin",
    )
    assert body["data"]["resumePushChannel"]["channel"]["paused"] is False
    await platform.deliver()
    assert len(platform.simulator.accepted) == 4
    await wrong._http.aclose()


async def test_reconciliation_finds_records_the_platform_lost(api: Api, platform: Platform) -> None:
    pregnancy = await booked(api)
    await visit(api, pregnancy, "随访")
    await platform.deliver()
    lost = (VISIT, next(k[1] for k in platform.simulator.records if k[0] is VISIT))
    del platform.simulator.records[lost]
    summary = await reconcile.reconcile(api.services.db, platform.deliverer.port)
    assert (summary.checked, summary.matched, summary.missing) == (3, 2, 1)
    mismatched = await records(api, pregnancy, mismatched=True)
    assert list(mismatched) == [lost[1]]
    # Replaying it sends the current content as a new version
    body = await api.gql(
        """mutation($input: ReplayPushRecordsInput!) { replayPushRecords(input: $input) {
             records { version status } userErrors { code } } }""",
        {"input": {"ids": [mismatched[lost[1]]["id"]]}},
        as_user="admin",
    )
    assert body["data"]["replayPushRecords"]["records"] == [{"version": 2, "status": "PENDING"}]
    await platform.deliver()
    assert platform.held(*lost).version == 2


async def test_records_held_for_review_need_a_second_person(api: Api, platform: Platform) -> None:
    async with api.services.db.transaction() as session:
        await session.execute(
            update(Parameter).where(Parameter.key == "push_requires_review").values(value=True)
        )
    pregnancy = await booked(api)
    found = await records(api, pregnancy)
    assert {r["status"] for r in found.values()} == {"HELD"}
    ids = [r["id"] for r in found.values()]
    approve = """mutation($input: ApprovePushRecordsInput!) { approvePushRecords(input: $input) {
                   records { status } userErrors { code message } } }"""
    body = await api.gql(approve, {"input": {"ids": ids}})  # the doctor who booked
    assert body["data"]["approvePushRecords"]["userErrors"][0]["code"] == "SELF_REVIEW"
    assert {r["status"] for r in (await records(api, pregnancy)).values()} == {"HELD"}
    body = await api.gql(approve, {"input": {"ids": ids}}, as_user="doctor2")
    assert {r["status"] for r in body["data"]["approvePushRecords"]["records"]} == {"PENDING"}
    await platform.deliver()
    assert len(platform.simulator.accepted) == 2


async def _mhub(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from api.cli import main; main(sys.argv[1:])",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return int(process.returncode or 0), out.decode()


async def test_the_command_line_drains_shows_and_reconciles(
    api: Api, platform: Platform, settings: Settings
) -> None:
    pregnancy = await booked(api)
    await visit(api, pregnancy, "随访")
    env = {
        "DATABASE_URL": settings.database_url,
        "MHUB_DATA_DIR": str(settings.data_dir),
        "GUIFUER_BASE_URL": platform.deliverer.port.base_url,  # type: ignore[attr-defined]
        "GUIFUER_APP_ID": DEMO_APP_ID,
        "GUIFUER_APP_SECRET": DEMO_APP_SECRET,
        "GUIFUER_ORG_CODE": DEMO_ORG_CODE,
        "MHUB_LOG_LEVEL": "ERROR",
    }
    async with api.services.db.transaction() as session:
        await session.execute(update(PushRecord).values(next_attempt_at=utcnow()))
    code, out = await _mhub(env, "push", "drain")
    assert (code, out.strip()) == (0, "发送 3 次：{'DELIVERED': 3}")
    code, out = await _mhub(env, "push", "status")
    assert code == 0
    assert "产前检查    已接收" in out
    del platform.simulator.records[
        (VISIT, next(k[1] for k in platform.simulator.records if k[0] is VISIT))
    ]
    code, out = await _mhub(env, "push", "reconcile")
    assert code == 1
    assert "核对 3 条：一致 2，版本不同 0，平台没有 1，未能读取 0" in out


async def test_booking_a_woman_without_a_phone_warns_that_the_platform_needs_one(
    api: Api,
) -> None:
    patient = await register(api, 7, phone=None)
    body = await api.gql(
        """mutation($input: BookPregnancyInput!) { bookPregnancy(input: $input) {
             pregnancy { id } userErrors { code } pushWarnings { field message code } } }""",
        {
            "input": {
                "patientId": patient,
                "lmp": (TODAY - dt.timedelta(weeks=10)).isoformat(),
                "gravidity": 1,
                "parity": 0,
            }
        },
    )
    payload = body["data"]["bookPregnancy"]
    assert payload["userErrors"] == []
    pregnancy_id = _db_id(payload["pregnancy"]["id"])
    assert payload["pushWarnings"] == [
        {
            "field": f"reg-{pregnancy_id}:data.phone",
            "message": "桂妇儿推送前检查（孕产妇建档）：联系电话 必填",
            "code": "PUSH_PREFLIGHT",
        }
    ]


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(1, 1.0, 2.0), (2, 2.0, 4.0), (5, 16.0, 32.0), (12, 300.0, 600.0), (40, 300.0, 600.0)],
)
def test_back_off_doubles_with_jitter_up_to_the_ceiling(
    attempts: int, low: float, high: float
) -> None:
    assert backoff_s(attempts, 2.0, 600.0, lambda: 0.0) == low
    assert backoff_s(attempts, 2.0, 600.0, lambda: 1.0) == high
