"""Background jobs: progress by polling and by subscription (graphql-ws), who sees a job,
the arq worker path, and a render that breaks its time limit."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from arq import create_pool

from api.app import create_app
from domain.auth.service import ensure_user, issue_token
from domain.database import Database
from domain.job.queue import submit
from domain.settings import Settings
from graphql_schema.base import from_global_id, to_global_id
from jobs.background import run_background_job
from jobs.worker import redis_settings
from tests.conftest import PASSWORD, USERS, Api
from tests.document_helpers import (
    JOB,
    RENDER,
    download,
    embedded,  # noqa: F401  (fixture)
    given_pregnancy,
    wait_for_job,
)
from tests.helpers import book, register
from tests.test_worker import (  # the arq worker fixtures
    burst_worker,
    close_worker,
    drop_keys,
    live_redis,  # noqa: F401  (fixture)
    queue,  # noqa: F401  (fixture)
    worker_env,  # noqa: F401  (fixture)
)

SUBSCRIBE = """
subscription Progress($id: ID!) {
  jobProgress(jobId: $id) { id status progress message downloadUrl }
}
"""

ORDER = {"QUEUED": 0, "RUNNING": 1, "SUCCEEDED": 2, "FAILED": 2}


@dataclasses.dataclass
class Served:
    url: str
    tokens: dict[str, str]


@pytest.fixture
async def served(settings: Settings, db: Database) -> AsyncIterator[Served]:
    """The app on a real local port (WebSocket subscriptions need one), jobs in-process."""
    tokens: dict[str, str] = {}
    async with db.transaction() as session:
        for username, (display, roles) in USERS.items():
            await ensure_user(
                session, username, display_name=display, roles=roles, password=PASSWORD
            )
            tokens[username] = await issue_token(session, username, label="tests")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, run_jobs=True),
            host="127.0.0.1",
            port=0,
            log_config=None,
            access_log=False,
            ws="websockets-sansio",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the API did not start"
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(f"127.0.0.1:{port}", tokens)
    finally:
        server.should_exit = True
        await serving


async def gql_http(served: Served, query: str, variables: dict[str, Any], user: str) -> Any:
    async with httpx.AsyncClient(base_url=f"http://{served.url}") as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {served.tokens[user]}"},
        )
    return response.json()


async def subscribe(served: Served, job_id: str, user: str) -> list[dict[str, Any]]:
    """Every message of one jobProgress subscription over graphql-transport-ws."""
    async with websockets.connect(
        f"ws://{served.url}/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        additional_headers={"Authorization": f"Bearer {served.tokens[user]}"},
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"id": job_id}},
                }
            )
        )
        messages = []
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=120))
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages


async def test_progress_is_pushed_over_graphql_ws_until_the_job_ends(served: Served) -> None:
    async with httpx.AsyncClient(base_url=f"http://{served.url}") as client:
        api = Api(client=client, app=None, tokens=served.tokens)
        pregnancy = await book(api, await register(api, 3), weeks=20)
        body = await api.gql(RENDER, {"id": pregnancy["id"]})
    job_id = body["data"]["renderHandbook"]["job"]["id"]

    messages = await subscribe(served, job_id, "doctor")

    assert messages[-1] == {"id": "1", "type": "complete"}
    updates = [m["payload"]["data"]["jobProgress"] for m in messages[:-1]]
    assert {m["type"] for m in messages[:-1]} == {"next"}
    assert [u["id"] for u in updates] == [job_id] * len(updates)
    assert updates[-1]["status"] == "SUCCEEDED"
    assert updates[-1]["progress"] == 1.0
    assert updates[-1]["downloadUrl"].startswith("/documents/")
    statuses = [ORDER[u["status"]] for u in updates]
    assert statuses == sorted(statuses)
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress)
    assert len({(u["status"], u["progress"], u["message"]) for u in updates}) == len(updates)


async def test_nobody_else_follows_a_doctors_job(served: Served) -> None:
    async with httpx.AsyncClient(base_url=f"http://{served.url}") as client:
        api = Api(client=client, app=None, tokens=served.tokens)
        pregnancy = await book(api, await register(api, 4), weeks=20)
        body = await api.gql(RENDER, {"id": pregnancy["id"]})
    job_id = body["data"]["renderHandbook"]["job"]["id"]

    messages = await subscribe(served, job_id, "doctor2")

    assert messages == [
        {
            "id": "1",
            "type": "next",
            "payload": {
                "data": None,
                "errors": [{"message": "任务不存在", "extensions": {"code": "NOT_FOUND"}}],
            },
        },
        {"id": "1", "type": "complete"},
    ]


async def test_a_job_is_seen_by_its_submitter_and_administrators(
    embedded: Api,  # noqa: F811
) -> None:
    pregnancy = await book(embedded, await register(embedded, 5), weeks=20)
    body = await embedded.gql(RENDER, {"id": pregnancy["id"]})
    job_id = body["data"]["renderHandbook"]["job"]["id"]
    done = await wait_for_job(embedded, job_id)

    seen = {
        user: (await embedded.gql(JOB, {"id": job_id}, as_user=user))["data"]["job"]
        for user in ("doctor", "doctor2", "admin", "auditor")
    }

    # The signed link is made per request (its expiry moves on); everything else is the row.
    assert {k: v for k, v in seen["doctor"].items() if k != "downloadUrl"} == {
        k: v for k, v in done.items() if k != "downloadUrl"
    }
    assert seen["admin"]["status"] == "SUCCEEDED"
    assert seen["doctor2"] is None
    assert seen["auditor"] is None
    unknown = await embedded.gql(JOB, {"id": to_global_id("Job", 424_242)})
    assert unknown == {"data": {"job": None}}
    anonymous = await embedded.gql(JOB, {"id": job_id}, as_user=None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_render_over_its_time_limit_fails_the_job_and_the_next_one_runs(
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A limit no handbook can meet: the pool kills the render and starts afresh.
    monkeypatch.setenv("MHUB_RENDER_TIMEOUT_S", "0.05")
    tokens: dict[str, str] = {}
    async with db.transaction() as session:
        await ensure_user(
            session, "doctor", display_name="李医生", roles=USERS["doctor"][1], password=PASSWORD
        )
        tokens["doctor"] = await issue_token(session, "doctor", label="tests")
    app = create_app(settings, run_jobs=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            api = Api(client=client, app=app, tokens=tokens)
            pregnancy = await book(api, await register(api, 6), weeks=20)
            first = (await api.gql(RENDER, {"id": pregnancy["id"]}))["data"]["renderHandbook"]
            failed = await wait_for_job(api, first["job"]["id"])
            second = (await api.gql(RENDER, {"id": pregnancy["id"]}))["data"]["renderHandbook"]
            failed_again = await wait_for_job(api, second["job"]["id"])

    assert failed["status"] == "FAILED"
    assert failed["message"] == "渲染超时（超过 0.05 秒），已终止渲染进程"
    assert failed["downloadUrl"] is None
    assert failed_again["message"] == failed["message"]


async def test_the_arq_worker_runs_a_submitted_render_once(
    api: Api,
    worker_env: Settings,  # noqa: F811
    queue: str,  # noqa: F811
) -> None:
    # `api` has no job runner at all: the job stays QUEUED until the arq worker takes it.
    given = await given_pregnancy(api)
    body = await api.gql(RENDER, {"id": given.pregnancy_id})
    job_id = body["data"]["renderHandbook"]["job"]["id"]
    _, row_id = from_global_id(job_id)
    queued = (await api.gql(JOB, {"id": job_id}))["data"]["job"]

    enqueued = await submit(worker_env, row_id, queue_name=queue)
    worker = burst_worker(worker_env, queue)
    try:
        await worker.main()
    finally:
        await close_worker(worker)
        pool = await create_pool(redis_settings(worker_env.redis_url or ""))
        await drop_keys(pool, queue, f"background_job:{row_id}")
        await pool.aclose()

    job = (await api.gql(JOB, {"id": job_id}))["data"]["job"]
    again = await run_background_job(
        {"db": api.services.db, "runner": "test", "render_pool": None}, row_id
    )
    assert queued["status"] == "QUEUED"
    assert enqueued is True
    assert worker.jobs_complete == 1
    assert job["status"] == "SUCCEEDED"
    assert job["result"]["newVersion"] is True
    assert again == "SKIPPED"
    assert (await download(api, job["downloadUrl"])).startswith(b"%PDF-")
