"""The in-process job runner of the embedded mode (no Redis).

It runs the same job functions as the arq worker, on the API process's event loop,
each on a schedule; a failing run is logged and retried at the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.database import Database
from domain.settings import Settings
from jobs.background import EmbeddedJobs
from jobs.heartbeat import beat, runner_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    every_s: float
    run: Callable[[], Awaitable[None]]


class InProcessRunner:
    def __init__(
        self,
        db: Database,
        *,
        heartbeat_s: float = 30.0,
        settings: Settings | None = None,
        jobs_poll_s: float = 1.0,
        inspection_check_s: float = 3600.0,
    ) -> None:
        self.name = runner_name("inprocess")
        self._db = db
        self._periodic = [
            Periodic("heartbeat", heartbeat_s, lambda: beat(db, self.name, {"mode": "embedded"}))
        ]
        self._tasks: list[asyncio.Task[None]] = []
        # With settings (the API process), background jobs run here too: queued
        # `background_job` rows (handbook PDFs, inspection reports), and the inspection
        # queued whenever `inspection_interval_days` has passed since the last report.
        self.background: EmbeddedJobs | None = None
        if settings is not None:
            self.background = EmbeddedJobs(db, settings, self.name)
            self._periodic += [
                Periodic("background-jobs", jobs_poll_s, self.background.run_queued),
                Periodic("inspection-schedule", inspection_check_s, self.background.schedule),
            ]

    async def _loop(self, job: Periodic) -> None:
        while True:
            try:
                await job.run()
            except Exception:
                log.exception("job %s failed; next run in %ss", job.name, job.every_s)
            await asyncio.sleep(job.every_s)

    def start(self) -> None:
        for job in self._periodic:
            self._tasks.append(asyncio.create_task(self._loop(job), name=f"job:{job.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.background is not None:
            await self.background.close()
