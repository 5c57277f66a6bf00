"""`mhub handbooks` and `mhub inspect`: the same work as the jobs, run from the command line
in a render pool of the command's own (no API process or worker needed)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from domain.database import Database
from domain.document.models import StoredDocument
from domain.errors import NotFound
from domain.handbook.service import Rendered, render_and_store
from domain.inspection.models import SEVERITY_LABELS, Severity
from domain.inspection.service import run_and_store
from domain.job.pool import RenderFailed, RenderLimits, RenderPool
from domain.pregnancy.models import Pregnancy
from domain.settings import Settings
from integrations.legacy.importer import Progress

CLI_USER = "cli"


async def _pregnancy_ids(db: Database, wanted: Sequence[int] | None) -> tuple[list[int], list[int]]:
    """(ids to render, ids that do not exist)."""
    async with db.reader() as session:
        if wanted is None:
            rows = await session.scalars(select(Pregnancy.id).order_by(Pregnancy.id))
            return list(rows.all()), []
        found = set(
            (await session.scalars(select(Pregnancy.id).where(Pregnancy.id.in_(wanted)))).all()
        )
    return [i for i in wanted if i in found], [i for i in wanted if i not in found]


async def _save(db: Database, document_id: int, out_dir: Path) -> Path:
    async with db.reader() as session:
        document = await session.get(StoredDocument, document_id)
    if document is None:
        raise NotFound("documentId", f"文件 {document_id} 不存在")
    target = out_dir / document.filename
    await asyncio.to_thread(target.write_bytes, document.content)
    return target


async def render_handbooks(
    settings: Settings, pregnancy_ids: Sequence[int] | None, *, out_dir: Path | None = None
) -> int:
    """Render the handbooks of these pregnancies (all when None), two at a time by default."""
    db = Database(settings.database_url)
    pool = RenderPool(RenderLimits.from_env())
    try:
        ids, missing = await _pregnancy_ids(db, pregnancy_ids)
        if missing:
            print(f"错误：找不到孕产档案 {'、'.join(map(str, missing))}", file=sys.stderr)
            return 2
        if not ids:
            print("没有需要生成的孕产档案")
            return 0
        if out_dir is not None:
            await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        bar = Progress(len(ids), "生成母子健康手册")
        gate = asyncio.Semaphore(pool.limits.workers)
        done = 0
        outcomes: dict[int, Rendered | str] = {}

        async def one(pregnancy_id: int) -> None:
            nonlocal done
            async with gate:
                try:
                    rendered = await render_and_store(db, pool, pregnancy_id, created_by=CLI_USER)
                    if out_dir is not None:
                        await _save(db, rendered.document_id, out_dir)
                    outcomes[pregnancy_id] = rendered
                except RenderFailed as exc:
                    outcomes[pregnancy_id] = exc.message
                except NotFound as exc:
                    outcomes[pregnancy_id] = exc.error.message
            done += 1
            bar.update(done)

        bar.update(0)
        await asyncio.gather(*(one(i) for i in ids))
    finally:
        await pool.aclose()
        await db.dispose()
    rendered = [o for o in outcomes.values() if isinstance(o, Rendered)]
    failed = {i: o for i, o in outcomes.items() if isinstance(o, str)}
    new = sum(1 for r in rendered if r.new_version)
    pages = sum(r.pages for r in rendered)
    print(
        f"完成：{len(rendered)} 份（新版本 {new} 份，内容未变 {len(rendered) - new} 份，"
        f"共 {pages} 页），失败 {len(failed)} 份"
        + (f"；已保存到 {out_dir}" if out_dir is not None else "")
    )
    for pregnancy_id, reason in sorted(failed.items()):
        print(f"  孕产档案 {pregnancy_id}：{reason}", file=sys.stderr)
    return 1 if failed else 0


async def inspect(settings: Settings, out: Path | None) -> int:
    """Run one inspection now, store it, print the findings, optionally write the PDF."""
    db = Database(settings.database_url)
    pool = RenderPool(RenderLimits(workers=1))

    async def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", flush=True)

    try:
        report = await run_and_store(
            db, settings, pool, trigger="CLI", created_by=CLI_USER, progress=progress
        )
        if out is not None and report.document_id is not None:
            async with db.reader() as session:
                document = await session.get(StoredDocument, report.document_id)
            if document is not None:
                await asyncio.to_thread(out.write_bytes, document.content)
    except RenderFailed as exc:
        print(f"错误：巡检报告 PDF 生成失败：{exc.message}", file=sys.stderr)
        return 1
    finally:
        await pool.aclose()
        await db.dispose()
    print(f"巡检报告第 {report.id} 号：{len(report.findings)} 项发现")
    for finding in report.findings:
        label = SEVERITY_LABELS[Severity(str(finding["severity"]))]
        print(f"  [{label}] {finding['title']}：{finding['detail']}")
    if out is not None:
        print(f"PDF 已保存：{out}")
    return 0
