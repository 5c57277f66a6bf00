"""Booking pregnancies (建档), their status, and their risk grading."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as check
from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.errors import FieldError, NotFound, ValidationFailed, fail
from domain.patient.models import Patient
from domain.pregnancy import rules
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from domain.push.outbox import refresh_pregnancy
from domain.risk.models import RiskFactor
from domain.risk.rules import grade


@dataclass(frozen=True)
class BookingInput:
    patient_id: int
    lmp: dt.date
    gravidity: int
    parity: int
    edd: dt.date | None = None
    booking_date: dt.date | None = None
    booking_unit: str | None = None
    handbook_no: str | None = None


async def book_pregnancy(
    db: Database, actor: Actor, data: BookingInput, *, today: dt.date | None = None
) -> Pregnancy:
    """Open a pregnancy record for a patient; one active pregnancy per patient."""
    today = today or dt.date.today()
    booking_date = data.booking_date or today
    errors = [
        *rules.check_dates(data.lmp, data.edd, booking_date, today),
        *rules.check_gravidity_parity(data.gravidity, data.parity),
        *check.collect(
            check.text("bookingUnit", data.booking_unit, label="建档单位", max_len=128),
            check.text("handbookNo", data.handbook_no, label="手册编号", max_len=32),
        ),
    ]
    if errors:
        raise ValidationFailed(errors)
    async with db.transaction() as session:
        patient = await session.get(Patient, data.patient_id)
        if patient is None:
            raise NotFound("patientId", "患者不存在")
        active = await session.scalar(
            select(Pregnancy.id).where(
                Pregnancy.patient_id == patient.id, Pregnancy.status == PregnancyStatus.ACTIVE
            )
        )
        if active is not None:
            raise fail(
                "patientId",
                "该患者已有进行中的孕产档案，请先登记分娩或归档",
                "ACTIVE_PREGNANCY_EXISTS",
            )
        if data.handbook_no and await session.scalar(
            select(Pregnancy.id).where(Pregnancy.handbook_no == data.handbook_no)
        ):
            raise fail("handbookNo", f"手册编号 {data.handbook_no} 已被使用", "DUPLICATE")
        pregnancy = Pregnancy(
            patient_id=patient.id,
            lmp=data.lmp,
            edd=data.edd or rules.edd_from_lmp(data.lmp),
            edd_from_lmp=data.edd is None,
            gravidity=data.gravidity,
            parity=data.parity,
            booking_date=booking_date,
            booking_unit=data.booking_unit,
            handbook_no=data.handbook_no or None,
            status=PregnancyStatus.ACTIVE,
            risk_color="GREEN",
            infectious_flag=False,
            created_by=actor.username,
        )
        session.add(pregnancy)
        await session.flush()
        record_change(
            session,
            actor,
            "CREATE",
            entity="pregnancy",
            entity_id=pregnancy.id,
            patient_ids=[patient.id],
        )
        await refresh_pregnancy(session, pregnancy.id, changed_by=actor.username)
    return pregnancy


async def load_for_update(session: AsyncSession, pregnancy_id: int, *, field: str) -> Pregnancy:
    pregnancy = await session.get(Pregnancy, pregnancy_id, with_for_update=True)
    if pregnancy is None:
        raise NotFound(field, "孕产档案不存在")
    return pregnancy


def require_active(pregnancy: Pregnancy, field: str) -> None:
    if pregnancy.status != PregnancyStatus.ACTIVE:
        raise fail(field, "该孕产档案已分娩或归档，只能查看，不能修改", "PREGNANCY_CLOSED")


async def regrade(session: AsyncSession, pregnancy: Pregnancy) -> None:
    """Recompute the colour and purple flag from the current factors (same transaction)."""
    rows = await session.execute(
        select(RiskFactor.code, RiskFactor.color).where(
            RiskFactor.pregnancy_id == pregnancy.id, RiskFactor.removed_at.is_(None)
        )
    )
    grading = grade((code, color) for code, color in rows.all())
    pregnancy.risk_color = grading.color.value
    pregnancy.infectious_flag = grading.infectious


async def record_delivery(
    db: Database,
    actor: Actor,
    pregnancy_id: int,
    delivered_on: dt.date,
    *,
    today: dt.date | None = None,
) -> Pregnancy:
    today = today or dt.date.today()
    async with db.transaction() as session:
        pregnancy = await load_for_update(session, pregnancy_id, field="pregnancyId")
        require_active(pregnancy, "pregnancyId")
        errors: list[FieldError] = []
        if delivered_on > today:
            errors.append(FieldError("deliveredOn", "分娩日期不能晚于今天", "DATE_IN_FUTURE"))
        elif rules.gestational_days(pregnancy.lmp, delivered_on) < 20 * 7:
            errors.append(
                FieldError("deliveredOn", "分娩日期距末次月经不足20周，请核对", "OUT_OF_RANGE")
            )
        if errors:
            raise ValidationFailed(errors)
        pregnancy.status = PregnancyStatus.DELIVERED
        pregnancy.delivered_on = delivered_on
        pregnancy.delivered_recorded_by = actor.username
        record_change(
            session,
            actor,
            "DELIVER",
            entity="pregnancy",
            entity_id=pregnancy.id,
            patient_ids=[pregnancy.patient_id],
            detail={"deliveredOn": delivered_on.isoformat()},
        )
    return pregnancy


async def archive_pregnancy(db: Database, actor: Actor, pregnancy_id: int) -> Pregnancy:
    async with db.transaction() as session:
        pregnancy = await load_for_update(session, pregnancy_id, field="pregnancyId")
        if pregnancy.status == PregnancyStatus.ARCHIVED:
            raise fail("pregnancyId", "该孕产档案已归档", "ALREADY_ARCHIVED")
        pregnancy.status = PregnancyStatus.ARCHIVED
        pregnancy.archived_at = utcnow()
        pregnancy.archived_by = actor.username
        record_change(
            session,
            actor,
            "ARCHIVE",
            entity="pregnancy",
            entity_id=pregnancy.id,
            patient_ids=[pregnancy.patient_id],
        )
    return pregnancy
