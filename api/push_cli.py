"""`mhub push …`: the 桂妇儿 outbox from the command line (status, drain, reconcile)."""

from __future__ import annotations

import argparse
import asyncio

from sqlalchemy import func, select

from domain.database import Database, utcnow
from domain.push import reconcile
from domain.push.delivery import Deliverer
from domain.push.models import PushChannel, PushRecord, PushStatus
from domain.push.outbox import RECORD_LABELS
from domain.push.platform import PushNotConfigured, build_client, new_http, worker_name
from domain.push.service import STATUS_LABELS, PushFilter, count_records
from domain.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    push = sub.add_parser("push", help="桂妇儿推送队列：状态、立即推送、与平台核对")
    actions = push.add_subparsers(dest="push_action", required=True)
    actions.add_parser("status", help="各状态、各类型的记录数与通道状态")
    drain = actions.add_parser("drain", help="立即推送全部到期记录（与后台任务相同的路径）")
    drain.add_argument("--budget", type=float, default=300.0, help="最长运行秒数")
    actions.add_parser("reconcile", help="读回平台上的记录，报告版本不一致；不一致时退出码为 1")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    return asyncio.run(_ACTIONS[args.push_action](settings, args))


async def _status(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        async with db.reader() as session:
            rows = (
                await session.execute(
                    select(PushRecord.record_type, PushRecord.status, func.count())
                    .group_by(PushRecord.record_type, PushRecord.status)
                    .order_by(PushRecord.record_type, PushRecord.status)
                )
            ).all()
            oldest = await session.scalar(
                select(func.min(PushRecord.created_at)).where(
                    PushRecord.status == PushStatus.PENDING
                )
            )
            waiting = await count_records(session, PushFilter(waiting_for_registration=True))
            channel = await session.get(PushChannel, "guifuer")
    finally:
        await db.dispose()
    print(f"桂妇儿平台：{settings.guifuer_base_url or '未配置（GUIFUER_BASE_URL）'}")
    if channel is not None and channel.paused:
        print(f"通道已暂停：{channel.pause_reason}")
    for record_type, status, count in rows:
        print(
            f"  {RECORD_LABELS.get(record_type, record_type):<8}{STATUS_LABELS.get(status, status):<10}{count:>8}"
        )
    if oldest is not None:
        print(f"最早的待推送记录已等待 {(utcnow() - oldest).total_seconds():.0f} 秒")
    print(f"等待建档记录被接收的记录：{waiting}")
    return 0


async def _drain(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        async with new_http() as http:
            try:
                client = build_client(settings, http)
            except PushNotConfigured as exc:
                print(exc)
                return 2
            stats = await Deliverer(db, client, worker=worker_name("cli")).drain(
                budget_s=args.budget
            )
    finally:
        await db.dispose()
    print(f"发送 {stats.attempted} 次：{stats.outcomes}")
    return 0


async def _reconcile(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        async with new_http() as http:
            try:
                client = build_client(settings, http)
            except PushNotConfigured as exc:
                print(exc)
                return 2
            summary = await reconcile.reconcile(db, client)
    finally:
        await db.dispose()
    print(
        f"核对 {summary.checked} 条：一致 {summary.matched}，版本不同 {summary.mismatched}，"
        f"平台没有 {summary.missing}，未能读取 {summary.unreadable}"
    )
    for item in summary.mismatches:
        print(
            f"  {item['recordType']} {item['recordId']}：已接收 v{item['deliveredVersion']}，"
            f"平台 {'无此记录' if item['platformVersion'] is None else 'v' + str(item['platformVersion'])}"
        )
    return 1 if summary.mismatches else 0


_ACTIONS = {"status": _status, "drain": _drain, "reconcile": _reconcile}
