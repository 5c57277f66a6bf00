"""The 桂妇儿 platform adapter as configured by GUIFUER_* (one place for API and workers)."""

from __future__ import annotations

import os
import socket

import httpx

from domain.settings import Settings
from integrations.guifuer.client import GuifuerClient


class PushNotConfigured(RuntimeError):
    """GUIFUER_* settings are missing: records stay in the outbox until they are set."""


def worker_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def build_client(settings: Settings, http: httpx.AsyncClient) -> GuifuerClient:
    missing = [
        name
        for name, value in (
            ("GUIFUER_BASE_URL", settings.guifuer_base_url),
            ("GUIFUER_APP_ID", settings.guifuer_app_id),
            ("GUIFUER_APP_SECRET", settings.guifuer_app_secret),
            ("GUIFUER_ORG_CODE", settings.guifuer_org_code),
        )
        if not value
    ]
    if missing:
        raise PushNotConfigured(
            f"桂妇儿推送未配置：缺少 {'、'.join(missing)}，记录保留在推送队列中"
        )
    return GuifuerClient(
        http,
        settings.guifuer_base_url or "",
        app_id=settings.guifuer_app_id or "",
        app_secret=settings.guifuer_app_secret or "",
        org_code=settings.guifuer_org_code or "",
    )


def push_configured(settings: Settings) -> bool:
    return all(
        (
            settings.guifuer_base_url,
            settings.guifuer_app_id,
            settings.guifuer_app_secret,
            settings.guifuer_org_code,
        )
    )


def new_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=3.0),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
    )
