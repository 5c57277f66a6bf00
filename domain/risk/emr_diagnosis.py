"""1.28.1: which EMR diagnoses stand for which high-risk factor, and the diagnosis a new factor
takes from them.

The mapping from factor codes to ICD-10 ranges is data (`data/factor_icd10.json`); each
factor lists its ranges by priority. A factor recorded without a diagnosis takes the text
of the EMR diagnoses that match its highest-priority range, with that diagnosis's ICD-10
code and Condition reference; a diagnosis typed by the doctor is never replaced.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from domain.database import Database
from domain.errors import FieldError
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from integrations.emr.port import (
    EmrClient,
    EmrDiagnosis,
    EmrNotConfigured,
    EmrPatientId,
    EmrUnavailable,
    normalise_icd10,
)

MAPPING_FILE = Path(__file__).resolve().parent / "data" / "factor_icd10.json"
# The diagnosis column's limit (domain.risk.service.DIAGNOSIS_MAX).
TEXT_MAX = 1000
JOINER = "；"
# What may stand before the `*` of a prefix range: a letter, its first digits, or a
# category with the start of a subdivision (A*, A5*, O24.*, O24.4*).
_PREFIX = re.compile(r"^[A-Z](?:\d{0,2}|\d{2}\.[0-9A-Z]{0,8})$")


@dataclass(frozen=True, slots=True)
class Icd10Range:
    """One entry of a factor's list.

    `O24.4` is that code and every code below it (O24.40, O24.401); `O24.*` and `A5*`
    are every code starting so; `B20-B24` runs from one code to the other, both
    included, with the codes below each (B20.001 is inside, B25 is not).
    """

    text: str
    low: str
    high: str | None = None  # set for ranges
    prefix: bool = False  # set for `…*`

    @classmethod
    def parse(cls, text: str) -> Icd10Range:
        spec = unicodedata.normalize("NFKC", text).strip().upper()
        if spec.endswith("*"):
            stem = spec[:-1]
            if not _PREFIX.match(stem):
                raise ValueError(
                    f"ICD-10 范围 {text!r} 无效：* 之前应是编码的开头，如 O24.* 或 A5*"
                )
            return cls(text, stem, prefix=True)
        if "-" in spec:
            first, _, last = spec.partition("-")
            low, high = normalise_icd10(first), normalise_icd10(last)
            if low is None or high is None or len(low) != len(high) or low > high:
                raise ValueError(
                    f"ICD-10 范围 {text!r} 无效：两端应是同样长度的编码且由小到大，如 B20-B24"
                )
            return cls(text, low, high)
        code = normalise_icd10(spec)
        if code is None:
            raise ValueError(f"ICD-10 范围 {text!r} 无效：不是 ICD-10 编码")
        return cls(text, code)

    def matches(self, code: str) -> bool:
        """Whether a normalised code lies in this range."""
        if self.high is not None:
            return self.low <= code[: len(self.low)] <= self.high
        # Normalised codes always carry the dot after the category, so a plain prefix
        # test is a test of descent: O24 covers O24.4, O24.4 covers O24.401, O24 not O240.
        return code.startswith(self.low)


Ranges = tuple[Icd10Range, ...]


def parse_mapping(document: Mapping[str, object]) -> dict[str, Ranges]:
    """Factor code → its ranges by priority, from the JSON document's `factors` object."""
    factors = document.get("factors")
    if not isinstance(factors, dict):
        raise ValueError("ICD-10 映射文件缺少 factors 对象")
    mapping: dict[str, Ranges] = {}
    for code, specs in factors.items():
        if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
            raise ValueError(f"高危因素 {code} 的 ICD-10 范围应是字符串列表")
        mapping[str(code)] = tuple(Icd10Range.parse(s) for s in specs)
    return mapping


@functools.cache
def factor_ranges() -> dict[str, Ranges]:
    """The configured mapping (read once per process)."""
    return parse_mapping(json.loads(MAPPING_FILE.read_text(encoding="utf-8")))


def ranges_for(factor_code: str) -> Ranges:
    return factor_ranges().get(factor_code, ())


def rank(code: str, ranges: Sequence[Icd10Range]) -> int | None:
    """Position of the first range that holds the code (0 = best), None when none does."""
    normalised = normalise_icd10(code)
    if normalised is None:
        return None
    for position, entry in enumerate(ranges):
        if entry.matches(normalised):
            return position
    return None


def _newest_first(diagnosis: EmrDiagnosis) -> tuple[bool, int, str]:
    recorded = diagnosis.recorded_date
    return (recorded is None, -(recorded or dt.date.min).toordinal(), diagnosis.condition_id)


def matching(diagnoses: Iterable[EmrDiagnosis], ranges: Sequence[Icd10Range]) -> list[EmrDiagnosis]:
    """The diagnoses a factor's ranges hold: best range first, newest first within a range."""
    ranked: dict[str, tuple[int, EmrDiagnosis]] = {}
    for diagnosis in diagnoses:
        position = rank(diagnosis.icd10_code, ranges)
        if position is not None:
            ranked.setdefault(diagnosis.condition_id, (position, diagnosis))
    ordered = sorted(ranked.values(), key=lambda pair: (pair[0], *_newest_first(pair[1])))
    return [diagnosis for _, diagnosis in ordered]


@dataclass(frozen=True, slots=True)
class EmrFinding:
    """The diagnosis a factor takes from the EMR."""

    diagnosis: str
    icd10_code: str
    condition_id: str


def finding(diagnoses: Iterable[EmrDiagnosis], ranges: Sequence[Icd10Range]) -> EmrFinding | None:
    """The EMR's diagnosis for a factor: the texts of every diagnosis in its best range.

    Texts are joined newest first without repeats; the code and Condition are those of the
    newest. None when no diagnosis lies in any of the ranges.
    """
    ordered = matching(diagnoses, ranges)
    if not ordered:
        return None
    best = rank(ordered[0].icd10_code, ranges)
    chosen = [d for d in ordered if rank(d.icd10_code, ranges) == best]
    texts = list(dict.fromkeys(d.text.strip() for d in chosen if d.text.strip()))
    text = JOINER.join(texts) or chosen[0].icd10_code
    return EmrFinding(
        diagnosis=text[:TEXT_MAX],
        icd10_code=chosen[0].icd10_code,
        condition_id=chosen[0].condition_id,
    )


async def patient_of_pregnancy(db: Database, pregnancy_id: int) -> EmrPatientId | None:
    """How the EMR knows the woman of an active pregnancy (None: no such active pregnancy)."""
    async with db.reader() as session:
        row = (
            await session.execute(
                select(Patient.emr_record_no, Patient.resident_id)
                .join(Pregnancy, Pregnancy.patient_id == Patient.id)
                .where(Pregnancy.id == pregnancy_id, Pregnancy.status == PregnancyStatus.ACTIVE)
            )
        ).first()
    return None if row is None else EmrPatientId.of(row[0], row[1])


@dataclass(frozen=True, slots=True)
class EmrFill:
    """What the EMR gave a factor about to be recorded, and what the doctor should know."""

    finding: EmrFinding | None = None
    warnings: tuple[FieldError, ...] = ()


async def fill_from_emr(
    db: Database,
    emr: EmrClient,
    pregnancy_id: int,
    factor_code: str,
    *,
    typed_diagnosis: str | None,
    typed_icd10: str | None,
) -> EmrFill:
    """Look up the EMR diagnosis for a factor the doctor recorded without one (1.28.1).

    Nothing is asked when the doctor typed a diagnosis or a code, when the factor has no
    ICD-10 ranges, or when the pregnancy is not an active one (recording it will fail).
    An unavailable EMR is a warning, never a failure: the factor is still recorded. An
    EMR that is not configured at all gives no warning.
    """
    if (typed_diagnosis or "").strip() or (typed_icd10 or "").strip():
        return EmrFill()
    ranges = ranges_for(factor_code)
    if not ranges:
        return EmrFill()
    patient = await patient_of_pregnancy(db, pregnancy_id)
    if patient is None:
        return EmrFill()
    try:
        diagnoses = (await emr.diagnoses_for([patient])).get(patient, [])
    except EmrNotConfigured:
        return EmrFill()
    except EmrUnavailable as exc:
        warning = FieldError(
            "diagnosis",
            f"电子病历（EMR）暂不可用，诊断未能自动填入，请手工录入：{exc.reason}",
            "EMR_UNAVAILABLE",
        )
        return EmrFill(warnings=(warning,))
    return EmrFill(finding=finding(diagnoses, ranges))
