"""The 桂妇儿 simulator on the wire: signing, validation, versions, order, faults.

Requests are built by hand (signed with `integrations.guifuer.signing`) so that every
rule of the contract is checked as the platform answers it, byte for byte.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from integrations.guifuer import signing
from integrations.guifuer.contract import id_card_check_digit
from integrations.guifuer.port import RecordType
from integrations.guifuer.simulator import (
    DEMO_APP_ID,
    DEMO_APP_SECRET,
    Faults,
    GuifuerSimulator,
    sample_data,
    sample_patient,
)

BASE = "http://guifuer.test"
ORG = "450100000001"
REG = RecordType.MATERNAL_REGISTRATION
VISIT = RecordType.PRENATAL_VISIT


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> GuifuerSimulator:
    return GuifuerSimulator(org_code=ORG, clock=clock)


@pytest.fixture
async def http(sim: GuifuerSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url=BASE) as c:
        yield c


def body(
    sim: GuifuerSimulator,
    record_type: RecordType,
    record_id: str = "rec-1",
    version: int = 1,
    **changes: Any,
) -> dict[str, Any]:
    data = {**sample_data(record_type, sim.now().date()), **changes}
    return {
        "recordType": record_type.value,
        "orgCode": ORG,
        "recordId": record_id,
        "version": version,
        "patient": sample_patient(),
        "data": {k: v for k, v in data.items() if v is not None},
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


async def post(
    http: httpx.AsyncClient,
    raw: bytes,
    *,
    secret: str = DEMO_APP_SECRET,
    now: float | None = None,
    nonce: str | None = None,
    sign_body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    signed = signing.signed_headers(
        DEMO_APP_ID,
        secret,
        raw if sign_body is None else sign_body,
        now=time.time() if now is None else now,
        nonce=nonce or signing.new_nonce(),
    )
    return await http.post(
        "/api/v1/records",
        content=raw,
        headers={**signed, **(headers or {}), "Content-Type": "application/json"},
    )


async def push(http: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    response = await post(http, encode(payload))
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def registered(http: httpx.AsyncClient, sim: GuifuerSimulator) -> None:
    answer = await push(http, body(sim, REG, "reg-1"))
    assert answer == {"code": 0, "platformId": "GFE0000000001", "duplicate": False}


# -------------------------------------------------------------------- signing


async def test_a_signed_registration_is_accepted(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    await registered(http, sim)
    assert sim.records[(REG, "reg-1")].version == 1


async def test_a_body_changed_after_signing_is_1001(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    signed = encode(body(sim, REG))
    response = await post(http, signed.replace(b'"version": 1', b'"version": 2'), sign_body=signed)
    assert response.json()["code"] == 1001
    assert sim.records == {}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-App-Id", "someone-else"),
        ("X-Signature", "0" * 64),
        ("X-Nonce", "short"),
        ("X-Timestamp", "not-a-number"),
    ],
)
async def test_a_changed_or_bad_header_is_1001(
    http: httpx.AsyncClient, sim: GuifuerSimulator, header: str, value: str
) -> None:
    response = await post(http, encode(body(sim, REG)), headers={header: value})
    assert response.json()["code"] == 1001


async def test_a_wrong_secret_is_1001(http: httpx.AsyncClient, sim: GuifuerSimulator) -> None:
    response = await post(http, encode(body(sim, REG)), secret="not-the-secret")
    assert response.json() == {"code": 1001, "message": "签名错误或 app id 未知"}


async def test_missing_headers_are_1001(http: httpx.AsyncClient, sim: GuifuerSimulator) -> None:
    response = await http.post("/api/v1/records", content=encode(body(sim, REG)))
    assert response.json()["code"] == 1001


@pytest.mark.parametrize(("skew", "code"), [(-301, 1002), (301, 1002), (-299, 0), (299, 0)])
async def test_the_clock_window_is_300_seconds(
    http: httpx.AsyncClient, sim: GuifuerSimulator, clock: Clock, skew: int, code: int
) -> None:
    response = await post(http, encode(body(sim, REG)), now=clock.now + skew)
    assert response.json()["code"] == code


async def test_a_reused_nonce_is_1003_for_ten_minutes(
    http: httpx.AsyncClient, sim: GuifuerSimulator, clock: Clock
) -> None:
    nonce = "abcdefgh12345678"
    first = await post(http, encode(body(sim, REG)), nonce=nonce, now=clock.now)
    again = await post(http, encode(body(sim, REG)), nonce=nonce, now=clock.now)
    clock.now += 601
    later = await post(http, encode(body(sim, REG)), nonce=nonce, now=clock.now)
    assert [r.json()["code"] for r in (first, again, later)] == [0, 1003, 0]


# -------------------------------------------------------------------- records


@pytest.mark.parametrize("record_type", list(RecordType))
async def test_each_valid_record_type_is_accepted(
    http: httpx.AsyncClient, sim: GuifuerSimulator, record_type: RecordType
) -> None:
    await registered(http, sim)
    answer = await push(http, body(sim, record_type, "rec-9"))
    assert answer["code"] == 0
    assert sim.records[(record_type, "rec-9")].data == body(sim, record_type)["data"]


def errors_of(answer: dict[str, Any]) -> list[tuple[str, str]]:
    assert answer["code"] == 2001
    return [(e["field"], e["reason"]) for e in answer["errors"]]


async def test_common_sender_mistakes_are_2001_with_every_field(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    await registered(http, sim)
    nt = await push(http, body(sim, RecordType.ULTRASOUND_NT, ntMm="1.6mm", gestationalAge="15+0"))
    visit = await push(http, body(sim, VISIT, diagnosis="", systolic=70, diastolic=80))
    screening = body(sim, RecordType.INFECTIOUS_SCREENING)
    screening["data"]["items"].append(dict(screening["data"]["items"][0]))
    duplicated = await push(http, screening)
    assert errors_of(nt) == [
        ("data.gestationalAge", "应在 11+0 与 14+0 之间"),
        ("data.ntMm", "应为数字（不能是字符串）"),
    ]
    assert errors_of(visit) == [
        ("data.systolic", "应大于 diastolic"),
        ("data.diagnosis", "必填"),
    ]
    assert errors_of(duplicated) == [("data.items[2].item", "HBSAG 重复：每个项目只能出现一次")]
    assert set(sim.records) == {(REG, "reg-1")}


async def test_envelope_and_patient_are_checked(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    payload = body(sim, REG, "bad id!", version=0)
    first17 = payload["patient"]["idCardNo"][:17]
    wrong = "0" if id_card_check_digit(first17) != "0" else "1"
    payload["orgCode"] = "450100000009"
    payload["patient"]["idCardNo"] = first17 + wrong
    answer = await push(http, payload)
    assert errors_of(answer) == [
        ("orgCode", "机构编码与 app id 不符"),
        ("recordId", "应为 1–64 位字母、数字、_ 或 -"),
        ("version", "应为 ≥ 1 的整数"),
        ("patient.idCardNo", "校验位不正确"),
    ]
    mismatch = body(sim, REG)
    mismatch["patient"]["birthDate"] = "1990-01-02"
    assert errors_of(await push(http, mismatch)) == [
        ("patient.birthDate", "与身份证号中的出生日期不一致")
    ]


async def test_registration_rules(http: httpx.AsyncClient, sim: GuifuerSimulator) -> None:
    today = sim.now().date()
    answer = await push(
        http,
        body(
            sim,
            REG,
            bookingDate=(today.replace(year=today.year + 1)).isoformat(),
            edd=body(sim, REG)["data"]["lmp"],
            parity=2,
            phone="12345",
        ),
    )
    assert errors_of(answer) == [
        ("data.bookingDate", "不能晚于今天"),
        ("data.edd", "应在 lmp 之后 240–300 天"),
        ("data.parity", "应小于 gravidity"),
        ("data.phone", "应为 11 位手机号或固话号码（仅数字）"),
    ]


async def test_a_visit_is_checked_against_the_registration(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    await registered(http, sim)
    answer = await push(http, body(sim, VISIT, gestationalAge="20+0"))
    assert errors_of(answer) == [("data.gestationalAge", "与末次月经推算的孕周相差超过 14 天")]


async def test_high_risk_factors_are_required_unless_green(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    await registered(http, sim)
    empty = await push(http, body(sim, RecordType.HIGH_RISK_ASSESSMENT, factors=[]))
    purple = body(sim, RecordType.HIGH_RISK_ASSESSMENT, diagnosis=None)
    purple["data"]["factors"][0]["color"] = "BLUE"
    assert errors_of(empty) == [("data.factors", "riskColor 不是 GREEN 时不能为空")]
    assert errors_of(await push(http, purple)) == [
        ("data.factors[0].color", "应为 GREEN、YELLOW、ORANGE、RED、PURPLE 之一"),
        ("data.diagnosis", "必填"),
    ]


# -------------------------------------------------------------------- versions and order


async def test_a_record_before_the_registration_is_2004(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    early = await push(http, body(sim, VISIT))
    await registered(http, sim)
    later = await push(http, body(sim, VISIT))
    assert early["code"] == 2004
    assert later["code"] == 0


async def test_versions_resend_is_duplicate_and_older_is_2003(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    await registered(http, sim)
    v3 = await push(http, body(sim, VISIT, version=3))
    again = await push(http, body(sim, VISIT, version=3))
    v2 = await push(http, body(sim, VISIT, version=2))
    v4 = await push(http, body(sim, VISIT, version=4, weightKg=60.0))
    assert v3 == {"code": 0, "platformId": "GFE0000000002", "duplicate": False}
    assert again == {"code": 0, "platformId": "GFE0000000002", "duplicate": True}
    assert v2 == {"code": 2003, "message": "已接收更高版本 3"}
    assert v4 == {"code": 0, "platformId": "GFE0000000002", "duplicate": False}
    assert sim.records[(VISIT, "rec-1")].version == 4
    assert sim.records[(VISIT, "rec-1")].data["weightKg"] == 60.0


async def test_get_returns_the_accepted_version_or_4004(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    await registered(http, sim)

    async def get(path: str) -> dict[str, Any]:
        headers = signing.signed_headers(
            DEMO_APP_ID, DEMO_APP_SECRET, b"", now=time.time(), nonce=signing.new_nonce()
        )
        answer: dict[str, Any] = (await http.get(path, headers=headers)).json()
        return answer

    found = await get("/api/v1/records/MATERNAL_REGISTRATION/reg-1")
    assert (found["code"], found["version"], found["data"]) == (0, 1, body(sim, REG)["data"])
    assert await get("/api/v1/records/PRENATAL_VISIT/reg-1") == {
        "code": 4004,
        "message": "无此记录",
    }
    assert await get("/api/v1/records/NOT_A_TYPE/reg-1") == {"code": 4004, "message": "无此记录"}
    unsigned = await http.get("/api/v1/records/MATERNAL_REGISTRATION/reg-1")
    assert unsigned.json()["code"] == 1001


# -------------------------------------------------------------------- faults


async def test_down_for_answers_503_until_the_time_has_passed(
    http: httpx.AsyncClient, sim: GuifuerSimulator, clock: Clock
) -> None:
    sim.faults.down_for_s = 30
    down = await post(http, encode(body(sim, REG)), now=clock.now)
    clock.now += 31
    up = await post(http, encode(body(sim, REG)), now=clock.now)
    assert (down.status_code, down.headers["Retry-After"]) == (503, "30")
    assert (up.status_code, up.json()["code"]) == (200, 0)


async def test_every_kth_request_is_rate_limited(
    http: httpx.AsyncClient, sim: GuifuerSimulator
) -> None:
    sim.faults = Faults(rate_limit_every=2, retry_after_s=7)
    statuses = [(await post(http, encode(body(sim, REG)))) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 429, 200, 429]
    assert statuses[1].headers["Retry-After"] == "7"
