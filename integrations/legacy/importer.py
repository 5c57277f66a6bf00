"""`mhub import-legacy`: move the old system's women and lab results into MaternityHub.

Women are matched by resident ID; a woman MaternityHub does not know is registered with
`legacy_id` = "LEGACY-" + the old system's id (an invalid resident ID is reported and
skipped). Results go through `store_results` with source LEGACY and the old result id
as source id, so a second run stores nothing new. Pregnancies are imported as closed
records (delivered, or archived when the old system has no delivery date) with
`legacy_id` = "LEGACY-" + the old record id, so a second run creates none; one whose LMP
is within two weeks of a pregnancy MaternityHub already holds is the same pregnancy and
is not copied.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import Database, utcnow
from domain.lab.history import HistoryRow, local_row
from domain.lab.mapping import LabDictionary
from domain.lab.models import LabResult
from domain.lab.normalise import normalise
from domain.lab.service import IncomingResult, store_results
from domain.patient.models import Patient
from domain.patient.rules import name_initials, valid_phone, validate_resident_id
from domain.pregnancy.models import Pregnancy, PregnancyStatus
from domain.pregnancy.rules import edd_from_lmp
from integrations.legacy.database import SYSTEM, LegacyDatabase, LegacyPatient, LegacyPregnancy
from integrations.legacy.service import incoming

IMPORTED_BY = "import-legacy"
BATCH = 20


@dataclass
class ImportSummary:
    women: int = 0
    matched: int = 0
    created: int = 0
    skipped: list[str] = field(default_factory=list)
    results_stored: int = 0
    results_corrected: int = 0
    results_already: int = 0
    results_unmapped: int = 0
    # Already held from another channel (same item, specimen minute and value): not copied.
    results_same_as_local: int = 0
    pregnancies_imported: int = 0
    pregnancies_already: int = 0
    pregnancies_skipped: list[str] = field(default_factory=list)
    dry_run: bool = False

    def describe(self) -> str:
        head = "试运行（未写入）" if self.dry_run else "导入完成"
        return "\n".join(
            [
                f"{head}：旧系统孕妇 {self.women} 人，匹配已有 {self.matched} 人，"
                f"新建 {self.created} 人，跳过 {len(self.skipped)} 人",
                f"  检验结果：新导入 {self.results_stored} 条，更正 {self.results_corrected} 条，"
                f"已导入过 {self.results_already} 条，与本系统已有结果相同 "
                f"{self.results_same_as_local} 条，项目未映射 {self.results_unmapped} 条",
                f"  孕产档案：新导入 {self.pregnancies_imported} 份，已在本系统 "
                f"{self.pregnancies_already} 份，跳过 {len(self.pregnancies_skipped)} 份",
                *(f"    跳过：{reason}" for reason in self.pregnancies_skipped),
                *(f"  跳过：{reason}" for reason in self.skipped),
            ]
        )


class Progress:
    """A progress bar: one updating line on a terminal, else a line per 10 %."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self._tenths = -1

    def update(self, done: int) -> None:
        share = min(done, self.total) / self.total
        if self.tty:
            bar = "█" * int(share * 30) + "·" * (30 - int(share * 30))
            self.stream.write(f"\r{self.label} [{bar}] {share:4.0%} {done}/{self.total}")
            if done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
            return
        tenths = int(share * 10)
        if tenths > self._tenths:
            self._tenths = tenths
            print(f"{self.label} {tenths * 10}%（{done}/{self.total}）", file=self.stream)


async def import_legacy(
    db: Database,
    legacy: LegacyDatabase,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    summary = ImportSummary(dry_run=dry_run)
    women = await legacy.patients()
    summary.women = len(women)
    async with db.sessions() as session:
        transaction = await session.begin()
        try:
            dictionary = await LabDictionary.load(session)
            local = dict((await session.execute(select(Patient.resident_id, Patient.id))).all())
            done = 0
            if progress is not None:
                progress(0, len(women))
            for start in range(0, len(women), BATCH):
                batch = women[start : start + BATCH]
                ids: dict[str, int] = {}
                for woman in batch:
                    patient_id = await _patient(session, local, woman, summary)
                    if patient_id is not None:
                        ids[woman.resident_id] = patient_id
                pregnancies = await legacy.pregnancies(list(ids))
                for resident_id, records in pregnancies.items():
                    if resident_id in ids:
                        for record in records:
                            await _pregnancy(session, ids[resident_id], record, summary)
                found = await legacy.lab_results(list(ids))
                results = [
                    row
                    for resident_id, rows in found.items()
                    if resident_id in ids
                    for result in rows
                    if (row := incoming(ids[resident_id], result)) is not None
                ]
                known = await _local_content(session, list(ids.values()))
                fresh = [r for r in results if not _content(r, dictionary) & known]
                summary.results_same_as_local += len(results) - len(fresh)
                outcome = await store_results(session, dictionary, fresh)
                summary.results_stored += len(outcome.stored)
                summary.results_corrected += len(outcome.corrected)
                summary.results_already += outcome.duplicates
                summary.results_unmapped += len(outcome.errors)
                if not dry_run:
                    await transaction.commit()
                    transaction = await session.begin()
                done += len(batch)
                if progress is not None:
                    progress(done, len(women))
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    return summary


async def _patient(
    session: AsyncSession, local: dict[str, int], woman: LegacyPatient, summary: ImportSummary
) -> int | None:
    who = f"{woman.name}（旧系统编号 {woman.legacy_id}）"
    checked = validate_resident_id(woman.resident_id)
    if not isinstance(checked, tuple):
        summary.skipped.append(f"{who} 身份证号 {woman.resident_id} 无效：{checked.message}")
        return None
    resident_id, birth = checked
    if resident_id in local:
        summary.matched += 1
        return local[resident_id]
    patient = Patient(
        name=woman.name[:64] or "（旧系统未填姓名）",
        name_initials=name_initials(woman.name)[:32],
        resident_id=resident_id,
        birth_date=birth,
        phone=woman.phone if woman.phone and valid_phone(woman.phone) else None,
        legacy_id=f"LEGACY-{woman.legacy_id}"[:64],
        created_by=IMPORTED_BY,
    )
    session.add(patient)
    await session.flush()
    local[resident_id] = patient.id
    summary.created += 1
    return patient.id


# Two records of one woman whose LMPs are this close describe the same pregnancy.
SAME_PREGNANCY_DAYS = 14


async def _pregnancy(
    session: AsyncSession, patient_id: int, record: LegacyPregnancy, summary: ImportSummary
) -> None:
    legacy_id = f"LEGACY-{record.legacy_id}"[:64]
    if await session.scalar(select(Pregnancy.id).where(Pregnancy.legacy_id == legacy_id)):
        summary.pregnancies_already += 1
        return
    if record.lmp is None:
        summary.pregnancies_skipped.append(f"旧系统档案 {record.legacy_id} 没有末次月经日期")
        return
    window = dt.timedelta(days=SAME_PREGNANCY_DAYS)
    same = await session.scalar(
        select(Pregnancy.id).where(
            Pregnancy.patient_id == patient_id,
            Pregnancy.lmp.between(record.lmp - window, record.lmp + window),
        )
    )
    if same is not None:
        summary.pregnancies_already += 1
        return
    gravidity = max(record.gravidity or 1, 1)
    parity = min(max(record.parity or 0, 0), gravidity - 1)
    session.add(
        Pregnancy(
            patient_id=patient_id,
            lmp=record.lmp,
            edd=record.edd or edd_from_lmp(record.lmp),
            edd_from_lmp=record.edd is None,
            gravidity=gravidity,
            parity=parity,
            booking_date=record.booking_date or record.lmp,
            booking_unit="旧产科系统导入",
            status=PregnancyStatus.DELIVERED if record.delivered_on else PregnancyStatus.ARCHIVED,
            delivered_on=record.delivered_on,
            delivered_recorded_by=IMPORTED_BY if record.delivered_on else None,
            archived_at=None if record.delivered_on else utcnow(),
            archived_by=None if record.delivered_on else IMPORTED_BY,
            risk_color="GREEN",
            infectious_flag=False,
            legacy_id=legacy_id,
            created_by=IMPORTED_BY,
        )
    )
    await session.flush()
    summary.pregnancies_imported += 1


def _keys(row: HistoryRow) -> set[tuple[object, ...]]:
    return {key for key in row.match_keys() if key[0] == "content"}


def _content(result: IncomingResult, dictionary: LabDictionary) -> set[tuple[object, ...]]:
    """What a legacy result matches in the merged history: item, specimen minute, value."""
    item = dictionary.resolve(result.local_code, result.loinc)
    if item is None:
        return set()
    value = normalise(result.raw_value, interpretation=result.interpretation)
    return _keys(
        HistoryRow(
            item_code=item.code,
            item_name=item.name,
            loinc=None,
            value_numeric=value.numeric,
            comparator=value.comparator,
            value_qualitative=value.qualitative,
            value_text=value.text,
            unit=None,
            reference_range=None,
            abnormal_flag=None,
            specimen_at=result.specimen_at,
            reported_at=result.reported_at,
            source=result.source,
            source_id=result.source_id,
        )
    )


async def _local_content(session: AsyncSession, patient_ids: list[int]) -> set[tuple[object, ...]]:
    """Content keys of the women's results from other channels (LIS, entered by hand)."""
    rows = await session.scalars(
        select(LabResult).where(LabResult.patient_id.in_(patient_ids), LabResult.source != SYSTEM)
    )
    return {key for row in rows for key in _keys(local_row(row))}
