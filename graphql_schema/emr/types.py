from __future__ import annotations

import datetime as dt

import strawberry

from integrations.emr.port import EmrDiagnosis as EmrDiagnosisValue


@strawberry.type(
    description="电子病历（EMR）中的一条就诊诊断（FHIR Condition，ICD-10 编码），实时读取，不在本系统保存"
)
class EmrDiagnosis:
    condition_id: str = strawberry.field(
        description="该诊断在 EMR 中的 Condition 引用，例如 Condition/4f1c2a9e-3"
    )
    icd10_code: str = strawberry.field(description="ICD-10 编码（已规范为大写、带点），例如 O24.4")
    text: str = strawberry.field(description="诊断名称（中文，EMR 中医生写下的文字）")
    recorded_date: dt.date | None = strawberry.field(description="诊断记录日期")
    encounter_id: str | None = strawberry.field(description="就诊（Encounter）引用")

    @classmethod
    def of(cls, value: EmrDiagnosisValue) -> EmrDiagnosis:
        return cls(
            condition_id=value.condition_id,
            icd10_code=value.icd10_code,
            text=value.text,
            recorded_date=value.recorded_date,
            encounter_id=value.encounter_id,
        )
