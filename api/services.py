"""The long-lived objects of one API process, created once and shared by requests."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import httpx
import strawberry
from redis.exceptions import RedisError

from api.auth import Sessions
from api.metrics import Metrics
from domain.audit.service import AuditBuffer
from domain.database import Database
from domain.inbound.service import InboundProcessor
from domain.migrate import current_revision, head_revision
from domain.parameter.service import Parameters
from domain.push.outbox import PUSH_SIGNAL
from domain.push.platform import push_configured
from domain.settings import Settings
from graphql_schema.schema import build_schema
from integrations.emr.fhir import RECORD_NO_SYSTEM, RESIDENT_ID_SYSTEM, FhirEmr
from integrations.legacy.database import LegacyDatabase
from integrations.lis.mllp import MllpListener
from jobs.push import PushLoop, enqueue_drain
from jobs.runner import InProcessRunner
from jobs.worker import redis_settings
from resolvers.emr.gateway import EmrGateway

log = logging.getLogger(__name__)


class Services:
    def __init__(
        self, settings: Settings, *, run_jobs: bool = True, freeze_gc: bool = False
    ) -> None:
        self.freeze_gc = freeze_gc
        self.settings = settings
        self.db = Database(settings.database_url)
        self.schema: strawberry.Schema = build_schema(settings)
        self.sessions = Sessions(settings)
        self.metrics = Metrics(self.db)
        self.audit = AuditBuffer(self.db)
        # Embedded mode runs jobs in this process; with Redis, `mhub worker` does.
        self.runner = (
            InProcessRunner(self.db, settings=settings)
            if run_jobs and not settings.redis_url
            else None
        )
        # The 桂妇儿 outbox: delivered in this process (embedded) or by the arq workers;
        # a commit that wrote it wakes the loop or enqueues a drain (the sweep is the net).
        self.push_loop = (
            PushLoop(self.db, settings)
            if run_jobs and not settings.redis_url and push_configured(settings)
            else None
        )
        self._kicks: set[asyncio.Task[None]] = set()
        self._arq: Any = None
        self.db.listen(PUSH_SIGNAL, self._push_changed)
        # HL7 v2 results from the LIS/RIS over MLLP; off unless LIS_MLLP_PORT is set.
        self.mllp = (
            MllpListener(
                InboundProcessor(self.db),
                host=settings.lis_mllp_host,
                port=settings.lis_mllp_port,
            )
            if settings.lis_mllp_port > 0
            else None
        )
        # The EMR (FHIR R4), asked live by resolvers and when a factor is recorded: one
        # pooled client per process; each call has a deadline and a short cache (EmrGateway).
        self.emr_http: httpx.AsyncClient | None = None
        emr_client: FhirEmr | None = None
        if settings.emr_fhir_base_url:
            self.emr_http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0))
            emr_client = FhirEmr(
                self.emr_http,
                settings.emr_fhir_base_url,
                record_no_system=settings.emr_record_no_system or RECORD_NO_SYSTEM,
                resident_id_system=settings.emr_resident_id_system or RESIDENT_ID_SYSTEM,
            )
        self.parameters = Parameters(self.db)
        self.emr = EmrGateway(emr_client, self.parameters)
        # The old obstetric system's database, read live (read-only) when configured.
        self.legacy = LegacyDatabase.from_settings(settings.legacy_database_url)

    async def start(self) -> None:
        current, head = await current_revision(self.db.engine), head_revision()
        if current != head:
            raise RuntimeError(
                f"数据库结构版本为 {current}，需要 {head}：请先运行 `mhub migrate`（或 `mhub demo`）"
            )
        self.audit.start()
        if self.runner is not None:
            self.runner.start()
        if self.push_loop is not None:
            self.push_loop.start()
        if self.mllp is not None:
            await self.mllp.start()
        if self.freeze_gc:
            # Everything built so far (schema, mappers, modules) lives as long as the
            # process: keep it out of the collector's scans, whose full passes otherwise
            # stall requests for 100+ ms (worklist benchmark: p95 194 → 55 ms).
            gc.collect()
            gc.freeze()
        log.info("services started", extra={"database": self.db.dialect, "jobs": self.job_mode})

    async def stop(self) -> None:
        if self.mllp is not None:
            await self.mllp.stop()
        if self.runner is not None:
            await self.runner.stop()
        if self.push_loop is not None:
            await self.push_loop.stop()
        for kick in list(self._kicks):
            kick.cancel()
        if self._arq is not None:
            await self._arq.aclose()
        await self.audit.stop()
        if self.emr_http is not None:
            await self.emr_http.aclose()
        if self.legacy is not None:
            await self.legacy.dispose()
        await self.db.dispose()

    def _push_changed(self) -> None:
        """A transaction wrote the push outbox: deliver it soon."""
        if self.push_loop is not None:
            self.push_loop.wake()
        elif self.settings.redis_url:
            task = asyncio.get_running_loop().create_task(self._enqueue_drain())
            self._kicks.add(task)
            task.add_done_callback(self._kicks.discard)

    async def _enqueue_drain(self) -> None:
        try:
            if self._arq is None:
                from arq import create_pool

                self._arq = await create_pool(redis_settings(self.settings.redis_url or ""))
            coalesce = await self.parameters.number("push_coalesce_s", 2.0)
            await enqueue_drain(self._arq, delay_s=coalesce + 0.1)
        except (OSError, RedisError) as exc:
            # The outbox row is committed; the workers' sweep delivers it.
            log.warning("push drain not enqueued (%s); the sweep will deliver", type(exc).__name__)

    @property
    def job_mode(self) -> str:
        if self.settings.redis_url:
            return "arq"
        return "inprocess" if self.runner is not None else "off"
