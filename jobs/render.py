"""The handbook rendering job (母子健康手册 PDF), for the arq worker and the in-process runner."""

from __future__ import annotations

from typing import Any

from domain.database import Database
from domain.handbook.service import render_and_store
from domain.job.models import BackgroundJob
from domain.job.pool import RenderPool
from domain.job.service import complete, report_progress


async def render_handbook(ctx: dict[str, Any], job: BackgroundJob) -> None:
    """Render the handbook named by the job and store it as a new version."""
    db: Database = ctx["db"]
    pool: RenderPool = ctx["render_pool"]
    pregnancy_id = int(str(job.params["pregnancyId"]))
    await report_progress(db, job.id, 0.2, "正在读取孕产档案并排版")
    rendered = await render_and_store(db, pool, pregnancy_id, created_by=job.created_by)
    message = (
        f"已生成母子健康手册（{rendered.pages} 页）"
        if rendered.new_version
        else f"内容与最新版本相同，沿用该版本（{rendered.pages} 页）"
    )
    await complete(db, job.id, rendered.to_json(), message)
