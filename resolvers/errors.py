"""Turn a service's expected failures into data for the payload."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from domain.errors import FieldError, NotFound, ValidationFailed

T = TypeVar("T")


async def outcome(call: Awaitable[T]) -> T | list[FieldError]:
    """Await a service call; expected failures come back as field errors (nothing written)."""
    try:
        return await call
    except ValidationFailed as exc:
        return exc.errors
    except NotFound as exc:
        return [exc.error]
