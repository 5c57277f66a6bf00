"""Backfill: pull a patient's whole lab history from the LIS and store it (idempotent).

Results are read first (no transaction is held open while the LIS answers), then
stored through `store_results` in one transaction per patient. Running it again stores
nothing new: the same results are duplicates; a result the LIS has since corrected
becomes an amendment. Items the dictionary cannot map are reported, not stored; once
the dictionary is fixed the next backfill picks them up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from domain.audit.service import record_change
from domain.auth.actor import SYSTEM, Actor
from domain.database import Database
from domain.errors import FieldError, NotFound
from domain.lab.history import LabResultSource, PulledResults, UpstreamUnavailable
from domain.lab.mapping import LabDictionary
from domain.lab.service import store_results
from domain.patient.models import Patient


@dataclass
class BackfillOutcome:
    """What one patient's backfill did. `problems` are the results not stored, and why."""

    patient_id: int
    lis_record_no: str | None = None
    received: int = 0
    stored: int = 0
    corrected: int = 0
    unchanged: int = 0
    proposals: int = 0
    problems: list[FieldError] = field(default_factory=list)
    # Set when the LIS could not be read; nothing was stored.
    unavailable: UpstreamUnavailable | None = None

    @property
    def rejected(self) -> int:
        return len(self.problems)

    def describe(self) -> str:
        """One line for an operator, e.g. 收到 45，新增 40，更正 0，未变 0，未入库 5."""
        if self.unavailable is not None:
            return f"失败：{self.unavailable.message}"
        if not self.received and self.problems:
            return f"未回填：{self.problems[0].message}"
        line = (
            f"收到 {self.received}，新增 {self.stored}，更正 {self.corrected}，"
            f"未变 {self.unchanged}，未入库 {self.rejected}"
        )
        return line + (f"，新的高危因素建议 {self.proposals}" if self.proposals else "")


def summarise(outcomes: Sequence[BackfillOutcome]) -> str:
    """The closing line of a backfill run."""
    failed = sum(1 for o in outcomes if o.unavailable is not None)
    return (
        f"完成：{len(outcomes)} 位患者，新增 {sum(o.stored for o in outcomes)}，"
        f"更正 {sum(o.corrected for o in outcomes)}，未变 {sum(o.unchanged for o in outcomes)}，"
        f"未入库 {sum(o.rejected for o in outcomes)}，失败 {failed}"
    )


async def backfill_patient(
    db: Database, source: LabResultSource, patient_id: int, *, actor: Actor = SYSTEM
) -> BackfillOutcome:
    """Pull and store one patient's history. Raises NotFound for an unknown patient."""
    async with db.reader() as session:
        patient = await session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("patientId", "患者不存在")
    outcome = BackfillOutcome(patient_id, patient.lis_record_no)
    if not patient.lis_record_no:
        outcome.problems.append(
            FieldError("patientId", "该患者没有检验系统（LIS）病人号，无法回填", "NO_LIS_RECORD")
        )
        return outcome
    pulled = (await source.pull([(patient.id, patient.lis_record_no)]))[patient.id]
    if isinstance(pulled, UpstreamUnavailable):
        outcome.unavailable = pulled
        return outcome
    if not pulled.known:
        outcome.problems.append(
            FieldError(
                "patientId",
                f"检验系统中没有病人号 {patient.lis_record_no}",
                "UNKNOWN_TO_LIS",
            )
        )
        return outcome
    try:
        await _store(db, actor, pulled, outcome)
    except IntegrityError:
        # Another backfill or an HL7 message stored some of these results meanwhile:
        # once more, and they are duplicates.
        outcome = BackfillOutcome(patient_id, patient.lis_record_no)
        await _store(db, actor, pulled, outcome)
    return outcome


async def _store(
    db: Database, actor: Actor, pulled: PulledResults, outcome: BackfillOutcome
) -> None:
    outcome.received = len(pulled.results) + len(pulled.problems)
    outcome.problems.extend(pulled.problems)
    async with db.transaction() as session:
        dictionary = await LabDictionary.load(session)
        stored = await store_results(session, dictionary, pulled.results)
        if stored.stored or stored.corrected:
            record_change(
                session,
                actor,
                "BACKFILL",
                entity="patient",
                entity_id=outcome.patient_id,
                patient_ids=[outcome.patient_id],
                detail={"stored": len(stored.stored), "corrected": len(stored.corrected)},
            )
    outcome.stored = len(stored.stored)
    outcome.corrected = len(stored.corrected)
    outcome.unchanged = stored.duplicates
    outcome.proposals = len(stored.proposals)
    for error in stored.errors:
        # "results[3].code" → the Observation it came from, which an operator can look up.
        index = int(error.field.split("[", 1)[1].split("]", 1)[0])
        observation = pulled.results[index].source_id.removeprefix("fhir:")
        outcome.problems.append(FieldError(f"Observation/{observation}", error.message, error.code))


async def patients_to_backfill(db: Database) -> list[int]:
    """Every patient with an LIS record number, in id order."""
    async with db.reader() as session:
        rows = await session.scalars(
            select(Patient.id).where(Patient.lis_record_no.is_not(None)).order_by(Patient.id)
        )
        return list(rows)


async def find_patients(db: Database, refs: Sequence[str]) -> tuple[list[int], list[str]]:
    """Patients named by database id or LIS record number; and the names matching no one."""
    found: list[int] = []
    missing: list[str] = []
    async with db.reader() as session:
        for ref in refs:
            patient_id = await session.scalar(
                select(Patient.id).where(Patient.lis_record_no == ref.strip())
            )
            if patient_id is None and ref.strip().isdigit():
                patient_id = await session.scalar(
                    select(Patient.id).where(Patient.id == int(ref.strip()))
                )
            if patient_id is None:
                missing.append(ref)
            elif patient_id not in found:
                found.append(patient_id)
    return found, missing


async def backfill_many(
    db: Database,
    source: LabResultSource,
    patient_ids: Sequence[int],
    *,
    progress: Callable[[int, int, BackfillOutcome], None] | None = None,
) -> list[BackfillOutcome]:
    """Backfill patients one after another; `progress(done, total, outcome)` after each."""
    outcomes: list[BackfillOutcome] = []
    for done, patient_id in enumerate(patient_ids, start=1):
        try:
            outcome = await backfill_patient(db, source, patient_id)
        except NotFound as exc:
            outcome = BackfillOutcome(patient_id, problems=[exc.error])
        outcomes.append(outcome)
        if progress is not None:
            progress(done, len(patient_ids), outcome)
    return outcomes
