"""Received messages through GraphQL (list, filter, page, reprocess, permissions) and the CLI.

Doctors and administrators may list and reprocess received messages; auditors and
anonymous callers may do neither.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from api import cli
from domain.database import Database
from domain.inbound.models import InboundMessage
from domain.inbound.service import InboundProcessor
from domain.patient.models import Patient
from integrations.lis import hl7
from tests.conftest import Api
from tests.helpers import register, resident_id

DATA = Path(__file__).resolve().parent / "data" / "hl7"
DAY = f"{dt.datetime.now(hl7.LOCAL_TZ).date():%Y%m%d}"

LIST = """
query List($status: InboundStatus, $channel: String, $first: Int, $after: String) {
  inboundMessages(status: $status, channel: $channel, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { messageId status errorCode attempts patient { name residentId } } }
  }
}
"""

RAW = """
query Raw { inboundMessages(first: 1) { edges { node { rawText errorDetail } } } }
"""

REPROCESS = """
mutation Reprocess($input: ReprocessInboundMessagesInput!) {
  reprocessInboundMessages(input: $input) {
    processed failed remaining
    messages { messageId status errorCode attempts }
    userErrors { field message code }
  }
}
"""

IDS = "query Ids { inboundMessages(first: 50) { edges { node { id messageId } } } }"


KNOWN = "LIS0012345"
STRANGER = resident_id(99)  # the resident ID sent with every other LIS number


def message(control_id: str, lis_record_no: str = KNOWN) -> bytes:
    """The sample HBV panel for a LIS number; its resident ID is resident_id(7) only for KNOWN."""
    content = (DATA / "oru-r01-hbv-panel-zh.hl7").read_text("utf-8")
    content = content.replace("\n", "\r").replace("20261120", DAY)
    content = content.replace("LIS-0001", control_id).replace("LIS0012345", lis_record_no)
    if lis_record_no != KNOWN:
        content = content.replace(resident_id(7), STRANGER)
    return content.encode("utf-8")


async def receive(db: Database, *payloads: bytes) -> None:
    processor = InboundProcessor(db)
    for payload in payloads:
        await processor.receive(payload)


async def state(db: Database) -> list[tuple[Any, ...]]:
    async with db.reader() as session:
        rows = (await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all()
        results = (await session.execute(text("SELECT count(*) FROM lab_result"))).scalar_one()
    return [(r.message_id, r.status, r.error_code, r.attempts) for r in rows] + [("labs", results)]


def nodes(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (e["node"]["messageId"], e["node"]["status"], e["node"]["errorCode"], e["node"]["attempts"])
        for e in body["data"]["inboundMessages"]["edges"]
    ]


# --- listing ------------------------------------------------------------------------------------


async def test_inbound_messages_are_listed_newest_first_filtered_and_paged(
    api: Api, db: Database
) -> None:
    await register(api, 7, lisRecordNo="LIS0012345")
    await receive(
        db,
        message("M-1"),
        message("M-2", "LIS-UNKNOWN"),
        message("M-3"),
        message("M-4", "LIS-UNKNOWN"),
        message("M-5", "LIS-UNKNOWN"),
    )

    first = await api.gql(LIST, {"first": 2})
    page = first["data"]["inboundMessages"]
    second = await api.gql(LIST, {"first": 2, "after": page["pageInfo"]["endCursor"]})
    errors = await api.gql(LIST, {"status": "ERROR"}, as_user="admin")
    processed = await api.gql(LIST, {"status": "PROCESSED", "channel": "HL7_MLLP"})
    other = await api.gql(LIST, {"channel": "FHIR_LIS"})
    bad = await api.gql(LIST, {"after": "not-a-cursor"})

    assert page["totalCount"] == 5
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    assert nodes(first) == [
        ("M-5", "ERROR", "UNKNOWN_PATIENT", 1),
        ("M-4", "ERROR", "UNKNOWN_PATIENT", 1),
    ]
    assert nodes(second) == [("M-3", "PROCESSED", None, 1), ("M-2", "ERROR", "UNKNOWN_PATIENT", 1)]
    assert second["data"]["inboundMessages"]["pageInfo"]["hasPreviousPage"] is True
    assert [n[0] for n in nodes(errors)] == ["M-5", "M-4", "M-2"]
    assert errors["data"]["inboundMessages"]["totalCount"] == 3
    assert [e["node"]["patient"] for e in processed["data"]["inboundMessages"]["edges"]] == [
        {"name": "黄丽萍", "residentId": resident_id(7)},
        {"name": "黄丽萍", "residentId": resident_id(7)},
    ]
    assert other["data"]["inboundMessages"]["totalCount"] == 0
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    # Doctors see resident IDs; administrators see them masked, in the raw text too.
    doctor = (await api.gql(RAW))["data"]["inboundMessages"]["edges"][0]["node"]
    admin = (await api.gql(RAW, as_user="admin"))["data"]["inboundMessages"]["edges"][0]["node"]
    pid = "PID|1||LIS-UNKNOWN^^^LIS^PI~{}^^^CHN^NNCHN||黄^丽萍||19940517|F"
    hidden = STRANGER[:6] + "********" + STRANGER[-4:]
    assert doctor["rawText"].split("\n")[1] == pid.format(STRANGER)
    assert admin["rawText"].split("\n")[1] == pid.format(hidden)
    assert f"LIS-UNKNOWN（PI）、{STRANGER}（NNCHN）（黄丽萍）" in doctor["errorDetail"]
    assert f"LIS-UNKNOWN（PI）、{hidden}（NNCHN）（黄丽萍）" in admin["errorDetail"]


# --- reprocessing and permissions --------------------------------------------------------------------


async def test_auditors_and_anonymous_callers_can_neither_list_nor_reprocess(
    api: Api, db: Database
) -> None:
    await receive(db, message("M-1", "LIS-UNKNOWN"))
    async with db.transaction() as session:
        session.add(
            Patient(
                name="黄丽萍",
                name_initials="HLP",
                resident_id=resident_id(8),
                birth_date=dt.date(1994, 5, 17),
                lis_record_no="LIS-UNKNOWN",
            )
        )
    before = await state(db)

    answers = {
        caller: (
            await api.gql(LIST, {}, as_user=caller),
            await api.gql(REPROCESS, {"input": {"status": "ERROR"}}, as_user=caller),
        )
        for caller in ("auditor", None)
    }

    assert {
        caller: [(a["data"], a["errors"][0]["extensions"]["code"]) for a in pair]
        for caller, pair in answers.items()
    } == {
        "auditor": [(None, "FORBIDDEN"), (None, "FORBIDDEN")],
        None: [(None, "UNAUTHENTICATED"), (None, "UNAUTHENTICATED")],
    }
    assert answers["auditor"][1]["errors"][0]["message"] == (
        "没有查看或重新处理接收消息的权限（需要医生或管理员角色）"
    )
    assert await state(db) == before == [("M-1", "ERROR", "UNKNOWN_PATIENT", 1), ("labs", 0)]


async def test_reprocess_validates_ids_first_then_reprocesses_and_audits(
    api: Api, db: Database
) -> None:
    await receive(db, message("M-1", "LIS-UNKNOWN"), message("M-2", "LIS-UNKNOWN"))
    ids = {e["node"]["messageId"]: e["node"]["id"] for e in (await api.gql(IDS))["data"]["inboundMessages"]["edges"]}  # fmt: skip
    patient = await register(api, 8, lisRecordNo="LIS-UNKNOWN")
    before = await state(db)

    invalid = await api.gql(REPROCESS, {"input": {"ids": [ids["M-1"], "bm90LWFuLWlk", patient]}})
    missing = await api.gql(REPROCESS, {"input": {"ids": ["SW5ib3VuZE1lc3NhZ2U6OTk5"]}})
    unchanged = await state(db)
    done = await api.gql(REPROCESS, {"input": {"ids": [ids["M-2"]]}})
    again = await api.gql(REPROCESS, {"input": {"ids": [ids["M-2"]], "status": "ERROR"}})

    assert invalid["data"]["reprocessInboundMessages"]["userErrors"] == [
        {"field": "ids[1]", "message": "无效的ID：bm90LWFuLWlk", "code": "INVALID_ID"},
        {"field": "ids[2]", "message": "ID 指向 Patient，此处需要 InboundMessage", "code": "INVALID_ID"},
    ]  # fmt: skip
    assert missing["data"]["reprocessInboundMessages"] == {
        "processed": 0,
        "failed": 0,
        "remaining": 0,
        "messages": [],
        "userErrors": [{"field": "ids[0]", "message": "消息 999 不存在", "code": "NOT_FOUND"}],
    }
    assert unchanged == before
    assert done["data"]["reprocessInboundMessages"] == {
        "processed": 1,
        "failed": 0,
        "remaining": 0,
        "messages": [{"messageId": "M-2", "status": "PROCESSED", "errorCode": None, "attempts": 2}],
        "userErrors": [],
    }
    assert again["data"]["reprocessInboundMessages"]["messages"] == []
    assert await state(db) == [
        ("M-1", "ERROR", "UNKNOWN_PATIENT", 1),
        ("M-2", "PROCESSED", None, 2),
        ("labs", 3),
    ]
    async with db.reader() as session:
        audit = (
            await session.execute(
                text(
                    "SELECT username, action, entity, detail FROM audit_event WHERE action = 'REPROCESS'"
                )
            )
        ).all()
    assert [(a[0], a[1], a[2]) for a in audit] == [("doctor", "REPROCESS", "inbound_message")]
    detail = audit[0][3]
    assert (detail if isinstance(detail, dict) else json.loads(detail)) == {
        "status": "PROCESSED",
        "errorCode": None,
    }


# --- the CLI -----------------------------------------------------------------------------------------


async def test_mhub_reprocess_prints_what_was_processed_and_what_still_fails(
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MHUB_SECRET_KEY", "cli-test-key")
    await receive(db, message("M-1", "LIS-A"), message("M-2", "LIS-B"), b"not hl7 at all")
    async with db.transaction() as session:
        session.add(
            Patient(
                name="黄丽萍",
                name_initials="HLP",
                resident_id=resident_id(7),
                birth_date=dt.date(1994, 5, 17),
                lis_record_no="LIS-A",
            )
        )
    async with db.reader() as session:
        rows = (await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all()
    m1, m2, garbage = rows

    usage = await asyncio.to_thread(cli.main, ["reprocess"])
    usage_out = capsys.readouterr()
    errors = await asyncio.to_thread(cli.main, ["reprocess", "--all-errors"])
    errors_out = capsys.readouterr()
    by_id = await asyncio.to_thread(cli.main, ["reprocess", "--id", str(m1.id)])
    by_id_out = capsys.readouterr()
    nothing = await asyncio.to_thread(cli.main, ["reprocess", "--id", str(m1.id), "--all-errors"])
    nothing_out = capsys.readouterr()

    assert usage == 2
    assert usage_out.err == "错误：请用 --id N（可重复）或 --all-errors 指定要重新处理的消息\n"
    assert errors == 1
    assert errors_out.out == (
        "重新处理 3 条消息：成功 1 条，仍失败 2 条\n"
        f"  #{m2.id} M-2：UNKNOWN_PATIENT，未找到对应的孕妇：PID-3 标识 LIS-B（PI）、"
        f"{STRANGER}（NNCHN）（黄丽萍）与已登记孕妇的检验系统病人号和身份证号码都不一致。"
        "请先登记该孕妇（填写检验系统病人号），再重新处理此消息。\n"
        f"  #{garbage.id} {garbage.message_id}：PARSE_ERROR，无法解析：收到的内容不是 HL7 v2 消息"
        "（应以 MSH 段开头）。请检查发送方的接口配置与消息格式。\n"
    )
    assert by_id == 0
    assert by_id_out.out == "重新处理 1 条消息：成功 1 条，仍失败 0 条\n"
    assert nothing == 0
    assert nothing_out.out == "没有需要重新处理的消息\n"
    assert await state(db) == [
        ("M-1", "PROCESSED", None, 3),
        ("M-2", "ERROR", "UNKNOWN_PATIENT", 2),
        (garbage.message_id, "ERROR", "PARSE_ERROR", 2),
        ("labs", 3),
    ]
