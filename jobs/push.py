"""Delivering the 桂妇儿 outbox: the arq jobs (Redis mode) and the in-process loop (embedded).

Both run the same `Deliverer`. The outbox rows are the truth; a job or a wake-up only
says "look now". In Redis mode a commit that wrote the outbox enqueues `push_drain`
(deferred by the coalescing window), and `push_sweep` runs every few seconds from
cron, so records are delivered even if Redis lost every queued job. In embedded mode
`PushLoop` sleeps until the next record is due or a commit wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

import httpx

from domain.database import Database, utcnow
from domain.job.queue import ARQ_QUEUE
from domain.parameter.service import Parameters
from domain.push import reconcile
from domain.push.delivery import Deliverer, DrainStats, channel_row
from domain.push.platform import build_client, new_http, push_configured, worker_name
from domain.settings import Settings

log = logging.getLogger(__name__)

DRAIN_JOB = "push_drain"
SWEEP_EVERY_S = 5  # the cron tick; the `push_sweep_interval_s` parameter decides if it sweeps


async def sweep_due(db: Database, parameters: Parameters, now: dt.datetime) -> bool:
    """True when `push_sweep_interval_s` has passed since the last sweep (and claims this one)."""
    every = await parameters.number("push_sweep_interval_s", 30.0)
    async with db.transaction() as session:
        channel = await channel_row(session)
        if (
            channel.last_sweep_at is not None
            and (now - channel.last_sweep_at).total_seconds() < every
        ):
            return False
        channel.last_sweep_at = now
        return True


# ---------------------------------------------------------------------------- arq (Redis mode)


async def push_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["push_http"] = new_http()
    ctx["deliverer"] = (
        Deliverer(
            ctx["db"],
            build_client(settings, ctx["push_http"]),
            worker=worker_name("arq"),
            lease_s=settings.push_lease_s,
        )
        if push_configured(settings)
        else None
    )
    if ctx["deliverer"] is None:
        log.warning("桂妇儿推送未配置（GUIFUER_*）：推送任务不会发送")


async def push_shutdown(ctx: dict[str, Any]) -> None:
    http: httpx.AsyncClient | None = ctx.get("push_http")
    if http is not None:
        await http.aclose()


async def push_drain(ctx: dict[str, Any]) -> dict[str, Any]:
    """Deliver everything due now; ask to run again when the next record falls due soon."""
    deliverer: Deliverer | None = ctx.get("deliverer")
    if deliverer is None:
        return {"attempted": 0, "configured": False}
    stats = await deliverer.drain(budget_s=120.0)
    wait = await deliverer.seconds_until_due(SWEEP_EVERY_S * 2)
    if wait < SWEEP_EVERY_S * 2 and "redis" in ctx:
        await enqueue_drain(ctx["redis"], delay_s=max(wait, 0.2))
    return {"attempted": stats.attempted, "outcomes": stats.outcomes}


async def push_sweep(ctx: dict[str, Any]) -> dict[str, Any]:
    """Cron: the safety net. Re-drains whatever is due, whatever happened to the queue."""
    deliverer: Deliverer | None = ctx.get("deliverer")
    if deliverer is None or not await sweep_due(ctx["db"], deliverer.parameters, utcnow()):
        return {"swept": False}
    stats = await deliverer.drain(budget_s=120.0)
    return {"swept": True, "attempted": stats.attempted, "outcomes": stats.outcomes}


async def push_reconcile(ctx: dict[str, Any]) -> dict[str, Any]:
    """Cron: compare delivered versions with the platform's, every `reconcile_interval_h`."""
    deliverer: Deliverer | None = ctx.get("deliverer")
    if deliverer is None:
        return {"reconciled": False}
    summary = await reconcile.reconcile_if_due(ctx["db"], deliverer.port, deliverer.parameters)
    return {"reconciled": summary is not None, **(summary.as_dict() if summary else {})}


async def enqueue_drain(redis: Any, *, delay_s: float) -> None:
    """One drain per second of due time: rapid commits share a job (arq job ids are unique)."""
    due = utcnow() + dt.timedelta(seconds=delay_s)
    await redis.enqueue_job(
        DRAIN_JOB,
        _job_id=f"{DRAIN_JOB}:{int(due.timestamp())}",
        _defer_by=delay_s,
        _queue_name=ARQ_QUEUE,
    )


# ---------------------------------------------------------------------------- embedded mode


class PushLoop:
    """The embedded mode's deliverer: one task in the API process, woken by commits."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.http = new_http()
        self.deliverer = Deliverer(
            db,
            build_client(settings, self.http),
            worker=worker_name("inprocess"),
            lease_s=settings.push_lease_s,
        )
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last: DrainStats | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="push-loop")

    async def _run(self) -> None:
        while True:
            try:
                self.last = await self.deliverer.drain(budget_s=30.0)
                every = await self.deliverer.parameters.number("push_sweep_interval_s", 30.0)
                wait = await self.deliverer.seconds_until_due(every)
                if await reconcile.reconcile_if_due(
                    self.db, self.deliverer.port, self.deliverer.parameters
                ):
                    wait = 0.0
            except Exception:
                log.exception("桂妇儿 push loop failed; trying again shortly")
                wait = 5.0
            if self.last is not None and self.last.attempted == 0:
                wait = max(wait, 0.2)  # nothing was claimable: do not spin
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.http.aclose()
