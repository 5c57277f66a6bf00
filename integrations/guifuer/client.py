"""`GuifuerPort` over the platform's signed HTTP contract (push, read back, classify).

Every request is signed over the exact bytes sent with a fresh nonce; every answer is
classified by `classify` into one `Outcome`. Nothing is retried or queued here: that is
the outbox's job, and it decides with the `PushResult` this returns.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from integrations.guifuer import signing
from integrations.guifuer.port import (
    FieldError,
    Outcome,
    PushResult,
    ReadFailed,
    Record,
    RecordType,
    StoredRecord,
)

log = logging.getLogger(__name__)

RECORDS_PATH = "/api/v1/records"

# The contract's answer codes (§3) and what the sender does with each.
_BY_CODE: dict[int, tuple[Outcome, str]] = {
    0: (Outcome.DELIVERED, "已接收"),
    1001: (
        Outcome.FIX_CONFIGURATION,
        "签名错误或 app id 未知：请检查 GUIFUER_APP_ID / GUIFUER_APP_SECRET",
    ),
    1002: (Outcome.FIX_CONFIGURATION, "时间戳超出 ±300 秒：请校准服务器时钟"),
    # Every request carries a fresh nonce, so a resend is the "new nonce" the table asks for.
    1003: (Outcome.TRY_LATER, "nonce 重复：以新的 nonce 重发"),
    2001: (Outcome.FIX_DATA, "数据校验未通过"),
    2003: (Outcome.SUPERSEDED, "平台已接收该记录的更高版本"),
    2004: (Outcome.TRY_LATER, "孕妇尚未建档：待建档记录被接收后重发"),
    5000: (Outcome.TRY_LATER, "平台内部错误"),
}


class GuifuerClient:
    """The 桂妇儿 platform adapter; `http` is owned (and closed) by the caller."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        app_id: str,
        app_secret: str,
        org_code: str,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = signing.new_nonce,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._secret = app_secret
        self.org_code = org_code
        self.timeout_s = timeout_s
        self._clock = clock
        self._nonce = nonce

    async def push_registration(self, record: Record) -> PushResult:
        """Push a 孕产妇建档; it must be accepted before the woman's other records."""
        return await self._push(RecordType.MATERNAL_REGISTRATION, record)

    async def push_prenatal_visit(self, record: Record) -> PushResult:
        """Push a 产前检查."""
        return await self._push(RecordType.PRENATAL_VISIT, record)

    async def push_high_risk_assessment(self, record: Record) -> PushResult:
        """Push a 高危评估."""
        return await self._push(RecordType.HIGH_RISK_ASSESSMENT, record)

    async def push_infectious_screening(self, record: Record) -> PushResult:
        """Push a 传染病检测."""
        return await self._push(RecordType.INFECTIOUS_SCREENING, record)

    async def push_ultrasound_nt(self, record: Record) -> PushResult:
        """Push an NT 检查."""
        return await self._push(RecordType.ULTRASOUND_NT, record)

    async def read_record(self, record_type: RecordType, record_id: str) -> StoredRecord | None:
        """The platform's copy of a record, None when it has none (4004).

        Raises `ReadFailed` for any other answer (its `result` is classified as for a push).
        """
        url = f"{self.base_url}{RECORDS_PATH}/{record_type.value}/{record_id}"
        sent = await self._send("GET", url, b"")
        if isinstance(sent, PushResult):
            raise ReadFailed(sent)
        body = _json(sent)
        code = body.get("code") if body is not None else None
        if code == 4004:
            return None
        version = body.get("version") if body is not None else None
        if body is None or code != 0 or not isinstance(version, int):
            raise ReadFailed(classify(sent))
        data = body.get("data")
        received = body.get("receivedAt")
        return StoredRecord(
            version=version,
            data=data if isinstance(data, dict) else {},
            received_at=received if isinstance(received, str) else None,
        )

    def body(self, record_type: RecordType, record: Record) -> dict[str, Any]:
        """The request body of one record (contract §2)."""
        return {
            "recordType": record_type.value,
            "orgCode": self.org_code,
            "recordId": record.record_id,
            "version": record.version,
            "patient": {
                "idCardNo": record.patient.id_card_no,
                "name": record.patient.name,
                "birthDate": record.patient.birth_date,
            },
            "data": dict(record.data),
        }

    async def _push(self, record_type: RecordType, record: Record) -> PushResult:
        raw = json.dumps(
            self.body(record_type, record), ensure_ascii=False, separators=(",", ":")
        ).encode()
        sent = await self._send("POST", f"{self.base_url}{RECORDS_PATH}", raw)
        result = sent if isinstance(sent, PushResult) else classify(sent)
        if result.outcome is not Outcome.DELIVERED:
            log.warning(
                "桂妇儿 push not delivered",
                extra={
                    "record_type": record_type.value,
                    "record_id": record.record_id,
                    "version": record.version,
                    "outcome": result.outcome.value,
                    "code": result.code,
                    "http_status": result.http_status,
                },
            )
        return result

    async def _send(self, method: str, url: str, raw: bytes) -> httpx.Response | PushResult:
        """The response, or TRY_LATER when none arrived (timeout, refused connection…)."""
        headers = {
            **signing.signed_headers(
                self.app_id, self._secret, raw, now=self._clock(), nonce=self._nonce()
            ),
            "Accept": "application/json",
        }
        if method == "POST":
            headers["Content-Type"] = "application/json"
        try:
            return await self._http.request(
                method, url, content=raw or None, headers=headers, timeout=self.timeout_s
            )
        except httpx.TimeoutException as exc:
            log.warning("桂妇儿 request timed out", extra={"url": url, "error": repr(exc)})
            return PushResult(Outcome.TRY_LATER, detail=f"平台在 {self.timeout_s:g} 秒内未答复")
        except httpx.HTTPError as exc:
            log.warning("桂妇儿 request failed", extra={"url": url, "error": repr(exc)})
            return PushResult(Outcome.TRY_LATER, detail=f"无法连接平台（{type(exc).__name__}）")


def classify(response: httpx.Response) -> PushResult:
    """One HTTP answer of the platform as the contract's table (§3) says to treat it.

    Beyond the table: another 4xx (wrong base URL, a proxy refusing us) and an unknown
    `code` are FIX_CONFIGURATION, since resending cannot help; a 200 without a readable
    `code` is TRY_LATER, like any other answer that is not the platform's.
    """
    status = response.status_code
    retry_after = retry_after_seconds(response.headers)
    if status == 429:
        return PushResult(
            Outcome.TRY_LATER, None, status, retry_after_s=retry_after, detail="平台限流"
        )
    if status >= 500:
        return PushResult(
            Outcome.TRY_LATER,
            None,
            status,
            retry_after_s=retry_after,
            detail=f"平台不可用（HTTP {status}）",
        )
    if status != 200:
        return PushResult(
            Outcome.FIX_CONFIGURATION,
            None,
            status,
            detail=f"平台返回 HTTP {status}：请检查 GUIFUER_BASE_URL",
        )
    body = _json(response)
    code = body.get("code") if body is not None else None
    if body is None or not isinstance(code, int) or isinstance(code, bool):
        return PushResult(Outcome.TRY_LATER, None, status, detail="平台的答复无法解读")
    outcome, detail = _BY_CODE.get(code, (Outcome.FIX_CONFIGURATION, f"未知的答复代码 {code}"))
    message = body.get("message")
    if isinstance(message, str) and message:
        detail = f"{detail}（{message}）"
    platform_id = body.get("platformId")
    return PushResult(
        outcome,
        code,
        status,
        platform_id=platform_id if isinstance(platform_id, str) else None,
        duplicate=body.get("duplicate") is True,
        errors=_field_errors(body.get("errors")) if code == 2001 else (),
        retry_after_s=retry_after,
        detail=detail,
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None when absent or bad."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    except (TypeError, ValueError):  # unparsable, or a date without a zone
        return None


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _field_errors(raw: object) -> tuple[FieldError, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        FieldError(str(item.get("field", "")), str(item.get("reason", "")))
        for item in raw
        if isinstance(item, dict)
    )
