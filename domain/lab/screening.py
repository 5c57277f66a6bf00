"""Infectious-disease screening (1.28.7): for each item, the pregnancy's latest result.

"Latest" is by the item's own test date (specimen time, else report time), never by
the visit or by another item's date: HBsAg drawn on 03-01 and HIV on 03-15 keep their
own dates. A doctor's amendment changes the row itself, so it is what is shown until a
result with a later test date arrives for the same item.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.lab.models import LabResult

# The order the handbook and the 桂妇儿 platform list them in.
SCREENING_ITEMS: tuple[tuple[str, str], ...] = (
    ("HBSAG", "乙肝表面抗原"),
    ("ANTI_HBS", "乙肝表面抗体"),
    ("HBEAG", "乙肝e抗原"),
    ("ANTI_HBE", "乙肝e抗体"),
    ("ANTI_HBC", "乙肝核心抗体"),
    ("HIV", "HIV抗体"),
    ("TP", "梅毒螺旋体抗体"),
    ("RPR", "快速血浆反应素试验"),
    ("HCV", "丙肝抗体"),
)
SCREENING_CODES = tuple(code for code, _ in SCREENING_ITEMS)


async def latest_screening(
    session: AsyncSession, pregnancy_ids: Sequence[int]
) -> dict[int, dict[str, LabResult]]:
    """pregnancy id → item code → its latest result, in one statement for all pregnancies."""
    tested = func.coalesce(LabResult.specimen_at, LabResult.reported_at)
    ranked = (
        select(
            LabResult.id,
            func.row_number()
            .over(
                partition_by=(LabResult.pregnancy_id, LabResult.item_code),
                order_by=(tested.desc(), LabResult.reported_at.desc(), LabResult.id.desc()),
            )
            .label("n"),
        )
        .where(
            LabResult.pregnancy_id.in_(pregnancy_ids),
            LabResult.item_code.in_(SCREENING_CODES),
        )
        .subquery()
    )
    rows = await session.scalars(
        select(LabResult).join(ranked, ranked.c.id == LabResult.id).where(ranked.c.n == 1)
    )
    latest: dict[int, dict[str, LabResult]] = {pid: {} for pid in pregnancy_ids}
    for row in rows:
        if row.pregnancy_id is not None:
            latest[row.pregnancy_id][row.item_code] = row
    return latest
