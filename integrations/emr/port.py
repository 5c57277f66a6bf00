"""The EMR (电子病历) as MaternityHub needs it: women's encounter diagnoses, many women at once.

This is the port the rest of the code depends on; `integrations/emr/fhir.py` is the
adapter for a FHIR R4 EMR and `integrations/emr/simulator.py` the server used by the
demo and the tests. Nothing here knows about HTTP.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# A normalised code: category (letter + two digits), then optionally a dot and the
# subdivision, which national extensions make up to eight characters long (O24.400X001).
_ICD10 = re.compile(r"^[A-Z]\d{2}(?:\.[0-9A-Z]{1,8})?$")


def normalise_icd10(raw: str) -> str | None:
    """`o24.4`, `O244`, `Ｏ２４．４ ` → `O24.4`; None when the text is no ICD-10 code."""
    code = unicodedata.normalize("NFKC", raw).strip().upper().replace(" ", "")
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    code = code.removesuffix(".")
    return code if _ICD10.match(code) else None


class IdentifierKind(enum.Enum):
    """Which of her numbers the EMR is asked for."""

    RECORD_NO = "RECORD_NO"  # 病历号 (Patient.emr_record_no)
    RESIDENT_ID = "RESIDENT_ID"  # 身份证号, when MaternityHub does not know her record number


@dataclass(frozen=True, slots=True)
class EmrPatientId:
    """How the EMR knows one woman."""

    kind: IdentifierKind
    value: str

    @classmethod
    def of(cls, emr_record_no: str | None, resident_id: str) -> EmrPatientId:
        """Her EMR record number, else her resident ID number."""
        if emr_record_no and emr_record_no.strip():
            return cls(IdentifierKind.RECORD_NO, emr_record_no.strip())
        return cls(IdentifierKind.RESIDENT_ID, resident_id.strip())


@dataclass(frozen=True, slots=True)
class EmrDiagnosis:
    """One encounter diagnosis (就诊诊断) recorded in the EMR, coded in ICD-10."""

    condition_id: str  # reference of the FHIR Condition, e.g. "Condition/8f3a…"
    icd10_code: str  # normalised: upper case, dot after the category ("O24.4")
    text: str  # the diagnosis as the EMR words it (中文)
    recorded_date: dt.date | None
    encounter_id: str | None  # reference of the encounter, e.g. "Encounter/…"


@dataclass(frozen=True, slots=True)
class EmrPatient:
    """A woman as the EMR's Patient resource describes her."""

    reference: str  # "Patient/…"
    name: str | None
    birth_date: dt.date | None


class EmrUnavailable(Exception):
    """The EMR gave no usable answer in time: timeout, refused connection, 5xx, unreadable reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EmrNotConfigured(EmrUnavailable):
    """No EMR is configured (EMR_FHIR_BASE_URL is unset)."""

    def __init__(self) -> None:
        super().__init__("未配置电子病历系统（EMR_FHIR_BASE_URL 未设置）")


class EmrClient(Protocol):
    """Reads encounter diagnoses from the EMR."""

    async def diagnoses_for(
        self, patients: Sequence[EmrPatientId]
    ) -> dict[EmrPatientId, list[EmrDiagnosis]]:
        """The encounter diagnoses of every woman asked for, in one logical round trip.

        Every requested key is in the result (an empty list when the EMR knows no
        diagnosis for her). Raises `EmrUnavailable` when the EMR cannot answer.
        """
        ...


class NoEmr:
    """The EMR of a process where none is configured: every call says so."""

    async def diagnoses_for(
        self, patients: Sequence[EmrPatientId]
    ) -> dict[EmrPatientId, list[EmrDiagnosis]]:
        raise EmrNotConfigured
