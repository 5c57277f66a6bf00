"""巡检报告 (1.4, 1.20, 1.24): `mhub inspect` on the demo measures the running system, and its
figures — in the stored JSON and printed in the PDF — are what the database says."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select, text, update

from api import cli
from domain.database import Database
from domain.demo.seed import seed_demo
from domain.inspection.measure import sqlite_path
from domain.inspection.models import InspectionReport
from domain.parameter.models import Parameter
from integrations.emr.simulator import build_app as emr_app
from integrations.simulators import serve_locally
from tests.conftest import redis_url
from tests.document_helpers import page_png, pdf_text, squeeze

TABLES = ("patient", "pregnancy", "prenatal_visit", "lab_result", "ultrasound_exam", "risk_factor")


def configure(monkeypatch: pytest.MonkeyPatch, database_url: str, data_dir: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MHUB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MHUB_SECRET_KEY", "inspection-test-key")
    for name in ("REDIS_URL", "EMR_FHIR_BASE_URL", "LIS_FHIR_BASE_URL", "GUIFUER_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


async def database_size(db: Database) -> int:
    if db.dialect == "postgresql":
        async with db.reader() as session:
            size = await session.scalar(text("SELECT pg_database_size(current_database())"))
        return int(size or 0)
    path = sqlite_path(db.url)
    assert path is not None
    return path.stat().st_size


async def row_counts(db: Database, tables: tuple[str, ...]) -> dict[str, int]:
    async with db.reader() as session:
        return {
            table: int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608 (fixed names)
            for table in tables
        }


async def latest_report(db: Database) -> InspectionReport:
    async with db.reader() as session:
        report = await session.scalar(
            select(InspectionReport).order_by(InspectionReport.id.desc()).limit(1)
        )
    assert report is not None
    return report


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_mhub_inspect_on_the_demo_reports_what_the_system_measures(
    database_url: str,
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the demo data, a backup folder whose newest file is 30 hours old, the EMR
    # simulator up, the LIS down, and Redis.
    await seed_demo(db, secret_key="k", patients=12)
    backups = tmp_path / "backups"
    backups.mkdir()
    dump = backups / "mhub-20260101.dump"
    dump.write_bytes(b"x" * 1234)
    old = dt.datetime.now(dt.UTC).timestamp() - 30 * 3600
    os.utime(dump, (old, old))
    async with db.transaction() as session:
        await session.execute(
            update(Parameter).where(Parameter.key == "backup_dir").values(value=str(backups))
        )
    configure(monkeypatch, database_url, tmp_path)
    dead_lis = f"http://127.0.0.1:{closed_port()}/fhir"
    monkeypatch.setenv("LIS_FHIR_BASE_URL", dead_lis)
    monkeypatch.setenv("REDIS_URL", redis_url())
    counts = await row_counts(db, TABLES)
    size_before = await database_size(db)
    out = tmp_path / "report.pdf"

    async with serve_locally(emr_app(), name="EMR 模拟器") as emr_url:
        monkeypatch.setenv("EMR_FHIR_BASE_URL", emr_url)
        # When
        code = await asyncio.to_thread(cli.main, ["inspect", "--out", str(out)])

    # Then the stored figures are what the database, Redis and the systems say.
    size_after = await database_size(db)
    printed = capsys.readouterr().out
    report = await latest_report(db)
    figures: dict[str, Any] = report.figures
    assert code == 0
    assert f"巡检报告第 {report.id} 号" in printed
    tables = {t["name"]: t for t in figures["database"]["tables"]}
    assert {name: tables[name]["rows"] for name in TABLES} == counts
    assert all(tables[name]["growth"] is None for name in TABLES)  # the first report
    size = figures["database"]["size"]
    assert size["available"] is True
    assert size_before <= size["bytes"] <= size_after
    async with Redis.from_url(redis_url()) as redis:
        info = await redis.info("server")
        queued = await redis.zcard("mhub:jobs")
    assert figures["versions"]["redis"] == info["redis_version"]
    assert figures["redis"]["arqQueueLength"] == queued
    assert figures["mode"] == {"database": db.dialect, "jobs": "arq"}
    systems = {s["name"]: s for s in figures["integrations"]}
    assert systems["电子病历（EMR）"]["reachable"] is True
    assert systems["电子病历（EMR）"]["httpStatus"] == 200
    assert systems["检验系统（LIS）"]["reachable"] is False
    assert systems["检验系统（LIS）"]["url"] == f"{dead_lis}/metadata"
    assert systems["桂妇儿平台"] == {"name": "桂妇儿平台", "configured": False}
    assert figures["backup"]["newestFile"] == "mhub-20260101.dump"
    assert figures["backup"]["newestBytes"] == 1234
    assert 30.0 <= figures["backup"]["ageH"] < 30.5
    slow = figures["database"]["slowStatements"]
    assert slow["available"] is False
    if db.dialect == "sqlite":
        assert slow["reason"].startswith("SQLite 没有语句执行统计")
        assert figures["database"]["connections"]["available"] is False
    else:
        assert "pg_stat_statements" in slow["reason"]
        assert figures["database"]["connections"]["max"] > 0
    codes = {f["code"]: f["severity"] for f in report.findings}
    assert codes["BACKUP_STALE"] == "WARNING"
    assert codes["INTEGRATION_UNREACHABLE:检验系统（LIS）"] == "CRITICAL"
    assert codes["INTEGRATION_NOT_CONFIGURED:桂妇儿平台"] == "NOTICE"
    assert codes["SLOW_STATEMENTS_UNAVAILABLE"] == "INFO"
    assert report.highest_severity == "CRITICAL"
    assert report.document_id is not None

    # And the PDF prints the same figures, with the signature and seal block.
    pdf = out.read_bytes()
    text_ = pdf_text(pdf, tmp_path)
    for name in TABLES:
        assert f"\n{name} {counts[name]} " in text_, name
    assert f"{size['bytes']} 字节" in text_
    assert f"Redis {info['redis_version']}" in text_
    flat = squeeze(text_)  # table cells wrap: compare phrases without line breaks
    assert "警告数据库备份过期" in flat
    assert "不可达（ConnectError）" in flat
    assert "不可用：" in flat
    assert "维护单位（盖章）" in flat
    assert "巡检工程师（签字）" in flat
    page_png(pdf, 1, "inspection-p1")


async def test_a_figure_that_cannot_be_measured_says_so(
    database_url: str,
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(monkeypatch, database_url, tmp_path)

    code = await asyncio.to_thread(cli.main, ["inspect"])

    report = await latest_report(db)
    figures: dict[str, Any] = report.figures
    assert code == 0
    assert figures["redis"] == {
        "available": False,
        "reason": "未配置 REDIS_URL：嵌入模式由进程内运行器执行任务，不使用 Redis",
    }
    assert figures["jobs"]["arqQueueLength"] == figures["redis"]
    assert figures["backup"] == {"configured": False, "maxAgeH": 26.0}
    assert {s["name"]: s["configured"] for s in figures["integrations"]} == {
        "电子病历（EMR）": False,
        "检验系统（LIS）": False,
        "桂妇儿平台": False,
    }
    assert "BACKUP_NOT_CONFIGURED" in {f["code"] for f in report.findings}
    async with db.engine.connect() as connection:
        names = await connection.run_sync(
            lambda c: set(__import__("sqlalchemy").inspect(c).get_table_names())
        )
    if "push_record" in names:
        assert figures["push"]["available"] is True
        assert figures["push"]["attempts"] == 0
    else:
        assert figures["push"]["available"] is False
