"""One hook per operation (never per field): operation name, metrics, read audit."""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import OperationType
from strawberry.extensions import SchemaExtension

from domain import request


class ObserveOperation(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        ec = self.execution_context
        name = ec.operation_name or "anonymous"
        token = request.operation_name.set(name)
        try:
            yield
        finally:
            request.operation_name.reset(token)
        ctx = ec.context
        errors = len(ec.result.errors or []) if ec.result is not None else 0
        try:
            kind = ec.operation_type.value
        except RuntimeError:  # the document did not parse or names no operation
            kind = OperationType.QUERY.value if ec.graphql_document is None else "unknown"
        ctx.observer.observe(name, kind, time.perf_counter() - started, errors)
        if ctx.actor is not None and ctx.read_audit.patient_ids:
            ctx.audit_buffer.add_read(ctx.actor, ctx.read_audit.patient_ids, name)
