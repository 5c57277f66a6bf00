"""The single settings object, read from the environment (DESIGN.md §8)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _data_dir() -> Path:
    return Path(os.environ.get("MHUB_DATA_DIR", "./var")).resolve()


def _secret_key(data_dir: Path) -> str:
    """Return MHUB_SECRET_KEY, or the key generated once for this data directory."""
    configured = os.environ.get("MHUB_SECRET_KEY")
    if configured:
        return configured
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL so that two processes starting together agree on one key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"环境变量 {name} 必须是整数，当前值为 {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Configuration of one MaternityHub process."""

    data_dir: Path
    database_url: str
    secret_key: str
    redis_url: str | None = None
    emr_fhir_base_url: str | None = None
    # Identifier systems the EMR files women under (unset: integrations.emr.fhir defaults).
    emr_record_no_system: str | None = None
    emr_resident_id_system: str | None = None
    lis_fhir_base_url: str | None = None
    # Per HTTP request to the LIS FHIR server; at request time also the whole live read.
    lis_fhir_timeout_ms: int = 5000
    lis_mllp_port: int = 0
    lis_mllp_host: str = "0.0.0.0"  # noqa: S104 (the LIS connects from another machine)
    legacy_database_url: str | None = None
    guifuer_base_url: str | None = None
    guifuer_app_id: str | None = None
    guifuer_app_secret: str | None = None
    guifuer_org_code: str | None = None
    # How long a worker holds a record it is sending; a killed worker's records wait this long.
    push_lease_s: int = 60
    graphiql: bool = True
    introspection: bool = True
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    session_max_age_s: int = 12 * 3600
    secure_cookies: bool = False
    log_level: str = "INFO"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = _data_dir()
        default_db = f"sqlite+aiosqlite:///{data_dir / 'mhub.db'}"
        return cls(
            data_dir=data_dir,
            database_url=os.environ.get("DATABASE_URL") or default_db,
            secret_key=_secret_key(data_dir),
            redis_url=os.environ.get("REDIS_URL") or None,
            emr_fhir_base_url=os.environ.get("EMR_FHIR_BASE_URL") or None,
            emr_record_no_system=os.environ.get("EMR_RECORD_NO_SYSTEM") or None,
            emr_resident_id_system=os.environ.get("EMR_RESIDENT_ID_SYSTEM") or None,
            lis_fhir_base_url=os.environ.get("LIS_FHIR_BASE_URL") or None,
            lis_fhir_timeout_ms=_int("LIS_FHIR_TIMEOUT_MS", 5000),
            lis_mllp_port=_int("LIS_MLLP_PORT", 0),
            lis_mllp_host=os.environ.get("LIS_MLLP_HOST") or "0.0.0.0",  # noqa: S104
            legacy_database_url=os.environ.get("LEGACY_DATABASE_URL") or None,
            guifuer_base_url=os.environ.get("GUIFUER_BASE_URL") or None,
            guifuer_app_id=os.environ.get("GUIFUER_APP_ID") or None,
            guifuer_app_secret=os.environ.get("GUIFUER_APP_SECRET") or None,
            guifuer_org_code=os.environ.get("GUIFUER_ORG_CODE") or None,
            push_lease_s=_int("PUSH_LEASE_S", 60),
            graphiql=_bool("MHUB_GRAPHIQL", True),
            introspection=_bool("MHUB_INTROSPECTION", True),
            max_query_depth=_int("MHUB_MAX_QUERY_DEPTH", 12),
            max_aliases=_int("MHUB_MAX_ALIASES", 30),
            max_tokens=_int("MHUB_MAX_TOKENS", 5000),
            session_max_age_s=_int("MHUB_SESSION_MAX_AGE", 12 * 3600),
            secure_cookies=_bool("MHUB_SECURE_COOKIES", False),
            log_level=os.environ.get("MHUB_LOG_LEVEL", "INFO"),
        )
