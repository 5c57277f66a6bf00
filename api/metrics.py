"""Prometheus metrics of one API process: requests, GraphQL operations, DB pool, audit queue."""

from __future__ import annotations

import re
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

from domain.database import Database

_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _PoolCollector(Collector):
    def __init__(self, db: Database) -> None:
        self._db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "mhub_db_pool_connections", "Database pool connections by state", labels=["state"]
        )
        pool = self._db.engine.pool
        if isinstance(pool, QueuePool):
            family.add_metric(["checked_out"], pool.checkedout())
            family.add_metric(["idle"], pool.checkedin())
            family.add_metric(["overflow"], max(pool.overflow(), 0))
            family.add_metric(["size"], pool.size())
        yield family


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "mhub_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "mhub_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.operations = Counter(
            "mhub_graphql_operations",
            "GraphQL operations",
            ["operation", "kind", "outcome"],
            registry=self.registry,
        )
        self.operation_seconds = Histogram(
            "mhub_graphql_operation_seconds",
            "GraphQL operation latency",
            ["operation", "kind"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(db))

    def observe(self, operation: str, kind: str, seconds: float, errors: int) -> None:
        # Names are chosen by clients: only plain GraphQL names become label values.
        name = operation if _OPERATION_NAME.fullmatch(operation) else "other"
        self.operations.labels(name, kind, "error" if errors else "ok").inc()
        self.operation_seconds.labels(name, kind).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
