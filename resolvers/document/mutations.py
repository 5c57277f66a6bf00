from __future__ import annotations

from domain.errors import FieldError
from domain.handbook.service import request_render
from domain.job.models import BackgroundJob
from domain.job.queue import submit
from resolvers.context import Context
from resolvers.errors import outcome


async def render_handbook(ctx: Context, pregnancy_id: int) -> BackgroundJob | list[FieldError]:
    """Queue the render (committed), then hand the job to the workers."""
    job = await outcome(request_render(ctx.db, ctx.acting, pregnancy_id))
    if isinstance(job, list):
        return job
    await submit(ctx.settings, job.id)
    return job
