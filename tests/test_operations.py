"""Operating the service: /health, /metrics, request ids, JSON logs, the in-process job runner."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import sys
import time

import orjson
from sqlalchemy import select

from api.logs import JsonFormatter
from domain import request as request_vars
from domain.database import Database
from domain.ops.models import JobHeartbeat
from jobs.runner import InProcessRunner
from tests.conftest import Api

WORKLIST = "query Worklist { patients(first: 5) { totalCount edges { node { name } } } }"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def metric_lines(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith((name + "{", name + " "))]


# --- /health ----------------------------------------------------------------------------------


async def test_health_reports_the_database_and_no_runners(api: Api, backend: str) -> None:
    response = await api.client.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "jobs": {"mode": "off", "runners": []},
        "database": {"status": "ok", "dialect": backend},
        "push": {
            "status": "ok",
            "configured": False,
            "pauseReason": None,
            "oldestPendingS": None,
            "rejected": 0,
        },
    }


async def heartbeats(db: Database) -> list[JobHeartbeat]:
    async with db.reader() as session:
        return list((await session.scalars(select(JobHeartbeat))).all())


async def seen_times(db: Database, count: int, within_s: float = 10.0) -> set[dt.datetime]:
    """Poll until the runner has written `count` different last_seen values."""
    seen: set[dt.datetime] = set()
    deadline = time.monotonic() + within_s
    while len(seen) < count and time.monotonic() < deadline:
        seen.update(row.last_seen for row in await heartbeats(db))
        await asyncio.sleep(0.02)
    return seen


async def test_in_process_runner_beats_and_health_lists_it_as_fresh(api: Api, db: Database) -> None:
    runner = InProcessRunner(db, heartbeat_s=0.05)
    runner.start()
    try:
        seen = await seen_times(db, 3)
    finally:
        await runner.stop()

    rows = await heartbeats(db)
    health = (await api.client.get("/health")).json()

    assert len(seen) >= 3  # it beats again and again, one row per runner
    assert [row.runner for row in rows] == [runner.name]
    assert runner.name.startswith("inprocess@")
    assert rows[0].detail == {"mode": "embedded"}
    assert rows[0].last_seen == max(seen)
    assert health["status"] == "ok"
    assert health["jobs"]["runners"] == [
        {"runner": runner.name, "lastSeen": rows[0].last_seen.isoformat(), "stale": False}
    ]


async def test_runner_stops_beating_after_stop(db: Database) -> None:
    runner = InProcessRunner(db, heartbeat_s=0.05)
    runner.start()
    try:
        await seen_times(db, 1)
    finally:
        await runner.stop()
    [stopped] = await heartbeats(db)

    await asyncio.sleep(0.25)

    [later] = await heartbeats(db)
    assert later.last_seen == stopped.last_seen


async def test_health_marks_an_old_heartbeat_stale(api: Api, db: Database) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    async with db.transaction() as session:
        session.add(JobHeartbeat(runner="arq@elsewhere:1", last_seen=old, detail={}))

    health = (await api.client.get("/health")).json()

    assert health["jobs"]["runners"] == [
        {"runner": "arq@elsewhere:1", "lastSeen": old.isoformat(), "stale": True}
    ]


# --- /metrics ---------------------------------------------------------------------------------


async def test_metrics_count_operations_by_the_name_in_the_document(api: Api) -> None:
    await api.gql(WORKLIST)

    text = (await api.client.get("/metrics")).text

    assert metric_lines(text, "mhub_graphql_operations_total") == [
        'mhub_graphql_operations_total{kind="query",operation="Worklist",outcome="ok"} 1.0'
    ]


async def test_metrics_count_operations_by_name_outcome_and_kind(api: Api) -> None:
    async def send(as_user: str | None) -> None:
        headers = {"Authorization": f"Bearer {api.tokens[as_user]}"} if as_user else {}
        response = await api.client.post(
            "/graphql", json={"query": WORKLIST, "operationName": "Worklist"}, headers=headers
        )
        assert response.status_code == 200

    await send("doctor")
    await send("doctor")
    await send(None)

    text = (await api.client.get("/metrics")).text

    assert metric_lines(text, "mhub_graphql_operations_total") == [
        'mhub_graphql_operations_total{kind="query",operation="Worklist",outcome="ok"} 2.0',
        'mhub_graphql_operations_total{kind="query",operation="Worklist",outcome="error"} 1.0',
    ]
    assert 'mhub_graphql_operation_seconds_count{kind="query",operation="Worklist"} 3.0' in text


async def test_metrics_expose_http_requests_and_the_database_pool(api: Api, backend: str) -> None:
    await api.gql(WORKLIST)
    await api.client.get("/health")
    await api.client.get("/nowhere")

    response = await api.client.get("/metrics")
    text = response.text

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    http = metric_lines(text, "mhub_http_requests_total")
    assert 'mhub_http_requests_total{method="POST",route="/graphql",status="200"} 1.0' in http
    assert 'mhub_http_requests_total{method="GET",route="/health",status="200"} 1.0' in http
    assert 'mhub_http_requests_total{method="GET",route="other",status="404"} 1.0' in http
    assert 'mhub_http_request_seconds_count{route="/graphql"} 1.0' in text
    pool = metric_lines(text, "mhub_db_pool_connections")
    assert sorted(line.split("}")[0] + "}" for line in pool) == [
        'mhub_db_pool_connections{state="checked_out"}',
        'mhub_db_pool_connections{state="idle"}',
        'mhub_db_pool_connections{state="overflow"}',
        'mhub_db_pool_connections{state="size"}',
    ]
    size = {"sqlite": 5.0, "postgresql": 10.0}[backend]
    assert f'mhub_db_pool_connections{{state="size"}} {size}' in pool


# --- request ids ------------------------------------------------------------------------------


ROUTES = [
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/auth/session"),
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("POST", "/graphql"),
    ("GET", "/graphql"),
    ("GET", "/admin"),
    ("GET", "/static/graphiql/graphiql.min.css"),
    ("GET", "/no/such/page"),
]


async def test_every_response_carries_a_request_id(api: Api) -> None:
    seen: set[str] = set()

    for method, path in ROUTES:
        response = await api.client.request(method, path)
        [request_id] = response.headers.get_list("x-request-id")
        assert HEX_ID.match(request_id), (method, path, request_id)
        seen.add(request_id)

    assert len(seen) == len(ROUTES)  # a new id for every request


async def test_valid_incoming_request_id_is_echoed(api: Api) -> None:
    for incoming in ["abc-123", "trace.id_42", "A" * 64, "0"]:
        response = await api.client.get("/health", headers={"X-Request-ID": incoming})
        assert response.headers["x-request-id"] == incoming


async def test_invalid_incoming_request_id_is_replaced(api: Api) -> None:
    invalid = ["has spaces", "a" * 65, "x" * 200, "semi;colon", 'quote"d', "路径", "a/b", ""]

    for incoming in invalid:
        response = await api.client.get("/health", headers=[(b"X-Request-ID", incoming.encode())])
        replaced = response.headers["x-request-id"]
        assert replaced != incoming, incoming
        assert HEX_ID.match(replaced), incoming


# --- JSON logs --------------------------------------------------------------------------------


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("mhub.test", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_formatter_writes_one_line_with_the_request_id() -> None:
    token = request_vars.request_id.set("req-json-1")
    try:
        line = JsonFormatter().format(_record("预约 %s 人", 3, patient_count=3))
    finally:
        request_vars.request_id.reset(token)

    assert "\n" not in line
    entry = orjson.loads(line)
    assert entry["request_id"] == "req-json-1"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "mhub.test"
    assert entry["msg"] == "预约 3 人"
    assert entry["patient_count"] == 3
    assert dt.datetime.fromisoformat(entry["ts"]).tzinfo is not None
    assert "operation" not in entry


def test_json_formatter_adds_the_operation_and_keeps_tracebacks_on_one_line() -> None:
    rid = request_vars.request_id.set("req-json-2")
    op = request_vars.operation_name.set("Worklist")
    try:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            record = logging.LogRecord(
                "mhub.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
            )
        line = JsonFormatter().format(record)
    finally:
        request_vars.operation_name.reset(op)
        request_vars.request_id.reset(rid)

    assert "\n" not in line
    entry = orjson.loads(line)
    assert entry["request_id"] == "req-json-2"
    assert entry["operation"] == "Worklist"
    assert entry["exc"].startswith("Traceback")
    assert "ValueError: boom\nsecond line" in entry["exc"]


def test_json_formatter_outside_a_request_has_no_request_id() -> None:
    entry = orjson.loads(JsonFormatter().format(_record("idle")))

    assert entry["request_id"] is None
