"""Measuring the running system for the inspection report (巡检报告).

Every figure is read from the system at the time of the inspection: the database
(its own catalog and statistics views), Redis, the configured integrations (a real
request each, timed), the operating system (disk, memory) and MaternityHub's own
records (jobs, received messages, push outbox). A figure that cannot be measured
in this deployment is recorded as `{"available": false, "reason": …}` — never as
a guess or a zero.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs are installed
from sqlalchemy import String, column, func, select, table, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

import domain.models  # noqa: F401  (every table is in Base.metadata)
from domain.database import Base, Database, UTCDateTime, utcnow
from domain.inbound.models import InboundMessage, InboundStatus
from domain.job.models import BackgroundJob, JobStatus
from domain.ops.models import JobHeartbeat
from domain.parameter.models import Parameter
from domain.settings import Settings

Figures = dict[str, Any]
Progress = Callable[[float, str], Awaitable[None]]

INTEGRATION_TIMEOUT_S = 5.0
LARGEST_TABLES = 10
# A table read mostly by sequential scans, once it holds this many rows, likely lacks an index.
SEQ_SCAN_MIN_ROWS = 1000
SLOW_STATEMENTS = 5
HEARTBEAT_STALE_S = 120
_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def unavailable(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --------------------------------------------------------------------------- versions


def _os_name() -> str:
    release = Path("/etc/os-release")
    if release.is_file():
        for line in release.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.partition("=")[2].strip().strip('"')
    return platform.platform()


def package_versions() -> list[dict[str, str]]:
    """The project's direct dependencies with the versions installed (the lock file's pins)."""
    try:
        requirements = importlib.metadata.requires("maternityhub") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    names = sorted({re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0] for req in requirements})
    packages = []
    for name in names:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "未安装"
        packages.append({"name": name, "version": version})
    return packages


async def _redis_info(settings: Settings) -> dict[str, Any]:
    """Redis INFO server and the arq queue length, or why they are unavailable."""
    if not settings.redis_url:
        return unavailable("未配置 REDIS_URL：嵌入模式由进程内运行器执行任务，不使用 Redis")
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from domain.job.queue import ARQ_QUEUE

    client = Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        started = time.perf_counter()
        info = await client.info("server")
        latency_ms = (time.perf_counter() - started) * 1000
        queued = await client.zcard(ARQ_QUEUE)
    except (RedisError, OSError) as exc:
        return {
            "available": False,
            "reason": f"无法连接 Redis：{type(exc).__name__}",
            "reachable": False,
        }
    finally:
        await client.aclose()
    return {
        "available": True,
        "reachable": True,
        "version": str(info.get("redis_version", "")),
        "uptimeDays": info.get("uptime_in_days"),
        "latencyMs": round(latency_ms, 1),
        "arqQueueLength": int(queued),
    }


async def _database_version(session: AsyncSession, dialect: str) -> str:
    if dialect == "postgresql":
        return str((await session.execute(text("SELECT version()"))).scalar_one())
    return "SQLite " + str((await session.execute(text("SELECT sqlite_version()"))).scalar_one())


# --------------------------------------------------------------------------- database


def _table_names() -> list[str]:
    return sorted(Base.metadata.tables)


async def _existing_tables(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        names = await connection.run_sync(lambda c: sa_inspect(c).get_table_names())
    return set(names)


async def _row_counts(session: AsyncSession, tables: list[str]) -> dict[str, int]:
    counts = {}
    for name in tables:
        if not _SAFE_NAME.match(name):
            continue
        counts[name] = int(
            (await session.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar_one()  # noqa: S608 (names from our own metadata)
        )
    return counts


def sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


async def _database_size(session: AsyncSession, db: Database) -> dict[str, Any]:
    if db.dialect == "postgresql":
        size = (
            await session.execute(text("SELECT pg_database_size(current_database())"))
        ).scalar_one()
        return {"available": True, "bytes": int(size), "method": "pg_database_size"}
    path = sqlite_path(db.url)
    if path is None or not path.exists():
        return unavailable("内存数据库，无数据库文件")
    total = path.stat().st_size
    wal = path.with_name(path.name + "-wal")
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    return {
        "available": True,
        "bytes": total,
        "walBytes": wal_bytes,
        "method": "数据库文件大小",
        "path": str(path),
    }


async def _table_sizes(session: AsyncSession, dialect: str) -> dict[str, int] | None:
    if dialect == "postgresql":
        rows = await session.execute(
            text(
                "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables"
                " WHERE schemaname = current_schema()"
            )
        )
        return {str(name): int(size) for name, size in rows}
    try:
        rows = await session.execute(
            text(
                "SELECT tbl_name, SUM(pgsize) FROM dbstat JOIN sqlite_master ON dbstat.name ="
                " sqlite_master.name GROUP BY tbl_name"
            )
        )
    except Exception:  # dbstat is a compile-time option of SQLite
        return None
    return {str(name): int(size) for name, size in rows}


async def _unused_indexes(session: AsyncSession, dialect: str) -> dict[str, Any]:
    if dialect != "postgresql":
        return unavailable("SQLite 不记录索引的使用次数")
    reset = (
        await session.execute(
            text("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
        )
    ).scalar_one_or_none()
    rows = await session.execute(
        text(
            "SELECT s.relname, s.indexrelname, pg_relation_size(s.indexrelid)"
            " FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid"
            " WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary"
            " AND s.schemaname = current_schema()"
            " ORDER BY pg_relation_size(s.indexrelid) DESC, s.indexrelname"
        )
    )
    return {
        "available": True,
        "statsSince": _iso(reset),
        "indexes": [
            {"table": str(table), "index": str(index), "bytes": int(size)}
            for table, index, size in rows
        ],
    }


async def _seq_scan_tables(session: AsyncSession, dialect: str) -> dict[str, Any]:
    if dialect != "postgresql":
        return unavailable("SQLite 不记录顺序扫描统计")
    rows = await session.execute(
        text(
            "SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_live_tup"
            " FROM pg_stat_user_tables WHERE schemaname = current_schema()"
            " AND n_live_tup >= :min_rows AND seq_scan > coalesce(idx_scan, 0)"
            " ORDER BY seq_tup_read DESC, relname LIMIT 10"
        ),
        {"min_rows": SEQ_SCAN_MIN_ROWS},
    )
    return {
        "available": True,
        "minRows": SEQ_SCAN_MIN_ROWS,
        "tables": [
            {
                "table": str(name),
                "seqScan": int(seq),
                "seqTupRead": int(read),
                "idxScan": int(idx),
                "liveRows": int(live),
            }
            for name, seq, read, idx, live in rows
        ],
    }


async def _slow_statements(db: Database) -> dict[str, Any]:
    if db.dialect != "postgresql":
        return unavailable("SQLite 没有语句执行统计（pg_stat_statements 仅适用于 PostgreSQL）")
    async with db.reader() as session:
        installed = (
            await session.execute(
                text("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
            )
        ).scalar_one_or_none()
    if installed is None:
        return unavailable(
            "数据库未启用 pg_stat_statements 扩展（需在 shared_preload_libraries 中加载并执行"
            " CREATE EXTENSION pg_stat_statements）"
        )
    try:
        async with db.reader() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT left(query, 300), calls, mean_exec_time, total_exec_time"
                        " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
                        " WHERE datname = current_database())"
                        " ORDER BY mean_exec_time DESC LIMIT :n"
                    ),
                    {"n": SLOW_STATEMENTS},
                )
            ).all()
    except Exception as exc:  # installed but not preloaded: the view raises
        return unavailable(f"pg_stat_statements 已安装但无法读取：{type(exc).__name__}")
    return {
        "available": True,
        "statements": [
            {
                "query": str(query),
                "calls": int(calls),
                "meanMs": round(float(mean), 2),
                "totalMs": round(float(total), 1),
            }
            for query, calls, mean, total in rows
        ],
    }


async def _connections(session: AsyncSession, dialect: str) -> dict[str, Any]:
    if dialect != "postgresql":
        return unavailable("SQLite 为单文件数据库，没有连接数上限")
    used = (await session.execute(text("SELECT count(*) FROM pg_stat_activity"))).scalar_one()
    mine = (
        await session.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        )
    ).scalar_one()
    maximum = (await session.execute(text("SHOW max_connections"))).scalar_one()
    return {
        "available": True,
        "used": int(used),
        "thisDatabase": int(mine),
        "max": int(maximum),
        "usedPercent": round(100 * int(used) / int(maximum), 1),
    }


async def measure_database(
    db: Database, previous: Figures | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(versions part for the database, database figures)."""
    async with db.reader() as session:
        version = await _database_version(session, db.dialect)
        size = await _database_size(session, db)
        existing = await _existing_tables(db)
        counts = await _row_counts(session, [t for t in _table_names() if t in existing])
        sizes = await _table_sizes(session, db.dialect)
        unused = await _unused_indexes(session, db.dialect)
        seq = await _seq_scan_tables(session, db.dialect)
        connections = await _connections(session, db.dialect)
    before: dict[str, int] = {}
    if previous:
        for row in previous.get("database", {}).get("tables", []):
            before[str(row["name"])] = int(row["rows"])
    tables: list[dict[str, Any]] = [
        {
            "name": name,
            "rows": rows,
            "bytes": sizes.get(name) if sizes is not None else None,
            "growth": rows - before[name] if name in before else None,
        }
        for name, rows in counts.items()
    ]
    tables.sort(key=lambda t: (-(t["bytes"] or 0), -int(t["rows"]), str(t["name"])))
    figures = {
        "dialect": db.dialect,
        "size": size,
        "tableSizesAvailable": sizes is not None,
        "tables": tables,
        "largestTables": [t["name"] for t in tables[:LARGEST_TABLES]],
        "unusedIndexes": unused,
        "seqScanTables": seq,
        "slowStatements": await _slow_statements(db),
        "connections": connections,
    }
    return {"database": version}, figures


# --------------------------------------------------------------------------- jobs, errors


async def measure_jobs(
    db: Database, redis: dict[str, Any], since: dt.datetime | None
) -> dict[str, Any]:
    now = utcnow()
    failed = select(func.count()).where(BackgroundJob.status == JobStatus.FAILED)
    if since is not None:
        failed = failed.where(BackgroundJob.finished_at > since)
    async with db.reader() as session:
        by_status = {
            str(status): int(count)
            for status, count in await session.execute(
                select(BackgroundJob.status, func.count()).group_by(BackgroundJob.status)
            )
        }
        failed_since = int((await session.execute(failed)).scalar_one())
        oldest = (
            await session.execute(
                select(func.min(BackgroundJob.created_at)).where(
                    BackgroundJob.status == JobStatus.QUEUED
                )
            )
        ).scalar_one()
        beats = (
            await session.scalars(select(JobHeartbeat).order_by(JobHeartbeat.last_seen.desc()))
        ).all()
    oldest_at = _as_utc(oldest)
    runners = []
    for beat in beats[:10]:
        age = (now - beat.last_seen).total_seconds()
        runners.append(
            {
                "runner": beat.runner,
                "lastSeen": _iso(beat.last_seen),
                "ageS": round(age, 1),
                "alive": age <= HEARTBEAT_STALE_S,
            }
        )
    return {
        "byStatus": by_status,
        "failedSincePrevious": failed_since,
        "oldestQueuedAgeS": round((now - oldest_at).total_seconds(), 1) if oldest_at else None,
        "arqQueueLength": redis.get("arqQueueLength")
        if redis.get("available")
        else unavailable(str(redis.get("reason", "Redis 不可用"))),
        "runners": runners,
        "aliveRunners": sum(1 for r in runners if r["alive"]),
    }


def _as_utc(value: object) -> dt.datetime | None:
    """Timestamps from aggregates (min/max), which bypass the column type on SQLite."""
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


async def measure_errors(db: Database, since: dt.datetime | None) -> dict[str, Any]:
    in_error = InboundMessage.status == InboundStatus.ERROR
    new_errors = select(func.count()).where(in_error)
    if since is not None:
        new_errors = new_errors.where(InboundMessage.received_at > since)
    async with db.reader() as session:
        by_status = {
            str(status): int(count)
            for status, count in await session.execute(
                select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
            )
        }
        codes = {
            str(code or "未分类"): int(count)
            for code, count in await session.execute(
                select(InboundMessage.error_code, func.count())
                .where(in_error)
                .group_by(InboundMessage.error_code)
                .order_by(func.count().desc())
            )
        }
        failed_jobs = (
            await session.execute(
                select(func.count()).where(BackgroundJob.status == JobStatus.FAILED)
            )
        ).scalar_one()
        errors_since = (await session.execute(new_errors)).scalar_one()
    return {
        "inboundByStatus": by_status,
        "inboundErrors": by_status.get(InboundStatus.ERROR, 0),
        "inboundErrorsSincePrevious": int(errors_since),
        "inboundErrorCodes": codes,
        "failedJobs": int(failed_jobs),
    }


# --------------------------------------------------------------------------- integrations


async def _probe(client: httpx.AsyncClient, name: str, base: str | None, path: str) -> Figures:
    if not base:
        return {"name": name, "configured": False}
    url = base.rstrip("/") + path
    started = time.perf_counter()
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return {
            "name": name,
            "configured": True,
            "url": url,
            "reachable": False,
            "error": type(exc).__name__,
            "latencyMs": round((time.perf_counter() - started) * 1000, 1),
        }
    return {
        "name": name,
        "configured": True,
        "url": url,
        "reachable": True,
        "httpStatus": response.status_code,
        "latencyMs": round((time.perf_counter() - started) * 1000, 1),
    }


async def measure_integrations(settings: Settings) -> list[Figures]:
    """One timed request to each configured system (FHIR capability statement, platform root)."""
    async with httpx.AsyncClient(timeout=INTEGRATION_TIMEOUT_S, follow_redirects=False) as client:
        return [
            await _probe(client, "电子病历（EMR）", settings.emr_fhir_base_url, "/metadata"),
            await _probe(client, "检验系统（LIS）", settings.lis_fhir_base_url, "/metadata"),
            await _probe(client, "桂妇儿平台", settings.guifuer_base_url, "/"),
        ]


# The push outbox (桂妇儿) belongs to the push domain; read through its table names only,
# so that the inspection works before and after that domain is deployed.
_PUSH_RECORD = table(
    "push_record",
    column("status", String),
    column("created_at", UTCDateTime),
)
_PUSH_ATTEMPT = table(
    "push_attempt",
    column("outcome", String),
    column("attempted_at", UTCDateTime),
)


async def measure_push(db: Database, since: dt.datetime | None) -> dict[str, Any]:
    existing = await _existing_tables(db)
    missing = [t for t in ("push_record", "push_attempt") if t not in existing]
    if missing:
        return unavailable(f"推送记录表不存在（{'、'.join(missing)}）：推送发件箱尚未部署")
    window_start = since or (utcnow() - dt.timedelta(days=91))
    record, attempt = _PUSH_RECORD.c, _PUSH_ATTEMPT.c
    async with db.reader() as session:
        by_status = {
            str(status): int(count)
            for status, count in await session.execute(
                select(record.status, func.count()).group_by(record.status)
            )
        }
        outcomes = {
            str(outcome): int(count)
            for outcome, count in await session.execute(
                select(attempt.outcome, func.count())
                .where(attempt.attempted_at > window_start)
                .group_by(attempt.outcome)
            )
        }
        oldest_pending = (
            await session.execute(
                select(func.min(record.created_at)).where(record.status == "PENDING")
            )
        ).scalar_one()
    attempts = sum(outcomes.values())
    # SUPERSEDED: the platform already holds a newer version, which counts as delivered.
    delivered = outcomes.get("DELIVERED", 0) + outcomes.get("SUPERSEDED", 0)
    pending_at = _as_utc(oldest_pending)
    return {
        "available": True,
        "byStatus": by_status,
        "waiting": by_status.get("PENDING", 0),
        "failed": by_status.get("REJECTED", 0),
        "attemptsSince": _iso(window_start),
        "attemptOutcomes": outcomes,
        "attempts": attempts,
        "successRate": round(delivered / attempts, 4) if attempts else None,
        "oldestWaitingAgeH": round((utcnow() - pending_at).total_seconds() / 3600, 1)
        if pending_at
        else None,
    }


# --------------------------------------------------------------------------- host, backup


def _existing_dir(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def measure_host(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    where = _existing_dir(settings.data_dir)
    usage = shutil.disk_usage(where)
    memory = psutil.virtual_memory()
    process = psutil.Process()
    disk = {
        "path": str(settings.data_dir),
        "totalBytes": usage.total,
        "usedBytes": usage.used,
        "freeBytes": usage.free,
        "usedPercent": round(100 * usage.used / usage.total, 1) if usage.total else None,
    }
    mem = {
        "totalBytes": memory.total,
        "availableBytes": memory.available,
        "usedPercent": round(float(memory.percent), 1),
        "processRssBytes": process.memory_info().rss,
        "cpuCount": psutil.cpu_count(),
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
    }
    return disk, mem


def measure_backup(directory: str, max_age_h: float) -> dict[str, Any]:
    """The newest file in the backup directory and its age against `backup_max_age_h`."""
    if not directory.strip():
        return {"configured": False, "maxAgeH": max_age_h}
    root = Path(directory)
    if not root.is_dir():
        return {"configured": True, "dir": directory, "exists": False, "maxAgeH": max_age_h}
    newest: tuple[float, Path] | None = None
    count = 0
    for path in root.rglob("*"):
        if path.is_file():
            count += 1
            mtime = path.stat().st_mtime
            if newest is None or mtime > newest[0]:
                newest = (mtime, path)
    figures: dict[str, Any] = {
        "configured": True,
        "dir": directory,
        "exists": True,
        "files": count,
        "maxAgeH": max_age_h,
    }
    if newest is not None:
        at = dt.datetime.fromtimestamp(newest[0], dt.UTC)
        figures.update(
            newestFile=str(newest[1].relative_to(root)),
            newestAt=at.isoformat(),
            newestBytes=newest[1].stat().st_size,
            ageH=round((utcnow() - at).total_seconds() / 3600, 2),
        )
    return figures


async def parameter_values(db: Database, keys: tuple[str, ...]) -> dict[str, object]:
    async with db.reader() as session:
        rows = await session.execute(
            select(Parameter.key, Parameter.value).where(Parameter.key.in_(keys))
        )
        return {str(key): value for key, value in rows}


# --------------------------------------------------------------------------- all together


async def measure(
    db: Database,
    settings: Settings,
    *,
    previous: Figures | None,
    previous_at: dt.datetime | None,
    job_mode: str,
    progress: Progress,
) -> Figures:
    """Every figure of one inspection."""
    started = utcnow()
    await progress(0.05, "读取版本信息")
    redis = await _redis_info(settings)
    versions: dict[str, Any] = {
        "python": platform.python_version(),
        "pythonImplementation": sys.implementation.name,
        "os": _os_name(),
        "kernel": platform.release(),
        "redis": redis.get("version") if redis.get("available") else redis,
        "packages": package_versions(),
    }
    await progress(0.15, "测量数据库")
    db_version, database = await measure_database(db, previous)
    versions.update(db_version)
    await progress(0.4, "统计任务与错误")
    jobs = await measure_jobs(db, redis, previous_at)
    errors = await measure_errors(db, previous_at)
    await progress(0.5, "检查外部系统连通性")
    integrations = await measure_integrations(settings)
    push = await measure_push(db, previous_at)
    await progress(0.6, "检查磁盘、内存与备份")
    disk, memory = measure_host(settings)
    params = await parameter_values(db, ("backup_dir", "backup_max_age_h"))
    backup_dir = params.get("backup_dir")
    max_age = params.get("backup_max_age_h")
    backup = measure_backup(
        backup_dir if isinstance(backup_dir, str) else "",
        float(max_age) if isinstance(max_age, int | float) else 26.0,
    )
    return {
        "measuredAt": started.isoformat(),
        "mode": {"database": db.dialect, "jobs": job_mode},
        "versions": versions,
        "database": database,
        "redis": redis,
        "jobs": jobs,
        "errors": errors,
        "integrations": integrations,
        "push": push,
        "disk": disk,
        "memory": memory,
        "backup": backup,
    }
