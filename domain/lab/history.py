"""A woman's complete lab history (1.28.8): every result the hospital has, from every source.

Each source is a `RowProvider` that returns a patient's results as `HistoryRow`s: the local
store (`LocalRows`), the LIS read live over FHIR (`PulledRows` around a `LabResultSource`),
and the legacy database (`ResidentIdRows`: the same, matching women by resident ID).
`load_histories` asks every provider at once, merges the rows and sorts them newest first;
`page` cuts one page with a keyset cursor.

The same result seen by two sources is one row listing both: rows match when they are
the same source record (source + source id), or when item, test time to the minute and
value agree. A local row amended by a doctor also matches the source's original value.
A provider that cannot answer gives `UpstreamUnavailable`; the others are still served.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import func, select

from domain.database import Database
from domain.errors import FieldError
from domain.lab.mapping import LabDictionary
from domain.lab.models import LabResult, LabResultAmendment
from domain.lab.normalise import normalise
from domain.lab.service import HOSPITAL_TZ, IncomingResult
from domain.patient.models import Patient

# Years of results are a few hundred rows; the cap bounds one patient's read all the same.
MAX_ROWS_PER_SOURCE = 5000
LOCAL = "LOCAL"


class UpstreamUnavailable(Exception):
    """A live source (LIS, legacy database) did not answer; its rows are missing."""

    def __init__(self, system: str, message: str) -> None:
        super().__init__(message)
        self.system = system
        self.message = message


@dataclass(frozen=True)
class PatientRef:
    """Who to read: the local id and the identifiers other systems know her by."""

    patient_id: int
    lis_record_no: str | None = None
    legacy_id: str | None = None


@dataclass(frozen=True)
class HistoryFilter:
    """Standard item codes (None = all) and a window of test dates, both ends included."""

    items: frozenset[str] | None = None
    since: dt.date | None = None
    until: dt.date | None = None

    def window(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The window as UTC instants: [since 00:00, until+1 00:00) in Beijing time."""
        start = _midnight(self.since) if self.since else None
        end = _midnight(self.until + dt.timedelta(days=1)) if self.until else None
        return start, end

    def admits(self, item_code: str, tested_at: dt.datetime) -> bool:
        if self.items is not None and item_code not in self.items:
            return False
        start, end = self.window()
        return (start is None or tested_at >= start) and (end is None or tested_at < end)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=HOSPITAL_TZ).astimezone(dt.UTC)


@dataclass(frozen=True)
class HistoryRow:
    """One result as a source holds it, mapped to a standard item and normalised."""

    item_code: str
    item_name: str
    loinc: str | None
    value_numeric: float | None
    comparator: str | None
    value_qualitative: str | None
    value_text: str | None
    unit: str | None
    reference_range: str | None
    abnormal_flag: str | None
    specimen_at: dt.datetime | None
    reported_at: dt.datetime
    source: str
    source_id: str
    lab_result: LabResult | None = None
    amended: bool = False
    # Values this row also answers to: the source's original of a row a doctor amended.
    original_values: tuple[Mapping[str, object], ...] = ()

    @property
    def tested_at(self) -> dt.datetime:
        return self.specimen_at or self.reported_at

    def match_keys(self) -> set[tuple[object, ...]]:
        minute = self.tested_at.astimezone(dt.UTC).replace(second=0, microsecond=0)
        keys: set[tuple[object, ...]] = {("record", self.source, self.source_id)}
        shown = {
            "value_numeric": self.value_numeric,
            "comparator": self.comparator,
            "value_qualitative": self.value_qualitative,
            "value_text": self.value_text,
        }
        for value in (shown, *self.original_values):
            keys.add(("content", self.item_code, minute, _value_key(value)))
        return keys


def _value_key(values: Mapping[str, object]) -> tuple[object, ...]:
    numeric = values.get("value_numeric")
    qualitative = values.get("value_qualitative")
    if isinstance(numeric, int | float) or qualitative is not None:
        number = float(f"{numeric:.6g}") if isinstance(numeric, int | float) else None
        return ("value", qualitative, values.get("comparator"), number)
    text = str(values.get("value_text") or "")
    return ("text", unicodedata.normalize("NFKC", text).replace(" ", "").upper())


Provided = list[HistoryRow] | UpstreamUnavailable


class RowProvider(Protocol):
    """A source of history rows; `name` is what `sources` shows for its rows."""

    @property
    def name(self) -> str: ...

    async def rows(
        self, patients: Sequence[PatientRef], query: HistoryFilter
    ) -> dict[int, Provided]: ...


@dataclass
class MergedRow:
    """One result, with the values of the first source that has it and every source's name."""

    row: HistoryRow
    sources: list[str]
    sort_key: tuple[int, int, str, str] = (0, 0, "", "")


@dataclass
class PatientHistory:
    rows: list[MergedRow] = field(default_factory=list)
    unavailable: list[UpstreamUnavailable] = field(default_factory=list)


async def load_histories(
    providers: Sequence[RowProvider], patients: Sequence[PatientRef], query: HistoryFilter
) -> dict[int, PatientHistory]:
    """Every provider is asked once for all the patients, concurrently."""
    answers = await asyncio.gather(*(p.rows(patients, query) for p in providers))
    histories: dict[int, PatientHistory] = {}
    for patient in patients:
        found: list[tuple[str, list[HistoryRow]]] = []
        history = PatientHistory()
        for provider, answer in zip(providers, answers, strict=True):
            provided = answer.get(patient.patient_id, [])
            if isinstance(provided, UpstreamUnavailable):
                history.unavailable.append(provided)
                continue
            found.append((provider.name, provided))
        history.rows = merge(found)
        histories[patient.patient_id] = history
    return histories


def merge(found: Sequence[tuple[str, Sequence[HistoryRow]]]) -> list[MergedRow]:
    """Rows of different sources that match become one; the first source's values are shown."""
    merged: list[MergedRow] = []
    by_key: dict[tuple[object, ...], list[int]] = {}
    for name, rows in found:
        for row in rows:
            keys = row.match_keys()
            target = next(
                (
                    index
                    for index in sorted({i for key in keys for i in by_key.get(key, ())})
                    if name not in merged[index].sources
                ),
                None,
            )
            if target is None:
                target = len(merged)
                merged.append(MergedRow(row=row, sources=[]))
            merged[target].sources.append(name)
            for key in keys:
                by_key.setdefault(key, []).append(target)
    for entry in merged:
        entry.sort_key = _sort_key(entry)
    merged.sort(key=lambda entry: entry.sort_key)
    return merged


def _micros(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _sort_key(entry: MergedRow) -> tuple[int, int, str, str]:
    row = entry.row
    return (
        -_micros(row.tested_at),
        -_micros(row.reported_at),
        row.item_code,
        f"{row.source}:{row.source_id}",
    )


class BadHistoryCursor(ValueError):
    pass


def encode_cursor(entry: MergedRow) -> str:
    return base64.urlsafe_b64encode(json.dumps(["h", *entry.sort_key]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, int, str, str]:
    try:
        kind, tested, reported, item, identity = json.loads(base64.urlsafe_b64decode(cursor))
        if kind != "h":
            raise ValueError(kind)
        key = (int(tested), int(reported), str(item), str(identity))
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise BadHistoryCursor(f"无效的分页游标：{cursor}") from exc
    return key


@dataclass(frozen=True)
class HistoryPage:
    rows: list[MergedRow]
    has_next: bool
    has_previous: bool


def page(rows: Sequence[MergedRow], first: int, after: str | None) -> HistoryPage:
    """Rows after the cursor (newest first), at most `first` of them."""
    start = 0
    if after is not None:
        key = decode_cursor(after)
        start = next((i for i, row in enumerate(rows) if row.sort_key > key), len(rows))
    chosen = list(rows[start : start + first])
    return HistoryPage(chosen, start + first < len(rows), after is not None and start > 0)


# ------------------------------------------------------------------ the local store


def local_row(row: LabResult, originals: Sequence[Mapping[str, object]] = ()) -> HistoryRow:
    """A stored result as a history row (with what its source sent, when amended)."""
    return HistoryRow(
        item_code=row.item_code,
        item_name=row.item_name,
        loinc=row.loinc,
        value_numeric=row.value_numeric,
        comparator=row.comparator,
        value_qualitative=row.value_qualitative,
        value_text=row.value_text,
        unit=row.unit,
        reference_range=row.reference_range,
        abnormal_flag=row.abnormal_flag,
        specimen_at=row.specimen_at,
        reported_at=row.reported_at,
        source=row.source,
        source_id=row.source_id,
        lab_result=row,
        amended=row.amendment_count > 0,
        original_values=tuple(originals),
    )


def source_values(
    row_source: str, amendments: Sequence[LabResultAmendment]
) -> Mapping[str, object] | None:
    """What the source last sent for an amended row (its latest correction, else the original)."""
    for amendment in reversed(amendments):
        if amendment.amended_by == row_source:
            return amendment.after
    return amendments[0].before if amendments else None


class LocalRows:
    """Results stored in MaternityHub (received over HL7, FHIR backfill, or entered)."""

    name = LOCAL

    def __init__(self, db: Database) -> None:
        self._db = db

    async def rows(
        self, patients: Sequence[PatientRef], query: HistoryFilter
    ) -> dict[int, Provided]:
        ids = [p.patient_id for p in patients]
        tested = func.coalesce(LabResult.specimen_at, LabResult.reported_at)
        statement = select(LabResult).where(LabResult.patient_id.in_(ids))
        if query.items is not None:
            statement = statement.where(LabResult.item_code.in_(sorted(query.items)))
        start, end = query.window()
        if start is not None:
            statement = statement.where(tested >= start)
        if end is not None:
            statement = statement.where(tested < end)
        async with self._db.reader() as session:
            stored = (
                await session.scalars(statement.order_by(tested.desc(), LabResult.id.desc()))
            ).all()
            amended = [row.id for row in stored if row.amendment_count > 0]
            amendments: dict[int, list[LabResultAmendment]] = {}
            if amended:
                for amendment in await session.scalars(
                    select(LabResultAmendment)
                    .where(LabResultAmendment.lab_result_id.in_(amended))
                    .order_by(LabResultAmendment.id)
                ):
                    amendments.setdefault(amendment.lab_result_id, []).append(amendment)
        per_patient: dict[int, list[HistoryRow]] = {pid: [] for pid in ids}
        for row in stored:
            rows = per_patient[row.patient_id]
            if len(rows) < MAX_ROWS_PER_SOURCE:
                original = source_values(row.source, amendments.get(row.id, []))
                rows.append(local_row(row, [original] if original is not None else []))
        found: dict[int, Provided] = dict(per_patient)
        return found


# ------------------------------------------------------------------ a live source


@dataclass
class PulledResults:
    """One patient's results as a source sent them, and the entries it could not read."""

    results: list[IncomingResult] = field(default_factory=list)
    problems: list[FieldError] = field(default_factory=list)
    # False when the source does not know the patient at all.
    known: bool = True


class LabResultSource(Protocol):
    """A hospital system that can send a patient's results (the port the LIS adapter fills)."""

    @property
    def name(self) -> str: ...

    async def pull(
        self,
        patients: Sequence[tuple[int, str]],
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> dict[int, PulledResults | UpstreamUnavailable]:
        """(local patient id, the source's identifier) → her results, or why none came."""
        ...


class PulledRows:
    """A live source read at request time: its results mapped through the dictionary."""

    def __init__(self, source: LabResultSource, db: Database, *, name: str | None = None) -> None:
        self._source = source
        self._db = db
        self.name = name or source.name

    async def rows(
        self, patients: Sequence[PatientRef], query: HistoryFilter
    ) -> dict[int, Provided]:
        wanted = await self._identifiers(patients)
        found: dict[int, Provided] = {p.patient_id: [] for p in patients}
        if not wanted:
            return found
        start, end = query.window()
        pulled, dictionary = await asyncio.gather(
            self._source.pull(wanted, since=start, until=end), self._dictionary()
        )
        for patient_id, answer in pulled.items():
            if isinstance(answer, UpstreamUnavailable):
                found[patient_id] = answer
                continue
            rows = [row for r in answer.results if (row := _pulled_row(r, dictionary))]
            found[patient_id] = [r for r in rows if query.admits(r.item_code, r.tested_at)][
                :MAX_ROWS_PER_SOURCE
            ]
        return found

    async def _identifiers(self, patients: Sequence[PatientRef]) -> list[tuple[int, str]]:
        """(local patient id, the source's identifier) of the patients the source can know."""
        return [(p.patient_id, p.lis_record_no) for p in patients if p.lis_record_no]

    async def _dictionary(self) -> LabDictionary:
        async with self._db.reader() as session:
            return await LabDictionary.load(session)


class ResidentIdRows(PulledRows):
    """A live source that knows women by resident ID (the legacy database, source LEGACY)."""

    async def _identifiers(self, patients: Sequence[PatientRef]) -> list[tuple[int, str]]:
        ids = [p.patient_id for p in patients]
        async with self._db.reader() as session:
            known = dict(
                (
                    await session.execute(
                        select(Patient.id, Patient.resident_id).where(Patient.id.in_(ids))
                    )
                ).all()
            )
        return [(pid, known[pid]) for pid in ids if known.get(pid)]


def _pulled_row(result: IncomingResult, dictionary: LabDictionary) -> HistoryRow | None:
    item = dictionary.resolve(result.local_code, result.loinc)
    if item is None:
        return None
    value = normalise(result.raw_value, interpretation=result.interpretation)
    return HistoryRow(
        item_code=item.code,
        item_name=item.name,
        loinc=result.loinc or (item.loinc[0] if item.loinc else None),
        value_numeric=value.numeric,
        comparator=value.comparator,
        value_qualitative=value.qualitative,
        value_text=value.text,
        unit=result.unit or None,
        reference_range=result.reference_range or None,
        abnormal_flag=result.abnormal_flag or None,
        specimen_at=result.specimen_at,
        reported_at=result.reported_at,
        source=result.source,
        source_id=result.source_id,
    )
