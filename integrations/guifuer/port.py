"""The 桂妇儿 provincial platform as MaternityHub needs it: push records, read them back.

This is the port the rest of the code depends on; `client.py` is the adapter that speaks
the platform's signed HTTP contract (`/work/shared/specs/guifuer-platform-api.md`) and
`simulator.py` a strict receiver for the demo and the tests. Every answer is reduced to
one `Outcome` telling the sender (the outbox) what to do next; nothing here retries.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class RecordType(enum.Enum):
    """The five record types of the contract (§4)."""

    MATERNAL_REGISTRATION = "MATERNAL_REGISTRATION"  # 孕产妇建档
    PRENATAL_VISIT = "PRENATAL_VISIT"  # 产前检查
    HIGH_RISK_ASSESSMENT = "HIGH_RISK_ASSESSMENT"  # 高危评估
    INFECTIOUS_SCREENING = "INFECTIOUS_SCREENING"  # 传染病检测
    ULTRASOUND_NT = "ULTRASOUND_NT"  # NT 检查


class Outcome(enum.Enum):
    """What the sender does with an answer."""

    DELIVERED = "DELIVERED"  # accepted (or an accepted version resent): mark delivered
    SUPERSEDED = "SUPERSEDED"  # a higher version was accepted already: no retry
    FIX_DATA = "FIX_DATA"  # validation failed: a person fixes the data, a new version follows
    FIX_CONFIGURATION = "FIX_CONFIGURATION"  # signature, credentials, clock: alert, stop
    TRY_LATER = "TRY_LATER"  # unavailable, rate limited, patient not registered yet


@dataclass(frozen=True, slots=True)
class PatientRef:
    """The woman a record is about, as the platform identifies her."""

    id_card_no: str  # 18-character resident identity number
    name: str
    birth_date: str  # YYYY-MM-DD, equal to the one in id_card_no


@dataclass(frozen=True, slots=True)
class Record:
    """One version of one clinical record; `data` is the type's fields, already mapped."""

    record_id: str  # stable for ever; 1–64 characters [A-Za-z0-9_-]
    version: int  # ≥ 1, increased on every change of content
    patient: PatientRef
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One of the platform's validation errors (`errors[]` of a 2001 answer)."""

    field: str  # e.g. "data.ntMm"
    reason: str


@dataclass(frozen=True, slots=True)
class PushResult:
    """The platform's answer to one request, classified."""

    outcome: Outcome
    code: int | None = None  # the body's `code`; None when there was no readable body
    http_status: int | None = None  # None when no HTTP answer arrived
    platform_id: str | None = None
    duplicate: bool = False  # 0 for a resend of an accepted recordId + version
    errors: tuple[FieldError, ...] = ()
    retry_after_s: float | None = None  # from `Retry-After`, when given
    detail: str = ""  # for logs and for the person who reads an alert

    @property
    def waiting_for_registration(self) -> bool:
        """2004: resend once the woman's MATERNAL_REGISTRATION is accepted."""
        return self.code == 2004


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """What the platform holds for a record (reconciliation)."""

    version: int
    data: Mapping[str, Any] = field(default_factory=dict)
    received_at: str | None = None


class ReadFailed(Exception):
    """`read_record` got no usable answer; `result` says why and what to do."""

    def __init__(self, result: PushResult) -> None:
        super().__init__(result.detail)
        self.result = result


class GuifuerPort(Protocol):
    """The platform: one push per record type, and a read for reconciliation."""

    async def push_registration(self, record: Record) -> PushResult: ...

    async def push_prenatal_visit(self, record: Record) -> PushResult: ...

    async def push_high_risk_assessment(self, record: Record) -> PushResult: ...

    async def push_infectious_screening(self, record: Record) -> PushResult: ...

    async def push_ultrasound_nt(self, record: Record) -> PushResult: ...

    async def read_record(self, record_type: RecordType, record_id: str) -> StoredRecord | None:
        """The platform's copy, None when it has none (4004); raises `ReadFailed`."""
        ...
