"""Expected failures that services report to their callers as data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One broken rule: which input field, what is wrong (Chinese), a stable code."""

    field: str
    message: str
    code: str


class ValidationFailed(Exception):
    """Raised by a service when input breaks a rule; nothing has been written."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class NotFound(Exception):
    """The record a caller named does not exist (or is not visible to them)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.error = FieldError(field=field, message=message, code="NOT_FOUND")


def fail(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field=field, message=message, code=code)])
