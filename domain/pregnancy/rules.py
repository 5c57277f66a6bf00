"""Obstetric date rules: EDD from LMP (Naegele), gestational age, gravidity/parity."""

from __future__ import annotations

import datetime as dt

from domain.errors import FieldError

PREGNANCY_DAYS = 280
MIN_EDD_OFFSET_DAYS = 35 * 7
MAX_EDD_OFFSET_DAYS = 44 * 7
MAX_GESTATION_DAYS = 45 * 7


def edd_from_lmp(lmp: dt.date) -> dt.date:
    return lmp + dt.timedelta(days=PREGNANCY_DAYS)


def gestational_days(lmp: dt.date, on: dt.date) -> int:
    return (on - lmp).days


def format_gestational_age(days: int) -> str:
    """28+3 style (weeks+days), as printed in the handbook."""
    return f"{days // 7}+{days % 7}"


def check_dates(
    lmp: dt.date, edd: dt.date | None, booking_date: dt.date, today: dt.date
) -> list[FieldError]:
    errors: list[FieldError] = []
    if lmp > today:
        errors.append(FieldError("lmp", "末次月经日期不能晚于今天", "DATE_IN_FUTURE"))
    if booking_date > today:
        errors.append(FieldError("bookingDate", "建档日期不能晚于今天", "DATE_IN_FUTURE"))
    if booking_date < lmp:
        errors.append(FieldError("bookingDate", "建档日期不能早于末次月经日期", "DATE_ORDER"))
    elif (booking_date - lmp).days > MAX_GESTATION_DAYS:
        errors.append(
            FieldError("bookingDate", "建档时孕周超过45周，请核对末次月经日期", "OUT_OF_RANGE")
        )
    if edd is not None:
        offset = (edd - lmp).days
        if offset <= 0:
            errors.append(FieldError("edd", "预产期不能早于末次月经日期", "DATE_ORDER"))
        elif not MIN_EDD_OFFSET_DAYS <= offset <= MAX_EDD_OFFSET_DAYS:
            errors.append(FieldError("edd", "预产期应在末次月经后35至44周之间", "OUT_OF_RANGE"))
    return errors


def check_gravidity_parity(gravidity: int, parity: int) -> list[FieldError]:
    errors: list[FieldError] = []
    if not 1 <= gravidity <= 30:
        errors.append(FieldError("gravidity", "孕次应在1到30之间（含本次妊娠）", "OUT_OF_RANGE"))
    if parity < 0 or parity > 29:
        errors.append(FieldError("parity", "产次应在0到29之间", "OUT_OF_RANGE"))
    elif parity >= gravidity:
        errors.append(
            FieldError(
                "parity", "产次必须小于孕次（本次妊娠计入孕次）", "PARITY_NOT_BELOW_GRAVIDITY"
            )
        )
    return errors
