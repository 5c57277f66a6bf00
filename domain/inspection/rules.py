"""Findings of an inspection: measured figures → severity (信息/提示/警告/严重) and action.

Pure functions of the figures, so the thresholds are read in one place and tested
without a running system. Each finding has a stable `code`, so that the next report
can say which problems are new and which were resolved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from domain.inspection.models import SEVERITY_RANK, Severity

DISK_WARNING_PERCENT = 80.0
DISK_CRITICAL_PERCENT = 90.0
MEMORY_WARNING_PERCENT = 90.0
CONNECTIONS_WARNING_PERCENT = 80.0
SLOW_STATEMENT_MS = 500.0
INTEGRATION_SLOW_MS = 2000.0
QUEUED_TOO_LONG_S = 600.0
PUSH_SUCCESS_MIN = 0.95
PUSH_WAITING_TOO_LONG_H = 1.0


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    title: str
    detail: str
    action: str

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


def _mb(value: float) -> str:
    return f"{value / 1024 / 1024:.1f} MB"


def _backup(backup: dict[str, Any]) -> list[Finding]:
    if not backup.get("configured"):
        return [
            Finding(
                "BACKUP_NOT_CONFIGURED",
                Severity.WARNING,
                "未配置数据库备份目录",
                "系统参数 backup_dir 为空，无法确认数据库是否有备份。",
                "配置定时备份（如 pg_dump 每日一次），并在系统参数中设置 backup_dir 为备份目录。",
            )
        ]
    if not backup.get("exists"):
        return [
            Finding(
                "BACKUP_DIR_MISSING",
                Severity.CRITICAL,
                "备份目录不存在",
                f"备份目录 {backup.get('dir')} 不存在或不是目录。",
                "检查备份任务与目录挂载，修正系统参数 backup_dir。",
            )
        ]
    if "ageH" not in backup:
        return [
            Finding(
                "BACKUP_EMPTY",
                Severity.CRITICAL,
                "备份目录中没有备份文件",
                f"备份目录 {backup.get('dir')} 中没有任何文件。",
                "立即检查备份任务是否运行，并手工做一次备份。",
            )
        ]
    age, limit = float(backup["ageH"]), float(backup["maxAgeH"])
    if age > limit:
        return [
            Finding(
                "BACKUP_STALE",
                Severity.WARNING,
                "数据库备份过期",
                f"最新备份 {backup.get('newestFile')} 距今 {age:.1f} 小时，超过 {limit:g} 小时。",
                "检查备份任务日志，修复后立即补做一次备份。",
            )
        ]
    return [
        Finding(
            "BACKUP_OK",
            Severity.INFO,
            "数据库备份正常",
            f"最新备份 {backup.get('newestFile')} 距今 {age:.1f} 小时（上限 {limit:g} 小时）。",
            "无需处理。",
        )
    ]


def _host(disk: dict[str, Any], memory: dict[str, Any]) -> list[Finding]:
    found = []
    used = disk.get("usedPercent")
    if used is not None and used >= DISK_WARNING_PERCENT:
        critical = used >= DISK_CRITICAL_PERCENT
        found.append(
            Finding(
                "DISK_FULL" if critical else "DISK_HIGH",
                Severity.CRITICAL if critical else Severity.WARNING,
                "数据目录所在磁盘空间不足",
                f"{disk['path']} 所在磁盘已用 {used}%，剩余 {_mb(disk['freeBytes'])}。",
                "清理过期日志与临时文件，或扩容磁盘。",
            )
        )
    if memory.get("usedPercent", 0) >= MEMORY_WARNING_PERCENT:
        found.append(
            Finding(
                "MEMORY_HIGH",
                Severity.WARNING,
                "服务器内存紧张",
                f"内存已用 {memory['usedPercent']}%，可用 {_mb(memory['availableBytes'])}。",
                "检查占用内存的进程，必要时增加内存或减少任务进程数。",
            )
        )
    return found


def _database(database: dict[str, Any]) -> list[Finding]:
    found = []
    connections = database.get("connections", {})
    if connections.get("available") and connections["usedPercent"] >= CONNECTIONS_WARNING_PERCENT:
        found.append(
            Finding(
                "DB_CONNECTIONS_HIGH",
                Severity.WARNING,
                "数据库连接数接近上限",
                f"当前 {connections['used']} 个连接，上限 {connections['max']}。",
                "检查连接泄漏与连接池大小，或提高 max_connections。",
            )
        )
    unused = database.get("unusedIndexes", {})
    if unused.get("available") and unused["indexes"]:
        names = "、".join(i["index"] for i in unused["indexes"][:5])
        found.append(
            Finding(
                "UNUSED_INDEXES",
                Severity.NOTICE,
                "存在从未使用的索引",
                f"{len(unused['indexes'])} 个索引自统计重置以来未被使用：{names}。",
                "再观察一个巡检周期；仍未使用的索引可考虑删除，以减少写入开销。",
            )
        )
    seq = database.get("seqScanTables", {})
    if seq.get("available") and seq["tables"]:
        names = "、".join(t["table"] for t in seq["tables"][:5])
        found.append(
            Finding(
                "MISSING_INDEX_HINT",
                Severity.NOTICE,
                "部分表以顺序扫描为主",
                f"这些表（{seq['minRows']} 行以上）的顺序扫描多于索引扫描：{names}。",
                "结合慢语句分析常用查询条件，考虑建立索引。",
            )
        )
    slow = database.get("slowStatements", {})
    if not slow.get("available"):
        found.append(
            Finding(
                "SLOW_STATEMENTS_UNAVAILABLE",
                Severity.INFO,
                "慢语句统计不可用",
                str(slow.get("reason", "")),
                "PostgreSQL 部署建议启用 pg_stat_statements，以便巡检列出慢语句。",
            )
        )
    else:
        slowest = [s for s in slow["statements"] if s["meanMs"] >= SLOW_STATEMENT_MS]
        if slowest:
            found.append(
                Finding(
                    "SLOW_STATEMENTS",
                    Severity.WARNING,
                    "存在慢语句",
                    f"{len(slowest)} 条语句平均耗时超过 {SLOW_STATEMENT_MS:g} 毫秒，"
                    f"最慢 {slowest[0]['meanMs']} 毫秒。",
                    "分析执行计划（EXPLAIN ANALYZE），补充索引或改写查询。",
                )
            )
    return found


def _jobs(jobs: dict[str, Any], redis: dict[str, Any], job_mode: str) -> list[Finding]:
    found = []
    if jobs.get("failedSincePrevious"):
        found.append(
            Finding(
                "JOBS_FAILED",
                Severity.WARNING,
                "后台任务有失败",
                f"自上次巡检以来 {jobs['failedSincePrevious']} 个后台任务失败。",
                "在后台任务列表中查看失败原因，处理后重新提交。",
            )
        )
    oldest = jobs.get("oldestQueuedAgeS")
    if oldest is not None and oldest > QUEUED_TOO_LONG_S:
        found.append(
            Finding(
                "JOBS_STUCK",
                Severity.WARNING,
                "后台任务排队过久",
                f"最早的排队任务已等待 {oldest / 60:.0f} 分钟。",
                "检查任务进程（mhub worker 或进程内运行器）是否在运行。",
            )
        )
    if jobs.get("aliveRunners", 0) == 0:
        found.append(
            Finding(
                "NO_JOB_RUNNER",
                Severity.CRITICAL if job_mode == "arq" else Severity.WARNING,
                "没有存活的任务运行器",
                "最近两分钟内没有任务运行器（arq 或进程内）的心跳。",
                "启动 mhub worker（生产模式）或确认 API 服务在运行（嵌入模式）。",
            )
        )
    if job_mode == "arq" and not redis.get("available"):
        found.append(
            Finding(
                "REDIS_UNREACHABLE",
                Severity.CRITICAL,
                "Redis 不可达",
                str(redis.get("reason", "")),
                "检查 Redis 服务与 REDIS_URL 配置；恢复前后台任务无法执行。",
            )
        )
    return found


def _integrations(integrations: list[dict[str, Any]]) -> list[Finding]:
    found = []
    for system in integrations:
        name = system["name"]
        if not system.get("configured"):
            found.append(
                Finding(
                    f"INTEGRATION_NOT_CONFIGURED:{name}",
                    Severity.NOTICE,
                    f"{name}未配置",
                    f"未配置{name}的服务地址，相关数据不能自动获取或推送。",
                    "在环境变量中配置该系统的服务地址。",
                )
            )
        elif not system.get("reachable"):
            found.append(
                Finding(
                    f"INTEGRATION_UNREACHABLE:{name}",
                    Severity.CRITICAL,
                    f"{name}不可达",
                    f"请求 {system['url']} 失败（{system.get('error')}）。",
                    "检查网络、对方服务状态与地址配置。",
                )
            )
        elif system["latencyMs"] > INTEGRATION_SLOW_MS:
            found.append(
                Finding(
                    f"INTEGRATION_SLOW:{name}",
                    Severity.WARNING,
                    f"{name}响应慢",
                    f"请求耗时 {system['latencyMs']} 毫秒。",
                    "与对方系统确认性能问题；必要时调整超时参数。",
                )
            )
    return found


def _push(push: dict[str, Any]) -> list[Finding]:
    if not push.get("available"):
        return [
            Finding(
                "PUSH_UNAVAILABLE",
                Severity.INFO,
                "推送统计不可用",
                str(push.get("reason", "")),
                "部署推送发件箱后，巡检将统计推送成功率与待推送记录。",
            )
        ]
    found = []
    if push["failed"]:
        found.append(
            Finding(
                "PUSH_REJECTED",
                Severity.WARNING,
                "有被平台拒收的推送记录",
                f"{push['failed']} 条记录被桂妇儿平台拒收，需要修正数据。",
                "在推送监控中查看拒收原因，修正数据后重新推送。",
            )
        )
    rate = push.get("successRate")
    if rate is not None and rate < PUSH_SUCCESS_MIN:
        found.append(
            Finding(
                "PUSH_SUCCESS_LOW",
                Severity.WARNING,
                "推送成功率偏低",
                f"统计期内推送成功率 {rate * 100:.1f}%（{push['attempts']} 次尝试）。",
                "按失败分类（数据、配置、稍后重试）逐类处理。",
            )
        )
    waiting = push.get("oldestWaitingAgeH")
    if waiting is not None and waiting > PUSH_WAITING_TOO_LONG_H:
        found.append(
            Finding(
                "PUSH_WAITING",
                Severity.WARNING,
                "有长时间等待推送的记录",
                f"{push['waiting']} 条记录待推送，最早的已等待 {waiting:.1f} 小时。",
                "检查推送任务与平台连通性。",
            )
        )
    return found


def _errors(errors: dict[str, Any]) -> list[Finding]:
    if not errors.get("inboundErrors"):
        return []
    return [
        Finding(
            "INBOUND_ERRORS",
            Severity.WARNING if errors.get("inboundErrorsSincePrevious") else Severity.NOTICE,
            "有处理失败的接收消息",
            f"共 {errors['inboundErrors']} 条检验/超声消息处理失败，"
            f"其中自上次巡检以来 {errors['inboundErrorsSincePrevious']} 条。",
            "按错误代码修正（登记孕妇、补充数据字典），然后执行 mhub reprocess --all-errors。",
        )
    ]


def findings(figures: dict[str, Any]) -> list[Finding]:
    """Every finding of one inspection, most severe first."""
    job_mode = str(figures.get("mode", {}).get("jobs", ""))
    found = [
        *_backup(figures["backup"]),
        *_host(figures["disk"], figures["memory"]),
        *_database(figures["database"]),
        *_jobs(figures["jobs"], figures["redis"], job_mode),
        *_integrations(figures["integrations"]),
        *_push(figures["push"]),
        *_errors(figures["errors"]),
    ]
    return sorted(found, key=lambda f: -SEVERITY_RANK[f.severity])


def highest(found: list[Finding]) -> Severity:
    return max((f.severity for f in found), key=lambda s: SEVERITY_RANK[s], default=Severity.INFO)
