from __future__ import annotations

import datetime as dt
import enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.document.service import download_url
from domain.job.models import BackgroundJob as JobRow
from graphql_schema.base import to_global_id


@strawberry.enum(description="后台任务状态（job status）")
class JobStatus(enum.Enum):
    QUEUED = strawberry.enum_value("QUEUED", description="排队等待")
    RUNNING = strawberry.enum_value("RUNNING", description="正在执行")
    SUCCEEDED = strawberry.enum_value("SUCCEEDED", description="已完成")
    FAILED = strawberry.enum_value("FAILED", description="失败：message 说明原因")


@strawberry.enum(description="后台任务类型（job kind）")
class JobKind(enum.Enum):
    RENDER_HANDBOOK = strawberry.enum_value("RENDER_HANDBOOK", description="生成母子健康手册 PDF")
    INSPECTION = strawberry.enum_value("INSPECTION", description="系统巡检并生成巡检报告")


@strawberry.type(
    description="后台任务（background job）：生成 PDF、巡检等耗时工作；可轮询 job(id) 或订阅 jobProgress"
)
class Job:
    id: strawberry.ID = strawberry.field(description="任务ID（用于 job(id) 与 jobProgress(jobId)）")
    db_id: strawberry.Private[int]
    document_id: strawberry.Private[int | None]
    kind: JobKind = strawberry.field(description="任务类型")
    status: JobStatus = strawberry.field(description="任务状态")
    progress: float = strawberry.field(description="进度，0 到 1")
    message: str | None = strawberry.field(description="当前进展或失败原因（中文）")
    result: JSON | None = strawberry.field(
        description="完成后的结果（JSON），例如 {documentId, sha256, pages}"
    )
    created_by: str = strawberry.field(description="提交人（用户名；定期任务为 system）")
    created_at: dt.datetime = strawberry.field(description="提交时间")
    started_at: dt.datetime | None = strawberry.field(description="开始执行时间")
    finished_at: dt.datetime | None = strawberry.field(description="结束时间")

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        result = row.result or None
        document_id = result.get("documentId") if result else None
        return cls(
            id=to_global_id("Job", row.id),
            db_id=row.id,
            document_id=document_id if isinstance(document_id, int) else None,
            kind=JobKind(row.kind),
            status=JobStatus(row.status),
            progress=row.progress,
            message=row.message,
            result=JSON(result) if result is not None else None,
            created_by=row.created_by,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )

    @strawberry.field(
        description="任务生成的文件的下载链接（短时有效的签名链接，约5分钟）；未完成或无文件时为空"
    )
    def download_url(self, info: Info) -> str | None:
        if self.status != JobStatus.SUCCEEDED or self.document_id is None:
            return None
        return download_url(info.context.settings, self.document_id)
