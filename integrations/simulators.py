"""The built-in simulators the demo starts beside the API, one per hospital system.

Each integration contributes a `Simulator`: an ASGI app (a FHIR server, the 桂妇儿
platform, …) served on its own local port, plus the environment variable that points
MaternityHub at it. `mhub demo` serves them all in the same process and sets the
variables unless the operator set them already.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.types import ASGIApp


@dataclass(frozen=True)
class Simulator:
    name: str  # shown to the operator, e.g. "EMR FHIR 模拟器"
    env_var: str  # e.g. EMR_FHIR_BASE_URL
    default_port: int
    build: Callable[[], ASGIApp]

    def base_url(self, host: str, port: int) -> str:
        return f"http://{host}:{port}"


def demo_simulators() -> list[Simulator]:
    """Every simulator the demo starts by default (integrations add theirs here)."""
    from integrations.emr import simulator as emr_simulator
    from integrations.guifuer import simulator as guifuer_simulator
    from integrations.lis import fhir_simulator

    return [
        Simulator("EMR FHIR 模拟器", "EMR_FHIR_BASE_URL", 8781, emr_simulator.build_app),
        Simulator("LIS FHIR 模拟器", "LIS_FHIR_BASE_URL", 8782, fhir_simulator.build_app),
        Simulator("桂妇儿平台模拟器", "GUIFUER_BASE_URL", 8783, guifuer_simulator.build_app),
    ]


@asynccontextmanager
async def serve_locally(
    app: ASGIApp, *, name: str, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve a simulator on a local port (0 = any free one) in this event loop; yields its
    base URL and stops it on exit. Tests and benchmarks use it to talk real HTTP."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off", ws="none"
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            raise RuntimeError(f"{name}未能启动")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await serving
