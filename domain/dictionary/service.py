"""The data dictionary (数据字典): reading it, and versioned, audited edits.

Readers query the table each time they need it (per recorded factor, per batch of lab
messages), so an edit takes effect at once in every process, without a restart. Each
edit bumps the entry's version and keeps the values it replaced as a `Revision`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.dictionary import rules
from domain.dictionary.models import DictionaryEntry
from domain.errors import ValidationFailed, fail
from domain.history.models import Revision
from domain.history.service import record_revision

RISK_FACTOR = "risk_factor"
LAB_ITEM = "lab_item"
LIS_CODE = "lis_code"
# Kinds whose entries are edited here and whose revisions can be listed.
EDITABLE_KINDS = {RISK_FACTOR: "高危因素", LIS_CODE: "检验项目编码对照"}
REVISION_ENTITY = "dictionary_entry"
_TRACKED = {RISK_FACTOR: ("name", "color", "active", "category"), LIS_CODE: ("item", "name")}


async def active_entry(session: AsyncSession, kind: str, code: str) -> DictionaryEntry | None:
    return await session.scalar(
        select(DictionaryEntry).where(
            DictionaryEntry.kind == kind,
            DictionaryEntry.code == code,
            DictionaryEntry.active.is_(True),
        )
    )


def color_of(entry: DictionaryEntry) -> str:
    color = entry.attributes.get("color")
    if not isinstance(color, str):
        raise ValueError(f"dictionary entry {entry.kind}/{entry.code} has no colour")
    return color


def category_of(entry: DictionaryEntry) -> str | None:
    category = entry.attributes.get("category")
    return category if isinstance(category, str) else None


def _state(entry: DictionaryEntry) -> dict[str, object]:
    values: dict[str, object] = {"name": entry.name, "active": entry.active}
    values.update({k: entry.attributes.get(k) for k in ("color", "category", "item")})
    return {k: values.get(k) for k in _TRACKED[entry.kind]}


def _record(
    session: AsyncSession, actor: Actor, entry: DictionaryEntry, before: dict[str, object]
) -> None:
    after = _state(entry)
    record_revision(
        session,
        actor,
        entity=REVISION_ENTITY,
        entity_id=entry.id,
        version=entry.version,
        before=before,
        after=after,
    )
    record_change(
        session,
        actor,
        "CREATE" if not before else "UPDATE",
        entity=REVISION_ENTITY,
        entity_id=entry.id,
        patient_ids=[],
        detail={
            "kind": entry.kind,
            "code": entry.code,
            "version": entry.version,
            "changed": sorted(k for k in after if before.get(k) != after.get(k)),
        },
    )


async def _entries(db: Database, *kinds: str) -> Sequence[DictionaryEntry]:
    async with db.reader() as session:
        return (
            await session.scalars(
                select(DictionaryEntry)
                .where(DictionaryEntry.kind.in_(kinds))
                .order_by(DictionaryEntry.kind, DictionaryEntry.code)
            )
        ).all()


# --- risk factors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskFactorDefinition:
    code: str
    name: str
    color: str
    active: bool
    is_new: bool
    category: str | None = None


async def risk_factor_definitions(
    db: Database, *, include_inactive: bool = True
) -> list[DictionaryEntry]:
    """The risk-factor table, by colour (yellow → purple) then code."""
    order = {"YELLOW": 0, "ORANGE": 1, "RED": 2, "PURPLE": 3}
    rows = [r for r in await _entries(db, RISK_FACTOR) if include_inactive or r.active]
    return sorted(rows, key=lambda r: (order.get(str(r.attributes.get("color")), 9), r.code))


async def save_risk_factor(
    db: Database, actor: Actor, data: RiskFactorDefinition
) -> DictionaryEntry:
    """Add a factor (`is_new`) or change one; recorded factors keep the colour they had.

    A deactivated factor can no longer be recorded; pregnancies that have it keep it.
    """
    code = rules.normalise_code(data.code)
    name = data.name.strip()
    category = (data.category or "").strip() or None
    errors = rules.check_risk_factor(code, name, data.color, category)
    if errors:
        raise ValidationFailed(errors)
    try:
        async with db.transaction() as session:
            entry = await session.scalar(
                select(DictionaryEntry)
                .where(DictionaryEntry.kind == RISK_FACTOR, DictionaryEntry.code == code)
                .with_for_update()
            )
            if data.is_new and entry is not None:
                raise fail("code", f"高危因素编码 {code} 已存在（{entry.name}）", "DUPLICATE")
            if not data.is_new and entry is None:
                raise fail("code", f"高危因素编码 {code} 不存在", "UNKNOWN_CODE")
            before: dict[str, object] = {}
            if entry is None:
                entry = DictionaryEntry(
                    kind=RISK_FACTOR,
                    code=code,
                    name=name,
                    attributes={},
                    active=data.active,
                    version=1,
                    source="医院维护",
                )
                session.add(entry)
            else:
                before = _state(entry)
            attributes = dict(entry.attributes)
            attributes["color"] = data.color
            if category is None:
                attributes.pop("category", None)
            else:
                attributes["category"] = category
            entry.name = name
            entry.active = data.active
            entry.attributes = attributes
            if before and _state(entry) == before:
                return entry
            if before:
                entry.version += 1
            entry.updated_at = utcnow()
            entry.updated_by = actor.username
            await session.flush()
            _record(session, actor, entry, before)
    except IntegrityError as exc:
        # Two administrators adding the same code at once: the second one is told so.
        raise fail("code", f"高危因素编码 {code} 已存在", "DUPLICATE") from exc
    return entry


# --- lab code mappings -------------------------------------------------------------------------


@dataclass(frozen=True)
class LabCodeMapping:
    """A local LIS code and the standard item it maps to."""

    entry: DictionaryEntry
    item: DictionaryEntry | None


async def lab_items(db: Database) -> list[DictionaryEntry]:
    """The standard lab items (active) that local codes can map to."""
    return [r for r in await _entries(db, LAB_ITEM) if r.active]


async def lab_code_mappings(db: Database) -> list[LabCodeMapping]:
    rows = await _entries(db, LAB_ITEM, LIS_CODE)
    items = {r.code: r for r in rows if r.kind == LAB_ITEM}
    return [
        LabCodeMapping(r, items.get(str(r.attributes.get("item"))))
        for r in rows
        if r.kind == LIS_CODE
    ]


async def save_lab_code_mapping(
    db: Database, actor: Actor, local_code: str, item_code: str
) -> LabCodeMapping:
    """Map a local LIS code to a standard item (adding the code if new).

    Local codes are matched without regard to case (as the lab dictionary resolves them), so
    every spelling of the code already present is changed together.
    """
    local = local_code.strip()
    problem = rules.check_local_code(local)
    if problem is not None:
        raise ValidationFailed([problem])
    wanted = item_code.strip().upper()
    try:
        async with db.transaction() as session:
            item = await active_entry(session, LAB_ITEM, wanted)
            if item is None:
                raise fail(
                    "itemCode", f"标准检验项目 {item_code.strip()} 不存在或已停用", "UNKNOWN_CODE"
                )
            spellings = (
                await session.scalars(
                    select(DictionaryEntry)
                    .where(
                        DictionaryEntry.kind == LIS_CODE,
                        func.upper(DictionaryEntry.code) == local.upper(),
                    )
                    .order_by(DictionaryEntry.id)
                    .with_for_update()
                )
            ).all()
            if not spellings:
                entry = DictionaryEntry(
                    kind=LIS_CODE,
                    code=local,
                    name=item.name,
                    attributes={"item": item.code},
                    active=True,
                    version=1,
                    source="医院维护",
                    updated_at=utcnow(),
                    updated_by=actor.username,
                )
                session.add(entry)
                await session.flush()
                _record(session, actor, entry, {})
                return LabCodeMapping(entry, item)
            for entry in spellings:
                before = _state(entry)
                entry.attributes = {**entry.attributes, "item": item.code}
                entry.name = item.name
                entry.active = True
                if _state(entry) == before:
                    continue
                entry.version += 1
                entry.updated_at = utcnow()
                entry.updated_by = actor.username
                _record(session, actor, entry, before)
            exact = next((e for e in spellings if e.code == local), spellings[0])
    except IntegrityError as exc:
        raise fail("localCode", f"检验系统本地编码 {local} 已存在", "DUPLICATE") from exc
    return LabCodeMapping(exact, item)


# --- revisions ---------------------------------------------------------------------------------


async def revisions(db: Database, kind: str, code: str) -> list[Revision]:
    """The versions of one entry, newest first; empty when it was never edited here."""
    if kind not in EDITABLE_KINDS:
        known = "、".join(f"{k}（{label}）" for k, label in EDITABLE_KINDS.items())
        raise fail("kind", f"未知的字典类别 {kind}；可选：{known}", "UNKNOWN_KIND")
    wanted = code.strip()
    async with db.reader() as session:
        candidates = (
            await session.scalars(
                select(DictionaryEntry).where(
                    DictionaryEntry.kind == kind,
                    func.upper(DictionaryEntry.code) == wanted.upper(),
                )
            )
        ).all()
        entry = next((e for e in candidates if e.code == wanted), None) or next(
            iter(candidates), None
        )
        if entry is None:
            raise fail("key", f"{EDITABLE_KINDS[kind]}中没有编码 {wanted}", "UNKNOWN_CODE")
        return list(
            (
                await session.scalars(
                    select(Revision)
                    .where(Revision.entity == REVISION_ENTITY, Revision.entity_id == entry.id)
                    .order_by(Revision.version.desc(), Revision.id.desc())
                )
            ).all()
        )
