"""The long-lived objects of one API process, created once and shared by requests."""

from __future__ import annotations

import gc
import logging

import httpx
import strawberry

from api.auth import Sessions
from api.metrics import Metrics
from domain.audit.service import AuditBuffer
from domain.database import Database
from domain.inbound.service import InboundProcessor
from domain.migrate import current_revision, head_revision
from domain.parameter.service import Parameters
from domain.settings import Settings
from graphql_schema.schema import build_schema
from integrations.emr.fhir import RECORD_NO_SYSTEM, RESIDENT_ID_SYSTEM, FhirEmr
from integrations.legacy.database import LegacyDatabase
from integrations.lis.mllp import MllpListener
from jobs.runner import InProcessRunner
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
        self.runner = InProcessRunner(self.db) if run_jobs and not settings.redis_url else None
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
        self.emr = EmrGateway(emr_client, Parameters(self.db))
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
        await self.audit.stop()
        if self.emr_http is not None:
            await self.emr_http.aclose()
        if self.legacy is not None:
            await self.legacy.dispose()
        await self.db.dispose()

    @property
    def job_mode(self) -> str:
        if self.settings.redis_url:
            return "arq"
        return "inprocess" if self.runner is not None else "off"
