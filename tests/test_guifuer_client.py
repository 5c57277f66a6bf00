"""The 桂妇儿 adapter against the strict simulator: every answer classified as the contract says."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.guifuer import signing
from integrations.guifuer.client import GuifuerClient, classify
from integrations.guifuer.port import (
    FieldError,
    Outcome,
    PatientRef,
    PushResult,
    ReadFailed,
    Record,
    RecordType,
)
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
PATIENT = PatientRef(
    **{
        k: sample_patient()[v]
        for k, v in (("id_card_no", "idCardNo"), ("name", "name"), ("birth_date", "birthDate"))
    }
)


@pytest.fixture
def sim() -> GuifuerSimulator:
    return GuifuerSimulator(org_code=ORG)


@pytest.fixture
async def http(sim: GuifuerSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app)) as client:
        yield client


def make_client(http: httpx.AsyncClient, base: str = BASE, **options: Any) -> GuifuerClient:
    settings: dict[str, Any] = {
        "app_id": DEMO_APP_ID,
        "app_secret": DEMO_APP_SECRET,
        "org_code": ORG,
    }
    return GuifuerClient(http, base, **{**settings, **options})


@pytest.fixture
def client(http: httpx.AsyncClient) -> GuifuerClient:
    return make_client(http)


def record(
    sim: GuifuerSimulator,
    record_type: RecordType,
    record_id: str = "rec-1",
    version: int = 1,
    **changes: Any,
) -> Record:
    data = {**sample_data(record_type, sim.now().date()), **changes}
    return Record(record_id, version, PATIENT, data)


Push = Callable[[Record], Coroutine[Any, Any, PushResult]]


def pusher(client: GuifuerClient, record_type: RecordType) -> Push:
    return {
        RecordType.MATERNAL_REGISTRATION: client.push_registration,
        RecordType.PRENATAL_VISIT: client.push_prenatal_visit,
        RecordType.HIGH_RISK_ASSESSMENT: client.push_high_risk_assessment,
        RecordType.INFECTIOUS_SCREENING: client.push_infectious_screening,
        RecordType.ULTRASOUND_NT: client.push_ultrasound_nt,
    }[record_type]


async def register(client: GuifuerClient, sim: GuifuerSimulator) -> PushResult:
    return await client.push_registration(record(sim, RecordType.MATERNAL_REGISTRATION, "reg-1"))


# -------------------------------------------------------------------- delivered, over real HTTP


async def test_records_pushed_over_http_are_delivered_and_read_back(sim: GuifuerSimulator) -> None:
    async with sim.running() as base, httpx.AsyncClient() as http:
        client = make_client(http, base)
        results = [await register(client, sim)]
        for record_type in list(RecordType)[1:]:
            results.append(await pusher(client, record_type)(record(sim, record_type, "r-2", 2)))
        stored = await client.read_record(RecordType.PRENATAL_VISIT, "r-2")
        missing = await client.read_record(RecordType.PRENATAL_VISIT, "nothing")
    assert [(r.outcome, r.code, r.platform_id) for r in results] == [
        (Outcome.DELIVERED, 0, f"GFE{n:010d}") for n in range(1, 6)
    ]
    assert stored is not None
    assert (stored.version, stored.data) == (
        2,
        sample_data(RecordType.PRENATAL_VISIT, sim.now().date()),
    )
    assert missing is None


async def test_a_network_error_is_try_later() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    async with httpx.AsyncClient() as http:
        result = await make_client(http, f"http://127.0.0.1:{port}").push_registration(
            Record("reg-1", 1, PATIENT, {})
        )
    assert result == PushResult(Outcome.TRY_LATER, detail="无法连接平台（ConnectError）")


# -------------------------------------------------------------------- classification


async def test_field_errors_are_fix_data(client: GuifuerClient, sim: GuifuerSimulator) -> None:
    await register(client, sim)
    result = await client.push_ultrasound_nt(record(sim, RecordType.ULTRASOUND_NT, ntMm="1.6"))
    assert (result.outcome, result.code) == (Outcome.FIX_DATA, 2001)
    assert result.errors == (FieldError("data.ntMm", "应为数字（不能是字符串）"),)


async def test_same_version_twice_is_delivered_as_duplicate(
    client: GuifuerClient, sim: GuifuerSimulator
) -> None:
    first = await register(client, sim)
    again = await register(client, sim)
    assert (first.outcome, first.duplicate) == (Outcome.DELIVERED, False)
    assert (again.outcome, again.duplicate, again.platform_id) == (
        Outcome.DELIVERED,
        True,
        first.platform_id,
    )


async def test_an_older_version_is_superseded(client: GuifuerClient, sim: GuifuerSimulator) -> None:
    await register(client, sim)
    await client.push_prenatal_visit(record(sim, RecordType.PRENATAL_VISIT, version=3))
    older = await client.push_prenatal_visit(record(sim, RecordType.PRENATAL_VISIT, version=2))
    stored = await client.read_record(RecordType.PRENATAL_VISIT, "rec-1")
    assert (older.outcome, older.code) == (Outcome.SUPERSEDED, 2003)
    assert stored is not None
    assert stored.version == 3


async def test_a_record_before_the_registration_is_try_later(
    client: GuifuerClient, sim: GuifuerSimulator
) -> None:
    early = await client.push_prenatal_visit(record(sim, RecordType.PRENATAL_VISIT))
    await register(client, sim)
    later = await client.push_prenatal_visit(record(sim, RecordType.PRENATAL_VISIT))
    assert (early.outcome, early.code, early.waiting_for_registration) == (
        Outcome.TRY_LATER,
        2004,
        True,
    )
    assert later.outcome is Outcome.DELIVERED


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"app_secret": "wrong"}, 1001),
        ({"app_id": "unknown"}, 1001),
        ({"clock": lambda: time.time() - 301}, 1002),
    ],
)
async def test_signing_problems_are_fix_configuration(
    http: httpx.AsyncClient, sim: GuifuerSimulator, options: dict[str, Any], code: int
) -> None:
    result = await make_client(http, **options).push_registration(
        record(sim, RecordType.MATERNAL_REGISTRATION)
    )
    assert (result.outcome, result.code) == (Outcome.FIX_CONFIGURATION, code)
    assert sim.records == {}


async def test_a_reused_nonce_is_try_later(http: httpx.AsyncClient, sim: GuifuerSimulator) -> None:
    client = make_client(http, nonce=lambda: "sameNonce1234567")
    first = await register(client, sim)
    again = await client.push_prenatal_visit(record(sim, RecordType.PRENATAL_VISIT))
    assert (first.outcome, again.outcome, again.code) == (
        Outcome.DELIVERED,
        Outcome.TRY_LATER,
        1003,
    )


async def test_rate_limit_is_try_later_with_retry_after(
    client: GuifuerClient, sim: GuifuerSimulator
) -> None:
    sim.faults = Faults(rate_limit_every=1, retry_after_s=5)
    result = await register(client, sim)
    assert result == PushResult(Outcome.TRY_LATER, None, 429, retry_after_s=5.0, detail="平台限流")


async def test_a_platform_that_is_down_is_try_later(
    client: GuifuerClient, sim: GuifuerSimulator
) -> None:
    sim.faults.down_for_s = 60
    result = await register(client, sim)
    assert (result.outcome, result.http_status, result.retry_after_s) == (
        Outcome.TRY_LATER,
        503,
        60.0,
    )
    with pytest.raises(ReadFailed) as failed:
        await client.read_record(RecordType.MATERNAL_REGISTRATION, "reg-1")
    assert (failed.value.result.outcome, failed.value.result.http_status) == (
        Outcome.TRY_LATER,
        503,
    )


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code"),
    [
        (200, {"code": 5000}, Outcome.TRY_LATER, 5000),
        (200, {"code": 1002}, Outcome.FIX_CONFIGURATION, 1002),
        (200, {"code": 7777}, Outcome.FIX_CONFIGURATION, 7777),
        (200, ["not", "an", "object"], Outcome.TRY_LATER, None),
        (502, {"message": "bad gateway"}, Outcome.TRY_LATER, None),
        (404, {"message": "not found"}, Outcome.FIX_CONFIGURATION, None),
    ],
)
def test_the_answer_table(status: int, body: object, outcome: Outcome, code: int | None) -> None:
    result = classify(httpx.Response(status, json=body))
    assert (result.outcome, result.code, result.http_status) == (outcome, code, status)


# -------------------------------------------------------------------- signing properties

_TEXT = st.text(
    alphabet=st.characters(min_codepoint=48, max_codepoint=122).filter(str.isalnum),
    min_size=16,
    max_size=64,
)


@given(body=st.binary(max_size=200), nonce=_TEXT, secret=st.text(min_size=1), data=st.data())
def test_header_order_and_case_do_not_change_the_check(
    body: bytes, nonce: str, secret: str, data: st.DataObject
) -> None:
    now = 1_770_000_000.0
    headers = signing.signed_headers("app", secret, body, now=now, nonce=nonce)
    shuffled = data.draw(st.permutations(list(headers.items())))
    cased = {data.draw(st.sampled_from([k, k.lower(), k.upper()])): v for k, v in shuffled}
    assert signing.check_headers(cased, body, secrets_by_app={"app": secret}, now=now) is None


@given(body=st.binary(max_size=200), other=st.binary(max_size=200), nonce=_TEXT)
def test_any_change_to_the_body_breaks_the_signature(body: bytes, other: bytes, nonce: str) -> None:
    now = 1_770_000_000.0
    headers = signing.signed_headers("app", "secret", body, now=now, nonce=nonce)
    verdict = signing.check_headers(headers, other, secrets_by_app={"app": "secret"}, now=now)
    assert verdict is (None if other == body else signing.Refusal.BAD_SIGNATURE)


def test_the_canonical_string_is_the_contracts() -> None:
    body = b'{"a":1}'
    assert signing.canonical_string("app", "1770000000", "n" * 16, body) == (
        "app\n1770000000\nnnnnnnnnnnnnnnnn\n"
        "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_is_read_as_seconds(value: str, seconds: float | None) -> None:
    result = classify(httpx.Response(429, headers={"Retry-After": value}))
    assert result.retry_after_s == seconds
