"""Handing a committed job to whoever runs jobs in this deployment.

With Redis (production) the job id is enqueued for the arq workers; the arq job id
is derived from the row id, so a job enqueued twice runs once. Without Redis
(embedded mode) nothing needs to be sent: the in-process runner picks up QUEUED
rows itself. If Redis cannot be reached the row stays QUEUED and the workers'
sweep enqueues it later — a job is never lost between the commit and the queue.
"""

from __future__ import annotations

import dataclasses
import logging

from redis.exceptions import RedisError

from domain.settings import Settings

log = logging.getLogger(__name__)

ARQ_QUEUE = "mhub:jobs"
ARQ_FUNCTION = "run_background_job"


def arq_job_id(job_id: int) -> str:
    return f"background_job:{job_id}"


async def submit(settings: Settings, job_id: int, *, queue_name: str = ARQ_QUEUE) -> bool:
    """Enqueue a committed job; False when it is left for the sweep or the in-process runner."""
    if not settings.redis_url:
        return False
    from arq import create_pool
    from arq.connections import RedisSettings

    try:
        redis = await create_pool(
            dataclasses.replace(RedisSettings.from_dsn(settings.redis_url), conn_retries=0)
        )
    except (OSError, RedisError) as exc:
        log.warning("job %s left queued: Redis unavailable (%s)", job_id, type(exc).__name__)
        return False
    try:
        await redis.enqueue_job(
            ARQ_FUNCTION, job_id, _job_id=arq_job_id(job_id), _queue_name=queue_name
        )
    except (OSError, RedisError) as exc:
        log.warning("job %s left queued: enqueue failed (%s)", job_id, type(exc).__name__)
        return False
    finally:
        await redis.aclose()
    return True
