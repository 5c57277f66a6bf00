"""EMR adapter for a FHIR R4 server (DESIGN.md §6).

The diagnoses of many women come from one search (`,` is OR in FHIR search):

    GET {base}/Condition?patient.identifier=<system>|<v1>,<system>|<v2>
        &category=encounter-diagnosis&_include=Condition:subject&_count=200

followed through `link[next]` while the server pages; that is still one logical round.
A search whose URL would be long is POSTed to `Condition/_search` instead. The included
Patient resources map each Condition back to the identifier it was asked for.

Entries that cannot be read are skipped with a logged warning; codings other than ICD-10
are ignored. Anything that keeps the whole answer from arriving in time — timeout,
refused connection, an HTTP error, a body that is no Bundle — raises `EmrUnavailable`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from integrations.emr.port import (
    EmrDiagnosis,
    EmrPatient,
    EmrPatientId,
    EmrUnavailable,
    IdentifierKind,
    normalise_icd10,
)

log = logging.getLogger(__name__)

ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cn"})
# The hospital's EMR record numbers; an EMR with its own system URI is configured with it.
RECORD_NO_SYSTEM = "urn:mhub:sid:emr-record-no"
# 居民身份证号码 (the national OID used by WS/T 500 documents).
RESIDENT_ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"
ENCOUNTER_DIAGNOSIS = "encounter-diagnosis"
FHIR_JSON = "application/fhir+json"
# Longer GET URLs are refused by common proxies (8 KiB); well below that, POST _search.
MAX_GET_URL = 4000
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_FHIR_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2}(?:T.*)?)?)?$")
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_SKIPPED_STATUSES = frozenset({"entered-in-error", "refuted"})


def escape(value: str) -> str:
    """Escape a value for a FHIR search token (`\\`, `,`, `|` and `$` are special)."""
    return re.sub(r"([\\,|$])", r"\\\1", value)


class _Malformed(ValueError):
    pass


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _date(value: object) -> dt.date | None:
    """The day of a FHIR date or dateTime as written (local time); None for none or a partial date."""
    if value is None:
        return None
    if not isinstance(value, str) or not _FHIR_DATE.match(value):
        raise _Malformed(f"日期 {value!r} 格式不正确")
    if len(value) < 10:
        return None  # "2024" or "2024-05": valid FHIR, but no day to show
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError as exc:
        raise _Malformed(f"日期 {value!r} 格式不正确") from exc


def _reference(value: object) -> str | None:
    return _text(value.get("reference")) if isinstance(value, dict) else None


def _items(value: object) -> list[Any]:
    """A FHIR list field as a list; any other shape (a bad answer) as an empty one."""
    return value if isinstance(value, list) else []


def _status_code(concept: object) -> str | None:
    if not isinstance(concept, dict):
        return None
    for coding in _items(concept.get("coding")):
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


Token = tuple[str, str]  # (identifier system, value)


@dataclass
class _Round:
    """What the bundles of one search said, gathered over its pages."""

    patient_tokens: dict[str, set[Token]] = field(default_factory=dict)
    conditions: list[tuple[str | Token, EmrDiagnosis]] = field(default_factory=list)
    skipped: int = 0


class FhirEmr:
    """`EmrClient` over FHIR R4 REST."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        page_size: int = 200,
        max_pages: int = 50,
        record_no_system: str = RECORD_NO_SYSTEM,
        resident_id_system: str = RESIDENT_ID_SYSTEM,
        icd10_systems: frozenset[str] = ICD10_SYSTEMS,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.page_size = page_size
        self.max_pages = max_pages
        self._systems = {
            IdentifierKind.RECORD_NO: record_no_system,
            IdentifierKind.RESIDENT_ID: resident_id_system,
        }
        self._icd10_systems = icd10_systems

    def token(self, patient: EmrPatientId) -> Token:
        return (self._systems[patient.kind], patient.value)

    def _search_value(self, wanted: Sequence[EmrPatientId]) -> str:
        return ",".join(
            f"{escape(system)}|{escape(value)}" for system, value in map(self.token, wanted)
        )

    async def diagnoses_for(
        self, patients: Sequence[EmrPatientId]
    ) -> dict[EmrPatientId, list[EmrDiagnosis]]:
        """Encounter diagnoses (ICD-10) of every woman asked for, newest first, one search."""
        wanted = list(dict.fromkeys(patients))
        found: dict[EmrPatientId, list[EmrDiagnosis]] = {p: [] for p in wanted}
        if not wanted:
            return found
        params = [
            ("patient.identifier", self._search_value(wanted)),
            ("category", ENCOUNTER_DIAGNOSIS),
            ("_include", "Condition:subject"),
            ("_count", str(self.page_size)),
        ]
        gathered = _Round()
        for bundle in await self._search("Condition", params):
            self._read(bundle, gathered)
        by_token = {self.token(p): p for p in wanted}
        patient_keys = {
            patient_id: by_token[token]
            for patient_id, tokens in gathered.patient_tokens.items()
            for token in tokens
            if token in by_token
        }
        seen: set[str] = set()
        for subject, diagnosis in gathered.conditions:
            key = by_token.get(subject) if isinstance(subject, tuple) else patient_keys.get(subject)
            if key is None:
                gathered.skipped += 1
                log.warning(
                    "EMR Condition skipped: its patient is none of those asked for",
                    extra={"condition": diagnosis.condition_id},
                )
                continue
            if diagnosis.condition_id not in seen:
                seen.add(diagnosis.condition_id)
                found[key].append(diagnosis)
        for diagnoses in found.values():
            diagnoses.sort(
                key=lambda d: (
                    d.recorded_date is None,
                    -(d.recorded_date or dt.date.min).toordinal(),
                    d.condition_id,
                )
            )
        return found

    async def patients_for(
        self, patients: Sequence[EmrPatientId]
    ) -> dict[EmrPatientId, EmrPatient]:
        """The EMR's Patient resource of each woman it knows (`Patient?identifier=…`)."""
        wanted = list(dict.fromkeys(patients))
        if not wanted:
            return {}
        by_token = {self.token(p): p for p in wanted}
        params = [("identifier", self._search_value(wanted)), ("_count", str(self.page_size))]
        found: dict[EmrPatientId, EmrPatient] = {}
        for bundle in await self._search("Patient", params):
            for position, resource in _resources(bundle):
                if resource.get("resourceType") != "Patient":
                    continue
                try:
                    patient_id, tokens = _patient(resource)
                    birth = _date(resource.get("birthDate"))
                except _Malformed as exc:
                    log.warning("EMR Patient entry %d skipped: %s", position, exc)
                    continue
                for token in tokens:
                    if token in by_token:
                        found[by_token[token]] = EmrPatient(
                            f"Patient/{patient_id}", _human_name(resource.get("name")), birth
                        )
        return found

    # ------------------------------------------------------------------ reading bundles

    def _read(self, bundle: dict[str, Any], gathered: _Round) -> None:
        for position, resource in _resources(bundle, gathered):
            kind = resource.get("resourceType")
            try:
                if kind == "Patient":
                    patient_id, tokens = _patient(resource)
                    gathered.patient_tokens.setdefault(patient_id, set()).update(tokens)
                elif kind == "Condition":
                    read = self._condition(resource)
                    if read is not None:
                        gathered.conditions.append(read)
                elif kind != "OperationOutcome":
                    raise _Malformed(f"意外的资源类型 {kind!r}")
            except _Malformed as exc:
                gathered.skipped += 1
                log.warning("EMR bundle entry %d skipped: %s", position, exc)

    def _condition(self, resource: dict[str, Any]) -> tuple[str | Token, EmrDiagnosis] | None:
        condition_id = resource.get("id")
        if not isinstance(condition_id, str) or not _FHIR_ID.match(condition_id):
            raise _Malformed(f"Condition 的 id {condition_id!r} 无效")
        if _status_code(resource.get("verificationStatus")) in _SKIPPED_STATUSES:
            return None
        subject = _subject(resource.get("subject"), condition_id)
        code = resource.get("code")
        if not isinstance(code, dict):
            raise _Malformed(f"Condition/{condition_id} 没有 code")
        icd10 = self._icd10(code)
        if icd10 is None:
            return None  # coded only in systems other than ICD-10: not ours to match
        icd10_code, display = icd10
        recorded = _date(resource.get("recordedDate")) or _date(resource.get("onsetDateTime"))
        return subject, EmrDiagnosis(
            condition_id=f"Condition/{condition_id}",
            icd10_code=icd10_code,
            # What the EMR's doctor wrote (code.text) over the code system's name.
            text=_text(code.get("text")) or display or icd10_code,
            recorded_date=recorded,
            encounter_id=_reference(resource.get("encounter")),
        )

    def _icd10(self, code: dict[str, Any]) -> tuple[str, str | None] | None:
        codings = code.get("coding")
        if not isinstance(codings, list):
            return None
        for coding in codings:
            if not isinstance(coding, dict) or coding.get("system") not in self._icd10_systems:
                continue
            raw = coding.get("code")
            normalised = normalise_icd10(raw) if isinstance(raw, str) else None
            if normalised is None:
                raise _Malformed(f"ICD-10 编码 {raw!r} 无效")
            return normalised, _text(coding.get("display"))
        return None

    # ------------------------------------------------------------------ HTTP

    async def _search(self, resource: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._pages(resource, params)
        except TimeoutError as exc:
            raise EmrUnavailable(f"EMR 在 {self.timeout_s:g} 秒内未答复") from exc

    async def _pages(self, resource: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        url = f"{self.base_url}/{resource}"
        if len(url) + 1 + len(urlencode(params)) <= MAX_GET_URL:
            bundle = await self._fetch("GET", url, params=params)
        else:
            bundle = await self._fetch("POST", f"{url}/_search", form=params)
        bundles = [bundle]
        while (next_url := self._next(bundle)) is not None:
            if len(bundles) >= self.max_pages:
                raise EmrUnavailable(f"EMR 的检索结果超过 {self.max_pages} 页")
            bundle = await self._fetch("GET", next_url)
            bundles.append(bundle)
        return bundles

    def _next(self, bundle: dict[str, Any]) -> str | None:
        for link in _items(bundle.get("link")):
            if isinstance(link, dict) and link.get("relation") == "next":
                url = link.get("url")
                return self._onto_base(url) if isinstance(url, str) and url else None
        return None

    def _onto_base(self, url: str) -> str:
        # Servers behind a proxy often page with their internal address; the pages are
        # fetched from the configured EMR, never from a host the answer names.
        try:
            base, target = urlsplit(self.base_url), urlsplit(url)
        except ValueError as exc:
            raise EmrUnavailable(f"EMR 返回的下一页地址无效：{url[:80]}") from exc
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            log.warning("EMR next link on another host, fetched from the configured base")
            return urlunsplit((base.scheme, base.netloc, target.path, target.query, ""))
        return url

    async def _fetch(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]] | None = None,
        form: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method,
                url,
                params=tuple(params) if params is not None else None,
                content=urlencode(form).encode() if form is not None else None,
                headers={
                    "Accept": FHIR_JSON,
                    **(
                        {"Content-Type": "application/x-www-form-urlencoded"}
                        if form is not None
                        else {}
                    ),
                },
            )
        except httpx.TimeoutException as exc:
            log.warning("EMR request timed out", extra={"url": url, "error": repr(exc)})
            raise EmrUnavailable("EMR 响应超时") from exc
        except httpx.HTTPError as exc:
            log.warning("EMR request failed", extra={"url": url, "error": repr(exc)})
            raise EmrUnavailable(f"无法连接 EMR（{type(exc).__name__}）") from exc
        if response.status_code >= 400:
            log.warning(
                "EMR answered HTTP %d", response.status_code, extra={"body": response.text[:500]}
            )
            raise EmrUnavailable(f"EMR 返回 HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise EmrUnavailable("EMR 的答复不是 JSON") from exc
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            raise EmrUnavailable("EMR 的答复不是 FHIR Bundle")
        return body


def _resources(
    bundle: dict[str, Any], gathered: _Round | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        log.warning("EMR bundle skipped: entry is not a list")
        return
    for position, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            if gathered is not None:
                gathered.skipped += 1
            log.warning("EMR bundle entry %d skipped: no resource", position)
            continue
        yield position, resource


def _patient(resource: dict[str, Any]) -> tuple[str, set[Token]]:
    patient_id = resource.get("id")
    if not isinstance(patient_id, str) or not _FHIR_ID.match(patient_id):
        raise _Malformed(f"Patient 的 id {patient_id!r} 无效")
    tokens = {
        (str(i["system"]), str(i["value"]))
        for i in _items(resource.get("identifier"))
        if isinstance(i, dict)
        and isinstance(i.get("system"), str)
        and isinstance(i.get("value"), str)
    }
    return patient_id, tokens


def _subject(subject: object, condition_id: str) -> str | Token:
    """The Patient id a Condition refers to, or the identifier of a logical reference."""
    if isinstance(subject, dict):
        reference = subject.get("reference")
        if isinstance(reference, str) and (match := _PATIENT_REF.search(reference)):
            return match.group(1)
        identifier = subject.get("identifier")
        if isinstance(identifier, dict):
            system, value = identifier.get("system"), identifier.get("value")
            if isinstance(system, str) and isinstance(value, str):
                return (system, value)
    raise _Malformed(f"Condition/{condition_id} 的 subject 不是患者引用")


def _human_name(names: object) -> str | None:
    if not isinstance(names, list):
        return None
    for name in names:
        if not isinstance(name, dict):
            continue
        if text := _text(name.get("text")):
            return text
        given = name.get("given")
        parts = [name.get("family"), *(given if isinstance(given, list) else [])]
        joined = "".join(p for p in parts if isinstance(p, str))
        if joined:
            return joined
    return None
