from __future__ import annotations

from dataclasses import dataclass

from domain.document.pdf import render_pdf
from domain.document.service import download_url
from domain.errors import FieldError
from domain.job.pool import RenderFailed, RenderLimits, RenderPool
from domain.report import service
from domain.report.export import ExportFormat
from domain.report.models import ReportDefinition
from resolvers.context import Context
from resolvers.errors import outcome

_pool: RenderPool | None = None


def _render_pool() -> RenderPool:
    """The process's pool for report PDFs, started on the first PDF export."""
    global _pool
    if _pool is None:
        _pool = RenderPool(RenderLimits.from_env())
    return _pool


async def _render_pdf(html: str) -> bytes:
    return await _render_pool().run(render_pdf, html)


async def save(ctx: Context, draft: service.DefinitionDraft) -> ReportDefinition | list[FieldError]:
    return await outcome(service.save_definition(ctx.db, ctx.acting, draft))


@dataclass(frozen=True)
class Download:
    exported: service.ExportedReport
    url: str


async def export(
    ctx: Context, code: str, parameters: object, file_format: ExportFormat
) -> Download | list[FieldError]:
    try:
        result = await outcome(
            service.export_report(
                ctx.db, ctx.acting, code, parameters, file_format, render_pdf=_render_pdf
            )
        )
    except RenderFailed as exc:
        return [FieldError("format", f"生成 PDF 失败：{exc.message}", "RENDER_FAILED")]
    if isinstance(result, list):
        return result
    return Download(result, download_url(ctx.settings, result.document_id))
