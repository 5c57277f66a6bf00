"""The render pool: work runs in other processes, within a memory and a time limit, and
the pool recovers after a render is killed."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import pytest

from domain.job.pool import RenderFailed, RenderLimits, RenderPool, RenderTimeout

# Builtins, so that a worker does not import this test module (and pytest) to run them.
worker_pid = os.getpid
sleep = time.sleep
allocate = bytearray
MB = 1024 * 1024


@pytest.fixture
async def pool() -> AsyncIterator[RenderPool]:
    limits = RenderLimits(workers=1, timeout_s=20.0, memory_mb=700)
    render_pool = RenderPool(limits)
    yield render_pool
    await render_pool.aclose()


async def test_work_runs_in_a_worker_process(pool: RenderPool) -> None:
    assert await pool.run(worker_pid) != os.getpid()


async def test_a_render_over_the_memory_limit_fails_and_the_worker_lives_on(
    pool: RenderPool,
) -> None:
    before = await pool.run(worker_pid)

    with pytest.raises(RenderFailed) as raised:
        await pool.run(allocate, 1500 * MB)

    assert raised.value.message == "渲染超出内存限制（700 MB），文档过大"
    assert len(await pool.run(allocate, 50 * MB)) == 50 * MB
    assert await pool.run(worker_pid) == before


async def test_a_render_over_the_time_limit_is_killed_and_the_pool_restarts() -> None:
    pool = RenderPool(RenderLimits(workers=1, timeout_s=0.5, memory_mb=700))
    try:
        before = await pool.run(worker_pid)

        with pytest.raises(RenderTimeout) as raised:
            await pool.run(sleep, 30.0)

        assert raised.value.message == "渲染超时（超过 0.5 秒），已终止渲染进程"
        after = await pool.run(worker_pid)
        assert after != before
        assert await pool.run(worker_pid) == after
    finally:
        await pool.aclose()


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MHUB_RENDER_WORKERS", "3")
    monkeypatch.setenv("MHUB_RENDER_TIMEOUT_S", "45")
    monkeypatch.setenv("MHUB_RENDER_MEMORY_MB", "900")

    assert RenderLimits.from_env() == RenderLimits(workers=3, timeout_s=45.0, memory_mb=900)

    monkeypatch.setenv("MHUB_RENDER_MEMORY_MB", "很多")
    with pytest.raises(ValueError, match="MHUB_RENDER_MEMORY_MB"):
        RenderLimits.from_env()
