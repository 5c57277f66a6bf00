"""`mhub`: serve, worker, migrate, token, demo, schema, reprocess, simulate, lis-backfill,
import-legacy, report, handbooks, inspect."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from api import push_cli
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
        uvicorn.run(
            create_app(settings, freeze_gc=True),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
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
            create_app(settings, freeze_gc=True),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
    )
    await asyncio.gather(api.serve(), *(server.serve() for server in servers))


def _simulator_ports(sims: list[Simulator]) -> list[tuple[Simulator, int]]:
    return [(sim, sim.default_port) for sim in sims]


def _pad(text: str, width: int) -> str:
    """Left-align for a terminal, where CJK characters take two columns."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - shown, 1)


def _point_at_simulators() -> list[str]:
    """Set each simulator's variable unless the operator configured a real system."""
    from integrations.simulators import demo_simulators

    lines = []
    for sim, sim_port in _simulator_ports(demo_simulators()):
        url = sim.base_url("127.0.0.1", sim_port)
        if os.environ.get(sim.env_var):
            lines.append(
                f"  {_pad(sim.name, 17)}{os.environ[sim.env_var]}（{sim.env_var} 已配置，未启动模拟器）"
            )
            continue
        os.environ[sim.env_var] = url
        lines.append(f"  {_pad(sim.name, 17)}{url}")
        if sim.env_var == "GUIFUER_BASE_URL":
            # The built-in platform accepts its published demo credentials.
            from integrations.guifuer import simulator as guifuer_simulator

            os.environ.setdefault("GUIFUER_APP_ID", guifuer_simulator.DEMO_APP_ID)
            os.environ.setdefault("GUIFUER_APP_SECRET", guifuer_simulator.DEMO_APP_SECRET)
            os.environ.setdefault("GUIFUER_ORG_CODE", guifuer_simulator.DEMO_ORG_CODE)
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
    # The HL7 v2 (MLLP) listener runs in the demo unless the operator configured it.
    os.environ.setdefault("LIS_MLLP_PORT", "2575")
    os.environ.setdefault("LIS_MLLP_HOST", "127.0.0.1")
    settings = Settings.from_env()
    print("==> 准备嵌入式数据库并写入演示数据 …", flush=True)
    summary = asyncio.run(_seed(settings))
    settings, legacy_line = _demo_legacy(settings)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    lines = [
        "",
        "MaternityHub 演示环境 (demo)",
        f"  数据目录      {settings.data_dir}",
        f"  数据库        {make_url(settings.database_url).render_as_string(hide_password=True)}",
        f"  任务运行      {'arq (REDIS_URL)' if settings.redis_url else '进程内 (in-process)'}",
        f"  演示数据      {_describe(summary)}",
        "",
        f"  GraphQL       {base}/graphql   (浏览器打开即为 GraphiQL)",
        f"  管理后台      {base}/admin",
        f"  健康检查      {base}/health",
        f"  监控指标      {base}/metrics",
        f"  HL7 (MLLP)    {_mllp_line(settings)}",
        f"  桂妇儿推送    {settings.guifuer_base_url or '未配置（记录保留在推送队列）'}"
        "（mhub push status；管理后台「推送监控」）",
        legacy_line,
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


def _demo_legacy(settings: Settings) -> tuple[Settings, str]:
    """The demo's legacy database (`legacy.db`, made once) unless one is configured."""
    import dataclasses

    if settings.legacy_database_url:
        shown = make_url(settings.legacy_database_url).render_as_string(hide_password=True)
        return settings, f"  旧系统数据库  {shown}（LEGACY_DATABASE_URL 已配置）"
    path = settings.data_dir / "legacy.db"
    made = "已存在"
    if not path.exists():
        from integrations.legacy.demo import generate_demo_legacy

        async def make() -> None:
            db = Database(settings.database_url)
            try:
                await generate_demo_legacy(path, db)
            finally:
                await db.dispose()

        asyncio.run(make())
        made = "新建"
    url = f"sqlite+aiosqlite:///{path}"
    os.environ["LEGACY_DATABASE_URL"] = url
    line = f"  旧系统数据库  {path}（{made}，只读；导入: mhub import-legacy）"
    return dataclasses.replace(settings, legacy_database_url=url), line


async def _import_legacy(settings: Settings, dry_run: bool) -> int:
    from integrations.legacy.database import LegacyDatabase, LegacyUnavailable
    from integrations.legacy.importer import Progress, import_legacy
    from integrations.legacy.mapping import LegacyMappingError

    if not settings.legacy_database_url:
        print("错误：未配置旧产科系统数据库（LEGACY_DATABASE_URL）", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        legacy = LegacyDatabase(settings.legacy_database_url)
    except LegacyMappingError as exc:
        await db.dispose()
        print(f"错误：{exc.message}", file=sys.stderr)
        return 2
    bar: Progress | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or Progress(total, "导入旧系统数据")
        bar.update(done)

    try:
        summary = await import_legacy(db, legacy, dry_run=dry_run, progress=progress)
    except LegacyUnavailable as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return 1
    finally:
        await legacy.dispose()
        await db.dispose()
    print(summary.describe())
    return 0


def _mllp_line(settings: Settings) -> str:
    if settings.lis_mllp_port <= 0:
        return "未启用（LIS_MLLP_PORT=0）"
    where = f"{settings.lis_mllp_host}:{settings.lis_mllp_port}"
    return f"{where}   (试发: mhub simulate mllp-send --port {settings.lis_mllp_port} --from-db)"


async def _report(settings: Settings, code: str, fmt: str, params: list[str], out: Path) -> int:
    from domain.database import utcnow
    from domain.document.pdf import render_pdf
    from domain.errors import NotFound, ValidationFailed
    from domain.report import export, service

    pairs: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(
                f"错误：参数应写成 名称=值，例如 date_from=2026-01-01（收到 {item!r}）",
                file=sys.stderr,
            )
            return 2
        pairs[key.strip()] = value.strip()
    db = Database(settings.database_url)
    try:
        table = await service.run(db, code, pairs, as_text=True)
    except (ValidationFailed, NotFound) as exc:
        errors = exc.errors if isinstance(exc, ValidationFailed) else [exc.error]
        for error in errors:
            print(f"错误：{error.message}（{error.field}）", file=sys.stderr)
        return 2
    finally:
        await db.dispose()

    async def pdf(html: str) -> bytes:
        return await asyncio.to_thread(render_pdf, html)

    file_format = export.ExportFormat(fmt.upper())
    content = await export.render(table, file_format, made_at=utcnow(), render_pdf=pdf)
    await asyncio.to_thread(out.write_bytes, content)
    print(f"已导出「{table.name}」：{len(table.rows)} 行 → {out}")
    return 0


async def _reprocess(settings: Settings, ids: list[int] | None, all_errors: bool) -> int:
    from domain.auth.actor import Actor
    from domain.inbound.service import reprocess

    if not ids and not all_errors:
        print("错误：请用 --id N（可重复）或 --all-errors 指定要重新处理的消息", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        summary = await reprocess(
            db,
            ids=ids or None,
            status="ERROR" if all_errors else None,
            actor=Actor(user_id=None, username="cli", roles=frozenset()),
        )
    finally:
        await db.dispose()
    print(summary.describe())
    return 1 if summary.failed else 0


async def _lis_backfill(settings: Settings, refs: list[str] | None) -> int:
    """Pull patients' lab history from the LIS FHIR server; one progress line per patient."""
    from domain.lab import backfill
    from graphql_schema.base import BadGlobalId, from_global_id
    from integrations.lis.fhir import LisFhirClient

    lis = LisFhirClient.from_settings(settings)
    if lis is None:
        print("错误：未配置检验系统 FHIR 服务（LIS_FHIR_BASE_URL）", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        if refs is None:
            ids = await backfill.patients_to_backfill(db)
        else:
            plain = []
            for ref in refs:  # a GraphQL global ID is accepted too
                try:
                    kind, row_id = from_global_id(ref)
                    plain.append(str(row_id) if kind == "Patient" else ref)
                except BadGlobalId:
                    plain.append(ref)
            ids, missing = await backfill.find_patients(db, plain)
            if missing:
                print(f"错误：找不到患者 {'、'.join(missing)}", file=sys.stderr)
                return 2

        def progress(done: int, total: int, outcome: backfill.BackfillOutcome) -> None:
            who = f"患者 {outcome.patient_id}（{outcome.lis_record_no or '无LIS病人号'}）"
            print(f"[{done}/{total}] {who}：{outcome.describe()}", flush=True)

        outcomes = await backfill.backfill_many(db, lis, ids, progress=progress)
    finally:
        await db.dispose()
    print(backfill.summarise(outcomes))
    return 1 if any(o.unavailable is not None for o in outcomes) else 0


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


def _non_negative(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"应为整数：{raw}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"不能为负数：{raw}")
    return value


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
    token.add_argument("--days", type=_non_negative, default=365, help="有效天数，0 表示不过期")
    bench = sub.add_parser(
        "bench",
        help="性能基准：worklist（GraphQL 工作列表对比手写 SQL）、federated（含 EMR 实时诊断）、"
        "archive（百万归档档案的归档查询，PostgreSQL）、handbook（母子健康手册 PDF 渲染）、"
        "push（桂妇儿推送出箱的排空速率，对比模拟器自身容量）",
    )
    bench.add_argument("name", choices=["worklist", "federated", "archive", "handbook", "push"])
    bench.add_argument("--database-url", default=None, help="默认在临时目录建 SQLite 库")
    bench.add_argument("--rounds", type=int, default=None, help="默认 worklist 200、federated 50")
    bench.add_argument("--first", type=int, default=50)
    bench.add_argument(
        "--latency-ms",
        type=_non_negative,
        default=None,
        help="模拟器每个请求的延迟（毫秒）：federated 的 EMR 默认 200，push 的桂妇儿平台默认 20",
    )
    bench.add_argument(
        "--pregnancies",
        type=_non_negative,
        default=1_000_000,
        help="archive：归档孕产档案数（数据写入单独的库 mhub_bench_archive，数量相同时复用）",
    )
    bench.add_argument(
        "--records",
        type=_non_negative,
        default=1000,
        help="push：出箱记录数（约数：按演示数据每名孕妇约 13 条生成）",
    )
    bench.add_argument("--concurrency", type=int, default=8, help="push：同时发送的请求数")
    schema = sub.add_parser("schema", help="导出 GraphQL SDL")
    schema.add_argument("--out", default=None, help="写入文件（默认打印）")
    again = sub.add_parser("reprocess", help="重新处理接收的 HL7 消息（登记孕妇或补充字典之后）")
    again.add_argument("--id", dest="ids", type=int, action="append", help="消息编号，可重复")
    again.add_argument("--all-errors", action="store_true", help="全部状态为 ERROR 的消息")
    simulate = sub.add_parser("simulate", help="模拟外部系统")
    simulators = simulate.add_subparsers(dest="simulator", required=True)
    emr = simulators.add_parser("emr", help="电子病历（EMR）FHIR 服务模拟器（就诊诊断，ICD-10）")
    emr.add_argument("--host", default="127.0.0.1")
    emr.add_argument("--port", type=int, default=8781)
    emr.add_argument("--latency-ms", type=int, default=0, help="每个请求的延迟（毫秒）")
    emr.add_argument("--fail", action="store_true", help="每个请求都返回 500")
    emr.add_argument("--failure-rate", type=float, default=0.0, help="随机返回 500 的比例（0–1）")
    emr.add_argument("--hang", action="store_true", help="请求永不答复（模拟超时）")
    emr.add_argument("--malformed", action="store_true", help="每个 Bundle 附带损坏的条目")
    lis = simulators.add_parser("lis", help="检验系统（LIS）FHIR 服务模拟器（多年的检验结果）")
    lis.add_argument("--host", default="127.0.0.1")
    lis.add_argument("--port", type=int, default=8782)
    lis.add_argument("--latency-ms", type=int, default=0, help="每个请求的延迟（毫秒）")
    lis.add_argument("--failure-rate", type=float, default=0.0, help="随机返回 503 的比例（0–1）")
    guifuer = simulators.add_parser(
        "guifuer", help="桂妇儿省级平台推送接口模拟器（验签、校验、版本与顺序）"
    )
    guifuer.add_argument("--host", default="127.0.0.1")
    guifuer.add_argument("--port", type=int, default=8783)
    guifuer.add_argument(
        "--down-for", type=_non_negative, default=0, help="启动后这么多秒内返回 503"
    )
    guifuer.add_argument(
        "--rate-limit-every", type=_non_negative, default=0, help="每第 K 个请求返回 429"
    )
    guifuer.add_argument(
        "--latency-ms", type=_non_negative, default=0, help="每个请求的延迟（毫秒）"
    )
    send = simulators.add_parser("mllp-send", help="模拟检验系统：经 MLLP 发送 ORU^R01 并打印确认")
    send.add_argument("--host", default="127.0.0.1")
    send.add_argument("--port", type=int, default=2575)
    send.add_argument("--count", type=int, default=10, help="生成的消息条数")
    send.add_argument("--file", type=Path, default=None, help="改为发送文件中的 HL7 消息")
    send.add_argument("--from-db", action="store_true", help="用 DATABASE_URL 中已登记孕妇")
    backfill = sub.add_parser(
        "lis-backfill", help="从检验系统（LIS FHIR）回填患者的全部历史检验结果"
    )
    who = backfill.add_mutually_exclusive_group(required=True)
    who.add_argument("--patient", action="append", help="患者编号、LIS 病人号或全局ID，可重复")
    who.add_argument("--all", action="store_true", help="全部有 LIS 病人号的患者")
    legacy = sub.add_parser(
        "import-legacy",
        help="从旧产科系统数据库（LEGACY_DATABASE_URL）导入孕妇和检验结果（可重复运行）",
    )
    legacy.add_argument("--dry-run", action="store_true", help="只统计，不写入")
    sub.add_parser("extract-nt", help="从标准输入读取超声报告文字，输出 NT 提取结果 JSON")
    handbooks = sub.add_parser("handbooks", help="批量生成母子健康手册 PDF（显示进度）")
    which = handbooks.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="全部孕产档案")
    which.add_argument("--pregnancy", type=int, action="append", help="孕产档案编号，可重复")
    handbooks.add_argument("--out-dir", type=Path, default=None, help="同时把 PDF 保存到该目录")
    push_cli.add_parser(sub)
    inspect = sub.add_parser("inspect", help="立即巡检系统并生成巡检报告（PDF 存入数据库）")
    inspect.add_argument("--out", type=Path, default=None, help="同时把报告 PDF 写入该文件")
    report = sub.add_parser("report", help="运行统计报表并导出为 CSV、XLSX 或 PDF 文件")
    report.add_argument("code", help="报表编码，如 high_risk_by_month")
    report.add_argument("--format", choices=["csv", "xlsx", "pdf"], default="csv")
    report.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="报表参数（可重复）"
    )
    report.add_argument("--out", type=Path, required=True, help="输出文件")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "extract-nt":
        import json

        from integrations.ultrasound.nt import extract_nt

        text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
        print(json.dumps(extract_nt(text).to_json(), ensure_ascii=False))
        return 0
    if args.command == "schema":
        _schema(args.out)
        return 0
    if args.command == "bench":
        import tempfile

        from benchmarks import federated, worklist

        with tempfile.TemporaryDirectory(prefix="mhub-bench-") as tmp:
            if args.name == "handbook":
                from benchmarks import handbook

                return handbook.main(args.rounds or 5)
            if args.name == "archive":
                from benchmarks import archive

                return archive.main(args.database_url, tmp, args.pregnancies, args.rounds or 30)
            if args.name == "federated":
                latency_ms = 200 if args.latency_ms is None else args.latency_ms
                return federated.main(
                    args.database_url, tmp, args.rounds or 50, args.first, latency_ms
                )
            if args.name == "push":
                from benchmarks import push

                return push.main(
                    args.database_url,
                    tmp,
                    args.records,
                    20 if args.latency_ms is None else args.latency_ms,
                    args.concurrency,
                )
            return worklist.main(args.database_url, tmp, args.rounds or 200, args.first)
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
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        print(f"数据库已是最新结构：{shown}")
    elif args.command == "token":
        from domain.errors import ValidationFailed

        try:
            print(asyncio.run(_token(settings, args.user, args.label, args.days or None)))
        except ValidationFailed as exc:
            print(f"错误：{exc.errors[0].message}", file=sys.stderr)
            return 1
    elif args.command == "reprocess":
        return asyncio.run(_reprocess(settings, args.ids, args.all_errors))
    elif args.command == "import-legacy":
        return asyncio.run(_import_legacy(settings, args.dry_run))
    elif args.command == "report":
        return asyncio.run(_report(settings, args.code, args.format, args.param, args.out))
    elif args.command == "lis-backfill":
        return asyncio.run(_lis_backfill(settings, None if args.all else args.patient))
    elif args.command == "handbooks":
        from jobs.commands import render_handbooks

        wanted = None if args.all else args.pregnancy
        return asyncio.run(render_handbooks(settings, wanted, out_dir=args.out_dir))
    elif args.command == "push":
        sys.exit(push_cli.run(args))
    elif args.command == "inspect":
        from jobs.commands import inspect as run_inspection

        return asyncio.run(run_inspection(settings, args.out))
    elif args.command == "simulate" and args.simulator == "emr":
        from integrations.emr import simulator as emr_simulator

        faults = emr_simulator.Faults(
            latency_ms=args.latency_ms,
            fail=args.fail,
            failure_rate=args.failure_rate,
            hang=args.hang,
            malformed=args.malformed,
        )
        emr_simulator.run(args.host, args.port, faults)
    elif args.command == "simulate" and args.simulator == "lis":
        from integrations.lis import fhir_simulator

        fhir_simulator.run(
            args.host, args.port, latency_ms=args.latency_ms, failure_rate=args.failure_rate
        )
    elif args.command == "simulate" and args.simulator == "guifuer":
        from integrations.guifuer import simulator as guifuer_simulator

        guifuer_faults = guifuer_simulator.Faults(
            down_for_s=args.down_for,
            rate_limit_every=args.rate_limit_every,
            latency_ms=args.latency_ms,
        )
        guifuer_simulator.run(args.host, args.port, guifuer_faults)
    elif args.command == "simulate":
        from integrations.lis import mllp_sender

        url = settings.database_url if args.from_db else None
        sending = mllp_sender.run(
            args.host, args.port, count=args.count, file=args.file, database_url=url
        )
        return asyncio.run(sending)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
