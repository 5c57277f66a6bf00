"""Resolvers of the EMR fields: `Patient.emrDiagnoses`, `RiskFactor.diagnosisSuggestions` and
the `riskFactorDiagnosisSuggestions` query, all fed by one batched loader per request."""

from __future__ import annotations

from strawberry.types import Info

from domain.risk import emr_diagnosis
from graphql_schema.emr.types import EmrDiagnosis
from integrations.emr.port import EmrPatientId, EmrUnavailable
from resolvers.emr import queries


async def emr_diagnoses(
    info: Info, patient: EmrPatientId, factor_code: str | None = None
) -> list[EmrDiagnosis] | None:
    """A woman's EMR diagnoses (given a factor, only those its ICD-10 ranges hold).

    Null when the EMR cannot answer; the response then carries one UPSTREAM_UNAVAILABLE
    error (system EMR) that explains every such null.
    """
    try:
        found = await info.context.loaders.emr_diagnoses_by_patient.load(patient)
    except EmrUnavailable as exc:
        queries.report_unavailable(info.context, exc, info.path.as_list())
        return None
    if factor_code is not None:
        found = emr_diagnosis.matching(found, emr_diagnosis.ranges_for(factor_code))
    return [EmrDiagnosis.of(value) for value in found]


async def patient_of_pregnancy(info: Info, pregnancy_id: int) -> EmrPatientId | None:
    """How the EMR knows the woman of a pregnancy (through the request's loaders)."""
    loaders = info.context.loaders
    pregnancy = await loaders.pregnancy_by_id.load(pregnancy_id)
    if pregnancy is None:
        return None
    patient = await loaders.patient_by_id.load(pregnancy.patient_id)
    return None if patient is None else EmrPatientId.of(patient.emr_record_no, patient.resident_id)


async def diagnosis_suggestions(
    info: Info, pregnancy_id: int, factor_code: str
) -> list[EmrDiagnosis] | None:
    """EMR diagnoses a factor's ranges hold, best range and newest first, for the doctor to pick."""
    patient = await patient_of_pregnancy(info, pregnancy_id)
    if patient is None:
        return []
    return await emr_diagnoses(info, patient, factor_code)
