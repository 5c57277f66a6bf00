from __future__ import annotations

from collections.abc import Sequence

from domain.dictionary.service import RISK_FACTOR, active_entry
from integrations.emr.port import EmrNotConfigured, EmrUnavailable
from resolvers.context import Context, UpstreamProblem

EMR = "EMR"


def report_unavailable(ctx: Context, exc: EmrUnavailable, path: Sequence[str | int]) -> None:
    """Record that the EMR did not answer, once per request however many fields missed it."""
    if any(problem.system == EMR for problem in ctx.upstream_problems):
        return
    if isinstance(exc, EmrNotConfigured):
        message = f"{exc.reason}：EMR 诊断为 null"
    else:
        message = (
            f"电子病历系统（EMR）暂不可用（{exc.reason}）：本次响应中的 EMR 诊断为 null，"
            "其余数据不受影响"
        )
    ctx.upstream_problems.append(UpstreamProblem(EMR, message, tuple(path)))


async def factor_in_dictionary(ctx: Context, code: str) -> bool:
    """Whether a high-risk factor code is an active entry of the data dictionary."""
    async with ctx.db.reader() as session:
        return await active_entry(session, RISK_FACTOR, code) is not None
