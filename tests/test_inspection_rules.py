"""The thresholds that turn measured figures into findings (severity and action)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from domain.inspection.rules import findings, highest

HEALTHY: dict[str, Any] = {
    "mode": {"database": "postgresql", "jobs": "arq"},
    "backup": {
        "configured": True,
        "exists": True,
        "dir": "/backup",
        "files": 3,
        "newestFile": "mhub.dump",
        "ageH": 5.0,
        "maxAgeH": 26.0,
    },
    "disk": {"path": "/data", "usedPercent": 40.0, "freeBytes": 10 * 2**30},
    "memory": {"usedPercent": 50.0, "availableBytes": 4 * 2**30},
    "database": {
        "connections": {"available": True, "used": 10, "max": 100, "usedPercent": 10.0},
        "unusedIndexes": {"available": True, "indexes": []},
        "seqScanTables": {"available": True, "minRows": 1000, "tables": []},
        "slowStatements": {"available": True, "statements": [{"meanMs": 12.0}]},
    },
    "jobs": {"failedSincePrevious": 0, "oldestQueuedAgeS": None, "aliveRunners": 1},
    "redis": {"available": True},
    "integrations": [
        {"name": "电子病历（EMR）", "configured": True, "reachable": True, "latencyMs": 40.0}
    ],
    "push": {
        "available": True,
        "failed": 0,
        "waiting": 0,
        "successRate": 1.0,
        "attempts": 10,
        "oldestWaitingAgeH": None,
    },
    "errors": {"inboundErrors": 0, "inboundErrorsSincePrevious": 0},
}


def with_(path: str, value: object) -> dict[str, Any]:
    figures = copy.deepcopy(HEALTHY)
    *parents, leaf = path.split(".")
    target = figures
    for key in parents:
        target = target[key]
    target[leaf] = value
    return figures


def test_a_healthy_system_has_only_information() -> None:
    found = findings(HEALTHY)

    assert [(f.code, f.severity.value) for f in found] == [("BACKUP_OK", "INFO")]
    assert highest(found).value == "INFO"


@pytest.mark.parametrize(
    ("path", "value", "code", "severity"),
    [
        ("backup.ageH", 30.0, "BACKUP_STALE", "WARNING"),
        ("backup.configured", False, "BACKUP_NOT_CONFIGURED", "WARNING"),
        ("backup.exists", False, "BACKUP_DIR_MISSING", "CRITICAL"),
        ("disk.usedPercent", 85.0, "DISK_HIGH", "WARNING"),
        ("disk.usedPercent", 95.0, "DISK_FULL", "CRITICAL"),
        ("memory.usedPercent", 93.0, "MEMORY_HIGH", "WARNING"),
        (
            "database.connections",
            {"available": True, "used": 85, "max": 100, "usedPercent": 85.0},
            "DB_CONNECTIONS_HIGH",
            "WARNING",
        ),
        (
            "database.unusedIndexes",
            {"available": True, "indexes": [{"index": "ix_a", "table": "a", "bytes": 8192}]},
            "UNUSED_INDEXES",
            "NOTICE",
        ),
        (
            "database.slowStatements",
            {"available": True, "statements": [{"meanMs": 812.5}]},
            "SLOW_STATEMENTS",
            "WARNING",
        ),
        (
            "database.slowStatements",
            {"available": False, "reason": "未启用"},
            "SLOW_STATEMENTS_UNAVAILABLE",
            "INFO",
        ),
        ("jobs.failedSincePrevious", 3, "JOBS_FAILED", "WARNING"),
        ("jobs.oldestQueuedAgeS", 1800.0, "JOBS_STUCK", "WARNING"),
        ("jobs.aliveRunners", 0, "NO_JOB_RUNNER", "CRITICAL"),
        ("redis", {"available": False, "reason": "无法连接"}, "REDIS_UNREACHABLE", "CRITICAL"),
        ("push.failed", 2, "PUSH_REJECTED", "WARNING"),
        ("push.successRate", 0.9, "PUSH_SUCCESS_LOW", "WARNING"),
        ("push.oldestWaitingAgeH", 3.0, "PUSH_WAITING", "WARNING"),
        ("push", {"available": False, "reason": "无表"}, "PUSH_UNAVAILABLE", "INFO"),
        (
            "errors",
            {"inboundErrors": 4, "inboundErrorsSincePrevious": 0},
            "INBOUND_ERRORS",
            "NOTICE",
        ),
        (
            "errors",
            {"inboundErrors": 4, "inboundErrorsSincePrevious": 1},
            "INBOUND_ERRORS",
            "WARNING",
        ),
    ],
)
def test_a_figure_past_its_threshold_is_a_finding(
    path: str, value: object, code: str, severity: str
) -> None:
    found = {f.code: f for f in findings(with_(path, value))}

    assert found[code].severity.value == severity
    assert found[code].action


def test_integrations_unreachable_slow_and_unconfigured() -> None:
    figures = with_(
        "integrations",
        [
            {"name": "EMR", "configured": True, "reachable": False, "url": "u", "error": "X"},
            {"name": "LIS", "configured": True, "reachable": True, "latencyMs": 2500.0},
            {"name": "桂妇儿平台", "configured": False},
        ],
    )

    found = [(f.code, f.severity.value) for f in findings(figures)]

    assert found[:2] == [
        ("INTEGRATION_UNREACHABLE:EMR", "CRITICAL"),
        ("INTEGRATION_SLOW:LIS", "WARNING"),
    ]
    assert ("INTEGRATION_NOT_CONFIGURED:桂妇儿平台", "NOTICE") in found


def test_without_a_runner_the_embedded_mode_warns() -> None:
    figures = with_("jobs.aliveRunners", 0)
    figures["mode"]["jobs"] = "inprocess"

    found = {f.code: f.severity.value for f in findings(figures)}

    assert found["NO_JOB_RUNNER"] == "WARNING"
