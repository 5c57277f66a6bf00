"""Per-request values that logs and audit records carry (set by the API layer)."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
operation_name: ContextVar[str | None] = ContextVar("operation_name", default=None)
