"""Request signing of the 桂妇儿 platform (contract §1), shared by the client and the simulator.

Every request carries `X-App-Id`, `X-Timestamp` (Unix seconds), `X-Nonce` (16–64
`[A-Za-z0-9]`) and `X-Signature`: lowercase hex HMAC-SHA256, keyed with the app secret,
of `app_id + "\\n" + timestamp + "\\n" + nonce + "\\n" + sha256_hex(raw_body)`. The body
signed is the exact byte string sent (an empty one for a GET).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping

APP_ID = "X-App-Id"
TIMESTAMP = "X-Timestamp"
NONCE = "X-Nonce"
SIGNATURE = "X-Signature"
CLOCK_WINDOW_S = 300  # the platform refuses a timestamp further than this from its clock
NONCE_MEMORY_S = 600  # a nonce may not be reused within this time
_NONCE = re.compile(r"[A-Za-z0-9]{16,64}")
_TIMESTAMP = re.compile(r"-?[0-9]{1,12}")
_HEX = re.compile(r"[0-9a-f]{64}")


def canonical_string(app_id: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The string the signature covers."""
    return f"{app_id}\n{timestamp}\n{nonce}\n{hashlib.sha256(body).hexdigest()}"


def sign(secret: str, app_id: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the canonical string."""
    message = canonical_string(app_id, timestamp, nonce, body).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def new_nonce() -> str:
    """32 random hex characters: inside `[A-Za-z0-9]{16,64}`, never repeated in practice."""
    return secrets.token_hex(16)


def signed_headers(
    app_id: str, secret: str, body: bytes, *, now: float, nonce: str
) -> dict[str, str]:
    """The four signing headers of one request sent at `now` (Unix seconds)."""
    timestamp = str(int(now))
    return {
        APP_ID: app_id,
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGNATURE: sign(secret, app_id, timestamp, nonce, body),
    }


class Refusal(enum.Enum):
    """Why a receiver refuses a request's signing headers (the contract's answer code)."""

    BAD_SIGNATURE = 1001  # also an unknown app id or missing / malformed headers
    CLOCK = 1002
    NONCE_REUSED = 1003


def check_headers(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets_by_app: Mapping[str, str],
    now: float,
) -> Refusal | None:
    """What a receiver checks before the nonce: app id, signature, then the clock window.

    Header names are matched case-insensitively (HTTP); None when the headers are good.
    The nonce's freshness is the receiver's state, checked after this by the caller.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    app_id = lowered.get(APP_ID.lower())
    timestamp = lowered.get(TIMESTAMP.lower())
    nonce = lowered.get(NONCE.lower())
    signature = lowered.get(SIGNATURE.lower())
    if app_id is None or timestamp is None or nonce is None or signature is None:
        return Refusal.BAD_SIGNATURE
    secret = secrets_by_app.get(app_id)
    if (
        secret is None
        or not _NONCE.fullmatch(nonce)
        or not _TIMESTAMP.fullmatch(timestamp)
        or not _HEX.fullmatch(signature)
    ):
        return Refusal.BAD_SIGNATURE
    expected = sign(secret, app_id, timestamp, nonce, body)
    if not hmac.compare_digest(expected, signature):
        return Refusal.BAD_SIGNATURE
    if abs(now - int(timestamp)) > CLOCK_WINDOW_S:
        return Refusal.CLOCK
    return None
