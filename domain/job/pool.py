"""A process pool for blocking renders, with a time and a memory limit per render.

weasyprint holds the CPU for seconds and can take hundreds of megabytes on a large
document; on the event loop it would stall every request. Each render runs in a
worker process whose address space is capped (`RLIMIT_AS`, set by the initializer),
so a runaway document fails with MemoryError inside the worker instead of taking the
machine. The parent enforces the time limit: on timeout the pool's processes are
killed and a new pool is started for the next render.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import select
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_WORKERS = 2
DEFAULT_TIMEOUT_S = 120.0
# weasyprint's address space peaks near 250 MB for a handbook; 1 GiB leaves room for
# long documents while stopping one that runs away.
DEFAULT_MEMORY_MB = 1024
# Starting the first worker (and the fork server) may take seconds on a busy machine.
STARTUP_TIMEOUT_S = 60.0


class RenderFailed(Exception):
    """A render did not produce a document; `message` says why (Chinese)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RenderTimeout(RenderFailed):
    pass


@dataclass(frozen=True)
class RenderLimits:
    workers: int = DEFAULT_WORKERS
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB

    @classmethod
    def from_env(cls) -> RenderLimits:
        """MHUB_RENDER_WORKERS, MHUB_RENDER_TIMEOUT_S, MHUB_RENDER_MEMORY_MB (defaults above)."""

        def number(name: str, default: float) -> float:
            raw = os.environ.get(name)
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError as exc:
                raise ValueError(f"环境变量 {name} 必须是数字，当前值为 {raw!r}") from exc
            if value <= 0:
                raise ValueError(f"环境变量 {name} 必须大于0，当前值为 {raw!r}")
            return value

        return cls(
            workers=int(number("MHUB_RENDER_WORKERS", DEFAULT_WORKERS)),
            timeout_s=number("MHUB_RENDER_TIMEOUT_S", DEFAULT_TIMEOUT_S),
            memory_mb=int(number("MHUB_RENDER_MEMORY_MB", DEFAULT_MEMORY_MB)),
        )


def _exit_with(parent_pid: int) -> None:
    """End this worker when the process that owns the pool is gone.

    A pool's workers are children of the fork server, not of its owner, and keep
    both ends of their task pipe: an owner killed by a signal (uvicorn re-raises
    SIGTERM after a graceful shutdown, so atexit never runs) would leave them, and
    the fork server, behind for good.
    """
    try:
        handle: int | None = os.pidfd_open(parent_pid)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd (old kernel, other systems): poll
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])  # a pidfd turns readable when the process ends
        else:
            while True:
                time.sleep(1.0)
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    continue
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-owner", daemon=True).start()


def _initialize_worker(memory_bytes: int, parent_pid: int) -> None:
    """Runs first in every worker: follow the owner, cap the address space, load weasyprint."""
    _exit_with(parent_pid)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    # The import takes a second: pay it once per worker, before the first render.
    import weasyprint  # type: ignore[import-untyped]  # noqa: F401


def _ready() -> bool:
    return True


def _context() -> multiprocessing.context.BaseContext:
    # forkserver: workers fork from a small server process (no copy of the parent's
    # event loop, sockets or threads) that has imported weasyprint once, so a new
    # worker starts in milliseconds; spawn where forkserver is missing.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["weasyprint", "domain.document.pdf"])
        return context
    return multiprocessing.get_context("spawn")


class RenderPool:
    """Runs picklable functions in worker processes; `await pool.run(fn, *args)`."""

    def __init__(self, limits: RenderLimits | None = None) -> None:
        self.limits = limits or RenderLimits()
        self._executor: ProcessPoolExecutor | None = None
        # Bumped whenever the pool is killed, so that a render lost with it is retried.
        self._generation = 0
        self._submitted: set[Future[Any]] = set()
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.limits.workers,
                mp_context=_context(),
                initializer=_initialize_worker,
                initargs=(self.limits.memory_mb * 1024 * 1024, os.getpid()),
            )
        return self._executor

    def _kill(self) -> None:
        executor, self._executor = self._executor, None
        self._generation += 1
        if executor is None:
            return
        processes: dict[int, Any] = dict(getattr(executor, "_processes", None) or {})
        for process in processes.values():
            if process.is_alive():
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    async def _started(self) -> ProcessPoolExecutor:
        """The executor, with a worker up: starting one is not part of any render's time."""
        if self._executor is not None:
            return self._executor
        executor = self._pool()
        try:
            await asyncio.wait_for(
                asyncio.wrap_future(executor.submit(_ready)), timeout=STARTUP_TIMEOUT_S
            )
        except (TimeoutError, BrokenProcessPool):
            self._kill()
            raise RenderFailed("渲染进程无法启动") from None
        return executor

    def _gate(self) -> asyncio.Semaphore:
        # One render per worker at a time: a render waits here, not in the executor's
        # queue, so that its time limit counts rendering only. One gate per event loop.
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.limits.workers)
        return gate

    @property
    def busy(self) -> bool:
        """Whether a worker is still working on something (even for a caller who left)."""
        self._submitted = {f for f in self._submitted if not f.done()}
        return bool(self._submitted)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in a worker process, within the time and memory limits."""
        async with self._gate():
            return await self._run(fn, *args)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        for attempt in range(2):
            executor = await self._started()
            generation = self._generation
            future = executor.submit(fn, *args)
            self._submitted.add(future)
            try:
                return await asyncio.wait_for(
                    asyncio.wrap_future(future), timeout=self.limits.timeout_s
                )
            except TimeoutError:
                log.warning("render exceeded %ss; killing the render pool", self.limits.timeout_s)
                self._kill()
                raise RenderTimeout(
                    f"渲染超时（超过 {self.limits.timeout_s:g} 秒），已终止渲染进程"
                ) from None
            except MemoryError:
                raise RenderFailed(
                    f"渲染超出内存限制（{self.limits.memory_mb} MB），文档过大"
                ) from None
            except BrokenProcessPool:
                if generation != self._generation and attempt == 0:
                    continue  # another render's timeout killed the pool: run this one again
                self._kill()
                raise RenderFailed("渲染进程异常退出（可能超出内存限制），已重启渲染进程") from None
        raise AssertionError("unreachable")

    def kill(self) -> None:
        """Stop at once: kill the worker processes, whatever they are doing."""
        self._kill()

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)


_shared: dict[RenderLimits, RenderPool] = {}
_users: dict[RenderLimits, int] = {}


def acquire_shared(limits: RenderLimits | None = None) -> RenderPool:
    """The process's render pool for these limits, shared by its users (the in-process
    runner of each app in the process); its workers start on the first render."""
    limits = limits or RenderLimits.from_env()
    pool = _shared.get(limits)
    if pool is None:
        pool = _shared[limits] = RenderPool(limits)
    _users[limits] = _users.get(limits, 0) + 1
    return pool


async def release_shared(pool: RenderPool) -> None:
    """Stop using a shared pool; the last user's release stops its worker processes
    (a render still running was given up by its job, which was marked failed)."""
    limits = pool.limits
    _users[limits] = _users.get(limits, 1) - 1
    if _users[limits] <= 0:
        _users.pop(limits, None)
        if _shared.pop(limits, None) is not None:
            if pool.busy:
                pool.kill()
            else:
                await pool.aclose()
