"""The HL7 v2 listener through the wire: MLLP frames in, ACKs out, results in the database.

Each test starts the listener on an ephemeral port against the test database and talks
to it with asyncio streams, as the hospital LIS would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from api import cli
from domain.database import Database
from domain.dictionary.models import DictionaryEntry
from domain.inbound.models import InboundMessage
from domain.inbound.service import InboundProcessor, reprocess
from domain.lab.models import LabResult
from domain.parameter.models import Parameter
from domain.patient.models import Patient
from domain.ultrasound.models import UltrasoundExam
from graphql_schema.base import from_global_id
from integrations.lis import hl7
from integrations.lis.mllp import Frame, FrameDecoder, MllpListener, frame
from tests.conftest import Api
from tests.helpers import book, register, resident_id

DATA = Path(__file__).resolve().parent / "data" / "hl7"
TODAY = dt.datetime.now(hl7.LOCAL_TZ).date()
DAY = f"{TODAY:%Y%m%d}"

LAB_RESULTS = """
query Labs($id: ID!) {
  node(id: $id) {
    ... on Patient {
      labResults(first: 50) {
        totalCount
        edges { node { itemCode itemName localCode valueText valueQualitative valueNumeric unit
                       referenceRange abnormalFlag specimenAt reportedAt source sourceId } }
      }
    }
  }
}
"""

ULTRASOUND = """
query Scans($id: ID!) {
  node(id: $id) {
    ... on Pregnancy {
      ultrasoundExams { examDate ntMm crlMm gestationalAge { text } extractionStatus source }
    }
  }
}
"""

INBOUND = """
query Inbound($status: InboundStatus) {
  inboundMessages(status: $status, first: 20) {
    edges { node { id messageId messageType charset status errorCode errorDetail attempts
                   errorFields { field message code } rawText patient { name } } }
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


# --- helpers -----------------------------------------------------------------------------------


def wire(name: str, *replacements: tuple[str, str]) -> bytes:
    """A sample message dated today (local), CR-separated, with some text replaced."""
    content = (DATA / name).read_text("utf-8").replace("\n", "\r").replace("20261120", DAY)
    for old, new in replacements:
        assert old in content, old
        content = content.replace(old, new)
    return content.encode("utf-8")


HBV = "oru-r01-hbv-panel-zh.hl7"
NT = "oru-r01-ultrasound-nt-zh.hl7"
GLUCOSE = "oru-r01-glucose-hl7-normative.hl7"
NIST = "oru-r01-nist-lri-hepatitis-panel.hl7"


def at(hhmmss: str) -> str:
    """Today's local time as the UTC ISO string GraphQL returns."""
    local = dt.datetime.strptime(DAY + hhmmss, "%Y%m%d%H%M%S").replace(tzinfo=hl7.LOCAL_TZ)
    return local.astimezone(dt.UTC).isoformat()


class Wire:
    """A raw MLLP connection: write bytes however the test likes, read whole ACK frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder()
        self.frames: list[bytes] = []

    async def write(self, data: bytes, *, chunk: int | None = None) -> None:
        step = chunk or len(data) or 1
        for start in range(0, len(data), step):
            self.writer.write(data[start : start + step])
            await self.writer.drain()

    async def acks(self, count: int) -> list[hl7.Ack]:
        async with asyncio.timeout(20):
            while len(self.frames) < count:
                data = await self.reader.read(65536)
                assert data, "connection closed before the ACK"
                self.frames += [e.payload for e in self.decoder.feed(data) if isinstance(e, Frame)]
        taken, self.frames = self.frames[:count], self.frames[count:]
        return [hl7.read_ack(hl7.parse_bytes(f)[0]) for f in taken]

    async def send(self, payload: bytes) -> hl7.Ack:
        await self.write(frame(payload))
        return (await self.acks(1))[0]


@pytest.fixture
async def listener(db: Database) -> AsyncIterator[MllpListener]:
    async with MllpListener(InboundProcessor(db), host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
async def connection(listener: MllpListener) -> AsyncIterator[Wire]:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    yield Wire(reader, writer)
    writer.close()
    await writer.wait_closed()


async def rows(db: Database, model: Any) -> list[Any]:
    async with db.reader() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def count(db: Database, table: str) -> int:
    async with db.reader() as session:
        return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608 (fixed table names)


async def add_patient(db: Database, lis_record_no: str, sequence: int, name: str = "黄丽萍") -> int:
    async with db.transaction() as session:
        patient = Patient(
            name=name,
            name_initials="HLP",
            resident_id=resident_id(sequence),
            birth_date=dt.date(1994, 5, 17),
            lis_record_no=lis_record_no,
        )
        session.add(patient)
        await session.flush()
        return patient.id


async def labs(api: Api, patient_id: str) -> list[dict[str, Any]]:
    body = await api.gql(LAB_RESULTS, {"id": patient_id})
    edges = body["data"]["node"]["labResults"]["edges"]
    return sorted((e["node"] for e in edges), key=lambda n: n["sourceId"])


# --- accepted -------------------------------------------------------------------------------------


async def test_a_result_split_into_single_bytes_is_stored_acknowledged_once_and_proposes_purple(
    api: Api, db: Database, connection: Wire
) -> None:
    patient_id = await register(api, 7, lisRecordNo="LIS0012345")
    pregnancy = await book(api, patient_id, weeks=12)

    await connection.write(frame(wire(HBV)), chunk=1)
    (first,) = await connection.acks(1)
    again = await connection.send(wire(HBV))

    assert first == hl7.Ack("AA", "LIS-0001", "已处理")
    assert again == hl7.Ack("AA", "LIS-0001", "重复消息，已接收过，未重复保存")
    assert await labs(api, patient_id) == [
        {"itemCode": "HBSAG", "itemName": "乙肝表面抗原", "localCode": "MY-HBSAG",
         "valueText": "阳性(125.30 S/CO)", "valueQualitative": "POSITIVE", "valueNumeric": 125.3,
         "unit": "S/CO", "referenceRange": "<1.00", "abnormalFlag": "A",
         "specimenAt": at("080500"), "reportedAt": at("102500"), "source": "LIS",
         "sourceId": "LIS-0001/1"},
        {"itemCode": "ANTI_HBS", "itemName": "乙肝表面抗体", "localCode": "MY-HBSAB",
         "valueText": "阴性", "valueQualitative": "NEGATIVE", "valueNumeric": None,
         "unit": "mIU/mL", "referenceRange": "<10.00", "abnormalFlag": None,
         "specimenAt": at("080500"), "reportedAt": at("102500"), "source": "LIS",
         "sourceId": "LIS-0001/2"},
        {"itemCode": "HGB", "itemName": "血红蛋白", "localCode": "XCG-HGB", "valueText": "118",
         "valueQualitative": None, "valueNumeric": 118.0, "unit": "g/L",
         "referenceRange": "110-150", "abnormalFlag": None, "specimenAt": at("080500"),
         "reportedAt": at("102500"), "source": "LIS", "sourceId": "LIS-0001/3"},
    ]  # fmt: skip
    (message,) = await rows(db, InboundMessage)
    assert (message.channel, message.message_id, message.message_type, message.charset) == (
        "HL7_MLLP", "LIS-0001", "ORU^R01", "UTF-8",
    )  # fmt: skip
    assert (message.status, message.error_code, message.error_fields, message.attempts) == (
        "PROCESSED", None, [], 1,
    )  # fmt: skip
    assert message.raw == wire(HBV)
    async with db.reader() as session:
        proposals = (
            await session.execute(
                text("SELECT pregnancy_id, code, reason, status FROM risk_factor_proposal")
            )
        ).all()
    assert [tuple(p) for p in proposals] == [
        (
            from_global_id(pregnancy["id"])[1],
            "P-HEPATITIS",
            f"乙肝表面抗原阳性（{TODAY:%Y-%m-%d}），建议确认传染病（紫色）高危因素",
            "PENDING",
        )
    ]
    assert await count(db, "lab_result") == 3


async def test_two_frames_in_one_write_gb18030_and_an_ultrasound_report(
    api: Api, db: Database, connection: Wire
) -> None:
    patient_id = await register(api, 7, lisRecordNo="LIS0012345")
    pregnancy = await book(api, patient_id, weeks=12)
    async with db.transaction() as session:
        cutoff = await session.get(Parameter, "nt_cutoff_mm")
        assert cutoff is not None
        cutoff.value = 1.6  # "at or above": 1.6 mm is flagged against a 1.6 mm cut-off
    gb = wire(HBV, ("UNICODE UTF-8", "GB 18030-2000"), ("LIS-0001", "LIS-0002"))
    gb = gb.decode("utf-8").encode("gb18030")

    await connection.write(frame(gb) + frame(wire(NT)))
    acks = await connection.acks(2)

    assert acks == [hl7.Ack("AA", "LIS-0002", "已处理"), hl7.Ack("AA", "RIS-0007", "已处理")]
    found = await labs(api, patient_id)
    assert [(n["itemName"], n["valueText"], n["sourceId"]) for n in found] == [
        ("乙肝表面抗原", "阳性(125.30 S/CO)", "LIS-0002/1"),
        ("乙肝表面抗体", "阴性", "LIS-0002/2"),
        ("血红蛋白", "118", "LIS-0002/3"),
    ]
    scans = await api.gql(ULTRASOUND, {"id": pregnancy["id"]})
    assert scans["data"]["node"]["ultrasoundExams"] == [
        {"examDate": TODAY.isoformat(), "ntMm": 1.6, "crlMm": 59.0,
         "gestationalAge": {"text": "12+3"}, "extractionStatus": "EXTRACTED", "source": "RIS"}
    ]  # fmt: skip
    (exam,) = await rows(db, UltrasoundExam)
    assert (exam.source_id, exam.matched_text, exam.nt_at_or_above_cutoff, exam.fetuses) == (
        "RIS-0007", "颈项透明层厚度(NT)1.6mm", True, [{"label": None, "nt_mm": 1.6}],
    )  # fmt: skip
    assert exam.report_text == (
        "宫内可见单个胎儿，胎心搏动可见。\n"
        "颈项透明层厚度（NT）1.6mm，头臀长59mm，相当于孕12+3周。\n"
        "超声提示：宫内早孕，单活胎。"
    )
    inbound = await api.gql(INBOUND, {}, as_user="admin")
    nodes = inbound["data"]["inboundMessages"]["edges"]
    assert [(e["node"]["messageId"], e["node"]["charset"]) for e in nodes] == [
        ("RIS-0007", "UTF-8"),
        ("LIS-0002", "GB18030"),
    ]
    assert nodes[1]["node"]["rawText"].split("\n")[1] == (
        "PID|1||LIS0012345^^^LIS^PI~450103********0075^^^CHN^NNCHN||黄^丽萍||19940517|F"
    )
    again = await reprocess(db, ids=[m.id for m in await rows(db, InboundMessage)], status=None)
    assert [(m.message_id, m.status) for m in again.messages] == [
        ("LIS-0002", "PROCESSED"),
        ("RIS-0007", "PROCESSED"),
    ]
    assert (await count(db, "lab_result"), await count(db, "ultrasound_exam")) == (3, 1)


# --- kept with their error, processed after the fix ------------------------------------------------


async def test_messages_for_unregistered_women_are_kept_and_processed_after_registration(
    api: Api, db: Database, connection: Wire
) -> None:
    zh = await connection.send(wire(HBV))
    glucose = await connection.send(wire(GLUCOSE))
    nist = await connection.send(wire(NIST))

    assert [(a.code, a.control_id) for a in (zh, glucose, nist)] == [
        ("AE", "LIS-0001"), ("AE", "CNTRL-3456"), ("AE", "NIST-LRI-GU-RU-005.00"),
    ]  # fmt: skip
    assert zh.text == (
        "未找到对应的孕妇：PID-3 标识 LIS0012345（PI）、450103********0075（NNCHN）（黄丽萍）"
        "与已登记孕妇的检验系统病人号和身份证号码都不一致。"
        "请先登记该孕妇（填写检验系统病人号），再重新处理此消息。"
    )
    assert glucose.errors == (
        "PID-3 标识 555-44-4444（EVERYWOMAN EVE）与已登记孕妇的检验系统病人号和身份证号码都不一致",
        "出生日期 196203520 不是有效日期",
    )
    assert await count(db, "lab_result") == 0
    stored = await rows(db, InboundMessage)
    assert [(m.message_id, m.status, m.error_code, m.patient_id) for m in stored] == [
        ("LIS-0001", "ERROR", "UNKNOWN_PATIENT", None),
        ("CNTRL-3456", "ERROR", "UNKNOWN_PATIENT", None),
        ("NIST-LRI-GU-RU-005.00", "ERROR", "UNKNOWN_PATIENT", None),
    ]

    denied = await api.gql(REPROCESS, {"input": {}}, as_user="auditor")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert [m.attempts for m in await rows(db, InboundMessage)] == [1, 1, 1]

    huang = await register(api, 7, lisRecordNo="LIS0012345")
    await register(api, 8, name="Eve Everywoman", lisRecordNo="555-44-4444")
    await register(api, 9, name="Peggy Smirnoff", lisRecordNo="M0313831")
    body = await api.gql(REPROCESS, {"input": {}})

    assert body["data"]["reprocessInboundMessages"] == {
        "processed": 1,
        "failed": 2,
        "remaining": 0,
        "messages": [
            {"messageId": "LIS-0001", "status": "PROCESSED", "errorCode": None},
            {"messageId": "CNTRL-3456", "status": "ERROR", "errorCode": "UNMAPPED_ITEM"},
            {"messageId": "NIST-LRI-GU-RU-005.00", "status": "ERROR", "errorCode": "UNMAPPED_ITEM"},
        ],
        "userErrors": [],
    }
    assert [n["itemCode"] for n in await labs(api, huang)] == ["HBSAG", "ANTI_HBS", "HGB"]
    errors = await api.gql(INBOUND, {"status": "ERROR"})
    by_id = {e["node"]["messageId"]: e["node"] for e in errors["data"]["inboundMessages"]["edges"]}
    assert by_id["CNTRL-3456"]["errorDetail"] == (
        "2 个检验项目未在数据字典中映射（检验项目 1554-5（GLUCOSE）未在数据字典中映射；"
        "检验项目 1553-5（GLUCOSE）未在数据字典中映射），其余 0 项已保存。"
        "请在数据字典中为这些检验项目编码添加映射，再重新处理此消息。"
    )
    assert by_id["CNTRL-3456"]["errorFields"] == [
        {"field": "OBX[1]-3", "message": "检验项目 1554-5（GLUCOSE）未在数据字典中映射",
         "code": "UNMAPPED_ITEM"},
        {"field": "OBX[2]-3", "message": "检验项目 1553-5（GLUCOSE）未在数据字典中映射",
         "code": "UNMAPPED_ITEM"},
        {"field": "PID-7", "message": "出生日期 196203520 不是有效日期", "code": "INVALID_DATE"},
    ]  # fmt: skip
    assert by_id["CNTRL-3456"]["patient"] == {"name": "Eve Everywoman"}
    assert [f["field"] for f in by_id["NIST-LRI-GU-RU-005.00"]["errorFields"]] == [
        "OBX[1]-3", "OBX[2]-3", "OBX[4]-3", "OBX[9]-3", "OBX[10]-3",
    ]  # fmt: skip
    async with db.reader() as session:
        nist_items = (
            await session.scalars(
                select(LabResult.item_code)
                .where(LabResult.source_id.like("NIST-LRI-GU-RU-005.00/%"))
                .order_by(LabResult.source_id)
            )
        ).all()
    assert nist_items == ["ANTI_HBC", "ANTI_HBE", "HBSAG", "ANTI_HBS", "HCV"]

    async with db.transaction() as session:
        for code in ("1554-5", "1553-5"):
            session.add(
                DictionaryEntry(
                    kind="lis_code", code=code, name="空腹血糖", attributes={"item": "GLU"}
                )
            )
    glucose_id = by_id["CNTRL-3456"]["id"]
    fixed = await api.gql(REPROCESS, {"input": {"ids": [glucose_id]}}, as_user="admin")

    assert fixed["data"]["reprocessInboundMessages"]["messages"] == [
        {"messageId": "CNTRL-3456", "status": "PROCESSED", "errorCode": None}
    ]
    message = next(m for m in await rows(db, InboundMessage) if m.message_id == "CNTRL-3456")
    assert (message.status, message.attempts, message.error_fields) == (
        "PROCESSED",
        3,
        [{"field": "PID-7", "message": "出生日期 196203520 不是有效日期", "code": "INVALID_DATE"}],
    )
    async with db.reader() as session:
        glucose_rows = (
            await session.execute(
                select(
                    LabResult.item_code,
                    LabResult.value_numeric,
                    LabResult.unit,
                    LabResult.source_id,
                )
                .where(LabResult.source_id.like("CNTRL-3456/%"))
                .order_by(LabResult.source_id)
            )
        ).all()
    assert [tuple(r) for r in glucose_rows] == [
        ("GLU", 182.0, "mg/dl", "CNTRL-3456/1"),
        ("GLU", 182.0, "mg/dl", "CNTRL-3456/2"),
    ]


async def test_an_unmapped_item_is_kept_and_processed_after_the_dictionary_is_fixed(
    db: Database, connection: Wire
) -> None:
    patient_id = await add_patient(db, "LIS0012345", 7)
    unmapped = wire(HBV, ("XCG-HGB^血红蛋白", "XCG-HCT^红细胞压积"))

    ack = await connection.send(unmapped)
    resent = await connection.send(unmapped)

    assert resent == ack
    assert ack == hl7.Ack(
        "AE",
        "LIS-0001",
        "1 个检验项目未在数据字典中映射（检验项目 XCG-HCT（红细胞压积）未在数据字典中映射），"
        "其余 2 项已保存。请在数据字典中为这些检验项目编码添加映射，再重新处理此消息。",
        ("检验项目 XCG-HCT（红细胞压积）未在数据字典中映射",),
    )
    (message,) = await rows(db, InboundMessage)
    assert (message.status, message.error_code, message.patient_id) == (
        "ERROR", "UNMAPPED_ITEM", patient_id,
    )  # fmt: skip
    assert [r.item_code for r in await rows(db, LabResult)] == ["HBSAG", "ANTI_HBS"]

    async with db.transaction() as session:
        session.add_all(
            [
                DictionaryEntry(
                    kind="lab_item",
                    code="HCT",
                    name="红细胞压积",
                    attributes={"loinc": ["4544-3"], "unit": "%", "valueKind": "quantitative"},
                ),
                DictionaryEntry(
                    kind="lis_code", code="XCG-HCT", name="红细胞压积", attributes={"item": "HCT"}
                ),
            ]
        )
    first = await reprocess(db)
    second = await reprocess(db, ids=[message.id], status=None)
    third = await connection.send(unmapped)

    assert (first.processed, first.failed, first.remaining) == (1, 0, 0)
    assert first.describe() == "重新处理 1 条消息：成功 1 条，仍失败 0 条"
    assert [(m.status, m.error_code) for m in second.messages] == [("PROCESSED", None)]
    assert third == hl7.Ack("AA", "LIS-0001", "重复消息，已接收过，未重复保存")
    results = await rows(db, LabResult)
    assert [(r.item_code, r.value_text, r.source_id) for r in results] == [
        ("HBSAG", "阳性(125.30 S/CO)", "LIS-0001/1"),
        ("ANTI_HBS", "阴性", "LIS-0001/2"),
        ("HCT", "118", "LIS-0001/3"),
    ]
    (message,) = await rows(db, InboundMessage)
    assert (message.status, message.error_code, message.error_fields, message.attempts) == (
        "PROCESSED", None, [], 4,
    )  # fmt: skip
    assert message.processed_at is not None


# --- refused and broken input ------------------------------------------------------------------------


async def test_not_hl7_and_oversized_frames_get_an_error_ack_and_the_connection_stays_usable(
    db: Database,
) -> None:
    await add_patient(db, "LIS0012345", 7)
    processor = InboundProcessor(db)
    async with MllpListener(processor, host="127.0.0.1", port=0, max_frame_bytes=4000) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        connection = Wire(reader, writer)
        try:
            await connection.write(b"\r\nnoise before the frame")
            garbage = await connection.send("你好，这不是 HL7".encode())
            big = wire(HBV, ("LIS-0001", "BIG-1")) + b"OBX|4|TX|X^Y||" + b"9" * 5000 + b"\r"
            oversized = await connection.send(big)
            good = await connection.send(wire(HBV))
        finally:
            writer.close()
            await writer.wait_closed()

    assert garbage.code == "AE"
    assert re.fullmatch(r"MHUB-[0-9A-F]{20}", garbage.control_id)
    assert garbage.text == (
        "无法解析：收到的内容不是 HL7 v2 消息（应以 MSH 段开头）。请检查发送方的接口配置与消息格式。"
    )
    assert oversized == hl7.Ack(
        "AR",
        "BIG-1",
        f"消息大小 {len(big)} 字节，超过上限 4000 字节，未保存；请拆分后重发或联系信息科调整上限",
    )
    assert good == hl7.Ack("AA", "LIS-0001", "已处理")
    stored = await rows(db, InboundMessage)
    assert [(m.message_id, m.status, m.error_code) for m in stored] == [
        (garbage.control_id, "ERROR", "PARSE_ERROR"),
        ("LIS-0001", "PROCESSED", None),
    ]
    assert stored[0].raw == "你好，这不是 HL7".encode()


async def test_the_answer_is_ar_and_nothing_is_stored_when_the_database_is_unreachable(
    db: Database, backend: str, tmp_path: Path
) -> None:
    unreachable = Database(
        f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dir' / 'mhub.db'}"
        if backend == "sqlite"
        else "postgresql+asyncpg://postgres@127.0.0.1:1/mhub"
    )
    try:
        async with MllpListener(InboundProcessor(unreachable), host="127.0.0.1", port=0) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                ack = await Wire(reader, writer).send(wire(HBV))
            finally:
                writer.close()
                await writer.wait_closed()
    finally:
        await unreachable.dispose()

    assert ack == hl7.Ack("AR", "LIS-0001", "数据库暂时不可用，消息未保存，请稍后重发")
    assert await count(db, "inbound_message") == 0


async def test_an_idle_connection_is_closed() -> None:
    class Sink:
        async def receive(self, raw: bytes) -> Any:
            raise AssertionError("nothing is sent")

    async with MllpListener(Sink(), host="127.0.0.1", port=0, idle_timeout_s=0.1) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        async with asyncio.timeout(5):
            closed = await reader.read()
        writer.close()
        await writer.wait_closed()

    assert closed == b""


# --- the simulated LIS -------------------------------------------------------------------------------

ACK_LINE = re.compile(r"^\s+(\d+)  LIS\d{16}\s+(A[AER])  (.*)$")
FILE_LINE = re.compile(r"^\s+(\d+)  (\S+)\s+(A[AER])  ")


async def test_mhub_simulate_mllp_send_prints_each_ack(
    db: Database,
    listener: MllpListener,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await add_patient(db, "LIS0012345", 7)
    await add_patient(db, "LIS0067890", 8, name="韦秋菊")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MHUB_SECRET_KEY", "cli-test-key")
    port = str(listener.port)

    generated = await asyncio.to_thread(
        cli.main, ["simulate", "mllp-send", "--port", port, "--count", "5", "--from-db"]
    )
    out = capsys.readouterr().out.splitlines()
    async with db.reader() as session:
        charsets = (
            await session.scalars(select(InboundMessage.charset).order_by(InboundMessage.id))
        ).all()
        scans = await session.scalar(select(func.count()).select_from(UltrasoundExam))

    assert generated == 0
    assert (
        out[0]
        == f"向 127.0.0.1:{port} 发送 5 条 HL7 消息（生成的 5 条检验/超声结果，数据库中的 2 位孕妇）"
    )
    assert [ACK_LINE.findall(line) for line in out[1:-1]] == [
        [(str(i), "AA", "已处理")] for i in range(1, 6)
    ]
    assert out[-1] == "完成：AA 5 条"
    assert charsets == ["UTF-8", "UTF-8", "GB18030", "UTF-8", "UTF-8"]
    assert scans == 1

    sample = tmp_path / "public.hl7"
    sample.write_bytes((DATA / GLUCOSE).read_bytes() + (DATA / NIST).read_bytes())
    from_file = await asyncio.to_thread(
        cli.main, ["simulate", "mllp-send", "--port", port, "--file", str(sample)]
    )
    out = capsys.readouterr().out.splitlines()

    assert from_file == 0
    assert out[0] == f"向 127.0.0.1:{port} 发送 2 条 HL7 消息（文件 {sample}）"
    assert [FILE_LINE.findall(line) for line in out[1:-1]] == [
        [("1", "CNTRL-3456", "AE")],
        [("2", "NIST-LRI-GU-RU-005.00", "AE")],
    ]
    assert out[1].endswith("请先登记该孕妇（填写检验系统病人号），再重新处理此消息。")
    assert out[-1] == "完成：AE 2 条"
