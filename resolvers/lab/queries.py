"""Lab queries: one page of a woman's merged lab history (1.28.8)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.lab import history
from domain.lab.history import HistoryFilter, PatientRef
from resolvers.context import Context, UpstreamProblem
from resolvers.lab.history_loaders import HistoryKey


async def lab_history(
    ctx: Context,
    patient: PatientRef,
    query: HistoryFilter,
    first: int,
    after: str | None,
    path: Sequence[str | int],
) -> tuple[history.HistoryPage, int]:
    """One page of her merged history and its total; a source that did not answer is
    recorded on the context, to be reported beside the rows that were found."""
    found = await ctx.loaders.lab_history.load(HistoryKey(patient, query))
    for problem in found.unavailable:
        ctx.upstream_problems.append(UpstreamProblem(problem.system, problem.message, tuple(path)))
    return history.page(found.rows, first, after), len(found.rows)
