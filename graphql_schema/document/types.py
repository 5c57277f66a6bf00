from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from domain.document.models import StoredDocument
from domain.document.service import download_url
from graphql_schema.base import to_global_id


@strawberry.type(
    description="母子健康手册的一个版本（handbook document）：每次生成且内容有变化时新增一个版本"
)
class HandbookDocument:
    id: strawberry.ID = strawberry.field(description="版本ID")
    db_id: strawberry.Private[int]
    filename: str = strawberry.field(description="文件名")
    content_hash: str = strawberry.field(
        description="内容哈希（SHA-256，十六进制）；内容相同则哈希相同"
    )
    size: int = strawberry.field(description="文件大小（字节）")
    created_at: dt.datetime = strawberry.field(description="生成时间")
    created_by: str = strawberry.field(description="生成人（用户名）")

    @classmethod
    def from_row(cls, row: StoredDocument) -> HandbookDocument:
        return cls(
            id=to_global_id("HandbookDocument", row.id),
            db_id=row.id,
            filename=row.filename,
            content_hash=row.sha256,
            size=row.size,
            created_at=row.created_at,
            created_by=row.created_by,
        )

    @strawberry.field(description="下载链接（PDF）：短时有效的签名链接（约5分钟），过期后重新查询")
    def download_url(self, info: Info) -> str:
        return download_url(info.context.settings, self.db_id)
