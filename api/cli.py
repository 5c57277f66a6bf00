"""`mhub`: serve, worker, migrate, token, demo, schema."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from domain.database import Database
from domain.migrate import upgrade
from domain.settings import Settings

if TYPE_CHECKING:
    from integrations.simulators import Simulator


def _serve(settings: Settings, host: str, port: int, *, simulators: bool = False) -> None:
    """Run the API; with `simulators`, the demo's built-in simulators run beside it."""
    import uvicorn

    from api import logs
    from api.app import create_app

    logs.configure(settings.log_level)
    if not simulators:
        uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)
        return
    asyncio.run(_serve_with_simulators(settings, host, port))


async def _serve_with_simulators(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app
    from integrations.simulators import demo_simulators

    servers = [
        uvicorn.Server(
            uvicorn.Config(
                sim.build(), host="127.0.0.1", port=sim_port, log_config=None, access_log=False
            )
        )
        for sim, sim_port in _simulator_ports(demo_simulators())
    ]
    api = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host=host, port=port, log_config=None, access_log=False
        )
    )
    await asyncio.gather(api.serve(), *(server.serve() for server in servers))


def _simulator_ports(sims: list[Simulator]) -> list[tuple[Simulator, int]]:
    return [(sim, sim.default_port) for sim in sims]


def _point_at_simulators() -> list[str]:
    """Set each simulator's variable unless the operator configured a real system."""
    from integrations.simulators import demo_simulators

    lines = []
    for sim, sim_port in _simulator_ports(demo_simulators()):
        url = sim.base_url("127.0.0.1", sim_port)
        if os.environ.get(sim.env_var):
            lines.append(
                f"  {sim.name:<14}{os.environ[sim.env_var]}（{sim.env_var} 已配置，未启动模拟器）"
            )
            continue
        os.environ[sim.env_var] = url
        lines.append(f"  {sim.name:<14}{url}")
    return lines


async def _migrate(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


async def _token(settings: Settings, username: str, label: str | None, days: int | None) -> str:
    from domain.auth.service import issue_token

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return await issue_token(session, username, label=label, days=days)
    finally:
        await db.dispose()


async def _seed(settings: Settings) -> object:
    from domain.demo.seed import seed_demo

    await _migrate(settings)
    db = Database(settings.database_url)
    try:
        return await seed_demo(db, secret_key=settings.secret_key)
    finally:
        await db.dispose()


def _demo(host: str, port: int) -> None:
    os.environ.setdefault("MHUB_DATA_DIR", str(Path("var").resolve()))
    simulator_lines = _point_at_simulators()
    settings = Settings.from_env()
    print("==> 准备嵌入式数据库并写入演示数据 …", flush=True)
    summary = asyncio.run(_seed(settings))
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    lines = [
        "",
        "MaternityHub 演示环境 (demo)",
        f"  数据目录      {settings.data_dir}",
        f"  数据库        {settings.database_url}",
        f"  任务运行      {'arq (REDIS_URL)' if settings.redis_url else '进程内 (in-process)'}",
        f"  演示数据      {_describe(summary)}",
        "",
        f"  GraphQL       {base}/graphql   (浏览器打开即为 GraphiQL)",
        f"  管理后台      {base}/admin",
        f"  健康检查      {base}/health",
        f"  监控指标      {base}/metrics",
        "",
    ]
    if simulator_lines:
        lines += ["  内置模拟器:", *simulator_lines, ""]
    lines += [
        "  演示用户（用户名 / 密码 / 角色）:",
    ]
    for user in getattr(summary, "users", ()):
        lines.append(f"    {user.username:<8} {user.password:<22} {','.join(user.roles)}")
    lines += [
        "",
        "  API 令牌:  mhub token --user doctor   （请求头 Authorization: Bearer <令牌>）",
        "",
    ]
    print("\n".join(lines), flush=True)
    _serve(settings, host, port, simulators=True)


def _describe(summary: object) -> str:
    fields = (
        "patients",
        "pregnancies",
        "visits",
        "risk_factors",
        "lab_results",
        "ultrasound_exams",
    )
    labels = ("孕妇", "孕产档案", "产检", "高危因素", "检验结果", "超声")
    counts = "，".join(
        f"{label} {getattr(summary, f, 0)}" for f, label in zip(fields, labels, strict=True)
    )
    state = "新建" if getattr(summary, "created", False) else "已存在"
    return f"{state}：{counts}"


def _worker(settings: Settings) -> None:
    from arq.worker import run_worker

    from api import logs
    from jobs.worker import worker_settings

    logs.configure(settings.log_level)
    run_worker(worker_settings(settings))


def _schema(out: str | None) -> None:
    from graphql_schema.schema import export_sdl

    sdl = export_sdl()
    if out:
        Path(out).write_text(sdl, encoding="utf-8")
    else:
        sys.stdout.write(sdl)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mhub", description="MaternityHub 产科信息管理系统")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="运行 API 服务（GraphQL、管理后台、健康检查）")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    demo = sub.add_parser("demo", help="嵌入式演示：建库、写入演示数据并启动服务")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    sub.add_parser("worker", help="运行 arq 任务进程（需要 REDIS_URL）")
    sub.add_parser("migrate", help="把数据库升级到最新结构")
    token = sub.add_parser("token", help="为用户签发 API Bearer 令牌并打印")
    token.add_argument("--user", required=True, help="用户名")
    token.add_argument("--label", default=None, help="令牌用途说明")
    token.add_argument("--days", type=int, default=365, help="有效天数，0 表示不过期")
    bench = sub.add_parser("bench", help="性能基准：GraphQL 工作列表对比手写 SQL")
    bench.add_argument("name", choices=["worklist"])
    bench.add_argument("--database-url", default=None, help="默认在临时目录建 SQLite 库")
    bench.add_argument("--rounds", type=int, default=200)
    bench.add_argument("--first", type=int, default=50)
    schema = sub.add_parser("schema", help="导出 GraphQL SDL")
    schema.add_argument("--out", default=None, help="写入文件（默认打印）")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "schema":
        _schema(args.out)
        return 0
    if args.command == "bench":
        import tempfile

        from benchmarks import worklist

        with tempfile.TemporaryDirectory(prefix="mhub-bench-") as tmp:
            return worklist.main(args.database_url, tmp, args.rounds, args.first)
    if args.command == "demo":
        _demo(args.host, args.port)
        return 0
    settings = Settings.from_env()
    if args.command == "serve":
        _serve(settings, args.host, args.port)
    elif args.command == "worker":
        _worker(settings)
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
        print(f"数据库已是最新结构：{settings.database_url}")
    elif args.command == "token":
        from domain.errors import ValidationFailed

        try:
            print(asyncio.run(_token(settings, args.user, args.label, args.days or None)))
        except ValidationFailed as exc:
            print(f"错误：{exc.errors[0].message}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
