"""Searching archived pregnancies (归档再次查询) and reopening an archive.

The search is written for a million archived pregnancies: each way a term can match
(name, initials, resident ID, phone, handbook number) is its own branch, answered by its
own index and cut at the page size, and the branches are merged — one OR across two
tables would leave the planner no index to use. Counting stops at `COUNT_LIMIT`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as check
from domain.archive import rules
from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database
from domain.errors import FieldError, ValidationFailed, fail
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from domain.pregnancy.service import load_for_update

# Archive dates are the hospital's days (Asia/Shanghai).
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
COUNT_LIMIT = 1000
REASON_MAX = 500


@dataclass(frozen=True)
class ArchiveFilter:
    text: str | None = None
    delivered_from: dt.date | None = None
    delivered_to: dt.date | None = None
    archived_from: dt.date | None = None
    archived_to: dt.date | None = None


@dataclass(frozen=True)
class ArchiveQuery:
    """A checked filter: the terms to match and the date bounds."""

    terms: tuple[str, ...]
    filter: ArchiveFilter


def check_filter(f: ArchiveFilter) -> ArchiveQuery | FieldError:
    """Normalise the text and check the date ranges; the error names the offending input."""
    terms: tuple[str, ...] = ()
    if f.text is not None:
        text = rules.normalise(f.text)
        if isinstance(text, FieldError):
            return text
        terms = tuple(text.split())
    for low, high, field, label in (
        (f.delivered_from, f.delivered_to, "deliveredFrom", "分娩日期"),
        (f.archived_from, f.archived_to, "archivedFrom", "归档日期"),
    ):
        if low is not None and high is not None and low > high:
            return FieldError(field, f"{label}的起始日期不能晚于截止日期", "DATE_ORDER")
    return ArchiveQuery(terms, f)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _value(value: object) -> Any:
    # Every value is rendered into the statement: the planner needs the pattern, the dates
    # and the limit themselves to choose between an index and a scan in id order, and the
    # partial indexes apply only to a literal status (a generic plan would guess).
    return literal(value, literal_execute=True)


def _limit(count: int) -> Any:
    return literal_column(str(int(count)))


def _like(column: Any, pattern: str) -> ColumnElement[bool]:
    return column.like(_value(pattern), escape="\\")  # type: ignore[no-any-return]


def _prefix(column: Any, value: str) -> ColumnElement[bool]:
    """A prefix as a range, which the column's ordinary btree index answers.

    Exact under a code-point collation (C / C.UTF-8, as MaternityHub's databases are
    created; SQLite's BINARY). A LIKE beside it would make the planner count the same
    condition twice and misjudge how many rows match.
    """
    upper = value[:-1] + chr(ord(value[-1]) + 1)
    return and_(column >= _value(value), column < _value(upper))


_COLUMNS: dict[rules.Field, Any] = {
    rules.Field.NAME: Patient.name,
    rules.Field.INITIALS: Patient.name_initials,
    rules.Field.RESIDENT_ID: Patient.resident_id,
    rules.Field.PHONE: Patient.phone,
    rules.Field.HANDBOOK: Pregnancy.handbook_no,
}


def _condition(match: rules.Match) -> ColumnElement[bool]:
    column = _COLUMNS[match.field]
    escaped = _escape_like(match.value)
    if match.mode is rules.Mode.PREFIX:
        return _prefix(column, match.value)
    if match.mode is rules.Mode.SUFFIX:
        return _like(column, "%" + escaped)
    if match.mode is rules.Mode.INSIDE_LONG:
        return and_(func.char_length(Patient.name) >= 4, _like(column, "%" + escaped + "%"))
    if match.value.isascii():
        return column.ilike(_value("%" + escaped + "%"), escape="\\")  # type: ignore[no-any-return]
    return _like(column, "%" + escaped + "%")


def _base(query: ArchiveQuery, *, after: int | None) -> Select[Any]:
    f = query.filter
    base = select(Pregnancy.id).where(Pregnancy.status == _value(PregnancyStatus.ARCHIVED.value))
    if query.terms:
        base = base.join(Patient, Patient.id == Pregnancy.patient_id)
    if f.delivered_from is not None:
        base = base.where(Pregnancy.delivered_on >= _value(f.delivered_from))
    if f.delivered_to is not None:
        base = base.where(Pregnancy.delivered_on <= _value(f.delivered_to))
    if f.archived_from is not None:
        base = base.where(Pregnancy.archived_at >= _day(f.archived_from))
    if f.archived_to is not None:
        base = base.where(Pregnancy.archived_at < _day(f.archived_to + dt.timedelta(days=1)))
    if after is not None:
        base = base.where(Pregnancy.id < _value(after))
    return base


def _day(day: dt.date) -> Any:
    """The first instant of a hospital day, as a timestamp literal."""
    start = dt.datetime.combine(day, dt.time(), LOCAL_TZ).astimezone(dt.UTC)
    return literal(start, type_=Pregnancy.archived_at.type, literal_execute=True)


def _branches(query: ArchiveQuery, *, after: int | None) -> list[Select[Any]]:
    """One select of matching pregnancy ids per way the main term can match."""
    base = _base(query, after=after)
    if not query.terms:
        return [base]
    main = rules.primary_term(list(query.terms))
    for other in query.terms:
        if other != main:
            base = base.where(or_(*(_condition(m) for m in rules.matches(other))))
    return [base.where(_condition(m)) for m in rules.matches(main)]


def _merged(branches: list[Select[Any]], limit: int) -> Any:
    """The ids of the first `limit` rows (newest first) of each branch, together."""
    cut = [b.order_by(Pregnancy.id.desc()).limit(_limit(limit)).subquery() for b in branches]
    if len(cut) == 1:
        return cut[0]
    return union(*(select(c.c.id) for c in cut)).subquery()


def page_statement(query: ArchiveQuery, size: int, *, after: int | None) -> Select[Any]:
    """The pregnancies of one page (plus one, to tell whether another page follows)."""
    ids = _merged(_branches(query, after=after), size + 1)
    return (
        select(Pregnancy)
        .join(ids, ids.c.id == Pregnancy.id)
        .order_by(Pregnancy.id.desc())
        .limit(_limit(size + 1))
    )


def count_statement(query: ArchiveQuery, limit: int = COUNT_LIMIT) -> Select[Any]:
    """How many match, counted up to `limit` + 1 (more than `limit` is not counted)."""
    cut = [b.limit(_limit(limit + 1)).subquery() for b in _branches(query, after=None)]
    ids = cut[0] if len(cut) == 1 else union(*(select(c.c.id) for c in cut)).subquery()
    return select(func.count()).select_from(ids)


# For the search's own transaction on PostgreSQL: these statements are short and
# index-driven, where starting parallel workers or JIT-compiling costs more than it saves.
SEARCH_SETTINGS = (
    "SELECT set_config('jit', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)


async def tune_for_search(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(SEARCH_SETTINGS))


@dataclass(frozen=True)
class BoundedCount:
    count: int
    limit: int

    @property
    def capped(self) -> bool:
        return self.count > self.limit


async def bounded_count(
    session: AsyncSession, query: ArchiveQuery, limit: int = COUNT_LIMIT, *, tuned: bool = False
) -> BoundedCount:
    if not tuned:
        await tune_for_search(session)
    found = int(await session.scalar(count_statement(query, limit)) or 0)
    return BoundedCount(min(found, limit + 1), limit)


async def reopen_archive(db: Database, actor: Actor, pregnancy_id: int, reason: str) -> Pregnancy:
    """Return an archived pregnancy to the status it had before it was archived.

    That is DELIVERED when a delivery is recorded (delivered records stay closed to
    ordinary edits; they are changed through correction requests), else ACTIVE, which
    doctors can edit again. The reason and the archive it undid are audited.
    """
    problem = check.text(
        "reason", reason, label="重新打开的原因", max_len=REASON_MAX, required=True
    )
    if problem:
        raise ValidationFailed([problem])
    async with db.transaction() as session:
        pregnancy = await load_for_update(session, pregnancy_id, field="pregnancyId")
        if pregnancy.status != PregnancyStatus.ARCHIVED:
            raise fail("pregnancyId", "该孕产档案未归档，无需重新打开", "NOT_ARCHIVED")
        status = (
            PregnancyStatus.DELIVERED
            if pregnancy.delivered_on is not None
            else PregnancyStatus.ACTIVE
        )
        if status == PregnancyStatus.ACTIVE and await session.scalar(
            select(Pregnancy.id).where(
                Pregnancy.patient_id == pregnancy.patient_id,
                Pregnancy.status == PregnancyStatus.ACTIVE,
                Pregnancy.id != pregnancy.id,
            )
        ):
            raise fail(
                "pregnancyId",
                "该孕妇已有进行中的孕产档案，不能同时重新打开另一份；如需修改归档数据，请提交数据更正申请",
                "ACTIVE_PREGNANCY_EXISTS",
            )
        archived_at, archived_by = pregnancy.archived_at, pregnancy.archived_by
        pregnancy.status = status
        pregnancy.archived_at = None
        pregnancy.archived_by = None
        record_change(
            session,
            actor,
            "REOPEN",
            entity="pregnancy",
            entity_id=pregnancy.id,
            patient_ids=[pregnancy.patient_id],
            detail={
                "reason": reason.strip(),
                "status": status.value,
                "archivedAt": archived_at.isoformat() if archived_at else None,
                "archivedBy": archived_by,
            },
        )
    return pregnancy
