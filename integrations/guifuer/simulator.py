"""A strict 桂妇儿 platform receiver for the demo, the tests and other teams.

It enforces the whole push contract (`/work/shared/specs/guifuer-platform-api.md`) as
the real platform would:

- signing (§1): app id and HMAC signature (1001), ±300 s clock (1002), nonce reuse
  within 10 minutes (1003);
- the body (§2, §4): envelope, patient (GB 11643 check digit, birth date), each record
  type's fields, types and code values, and the rules across fields and against the
  woman's registration (lmp) — all errors of a request at once (2001);
- order and versions: a record of a woman without an accepted registration is 2004; a
  resend of an accepted `recordId + version` is 0 with `"duplicate": true`; a lower
  version than the accepted one is 2003;
- `GET /api/v1/records/{type}/{id}`: the accepted version, or 4004.

Faults (`Faults`, or the `mhub simulate guifuer` flags): down for N seconds from start
(503 with `Retry-After`), 429 with `Retry-After` on every K-th request, added latency.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.guifuer import contract, signing
from integrations.guifuer.port import RecordType
from integrations.simulators import serve_locally

DEMO_APP_ID = "mhub-demo"
DEMO_APP_SECRET = "mhub-demo-secret"  # noqa: S105 (the simulator's published demo credential)
DEMO_ORG_CODE = "450100000001"
CHINA = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Faults:
    """What goes wrong; change the attributes while the simulator runs."""

    down_for_s: float = 0.0  # every request answers 503 for this long after the start
    rate_limit_every: int = 0  # every K-th request answers 429 (0 = never)
    retry_after_s: int = 2  # the Retry-After of a 429
    latency_ms: int = 0


@dataclass
class Accepted:
    """One record as the platform holds it: its highest accepted version."""

    record_type: RecordType
    record_id: str
    version: int
    id_card_no: str
    data: dict[str, Any]
    platform_id: str
    received_at: str


@dataclass
class GuifuerSimulator:
    """The simulated platform: its credentials, faults, accepted records and clock."""

    app_id: str = DEMO_APP_ID
    app_secret: str = DEMO_APP_SECRET
    org_code: str | None = None  # when set, any other orgCode is a 2001
    faults: Faults = field(default_factory=Faults)
    clock: Callable[[], float] = time.time
    records: dict[tuple[RecordType, str], Accepted] = field(default_factory=dict, repr=False)
    # every acceptance of a new version, in order (a duplicate resend is not one)
    accepted: list[Accepted] = field(default_factory=list, repr=False)
    answers: dict[str, int] = field(default_factory=dict, repr=False)  # "0", "2001", "HTTP 429"…
    requests: int = 0
    _nonces: dict[str, float] = field(default_factory=dict, repr=False)
    _registered: dict[str, Accepted] = field(default_factory=dict, repr=False)
    _started: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._started = self.clock()

    # ---------------------------------------------------------------- HTTP

    @cached_property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v1/records", self._counted, methods=["POST"]),
                Route("/_simulator/stats", self._stats, methods=["GET"]),
                Route("/api/v1/records/{record_type}/{record_id}", self._read, methods=["GET"]),
            ]
        )

    async def _arrive(self, request: Request) -> tuple[bytes, Response | None]:
        """The raw body, or the answer that faults or the signing checks give instead."""
        self.requests += 1
        faults = self.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        now = self.clock()
        down_left = (self._started or now) + faults.down_for_s - now
        if down_left > 0:
            return b"", JSONResponse(
                {"message": "平台维护中（模拟）"},
                status_code=503,
                headers={"Retry-After": str(max(1, round(down_left)))},
            )
        if faults.rate_limit_every > 0 and self.requests % faults.rate_limit_every == 0:
            return b"", JSONResponse(
                {"message": "请求过于频繁（模拟）"},
                status_code=429,
                headers={"Retry-After": str(faults.retry_after_s)},
            )
        raw = await request.body()
        refusal = signing.check_headers(
            request.headers, raw, secrets_by_app={self.app_id: self.app_secret}, now=now
        )
        if refusal is not None:
            return raw, _answer(refusal.value, _REFUSALS[refusal])
        self._nonces = {n: t for n, t in self._nonces.items() if now - t < signing.NONCE_MEMORY_S}
        nonce = request.headers[signing.NONCE]
        if nonce in self._nonces:
            return raw, _answer(signing.Refusal.NONCE_REUSED.value, "nonce 已使用")
        self._nonces[nonce] = now
        return raw, None

    async def _read(self, request: Request) -> Response:
        _, refused = await self._arrive(request)
        if refused is not None:
            return refused
        try:
            key = (RecordType(request.path_params["record_type"]), request.path_params["record_id"])
        except ValueError:
            return _answer(4004, "无此记录")
        held = self.records.get(key)
        if held is None:
            return _answer(4004, "无此记录")
        return JSONResponse(
            {
                "code": 0,
                "version": held.version,
                "data": held.data,
                "receivedAt": held.received_at,
                "platformId": held.platform_id,
            }
        )

    async def _counted(self, request: Request) -> Response:
        response = await self._push(request)
        key = f"HTTP {response.status_code}"
        if response.status_code == 200 and isinstance(response, JSONResponse):
            answer = json.loads(bytes(response.body))
            key = f"{answer.get('code')}{' duplicate' if answer.get('duplicate') else ''}"
        self.answers[key] = self.answers.get(key, 0) + 1
        return response

    async def _stats(self, request: Request) -> Response:
        """For operators and tests (not part of the contract): what arrived and was answered."""
        by_type: dict[str, int] = {}
        for record_type, _ in self.records:
            by_type[record_type.value] = by_type.get(record_type.value, 0) + 1
        versions = {(a.record_type, a.record_id, a.version) for a in self.accepted}
        return JSONResponse(
            {
                "requests": self.requests,
                "answers": dict(sorted(self.answers.items())),
                "records": by_type,
                "acceptedVersions": len(self.accepted),
                "versionsAcceptedTwice": len(self.accepted) - len(versions),
            }
        )

    async def _push(self, request: Request) -> Response:
        raw, refused = await self._arrive(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(raw)
        except ValueError:
            return _invalid([{"field": "", "reason": "请求体不是 JSON"}])
        if not isinstance(body, dict):
            return _invalid([{"field": "", "reason": "请求体应为 JSON 对象"}])
        record_type, problems = contract.check_body(body, self.now(), org_code=self.org_code)
        if problems:
            return _invalid(problems)
        data = body["data"]
        if record_type is None:  # an error was recorded above
            return _invalid([{"field": "", "reason": "请求体无效"}])
        id_card_no: str = body["patient"]["idCardNo"]
        registration = self._registered.get(id_card_no)
        if record_type is not RecordType.MATERNAL_REGISTRATION and registration is None:
            return _answer(2004, f"身份证号 {id_card_no} 尚无已接收的孕产妇建档")
        record_id: str = body["recordId"]
        version: int = body["version"]
        held = self.records.get((record_type, record_id))
        if held is not None and held.version > version:
            return _answer(2003, f"已接收更高版本 {held.version}")
        if held is not None and held.version == version:
            return JSONResponse({"code": 0, "platformId": held.platform_id, "duplicate": True})
        if registration is not None and record_type is not RecordType.MATERNAL_REGISTRATION:
            problems = contract.check_against_registration(record_type, data, registration.data)
            if problems:
                return _invalid(problems)
        platform_id = held.platform_id if held is not None else f"GFE{len(self.records) + 1:010d}"
        accepted = Accepted(
            record_type,
            record_id,
            version,
            id_card_no,
            data,
            platform_id,
            self.now().isoformat(timespec="seconds"),
        )
        self.records[(record_type, record_id)] = accepted
        self.accepted.append(accepted)
        if record_type is RecordType.MATERNAL_REGISTRATION:
            self._registered[id_card_no] = accepted
        return JSONResponse({"code": 0, "platformId": platform_id, "duplicate": False})

    def now(self) -> dt.datetime:
        """The platform's time (China Standard Time)."""
        return dt.datetime.fromtimestamp(self.clock(), CHINA)

    # ---------------------------------------------------------------- serving

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on a local port (0 = any free one) in this event loop; yields the base URL."""
        async with serve_locally(self.app, name="桂妇儿模拟器", host=host, port=port) as url:
            yield url


_REFUSALS = {
    signing.Refusal.BAD_SIGNATURE: "签名错误或 app id 未知",
    signing.Refusal.CLOCK: "时间戳超出 ±300 秒",
    signing.Refusal.NONCE_REUSED: "nonce 已使用",
}


def _answer(code: int, message: str) -> Response:
    return JSONResponse({"code": code, "message": message})


def _invalid(errors: list[dict[str, str]]) -> Response:
    return JSONResponse({"code": 2001, "message": "数据校验未通过", "errors": errors})


def sample_patient(serial: int = 1) -> dict[str, str]:
    """A valid `patient` (born 1990-01-01, a correct check digit) for trying the platform."""
    first17 = f"45010219900101{serial % 1000:03d}"
    return {
        "idCardNo": first17 + contract.id_card_check_digit(first17),
        "name": "测试孕妇",
        "birthDate": "1990-01-01",
    }


def sample_data(record_type: RecordType, today: dt.date) -> dict[str, Any]:
    """Valid `data` of each record type for a woman 14+0 weeks pregnant on `today`."""
    lmp = today - dt.timedelta(days=98)
    day = today.isoformat
    samples: dict[RecordType, dict[str, Any]] = {
        RecordType.MATERNAL_REGISTRATION: {
            "bookingDate": (today - dt.timedelta(days=30)).isoformat(),
            "lmp": lmp.isoformat(),
            "edd": (lmp + dt.timedelta(days=280)).isoformat(),
            "gravidity": 2,
            "parity": 1,
            "phone": "13800138000",
            "address": "南宁市青秀区",
            "handbookNo": "GX2026000123",
        },
        RecordType.PRENATAL_VISIT: {
            "visitDate": day(),
            "gestationalAge": "14+0",
            "weightKg": 58.5,
            "systolic": 118,
            "diastolic": 76,
            "fetalHeartRate": 150,
            "riskColor": "YELLOW",
            "infectiousFlag": False,
            "diagnosis": "瘢痕子宫妊娠",
            "treatment": "定期产检",
            "nextVisitDate": (today + dt.timedelta(days=28)).isoformat(),
            "doctorName": "李医生",
        },
        RecordType.HIGH_RISK_ASSESSMENT: {
            "assessedAt": f"{day()}T00:00:00+08:00",
            "riskColor": "YELLOW",
            "infectiousFlag": False,
            "factors": [{"code": "Y01", "name": "瘢痕子宫", "color": "YELLOW", "icd10": "O34.2"}],
            "diagnosis": "瘢痕子宫妊娠",
        },
        RecordType.INFECTIOUS_SCREENING: {
            "items": [
                {
                    "item": "HBSAG",
                    "result": "NEGATIVE",
                    "value": 0.01,
                    "unit": "IU/mL",
                    "testDate": day(),
                },
                {"item": "HIV", "result": "NEGATIVE", "testDate": day()},
            ]
        },
        RecordType.ULTRASOUND_NT: {
            "examDate": day(),
            "gestationalAge": "13+2",
            "ntMm": 1.6,
            "crlMm": 65.0,
            "conclusion": "NT 未见增厚",
        },
    }
    return samples[record_type]


def build_app() -> Starlette:
    """The simulator the demo serves, with the app id / secret of GUIFUER_APP_ID / _SECRET."""
    return _from_env(Faults()).app


def _from_env(faults: Faults) -> GuifuerSimulator:
    return GuifuerSimulator(
        app_id=os.environ.get("GUIFUER_APP_ID") or DEMO_APP_ID,
        app_secret=os.environ.get("GUIFUER_APP_SECRET") or DEMO_APP_SECRET,
        faults=faults,
    )


def run(host: str, port: int, faults: Faults) -> None:
    """`mhub simulate guifuer`: serve the simulator until interrupted."""
    import uvicorn

    simulator = _from_env(faults)
    print(
        f"桂妇儿平台模拟器：http://{host}:{port}  app id {simulator.app_id}（{faults}）",
        flush=True,
    )
    uvicorn.run(
        simulator.app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
    )
