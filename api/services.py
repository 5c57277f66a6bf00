"""The long-lived objects of one API process, created once and shared by requests."""

from __future__ import annotations

import logging

import strawberry

from api.auth import Sessions
from api.metrics import Metrics
from domain.audit.service import AuditBuffer
from domain.database import Database
from domain.migrate import current_revision, head_revision
from domain.settings import Settings
from graphql_schema.schema import build_schema
from jobs.runner import InProcessRunner

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings, *, run_jobs: bool = True) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.schema: strawberry.Schema = build_schema(settings)
        self.sessions = Sessions(settings)
        self.metrics = Metrics(self.db)
        self.audit = AuditBuffer(self.db)
        # Embedded mode runs jobs in this process; with Redis, `mhub worker` does.
        self.runner = InProcessRunner(self.db) if run_jobs and not settings.redis_url else None

    async def start(self) -> None:
        current, head = await current_revision(self.db.engine), head_revision()
        if current != head:
            raise RuntimeError(
                f"数据库结构版本为 {current}，需要 {head}：请先运行 `mhub migrate`（或 `mhub demo`）"
            )
        self.audit.start()
        if self.runner is not None:
            self.runner.start()
        log.info("services started", extra={"database": self.db.dialect, "jobs": self.job_mode})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
        await self.audit.stop()
        await self.db.dispose()

    @property
    def job_mode(self) -> str:
        if self.settings.redis_url:
            return "arq"
        return "inprocess" if self.runner is not None else "off"
