"""One hook per operation (never per field): operation name, metrics, read audit."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from domain import request

ANONYMOUS = "anonymous"


class ObserveOperation(SchemaExtension):
    def _name(self) -> str:
        # Before parsing only the request's `operationName` is known; after it, the
        # name written in the document (`query Worklist { … }`) is too.
        try:
            return self.execution_context.operation_name or ANONYMOUS
        except Exception:  # a document that did not parse has no operation
            return ANONYMOUS

    def _kind(self) -> str:
        try:
            return self.execution_context.operation_type.value
        except Exception:
            return "unknown"

    def on_execute(self) -> Iterator[None]:
        token = request.operation_name.set(self._name())
        try:
            yield
        finally:
            request.operation_name.reset(token)

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ec = self.execution_context
        ctx = ec.context
        name = self._name()
        errors = len(ec.result.errors or []) if ec.result is not None else 0
        ctx.observer.observe(name, self._kind(), time.perf_counter() - started, errors)
        if ctx.actor is not None and ctx.read_audit.patient_ids:
            ctx.audit_buffer.add_read(ctx.actor, ctx.read_audit.patient_ids, name)
