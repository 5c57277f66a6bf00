"""The LIS side of the wire: an MLLP client and realistic ORU^R01 messages to send.

`mhub simulate mllp-send` uses it to play the hospital LIS against a running listener
(the demo's, or a real one during integration checks); tests use `MllpClient` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from domain.patient.rules import make_resident_id
from integrations.lis import hl7
from integrations.lis.mllp import Frame, FrameDecoder, frame

UTF8_NAME = "UNICODE UTF-8"
GB18030_NAME = "GB 18030-2000"


class MllpError(Exception):
    """The listener could not be reached or did not answer in time."""


class MllpClient:
    """One MLLP connection: send a message, get its parsed ACK back."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = FrameDecoder()
        self._pending: list[bytes] = []

    async def __aenter__(self) -> MllpClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise MllpError(
                f"无法连接 {self.host}:{self.port}：{exc or type(exc).__name__}"
            ) from exc

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
            self._writer = None

    async def send(self, payload: bytes) -> hl7.Ack:
        """Send one message and wait for its acknowledgement."""
        if self._writer is None:
            raise MllpError("未连接")
        self._writer.write(frame(payload))
        await self._writer.drain()
        reply = await self.receive_frame()
        message, _ = hl7.parse_bytes(reply)
        return hl7.read_ack(message)

    async def receive_frame(self) -> bytes:
        """The next whole frame from the listener."""
        if self._reader is None:
            raise MllpError("未连接")
        try:
            async with asyncio.timeout(self.timeout_s):
                while not self._pending:
                    data = await self._reader.read(65536)
                    if not data:
                        raise MllpError("对方关闭了连接，未收到确认（ACK）")
                    events = self._decoder.feed(data)
                    self._pending += [e.payload for e in events if isinstance(e, Frame)]
        except TimeoutError as exc:
            raise MllpError(f"{self.timeout_s:g} 秒内未收到确认（ACK）") from exc
        return self._pending.pop(0)


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class SimPatient:
    name: str
    lis_record_no: str
    resident_id: str | None = None
    birth_date: dt.date | None = None


_SURNAMES = ("黄", "韦", "覃", "陆", "莫", "蒙", "梁", "李", "陈", "农")
_GIVEN = ("丽萍", "秋菊", "海燕", "春梅", "美玲", "雪梅", "晓红", "桂芳", "小燕", "金凤")


def synthetic_patients(count: int = 10) -> list[SimPatient]:
    """Patients the simulated LIS knows; they exist in MaternityHub only if registered."""
    patients = []
    for i in range(count):
        birth = dt.date(1990 + i % 8, 1 + i % 12, 1 + (i * 3) % 28)
        patients.append(
            SimPatient(
                name=_SURNAMES[i % len(_SURNAMES)] + _GIVEN[(i * 7) % len(_GIVEN)],
                lis_record_no=f"LIS9{i + 1:06d}",
                resident_id=make_resident_id("450103", birth, 900 + i),
                birth_date=birth,
            )
        )
    return patients


@dataclass(frozen=True)
class _Item:
    code: str
    name: str
    unit: str
    reference: str


_PANELS: tuple[tuple[str, str, tuple[_Item, ...]], ...] = (
    (
        "YGWX",
        "乙肝两对半",
        (
            _Item("MY-HBSAG", "乙肝表面抗原", "S/CO", "<1.00"),
            _Item("MY-HBSAB", "乙肝表面抗体", "mIU/mL", "<10.00"),
            _Item("MY-HBEAG", "乙肝e抗原", "S/CO", "<1.00"),
            _Item("MY-HBEAB", "乙肝e抗体", "S/CO", ">1.00"),
            _Item("MY-HBCAB", "乙肝核心抗体", "S/CO", "<1.00"),
        ),
    ),
    (
        "XCG",
        "血常规",
        (
            _Item("XCG-HGB", "血红蛋白", "g/L", "110-150"),
            _Item("XCG-PLT", "血小板", "10^9/L", "125-350"),
        ),
    ),
    (
        "CQSX",
        "产前感染筛查",
        (
            _Item("MY-HIV", "HIV抗体", "S/CO", "<1.00"),
            _Item("MY-TP", "梅毒螺旋体抗体", "S/CO", "<1.00"),
            _Item("MY-RPR", "快速血浆反应素试验", "", "阴性"),
            _Item("MY-HCV", "丙肝抗体", "S/CO", "<1.00"),
        ),
    ),
)


def _value(item: _Item, rng: random.Random) -> tuple[str, str, str]:
    """(value type, OBX-5, OBX-8) for an item."""
    if item.code == "XCG-HGB":
        value = rng.randint(88, 142)
        return "NM", str(value), "L" if value < 110 else ""
    if item.code == "XCG-PLT":
        return "NM", str(rng.randint(130, 320)), ""
    if item.code == "MY-RPR":
        return "ST", "阴性", ""
    positive = rng.random() < (0.12 if item.code == "MY-HBSAG" else 0.03)
    if item.code == "MY-HBSAB":
        return "ST", rng.choice(("阳性", "阴性")), ""
    if positive:
        return "ST", f"阳性({rng.uniform(5, 250):.2f} S/CO)", "A"
    return "ST", rng.choice(("阴性", f"{rng.uniform(0.05, 0.6):.2f} S/CO", "阴性(-)")), ""


def _msh(control_id: str, sent_at: dt.datetime, charset: str) -> tuple[str, list[hl7.FieldValue]]:
    return (
        "MSH",
        [
            "LIS",
            "GXFYBJY",
            "MHUB",
            "CKXT",
            hl7.format_ts(sent_at),
            None,
            hl7.components("ORU", "R01", "ORU_R01"),
            control_id,
            "P",
            "2.5.1",
            None,
            None,
            None,
            None,
            None,
            charset,
        ],
    )


def _pid(patient: SimPatient) -> tuple[str, list[hl7.FieldValue]]:
    identifiers: hl7.Nested = [[[patient.lis_record_no], [""], [""], ["LIS"], ["PI"]]]
    if patient.resident_id:
        identifiers.append([[patient.resident_id], [""], [""], ["CHN"], ["NNCHN"]])
    family, given = patient.name[:1], patient.name[1:]
    birth = f"{patient.birth_date:%Y%m%d}" if patient.birth_date else None
    return ("PID", ["1", None, identifiers, None, hl7.components(family, given), None, birth, "F"])


def oru_message(
    patient: SimPatient,
    control_id: str,
    *,
    panel: int,
    sent_at: dt.datetime,
    rng: random.Random,
    charset: str = UTF8_NAME,
) -> str:
    """A lab ORU^R01 for one panel (乙肝两对半, 血常规, 产前感染筛查)."""
    code, name, items = _PANELS[panel % len(_PANELS)]
    taken = sent_at - dt.timedelta(hours=rng.randint(2, 6))
    segments = [_msh(control_id, sent_at, charset), _pid(patient)]
    segments.append(
        (
            "OBR",
            [
                "1",
                f"SQ{control_id[-8:]}",
                f"BB{control_id[-8:]}",
                hl7.components(code, name, "L"),
                None,
                None,
                hl7.format_ts(taken),
                *([None] * 14),
                hl7.format_ts(sent_at),
                None,
                None,
                "F",
            ],
        )
    )
    for index, item in enumerate(items, start=1):
        value_type, value, flag = _value(item, rng)
        segments.append(
            (
                "OBX",
                [
                    str(index),
                    value_type,
                    hl7.components(item.code, item.name, "L"),
                    None,
                    value,
                    item.unit,
                    item.reference,
                    flag,
                    None,
                    None,
                    "F",
                    None,
                    None,
                    hl7.format_ts(taken),
                ],
            )
        )
    return hl7.build_message(segments)


def ultrasound_message(
    patient: SimPatient,
    control_id: str,
    *,
    sent_at: dt.datetime,
    rng: random.Random,
    charset: str = UTF8_NAME,
) -> str:
    """An ultrasound (RIS) ORU^R01 carrying an NT report as TX lines."""
    nt = round(rng.uniform(1.0, 2.6) if rng.random() > 0.1 else rng.uniform(3.0, 4.2), 1)
    crl = rng.randint(48, 78)
    lines = [
        "宫内可见单个胎儿，胎心搏动可见，胎动可见。",
        f"颈项透明层厚度（NT）{nt}mm，头臀长{crl}mm，相当于孕{11 + crl // 30}+{crl % 7}周。",
        "超声提示：宫内早孕，单活胎。",
    ]
    segments = [_msh(control_id, sent_at, charset), _pid(patient)]
    segments.append(
        (
            "OBR",
            [
                "1",
                None,
                f"US{control_id[-8:]}",
                hl7.components("US-NT", "早孕期超声（NT）检查", "L"),
                None,
                None,
                hl7.format_ts(sent_at - dt.timedelta(hours=1)),
                *([None] * 14),
                hl7.format_ts(sent_at),
                None,
                None,
                "F",
            ],
        )
    )
    segments += [
        (
            "OBX",
            [
                str(i),
                "TX",
                hl7.components("US-REPORT", "超声报告", "L"),
                None,
                line,
                None,
                None,
                None,
                None,
                None,
                "F",
            ],
        )
        for i, line in enumerate(lines, start=1)
    ]
    return hl7.build_message(segments)


def generate_messages(
    count: int,
    *,
    patients: Sequence[SimPatient] | None = None,
    now: dt.datetime | None = None,
    seed: int = 2575,
) -> list[tuple[str, bytes]]:
    """`count` messages as (control id, bytes): lab panels, every fifth an ultrasound
    report, every third encoded in GB18030 (MSH-18 "GB 18030-2000")."""
    # Reproducible fake data, nothing secret: a seeded PRNG is what is wanted here.
    rng = random.Random(seed)  # noqa: S311
    people = list(patients or synthetic_patients())
    sent = now or dt.datetime.now(dt.UTC)
    out = []
    for i in range(count):
        patient = people[i % len(people)]
        control_id = f"LIS{sent.astimezone(hl7.LOCAL_TZ):%y%m%d%H%M%S}{i + 1:04d}"
        gb = i % 3 == 2
        charset = GB18030_NAME if gb else UTF8_NAME
        at = sent - dt.timedelta(minutes=count - i)
        if i % 5 == 4:
            text = ultrasound_message(patient, control_id, sent_at=at, rng=rng, charset=charset)
        else:
            text = oru_message(patient, control_id, panel=i, sent_at=at, rng=rng, charset=charset)
        out.append((control_id, text.encode("gb18030" if gb else "utf-8")))
    return out


def messages_from_file(data: bytes) -> list[tuple[str, bytes]]:
    """The messages of a file (LF, CRLF or CR line ends; several messages one after another)."""
    text = data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    messages = [m for m in re.split(rb"\r(?=MSH)", text) if m.strip(b"\r \t")]
    out = []
    for raw in messages:
        payload = raw if raw.endswith(b"\r") else raw + b"\r"
        message, _ = hl7.parse_bytes(payload)
        out.append((hl7.read_header(message).control_id, payload))
    return out


async def patients_from_database(database_url: str, limit: int) -> list[SimPatient]:
    """Registered patients with a LIS record number (so the messages match someone)."""
    from sqlalchemy import select

    from domain.database import Database
    from domain.patient.models import Patient

    db = Database(database_url)
    try:
        async with db.reader() as session:
            rows = (
                await session.scalars(
                    select(Patient)
                    .where(Patient.lis_record_no.is_not(None))
                    .order_by(Patient.id)
                    .limit(limit)
                )
            ).all()
    finally:
        await db.dispose()
    return [SimPatient(p.name, p.lis_record_no or "", p.resident_id, p.birth_date) for p in rows]


async def send_all(
    host: str, port: int, messages: Iterable[tuple[str, bytes]], *, out: list[str]
) -> dict[str, int]:
    """Send messages on one connection; append one line per ACK to `out`; count by code."""
    counts: dict[str, int] = {}
    async with MllpClient(host, port) as client:
        for index, (control_id, payload) in enumerate(messages, start=1):
            ack = await client.send(payload)
            counts[ack.code] = counts.get(ack.code, 0) + 1
            out.append(f"{index:>4}  {control_id or '（无MSH-10）':<22} {ack.code}  {ack.text}")
    return counts


async def run(
    host: str,
    port: int,
    *,
    count: int,
    file: Path | None,
    database_url: str | None,
) -> int:
    """`mhub simulate mllp-send`: print each ACK and a summary; 1 when none was sent."""
    if file is not None:
        messages = messages_from_file(await asyncio.to_thread(file.read_bytes))
        source = f"文件 {file}"
    else:
        patients = await patients_from_database(database_url, count) if database_url else []
        messages = generate_messages(count, patients=patients or None)
        who = f"数据库中的 {len(patients)} 位孕妇" if patients else "模拟孕妇（未在系统中登记）"
        source = f"生成的 {count} 条检验/超声结果，{who}"
    print(f"向 {host}:{port} 发送 {len(messages)} 条 HL7 消息（{source}）")
    lines: list[str] = []
    try:
        counts = await send_all(host, port, messages, out=lines)
    except MllpError as exc:
        print("\n".join(lines))
        print(f"错误：{exc}")
        return 1
    print("\n".join(lines))
    summary = "，".join(f"{code or '无应答码'} {n} 条" for code, n in sorted(counts.items()))
    print(f"完成：{summary or '没有消息'}")
    return 0 if messages else 1
