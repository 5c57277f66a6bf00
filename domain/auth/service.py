"""Users, passwords (argon2) and API bearer tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.auth.actor import Actor, Role, parse_roles
from domain.auth.models import ApiToken, User
from domain.database import utcnow
from domain.errors import fail

_hasher = PasswordHasher()
TOKEN_PREFIX = "mh_"  # noqa: S105 (a public prefix, not a secret)
# Verifying against this keeps the time of a login for an unknown user like a real one.
_DUMMY_HASH = _hasher.hash("not-a-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def actor_of(user: User) -> Actor:
    return Actor(user_id=user.id, username=user.username, roles=parse_roles(user.roles))


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The active user with this password, or None; constant work for unknown names."""
    user = await session.scalar(select(User).where(User.username == username))
    candidate = user.password_hash if user and user.password_hash and user.active else _DUMMY_HASH
    try:
        _hasher.verify(candidate, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    return user if user is not None and user.active and user.password_hash else None


async def ensure_user(
    session: AsyncSession,
    username: str,
    *,
    display_name: str,
    roles: list[Role],
    password: str | None,
) -> User:
    """Create the user or bring roles/password up to date (idempotent)."""
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, display_name=display_name, roles=[r.value for r in roles])
        session.add(user)
    else:
        user.roles = [r.value for r in roles]
        user.display_name = display_name
    if password is not None and (
        user.password_hash is None or not _verifies(user.password_hash, password)
    ):
        user.password_hash = hash_password(password)
    await session.flush()
    return user


def _verifies(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def demo_password(secret_key: str, username: str) -> str:
    """A demo user's password: stable for one data directory, unguessable without its key."""
    digest = hmac.new(secret_key.encode(), f"demo-user:{username}".encode(), hashlib.sha256)
    return f"{username}-{digest.hexdigest()[:10]}"


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_token(
    session: AsyncSession, username: str, *, label: str | None = None, days: int | None = 365
) -> str:
    """Create a bearer token for a user and return it; only its hash is stored."""
    user = await session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise fail("user", f"用户 {username} 不存在或已停用", "NOT_FOUND")
    secret = secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=days) if days else None
    session.add(
        ApiToken(user_id=user.id, secret_hash=_secret_hash(secret), label=label, expires_at=expires)
    )
    await session.flush()
    return TOKEN_PREFIX + secret


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = await session.execute(
        select(User, ApiToken)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.secret_hash == _secret_hash(token[len(TOKEN_PREFIX) :]))
    )
    found = row.first()
    if found is None:
        return None
    user, api_token = found
    now = utcnow()
    if api_token.revoked_at is not None or (api_token.expires_at and api_token.expires_at < now):
        return None
    return user if user.active else None
