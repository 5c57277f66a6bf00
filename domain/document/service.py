"""Storing rendered documents and handing them out through short-lived signed URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import utcnow
from domain.document.models import StoredDocument
from domain.settings import Settings

PDF = "application/pdf"
# Long enough to click and print, short enough that a copied link stops working soon.
DEFAULT_TTL_S = 300
MAX_TTL_S = 24 * 3600


_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def safe_filename(name: str) -> str:
    """A file name that is one path component on every system (no separators, no controls)."""
    cleaned = _UNSAFE_IN_FILENAME.sub("_", name).strip(" .")
    return cleaned[:200] or "document"


async def save_document(
    session: AsyncSession,
    *,
    kind: str,
    filename: str,
    media_type: str,
    content: bytes,
    created_by: str,
    pregnancy_id: int | None = None,
) -> StoredDocument:
    """Add a new immutable document (a new version) in the caller's transaction."""
    document = StoredDocument(
        kind=kind,
        filename=safe_filename(filename),
        media_type=media_type,
        content=content,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        pregnancy_id=pregnancy_id,
        created_by=created_by[:64],
        created_at=utcnow(),
    )
    session.add(document)
    await session.flush()
    return document


async def get_document(session: AsyncSession, document_id: int) -> StoredDocument | None:
    return await session.get(StoredDocument, document_id)


async def versions_by_pregnancy(
    session: AsyncSession, kind: str, pregnancy_ids: Sequence[int]
) -> list[StoredDocument]:
    """Every version of `kind` for these pregnancies, newest first, without the bytes."""
    from sqlalchemy.orm import defer

    rows = await session.scalars(
        select(StoredDocument)
        .options(defer(StoredDocument.content))
        .where(StoredDocument.kind == kind, StoredDocument.pregnancy_id.in_(pregnancy_ids))
        .order_by(StoredDocument.created_at.desc(), StoredDocument.id.desc())
    )
    return list(rows.all())


def _signature(secret_key: str, document_id: int, expires: int) -> str:
    message = f"document:{document_id}:{expires}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def download_url(settings: Settings, document_id: int, *, ttl_s: int = DEFAULT_TTL_S) -> str:
    """A relative URL that serves the document until `ttl_s` seconds from now."""
    if not 1 <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be between 1 and {MAX_TTL_S}")
    expires = int(time.time()) + ttl_s
    signature = _signature(settings.secret_key, document_id, expires)
    return f"/documents/{document_id}?exp={expires}&sig={signature}"


def check_signature(
    settings: Settings, document_id: int, expires: str, signature: str, *, now: float | None = None
) -> str | None:
    """None when the link is valid, otherwise why not (Chinese, for the response)."""
    try:
        expires_at = int(expires)
    except ValueError:
        return "下载链接无效"
    expected = _signature(settings.secret_key, document_id, expires_at)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "下载链接无效"
    if (now if now is not None else time.time()) > expires_at:
        return "下载链接已过期，请重新获取"
    return None
