from __future__ import annotations

from domain.errors import FieldError
from domain.patient.models import Patient
from domain.patient.service import PatientInput, register_patient
from resolvers.context import Context
from resolvers.errors import outcome


async def register(ctx: Context, data: PatientInput) -> Patient | list[FieldError]:
    return await outcome(register_patient(ctx.db, ctx.acting, data))
