"""Ultrasound reports from the RIS as FHIR DiagnosticReports, through HTTP as the RIS sends them."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import httpx
from sqlalchemy import select

from domain.database import Database
from domain.inbound.models import InboundMessage
from domain.parameter.models import Parameter
from domain.ultrasound.models import UltrasoundExam
from graphql_schema.base import to_global_id
from tests.conftest import PASSWORD, Api
from tests.helpers import book, count_rows, register, resident_id

LOCAL_TZ = dt.timezone(dt.timedelta(hours=8))
TODAY = dt.datetime.now(LOCAL_TZ).date()
RESIDENT_SYSTEM = "urn:oid:2.16.156.10011.1.3"
NT_32 = "颈项透明层厚度（NT）3.2mm，头臀长62mm"

SCANS = """
query Scans($id: ID!) {
  node(id: $id) {
    ... on Pregnancy {
      ultrasoundExams { id examDate ntMm crlMm extractionStatus ntAtOrAboveCutoff matchedText
                        source fetuses { label ntMm } }
    }
  }
}
"""

REPROCESS = """
mutation Reprocess($input: ReprocessInboundMessagesInput!) {
  reprocessInboundMessages(input: $input) {
    processed failed remaining
    messages { messageId status errorCode }
    userErrors { field message code }
  }
}
"""


def report(
    report_id: str | None,
    identifier: dict[str, str],
    *,
    conclusion: str | None = None,
    presented: str | None = None,
    div: str | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "早孕期超声（NT）"},
        "subject": {"identifier": identifier},
        "effectiveDateTime": f"{TODAY.isoformat()}T09:30:00+08:00",
    }
    if report_id is not None:
        resource["id"] = report_id
    if conclusion is not None:
        resource["conclusion"] = conclusion
    if presented is not None:
        data = base64.b64encode(presented.encode("utf-8")).decode("ascii")
        resource["presentedForm"] = [{"contentType": "text/plain; charset=utf-8", "data": data}]
    if div is not None:
        resource["text"] = {"status": "generated", "div": div}
    return resource


def by_resident_id(sequence: int) -> dict[str, str]:
    return {"system": RESIDENT_SYSTEM, "value": resident_id(sequence)}


async def post(
    api: Api, body: Any, *, path: str = "/fhir/DiagnosticReport", as_user: str | None = "doctor"
) -> httpx.Response:
    headers = {"Content-Type": "application/fhir+json"}
    if as_user is not None:
        headers["Authorization"] = f"Bearer {api.tokens[as_user]}"
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return await api.client.post(path, content=content, headers=headers)


async def inbound(db: Database) -> list[tuple[str, str, str | None]]:
    async with db.reader() as session:
        rows = (await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all()
    assert all(r.channel == "FHIR_RIS" for r in rows)
    return [(r.message_id, r.status, r.error_code) for r in rows]


async def exams(db: Database) -> list[UltrasoundExam]:
    async with db.reader() as session:
        return list(
            (await session.scalars(select(UltrasoundExam).order_by(UltrasoundExam.id))).all()
        )


async def scans(api: Api, pregnancy_id: str) -> list[dict[str, Any]]:
    body = await api.gql(SCANS, {"id": pregnancy_id})
    assert "errors" not in body, body
    return list(body["data"]["node"]["ultrasoundExams"])


async def test_a_report_is_stored_read_and_visible_and_a_resend_is_not_stored_twice(
    api: Api, db: Database
) -> None:
    patient_id = await register(api, 1)
    pregnancy = await book(api, patient_id, weeks=12)

    created = await post(api, report("us-0001", by_resident_id(1), conclusion=NT_32))

    assert created.status_code == 201, created.text
    assert created.headers["content-type"] == "application/fhir+json"
    (exam,) = await exams(db)
    assert created.json() == {
        "messageId": "us-0001",
        "inboundMessageId": created.json()["inboundMessageId"],
        "id": to_global_id("UltrasoundExam", exam.id),
        "pregnancyId": pregnancy["id"],
        "examDate": TODAY.isoformat(),
        "extractionStatus": "EXTRACTED",
        "ntMm": 3.2,
        "crlMm": 62.0,
        "ntAtOrAboveCutoff": True,
    }
    assert await scans(api, pregnancy["id"]) == [
        {
            "id": to_global_id("UltrasoundExam", exam.id),
            "examDate": TODAY.isoformat(),
            "ntMm": 3.2,
            "crlMm": 62.0,
            "extractionStatus": "EXTRACTED",
            "ntAtOrAboveCutoff": True,
            "matchedText": "颈项透明层厚度(NT)3.2mm",
            "source": "RIS",
            "fetuses": [{"label": None, "ntMm": 3.2}],
        }
    ]
    assert (exam.source, exam.source_id, exam.report_text) == (
        "RIS",
        "DiagnosticReport/us-0001",
        NT_32,
    )
    assert await inbound(db) == [("us-0001", "PROCESSED", None)]

    again = await post(api, report("us-0001", by_resident_id(1), conclusion=NT_32))

    assert again.status_code == 200, again.text
    assert again.json() == created.json()
    assert (await count_rows(api, "ultrasound_exam"), await count_rows(api, "inbound_message")) == (
        1,
        1,
    )


async def test_presented_form_twins_and_not_measured_in_a_bundle(api: Api, db: Database) -> None:
    patient_id = await register(api, 2, lisRecordNo="LIS0020002")
    pregnancy = await book(api, patient_id, weeks=13)
    twins = report(
        "us-twins",
        {"value": "LIS0020002"},
        presented="双胎妊娠（双绒双羊）。\n胎儿A：NT 1.2mm；胎儿B：NT 3.4mm。",
    )
    unmeasured = report(
        "us-unmeasured",
        {"value": "LIS0020002"},
        div='<div xmlns="http://www.w3.org/1999/xhtml"><p>宫内单活胎。</p><p>NT未测</p></div>',
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": twins}, {"resource": unmeasured}],
    }

    response = await post(api, bundle, path="/fhir")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["resourceType"], body["type"]) == ("Bundle", "batch-response")
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "201 Created"]
    assert [(e["resource"]["extractionStatus"], e["resource"]["ntMm"]) for e in body["entry"]] == [
        ("MULTIPLE", None),
        ("NOT_MEASURED", None),
    ]
    found = await scans(api, pregnancy["id"])
    assert [
        (s["extractionStatus"], s["ntMm"], s["ntAtOrAboveCutoff"], s["fetuses"]) for s in found
    ] == [
        (
            "MULTIPLE",
            None,
            True,
            [{"label": "胎儿A", "ntMm": 1.2}, {"label": "胎儿B", "ntMm": 3.4}],
        ),
        ("NOT_MEASURED", None, None, []),
    ]
    assert [e.report_text for e in await exams(db)] == [
        "双胎妊娠（双绒双羊）。\n胎儿A：NT 1.2mm；胎儿B：NT 3.4mm。",
        "宫内单活胎。\nNT未测",
    ]
    assert await inbound(db) == [
        ("us-twins", "PROCESSED", None),
        ("us-unmeasured", "PROCESSED", None),
    ]


async def test_unknown_patient_is_kept_and_processed_after_registration(
    api: Api, db: Database
) -> None:
    sent = report("us-0003", {"value": "EMR-778899"}, conclusion=NT_32)

    refused = await post(api, sent)

    assert refused.status_code == 422, refused.text
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    (issue,) = outcome["issue"]
    assert (issue["severity"], issue["code"], issue["details"]["text"], issue["expression"]) == (
        "error",
        "processing",
        "UNKNOWN_PATIENT",
        ["DiagnosticReport.subject.identifier"],
    )
    assert issue["diagnostics"] == (
        "未找到对应的孕妇：标识 EMR-778899 与已登记孕妇的身份证号码、检验系统病人号、"
        "电子病历号都不一致。请先登记该孕妇，再重新处理此消息。"
    )
    assert await inbound(db) == [("us-0003", "ERROR", "UNKNOWN_PATIENT")]
    assert await exams(db) == []

    patient_id = await register(api, 3, emrRecordNo="EMR-778899")
    pregnancy = await book(api, patient_id, weeks=12)
    body = await api.gql(REPROCESS, {"input": {}})

    assert body["data"]["reprocessInboundMessages"] == {
        "processed": 1,
        "failed": 0,
        "remaining": 0,
        "messages": [{"messageId": "us-0003", "status": "PROCESSED", "errorCode": None}],
        "userErrors": [],
    }
    assert await inbound(db) == [("us-0003", "PROCESSED", None)]
    assert [(s["ntMm"], s["crlMm"], s["extractionStatus"]) for s in await scans(
        api, pregnancy["id"]
    )] == [(3.2, 62.0, "EXTRACTED")]  # fmt: skip


async def test_malformed_json_is_stored_as_a_parse_error(api: Api, db: Database) -> None:
    raw = b'{"resourceType": "DiagnosticReport", "conclusion": "NT 1.6mm"'

    refused = await post(api, raw)

    assert refused.status_code == 422, refused.text
    (issue,) = refused.json()["issue"]
    assert (issue["details"]["text"], issue["diagnostics"]) == (
        "PARSE_ERROR",
        "无法解析：收到的内容不是有效的 JSON（UTF-8）",
    )
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert await inbound(db) == [(digest, "ERROR", "PARSE_ERROR")]
    async with db.reader() as session:
        stored = await session.scalar(select(InboundMessage.raw))
    assert stored == raw


async def test_the_nt_cutoff_parameter_applies_to_the_next_report(api: Api, db: Database) -> None:
    patient_id = await register(api, 4)
    await book(api, patient_id, weeks=12)
    first = await post(api, report("us-0004", by_resident_id(4), conclusion=NT_32))
    async with db.transaction() as session:
        cutoff = await session.get(Parameter, "nt_cutoff_mm")
        assert cutoff is not None
        cutoff.value = 3.5

    second = await post(api, report("us-0005", by_resident_id(4), conclusion=NT_32))

    assert (first.status_code, second.status_code) == (201, 201)
    assert [(r.json()["ntMm"], r.json()["ntAtOrAboveCutoff"]) for r in (first, second)] == [
        (3.2, True),
        (3.2, False),
    ]


async def test_only_callers_who_may_write_clinical_data_and_bodies_up_to_one_mib(
    api: Api, db: Database
) -> None:
    await register(api, 5)
    sent = report("us-0006", by_resident_id(5), conclusion=NT_32)

    auditor = await post(api, sent, as_user="auditor")
    anonymous = await post(api, sent, as_user=None)
    huge = await post(api, b" " * (1024 * 1024 + 1))

    assert (auditor.status_code, anonymous.status_code, huge.status_code) == (403, 401, 413)
    assert [r.json()["issue"][0]["code"] for r in (auditor, anonymous, huge)] == [
        "forbidden",
        "login",
        "too-costly",
    ]
    assert auditor.json()["issue"][0]["diagnostics"] == (
        "无权限：只有可以录入临床数据的用户（医生）可以提交超声报告"
    )
    assert (await count_rows(api, "inbound_message"), await count_rows(api, "ultrasound_exam")) == (
        0,
        0,
    )


async def test_a_signed_in_doctor_needs_the_csrf_header(api: Api, db: Database) -> None:
    patient_id = await register(api, 6)
    await book(api, patient_id, weeks=12)
    login = await api.client.post("/auth/login", json={"username": "doctor", "password": PASSWORD})
    assert login.status_code == 200, login.text
    sent = json.dumps(report("us-0007", by_resident_id(6), conclusion=NT_32)).encode()

    without = await api.client.post("/fhir/DiagnosticReport", content=sent)
    with_token = await api.client.post(
        "/fhir/DiagnosticReport", content=sent, headers={"X-CSRF-Token": login.json()["csrfToken"]}
    )

    assert (without.status_code, with_token.status_code) == (403, 201)
    assert without.json()["issue"][0]["diagnostics"] == (
        "CSRF 校验失败：请求头 X-CSRF-Token 缺失或不匹配"
    )
    assert await inbound(db) == [("us-0007", "PROCESSED", None)]
