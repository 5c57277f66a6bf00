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
from jobs.heartbeat import beat, runner_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    every_s: float
    run: Callable[[], Awaitable[None]]


class InProcessRunner:
    def __init__(self, db: Database, *, heartbeat_s: float = 30.0) -> None:
        self.name = runner_name("inprocess")
        self._db = db
        self._periodic = [
            Periodic("heartbeat", heartbeat_s, lambda: beat(db, self.name, {"mode": "embedded"}))
        ]
        self._tasks: list[asyncio.Task[None]] = []

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
