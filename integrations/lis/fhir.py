"""LIS FHIR R4 adapter: a patient's laboratory Observations, paged, as `IncomingResult`s.

`GET Patient?identifier=…` finds the LIS's own id for her, then
`GET Observation?patient=…&category=laboratory` is followed through `link[next]`.
Each Observation becomes `IncomingResult(source="LIS", source_id="fhir:" + id)`; the
dictionary mapping and storage are the domain's (`domain.lab.service.store_results`).

An entry that cannot be read is skipped and reported as a `FieldError`; a timeout, a
5xx, a refused connection or a body that is not a FHIR Bundle is a `LisUnavailable`.
Nothing here raises anything else for bad data from the LIS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from domain.errors import FieldError
from domain.lab.history import PulledResults, UpstreamUnavailable
from domain.lab.normalise import SNOMED_NEGATIVE, SNOMED_POSITIVE, normalise
from domain.lab.service import HOSPITAL_TZ, IncomingResult
from domain.settings import Settings

SYSTEM = "LIS"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
_QUALITATIVE_WORDS = {SNOMED_POSITIVE: "阳性", SNOMED_NEGATIVE: "阴性"}
_QUALITATIVE_OF_SNOMED = {SNOMED_POSITIVE: "POSITIVE", SNOMED_NEGATIVE: "NEGATIVE"}
# v3 ObservationInterpretation: the codes that are a qualitative reading, and abnormal flags.
_READINGS = {"POS": "POS", "DET": "POS", "NEG": "NEG", "ND": "NEG"}
_FLAGS = frozenset({"H", "HH", "HU", "L", "LL", "LU", "A", "AA", "N"})
_COMPARATORS = frozenset({"<", "<=", ">=", ">"})
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_SKIPPED_MODES = frozenset({"include", "outcome"})
_Params = list[tuple[str, str | int | float | bool | None]]


class LisUnavailable(UpstreamUnavailable):
    """The LIS did not give a usable answer. `kind`: TIMEOUT, UNREACHABLE, HTTP_ERROR,
    REJECTED (4xx: configuration) or BAD_RESPONSE (not a FHIR Bundle)."""

    def __init__(self, kind: str, message: str, *, status: int | None = None) -> None:
        super().__init__(SYSTEM, message)
        self.kind = kind
        self.status = status


class EntryProblem(ValueError):
    """One Observation that is skipped, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------ mapping


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned or None


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _number(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def parse_fhir_datetime(value: object) -> dt.datetime | None:
    """A FHIR dateTime/instant as UTC; dates and times without a zone are Beijing time."""
    text = _text(value)
    if text is None:
        return None
    try:
        if _DATE.match(text):
            parts = [int(p) for p in text.split("-")] + [1, 1]
            day = dt.date(parts[0], parts[1], parts[2])
            return dt.datetime.combine(day, dt.time(), tzinfo=HOSPITAL_TZ).astimezone(dt.UTC)
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=HOSPITAL_TZ)
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _codes(resource: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(LOINC, the LIS's local code, the LIS's name) from Observation.code."""
    concept = resource.get("code")
    if not isinstance(concept, Mapping):
        return None, None, None
    loinc = local = local_display = None
    for coding in _dicts(concept.get("coding")):
        code = _text(coding.get("code"))
        if code is None:
            continue
        if coding.get("system") == LOINC:
            loinc = loinc or code
        elif coding.get("system") != SNOMED and local is None:
            local, local_display = code, _text(coding.get("display"))
    return loinc, local, _text(concept.get("text")) or local_display


def _concept_value(concept: Mapping[str, Any]) -> str:
    text = _text(concept.get("text"))
    codings = _dicts(concept.get("coding"))
    snomed = next(
        (
            str(c["code"])
            for c in codings
            if c.get("system") == SNOMED and c.get("code") in _QUALITATIVE_WORDS
        ),
        None,
    )
    if snomed is None:
        other = next((_text(c.get("display")) or _text(c.get("code")) for c in codings), None)
        if text or other:
            return str(text or other)
        raise EntryProblem("MALFORMED_ENTRY", "valueCodeableConcept 没有编码也没有文字")
    if text is None:
        return _QUALITATIVE_WORDS[snomed]
    reading = normalise(text).qualitative
    if reading is not None and reading != _QUALITATIVE_OF_SNOMED[snomed]:
        raise EntryProblem(
            "CONFLICTING_VALUE", f"结果文字「{text}」与 SNOMED 编码 {snomed} 含义相反"
        )
    return text if reading is not None else _QUALITATIVE_WORDS[snomed]


def _value(resource: Mapping[str, Any]) -> tuple[str, str | None]:
    """The raw value as the LIS would print it, and a unit."""
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, Mapping):
        number = _number(quantity.get("value"))
        if number is None:
            raise EntryProblem("MALFORMED_ENTRY", "valueQuantity.value 不是有限数值")
        comparator = quantity.get("comparator")
        prefix = comparator if comparator in _COMPARATORS else ""
        return f"{prefix}{number}", _text(quantity.get("unit")) or _text(quantity.get("code"))
    concept = resource.get("valueCodeableConcept")
    if isinstance(concept, Mapping):
        return _concept_value(concept), None
    string = _text(resource.get("valueString"))
    if string is not None:
        return string, None
    integer = resource.get("valueInteger")
    if isinstance(integer, int) and not isinstance(integer, bool):
        return str(integer), None
    ratio = resource.get("valueRatio")
    if isinstance(ratio, Mapping):
        numerator, denominator = ratio.get("numerator"), ratio.get("denominator")
        if isinstance(numerator, Mapping) and isinstance(denominator, Mapping):
            top, bottom = _number(numerator.get("value")), _number(denominator.get("value"))
            if top is not None and bottom is not None:
                return f"{top}:{bottom}", None
        raise EntryProblem("MALFORMED_ENTRY", "valueRatio 缺少分子或分母")
    absent = resource.get("dataAbsentReason")
    why = _text(absent.get("text")) if isinstance(absent, Mapping) else None
    raise EntryProblem("NO_VALUE", f"没有结果值{'（' + why + '）' if why else ''}")


def _interpretation(resource: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(qualitative reading, abnormal flag) from Observation.interpretation."""
    reading = flag = None
    for concept in _dicts(resource.get("interpretation")):
        for coding in _dicts(concept.get("coding")):
            code = _text(coding.get("code"))
            if code is None:
                continue
            upper = code.upper()
            if upper in _READINGS:
                reading = reading or _READINGS[upper]
            elif upper in _FLAGS and upper != "N":
                flag = flag or upper
        text = _text(concept.get("text"))
        if reading is None and text and normalise(text).qualitative:
            reading = text
    return reading, flag


def _reference_range(resource: Mapping[str, Any]) -> str | None:
    ranges = _dicts(resource.get("referenceRange"))
    if not ranges:
        return None
    first = ranges[0]
    text = _text(first.get("text"))
    if text:
        return text
    low, high = first.get("low"), first.get("high")
    low_value = _number(low.get("value")) if isinstance(low, Mapping) else None
    high_value = _number(high.get("value")) if isinstance(high, Mapping) else None
    if low_value and high_value:
        return f"{low_value}-{high_value}"
    if high_value:
        return f"<{high_value}"
    if low_value:
        return f">{low_value}"
    return None


def observation_to_result(
    resource: Mapping[str, Any], patient_id: int, *, lis_patient: str | None = None
) -> IncomingResult:
    """Map one FHIR Observation; an Observation that cannot be used raises `EntryProblem`."""
    if resource.get("resourceType") != "Observation":
        raise EntryProblem(
            "NOT_OBSERVATION", f"资源类型 {resource.get('resourceType')} 不是 Observation"
        )
    obs_id = _text(resource.get("id"))
    if obs_id is None or not _ID.match(obs_id):
        raise EntryProblem("MALFORMED_ENTRY", "Observation 缺少有效的 id")
    status = resource.get("status")
    if status in ("entered-in-error", "cancelled"):
        raise EntryProblem("WITHDRAWN", f"检验系统已作废该结果（status={status}）")
    subject = resource.get("subject")
    reference = _text(subject.get("reference")) if isinstance(subject, Mapping) else None
    if lis_patient and reference and reference.rsplit("/", 2)[-2:] != ["Patient", lis_patient]:
        raise EntryProblem("WRONG_PATIENT", f"结果属于 {reference}，不是本患者")
    loinc, local, name = _codes(resource)
    if loinc is None and local is None:
        raise EntryProblem("MALFORMED_ENTRY", "Observation.code 没有可用的项目编码")
    raw, unit = _value(resource)
    reading, flag = _interpretation(resource)
    specimen_at = parse_fhir_datetime(resource.get("effectiveDateTime"))
    if specimen_at is None:
        period = resource.get("effectivePeriod")
        start = period.get("start") if isinstance(period, Mapping) else None
        specimen_at = parse_fhir_datetime(start or resource.get("effectiveInstant"))
    reported_at = parse_fhir_datetime(resource.get("issued")) or specimen_at
    if reported_at is None:
        raise EntryProblem("MALFORMED_ENTRY", "Observation 既没有采样时间也没有报告时间")
    return IncomingResult(
        patient_id=patient_id,
        source=SYSTEM,
        source_id=f"fhir:{obs_id}",
        raw_value=raw,
        reported_at=reported_at,
        local_code=local,
        loinc=loinc,
        local_name=name,
        interpretation=reading,
        unit=unit,
        reference_range=_reference_range(resource),
        abnormal_flag=flag,
        specimen_at=specimen_at,
    )


def _problem(where: str, code: str, message: str) -> FieldError:
    return FieldError(where, message, code)


def read_bundle(
    bundle: Mapping[str, Any], patient_id: int, *, lis_patient: str | None = None
) -> tuple[list[IncomingResult], list[FieldError]]:
    """The usable results of one search page and a problem for each entry skipped."""
    results: list[IncomingResult] = []
    problems: list[FieldError] = []
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        return [], [_problem("Bundle.entry", "MALFORMED_BUNDLE", "Bundle.entry 不是列表")]
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            problems.append(_problem(f"entry[{index}]", "MALFORMED_ENTRY", "条目没有 resource"))
            continue
        search = entry.get("search")
        if isinstance(search, Mapping) and search.get("mode") in _SKIPPED_MODES:
            continue
        kind = resource.get("resourceType")
        named = isinstance(kind, str) and bool(_text(resource.get("id")))
        where = f"{kind}/{resource.get('id')}" if named else f"entry[{index}]"
        try:
            results.append(observation_to_result(resource, patient_id, lis_patient=lis_patient))
        except EntryProblem as problem:
            problems.append(_problem(where, problem.code, problem.message))
    return results, problems


# ------------------------------------------------------------------ the client


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in _dicts(bundle.get("link")):
        if link.get("relation") == "next":
            return _text(link.get("url"))
    return None


def _fhir_instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LisFhirClient:
    """The LIS FHIR server. Each `pull` opens one HTTP client for all the patients asked."""

    base_url: str
    timeout_s: float = 5.0
    # Whole pull of one patient (all pages); None = only the per-request timeout.
    deadline_s: float | None = None
    page_size: int = 100
    max_pages: int = 200
    identifier_system: str | None = None
    concurrency: int = 8
    transport: httpx.AsyncBaseTransport | None = None
    name: str = SYSTEM

    @classmethod
    def from_settings(cls, settings: Settings, *, live: bool = False) -> LisFhirClient | None:
        """The configured LIS, or None; `live` (request time) bounds a whole pull by the timeout."""
        if not settings.lis_fhir_base_url:
            return None
        timeout = settings.lis_fhir_timeout_ms / 1000
        return cls(
            settings.lis_fhir_base_url, timeout_s=timeout, deadline_s=timeout if live else None
        )

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(self.timeout_s),
            headers={"Accept": "application/fhir+json"},
            transport=self.transport,
        )

    async def pull(
        self,
        patients: Sequence[tuple[int, str]],
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> dict[int, PulledResults | UpstreamUnavailable]:
        """Each patient's laboratory Observations, or why the LIS could not give them."""
        limit = asyncio.Semaphore(self.concurrency)

        async def one(
            http: httpx.AsyncClient, patient_id: int, identifier: str
        ) -> PulledResults | UpstreamUnavailable:
            async with limit:
                try:
                    async with asyncio.timeout(self.deadline_s):
                        return await self._history(http, patient_id, identifier, since, until)
                except LisUnavailable as exc:
                    return exc
                except TimeoutError:
                    return LisUnavailable(
                        "TIMEOUT", f"检验系统（LIS）未在 {self.deadline_s:g} 秒内返回全部结果"
                    )

        async with self._http() as http:
            answers = await asyncio.gather(*(one(http, pid, ident) for pid, ident in patients))
        return {pid: answer for (pid, _), answer in zip(patients, answers, strict=True)}

    async def history(
        self,
        patient_id: int,
        identifier: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> PulledResults:
        """One patient's results; raises `LisUnavailable`."""
        answer = (await self.pull([(patient_id, identifier)], since=since, until=until))[patient_id]
        if isinstance(answer, UpstreamUnavailable):
            raise answer
        return answer

    async def _history(
        self,
        http: httpx.AsyncClient,
        patient_id: int,
        identifier: str,
        since: dt.datetime | None,
        until: dt.datetime | None,
    ) -> PulledResults:
        lis_patient = await self._patient(http, identifier)
        if isinstance(lis_patient, PulledResults):
            return lis_patient
        params: _Params = [
            ("patient", lis_patient),
            ("category", "laboratory"),
            ("_count", str(self.page_size)),
        ]
        if since is not None:
            params.append(("date", f"ge{_fhir_instant(since)}"))
        if until is not None:
            params.append(("date", f"lt{_fhir_instant(until)}"))
        pulled = PulledResults()
        seen: set[str] = set()
        url: str | None = "Observation"
        pages = 0
        while url is not None:
            pages += 1
            if pages > self.max_pages:
                pulled.problems.append(
                    _problem(
                        "Bundle.link", "TOO_MANY_PAGES", f"超过 {self.max_pages} 页，其余结果未读取"
                    )
                )
                break
            bundle = await self._get(http, url, params if pages == 1 else None)
            results, problems = read_bundle(bundle, patient_id, lis_patient=lis_patient)
            pulled.problems.extend(problems)
            for result in results:
                # A result moving between pages while we read appears twice: keep one.
                if result.source_id not in seen:
                    seen.add(result.source_id)
                    pulled.results.append(result)
            url = self._same_server(_next_link(bundle))
        return pulled

    async def _patient(self, http: httpx.AsyncClient, identifier: str) -> str | PulledResults:
        token = f"{self.identifier_system}|{identifier}" if self.identifier_system else identifier
        bundle = await self._get(http, "Patient", [("identifier", token)])
        ids = sorted(
            {
                str(resource["id"])
                for entry in _dicts(bundle.get("entry"))
                if isinstance(resource := entry.get("resource"), Mapping)
                and resource.get("resourceType") == "Patient"
                and _text(resource.get("id"))
            }
        )
        if not ids:
            return PulledResults(known=False)
        if len(ids) > 1:
            message = f"检验系统中病人号 {identifier} 对应 {len(ids)} 位患者，未读取结果"
            return PulledResults(problems=[_problem("identifier", "AMBIGUOUS_PATIENT", message)])
        return ids[0]

    def _same_server(self, url: str | None) -> str | None:
        if url is None:
            return None
        base = httpx.URL(self.base_url.rstrip("/") + "/")
        target = base.join(url)
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise LisUnavailable("BAD_RESPONSE", f"检验系统返回的下一页地址不在本服务器：{url}")
        return str(target)

    async def _get(
        self, http: httpx.AsyncClient, url: str, params: _Params | None
    ) -> Mapping[str, Any]:
        try:
            response = await http.get(url, params=params)
        except httpx.TimeoutException as exc:
            raise LisUnavailable(
                "TIMEOUT", f"检验系统（LIS）FHIR 服务在 {self.timeout_s:g} 秒内没有响应"
            ) from exc
        except httpx.HTTPError as exc:
            raise LisUnavailable(
                "UNREACHABLE", f"无法连接检验系统（LIS）FHIR 服务：{type(exc).__name__}"
            ) from exc
        if response.status_code >= 500:
            raise LisUnavailable(
                "HTTP_ERROR",
                f"检验系统（LIS）FHIR 服务出错（HTTP {response.status_code}）",
                status=response.status_code,
            )
        if response.status_code >= 400:
            raise LisUnavailable(
                "REJECTED",
                f"检验系统（LIS）拒绝了请求（HTTP {response.status_code}），请检查配置",
                status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise LisUnavailable("BAD_RESPONSE", "检验系统（LIS）返回的内容不是 JSON") from exc
        if not isinstance(body, Mapping) or body.get("resourceType") != "Bundle":
            raise LisUnavailable("BAD_RESPONSE", "检验系统（LIS）返回的内容不是 FHIR Bundle")
        return body
