"""Ultrasound reports from the RIS as FHIR R4: `POST /fhir/DiagnosticReport` and `POST /fhir`.

The caller must be allowed to write clinical data (a doctor or an integration account
with that permission), by bearer token or session (with the CSRF header). Every body up
to 1 MiB is stored first as an `InboundMessage` (channel FHIR_RIS, message id = the
DiagnosticReport id, or `sha256:<hash of the body>` when it has none) in a committed
transaction of its own, then processed by `InboundProcessor.process` — the same code that
`reprocessInboundMessages` runs later, so a report for a woman not yet registered is kept
with ERROR/UNKNOWN_PATIENT and recorded once she is.

Answers: 201 with the exam (global id, NT status and value) when it was recorded now;
200 for a resend of a report already recorded (no second exam); 422 with an
OperationOutcome (Chinese diagnostics, the error code in `details.coding`) when the report
cannot be read or matched; 401/403 without the right credential (nothing stored); 413
over 1 MiB (nothing stored); 503 when the database is unavailable (send again).

A `Bundle` posted to `/fhir` is split: each entry's resource is stored and processed as
its own message, and the answer is a `batch-response` Bundle with one entry per entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import ANONYMOUS, identify
from api.auth import csrf_failure as _csrf_failure
from api.services import Services
from domain.auth.actor import Permission
from domain.database import Database, utcnow
from domain.inbound.models import InboundMessage, InboundStatus
from domain.inbound.service import (
    CHANNEL_FHIR_RIS,
    INTERNAL_ERROR,
    InboundProcessor,
    mask_identifiers,
)
from domain.ultrasound.models import UltrasoundExam
from domain.ultrasound.service import RIS_SOURCE, exam_source_id, report_id
from graphql_schema.base import to_global_id

MAX_BODY_BYTES = 1024 * 1024
FHIR_JSON = "application/fhir+json"
ISSUE_CODES = {401: "login", 403: "forbidden", 413: "too-costly", 422: "processing"}
_STATUS_TEXT = {200: "200 OK", 201: "201 Created", 422: "422 Unprocessable Entity"}


def operation_outcome(
    diagnostics: str, *, issue: str = "processing", code: str | None = None, path: str = ""
) -> dict[str, Any]:
    entry: dict[str, Any] = {"severity": "error", "code": issue, "diagnostics": diagnostics}
    if code:
        entry["details"] = {
            "coding": [{"system": "urn:maternityhub:inbound-error", "code": code}],
            "text": code,
        }
    if path:
        entry["expression"] = [path]
    return {"resourceType": "OperationOutcome", "issue": [entry]}


def _fail(status: int, diagnostics: str, *, code: str | None = None, path: str = "") -> Response:
    body = operation_outcome(
        diagnostics, issue=ISSUE_CODES.get(status, "exception"), code=code, path=path
    )
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


@dataclass(frozen=True)
class Received:
    """What happened to one DiagnosticReport: the HTTP status and the body to answer."""

    status: int
    body: dict[str, Any]


async def _authorise(request: Request, services: Services) -> Response | None:
    caller = await identify(request, services.db, services.sessions)
    if caller is ANONYMOUS or caller.actor is None:
        return _fail(401, "未登录或令牌无效：请使用有效的 Bearer 令牌或登录会话")
    if _csrf_failure(request, caller) is not None:
        return _fail(403, "CSRF 校验失败：请求头 X-CSRF-Token 缺失或不匹配")
    if not caller.actor.can(Permission.WRITE_CLINICAL):
        return _fail(403, "无权限：只有可以录入临床数据的用户（医生）可以提交超声报告")
    return None


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is over the limit (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _store(db: Database, raw: bytes, message_id: str) -> tuple[InboundMessage, bool]:
    query = select(InboundMessage).where(
        InboundMessage.channel == CHANNEL_FHIR_RIS, InboundMessage.message_id == message_id
    )
    try:
        async with db.transaction() as session:
            existing = await session.scalar(query)
            if existing is not None:
                return existing, True
            row = InboundMessage(
                channel=CHANNEL_FHIR_RIS,
                message_id=message_id,
                message_type="DiagnosticReport",
                charset="UTF-8",
                raw=raw,
                received_at=utcnow(),
                status=InboundStatus.RECEIVED,
                error_fields=[],
                attempts=0,
            )
            session.add(row)
        return row, False
    except IntegrityError:
        # The same id stored meanwhile by another request.
        async with db.reader() as session:
            found = await session.scalar(query)
        if found is None:
            raise
        return found, True


async def _exam_body(db: Database, row: InboundMessage) -> dict[str, Any]:
    async with db.reader() as session:
        exam = await session.scalar(
            select(UltrasoundExam).where(
                UltrasoundExam.source == RIS_SOURCE,
                UltrasoundExam.source_id == exam_source_id(row.message_id),
            )
        )
    body: dict[str, Any] = {"messageId": row.message_id, "inboundMessageId": row.id}
    if exam is not None:
        body |= {
            "id": to_global_id("UltrasoundExam", exam.id),
            "pregnancyId": (
                to_global_id("Pregnancy", exam.pregnancy_id) if exam.pregnancy_id else None
            ),
            "examDate": exam.exam_date.isoformat(),
            "extractionStatus": exam.extraction_status,
            "ntMm": exam.nt_mm,
            "crlMm": exam.crl_mm,
            "ntAtOrAboveCutoff": exam.nt_at_or_above_cutoff,
        }
    return body


async def receive_report(db: Database, raw: bytes) -> Received:
    """Store one DiagnosticReport body (committed), then process it."""
    message_id = report_id(raw) or "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        row, duplicate = await _store(db, raw, message_id)
    except Exception:
        return Received(
            503, operation_outcome("数据库暂时不可用，报告未保存，请稍后重发", issue="transient")
        )
    if duplicate and row.status == InboundStatus.PROCESSED:
        return Received(200, await _exam_body(db, row))
    # New, or sent again after an error: a fix (registration) may apply now.
    outcome = await InboundProcessor(db, channel=CHANNEL_FHIR_RIS).process(row.id)
    if outcome is None or not outcome.recorded:
        return Received(
            503,
            operation_outcome(
                "报告已保存，但暂时无法处理，请稍后重发（重发不会重复保存）", issue="transient"
            ),
        )
    if outcome.status == InboundStatus.PROCESSED:
        return Received(200 if duplicate else 201, await _exam_body(db, row))
    detail = mask_identifiers(outcome.error_detail or "报告无法处理")
    if outcome.error_code == INTERNAL_ERROR:
        return Received(500, operation_outcome(detail, issue="exception", code=INTERNAL_ERROR))
    path = str(outcome.error_fields[0]["field"]) if outcome.error_fields else ""
    return Received(422, operation_outcome(detail, code=outcome.error_code, path=path))


def _answer(received: Received) -> Response:
    return JSONResponse(received.body, status_code=received.status, media_type=FHIR_JSON)


async def post_diagnostic_report(request: Request) -> Response:
    """POST /fhir/DiagnosticReport: one ultrasound report."""
    services: Services = request.app.state.services
    refused = await _authorise(request, services)
    if refused is not None:
        return refused
    raw = await _read_body(request)
    if raw is None:
        return _fail(413, f"请求体超过 {MAX_BODY_BYTES // 1024} KiB，未保存")
    return _answer(await receive_report(services.db, raw))


def _bundle_entries(raw: bytes) -> list[Any] | None:
    """The entries of a non-empty Bundle, or None when the body is not one."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        return None
    entries = data.get("entry")
    return entries if isinstance(entries, list) and entries else None


async def post_bundle(request: Request) -> Response:
    """POST /fhir: a Bundle of DiagnosticReports (each stored and processed on its own)."""
    services: Services = request.app.state.services
    refused = await _authorise(request, services)
    if refused is not None:
        return refused
    raw = await _read_body(request)
    if raw is None:
        return _fail(413, f"请求体超过 {MAX_BODY_BYTES // 1024} KiB，未保存")
    entries = _bundle_entries(raw)
    if entries is None:
        # Not a Bundle (or an empty one): stored and answered like a single report.
        return _answer(await receive_report(services.db, raw))
    answers = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        body = json.dumps(resource, ensure_ascii=False).encode("utf-8")
        received = await receive_report(services.db, body)
        response: dict[str, Any] = {
            "status": _STATUS_TEXT.get(received.status, str(received.status))
        }
        if received.body.get("resourceType") == "OperationOutcome":
            response["outcome"] = received.body
        elif "id" in received.body:
            response["location"] = f"UltrasoundExam/{received.body['id']}"
        answers.append({"resource": received.body, "response": response})
    return JSONResponse(
        {"resourceType": "Bundle", "type": "batch-response", "entry": answers},
        media_type=FHIR_JSON,
    )
