"""A FHIR R4 EMR (电子病历) simulator for the demo, the tests and the benchmark.

It answers what MaternityHub asks of an EMR:

- `GET /metadata` (CapabilityStatement),
- `GET /Patient?identifier=<system>|<value>,…`,
- `GET /Condition?patient.identifier=…&category=encounter-diagnosis&_include=Condition:subject`
  (also `subject:Patient.identifier`, `subject.identifier`) and `POST /Condition/_search`,
  paged by `_count` with `link[next]`.

Every woman has encounter diagnoses: the ones a test put there (`put`), otherwise ones
generated from her identifier alone with `random.Random(identifier)` — any record
number (`EMR…`) or resident ID always gets the same diagnoses (dates count back from
today): a pregnancy-supervision code (Z34.x) at the first visit, 0–3 obstetric diagnoses
(O24.4 妊娠期糖尿病, O13 妊娠期高血压, O34.2 瘢痕子宫妊娠, …) from `data/diagnoses.json`,
and sometimes a diagnosis coded only in a local code system.

Faults are injected through `Faults` (constructor, attributes, or the `mhub simulate emr`
flags): latency, every request failing with 500, a share of them failing, requests that
never answer, and broken entries in every bundle.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.emr.fhir import (
    ENCOUNTER_DIAGNOSIS,
    FHIR_JSON,
    RECORD_NO_SYSTEM,
    RESIDENT_ID_SYSTEM,
)
from integrations.simulators import serve_locally

CATALOGUE_FILE = Path(__file__).resolve().parent / "data" / "diagnoses.json"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOCAL_SYSTEM = "urn:mhub:emr-simulator:local-diagnosis"
DEFAULT_PAGE = 50
MAX_PAGE = 500
_IDENTIFIER_PARAMS = (
    "patient.identifier",
    "subject:Patient.identifier",
    "subject.identifier",
    "patient:Patient.identifier",
)


@dataclass
class Faults:
    """What goes wrong; change the attributes while the simulator runs."""

    latency_ms: int = 0
    fail: bool = False  # every FHIR request answers 500
    failure_rate: float = 0.0  # this share of requests answers 500
    hang: bool = False  # requests never answer (until the simulator stops)
    malformed: bool = False  # every Condition bundle carries broken entries


@dataclass(frozen=True)
class SimDiagnosis:
    """One encounter diagnosis held by the simulator."""

    condition_id: str
    code: str
    text: str
    recorded: dt.date
    encounter_id: str
    system: str = ICD10


@dataclass(frozen=True)
class Call:
    """One request the simulator received."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)


def parse_tokens(value: str) -> list[tuple[str | None, str]]:
    """`sys|v1,sys|v2` → [(sys, v1), (sys, v2)]; a token without `|` matches any system.

    `\\` escapes the next character (`\\,`, `\\|`, `\\$`, `\\\\`), as FHIR search says.
    """
    tokens: list[tuple[str | None, str]] = []
    parts = [""]

    def finish() -> None:
        if len(parts) == 2:
            tokens.append((parts[0] or None, parts[1]))
        elif parts[0]:
            tokens.append((None, parts[0]))

    characters = iter(value)
    for character in characters:
        if character == "\\":
            parts[-1] += next(characters, "")
        elif character == "|" and len(parts) == 1:
            parts.append("")
        elif character == ",":
            finish()
            parts = [""]
        else:
            parts[-1] += character
    finish()
    return tokens


def patient_id(system: str, value: str) -> str:
    return hashlib.sha256(f"{system}|{value}".encode()).hexdigest()[:16]


@dataclass
class EmrSimulator:
    """The simulated EMR: its data, its faults, and the requests it has received."""

    faults: Faults = field(default_factory=Faults)
    today: dt.date | None = None
    record_no_system: str = RECORD_NO_SYSTEM
    resident_id_system: str = RESIDENT_ID_SYSTEM
    calls: list[Call] = field(default_factory=list, repr=False)
    _records: dict[str, list[SimDiagnosis]] = field(default_factory=dict, repr=False)
    _released: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    # Reproducible fault draws, nothing secret.
    _chance: random.Random = field(default_factory=lambda: random.Random(0), repr=False)  # noqa: S311

    # ---------------------------------------------------------------- data

    def put(
        self,
        identifier: str,
        diagnoses: Sequence[tuple[str, str, dt.date]],
        *,
        local: Sequence[tuple[str, str, dt.date]] = (),
    ) -> None:
        """Give a woman exactly these (code, text, recorded date) diagnoses: ICD-10 ones,
        and `local` ones coded only in the hospital's own code system."""
        pid = patient_id("any", identifier)[:8]
        coded = [(ICD10, d) for d in diagnoses] + [(LOCAL_SYSTEM, d) for d in local]
        self._records[identifier] = [
            SimDiagnosis(f"{pid}-{n}", code, text, recorded, f"{pid}-E{n}", system)
            for n, (system, (code, text, recorded)) in enumerate(coded, start=1)
        ]

    def diagnoses_of(self, identifier: str) -> list[SimDiagnosis]:
        """What the simulator holds for an identifier value (put there, or generated)."""
        if identifier not in self._records:
            self._records[identifier] = self._generate(identifier)
        return self._records[identifier]

    @cached_property
    def _catalogue(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
        return loaded

    def _generate(self, identifier: str) -> list[SimDiagnosis]:
        catalogue = self._catalogue
        rng = random.Random(identifier)  # noqa: S311 (deterministic fake data)
        today = self.today or dt.date.today()
        pid = patient_id("any", identifier)[:8]
        first_visit = rng.randint(60, 240)
        visits = sorted(
            {first_visit, *(rng.randint(3, first_visit - 1) for _ in range(rng.randint(0, 3)))},
            reverse=True,
        )
        routine = catalogue["routine"][0 if rng.random() < 0.45 else 1]
        picked: list[tuple[str, str, str]] = [(ICD10, routine["code"], routine["text"])]
        obstetric = list(catalogue["obstetric"])
        for _ in range(rng.choices((0, 1, 2, 3), (30, 40, 20, 10))[0]):
            choice = rng.choices(obstetric, [d["weight"] for d in obstetric])[0]
            obstetric.remove(choice)
            picked.append((ICD10, choice["code"], choice["text"]))
        if rng.random() < 0.3:
            local = rng.choice(catalogue["local"])
            picked.append((local["system"], local["code"], local["text"]))
        diagnoses = []
        for n, (system, code, text) in enumerate(picked, start=1):
            visit = visits[0] if n == 1 else rng.choice(visits)
            diagnoses.append(
                SimDiagnosis(
                    f"{pid}-{n}",
                    code,
                    text,
                    today - dt.timedelta(days=visit),
                    f"{pid}-E{visits.index(visit) + 1}",
                    system,
                )
            )
        return diagnoses

    def _name(self, identifier: str) -> str:
        rng = random.Random(f"name|{identifier}")  # noqa: S311 (deterministic fake data)
        surname: str = rng.choice(self._catalogue["surnames"])
        given: str = rng.choice(self._catalogue["given_names"])
        return surname + given

    # ---------------------------------------------------------------- FHIR resources

    def _systems(self) -> tuple[str, str]:
        return (self.record_no_system, self.resident_id_system)

    def _known(self, tokens: list[tuple[str | None, str]]) -> list[tuple[str, str]]:
        """The (system, value) pairs of the women the tokens name, each once."""
        found: dict[tuple[str, str], None] = {}
        for system, value in tokens:
            if system is None:
                found[(self.record_no_system, value)] = None
            elif system in self._systems():
                found[(system, value)] = None
        return list(found)

    def _patient(self, system: str, value: str) -> dict[str, Any]:
        name = self._name(value)
        rng = random.Random(f"birth|{value}")  # noqa: S311 (deterministic fake data)
        born = dt.date(rng.randint(1982, 2002), rng.randint(1, 12), rng.randint(1, 28))
        return {
            "resourceType": "Patient",
            "id": patient_id(system, value),
            "identifier": [{"system": system, "value": value}],
            "name": [{"text": name, "family": name[0], "given": [name[1:]]}],
            "gender": "female",
            "birthDate": born.isoformat(),
        }

    def _condition(self, pid: str, diagnosis: SimDiagnosis) -> dict[str, Any]:
        terminology = "http://terminology.hl7.org/CodeSystem"
        return {
            "resourceType": "Condition",
            "id": diagnosis.condition_id,
            "clinicalStatus": {
                "coding": [{"system": f"{terminology}/condition-clinical", "code": "active"}]
            },
            "verificationStatus": {
                "coding": [{"system": f"{terminology}/condition-ver-status", "code": "confirmed"}]
            },
            "category": [
                {
                    "coding": [
                        {
                            "system": f"{terminology}/condition-category",
                            "code": ENCOUNTER_DIAGNOSIS,
                            "display": "Encounter Diagnosis",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [
                    {"system": diagnosis.system, "code": diagnosis.code, "display": diagnosis.text}
                ],
                "text": diagnosis.text,
            },
            "subject": {"reference": f"Patient/{pid}"},
            "encounter": {"reference": f"Encounter/{diagnosis.encounter_id}"},
            "recordedDate": diagnosis.recorded.isoformat(),
        }

    def _broken_entries(self, pid: str) -> list[dict[str, Any]]:
        code = {"coding": [{"system": ICD10, "code": "O24.4", "display": "妊娠期糖尿病"}]}
        subject = {"reference": f"Patient/{pid}"}
        return [
            {"fullUrl": "urn:uuid:0b5e-no-resource"},
            {"resource": "not a resource"},
            {"resource": {"resourceType": "Condition", "id": "no-subject", "code": code}},
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "bad id!",
                    "subject": subject,
                    "code": code,
                }
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "bad-date",
                    "subject": subject,
                    "code": code,
                    "recordedDate": "2024-13-45",
                }
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "bad-code",
                    "subject": subject,
                    "code": {"coding": [{"system": ICD10, "code": "妊娠期糖尿病"}]},
                }
            },
        ]

    # ---------------------------------------------------------------- HTTP

    @cached_property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/metadata", self._metadata),
                Route("/Patient", self._patients),
                Route("/Condition", self._conditions, methods=["GET", "POST"]),
                Route("/Condition/_search", self._conditions, methods=["POST"]),
            ]
        )

    async def _arrive(self, request: Request) -> tuple[list[tuple[str, str]], Response | None]:
        """Log the request, apply the faults; the search parameters, or the reply to give."""
        params = list(request.query_params.multi_items())
        if request.method == "POST":
            # application/x-www-form-urlencoded, read without python-multipart
            params += parse_qsl((await request.body()).decode(), keep_blank_values=True)
        self.calls.append(Call(request.method, request.url.path, tuple(params)))
        faults = self.faults
        if faults.hang:
            await self._released.wait()
        elif faults.latency_ms > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), faults.latency_ms / 1000)
        if faults.fail or (faults.failure_rate and self._chance.random() < faults.failure_rate):
            return params, _outcome(500, "exception", "模拟的 EMR 内部错误")
        return params, None

    async def _metadata(self, request: Request) -> Response:
        return _fhir(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "date": "2025-01-01",
                "kind": "instance",
                "software": {"name": "MaternityHub EMR 模拟器", "version": "1"},
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "rest": [
                    {
                        "mode": "server",
                        "resource": [
                            {
                                "type": "Patient",
                                "interaction": [{"code": "search-type"}],
                                "searchParam": [{"name": "identifier", "type": "token"}],
                            },
                            {
                                "type": "Condition",
                                "interaction": [{"code": "search-type"}],
                                "searchInclude": ["Condition:subject", "Condition:patient"],
                                "searchParam": [
                                    {"name": "patient", "type": "reference"},
                                    {"name": "subject", "type": "reference"},
                                    {"name": "category", "type": "token"},
                                ],
                            },
                        ],
                    }
                ],
            }
        )

    async def _patients(self, request: Request) -> Response:
        params, failed = await self._arrive(request)
        if failed is not None:
            return failed
        wanted = self._known(parse_tokens(_param(params, "identifier") or ""))
        base = str(request.base_url).rstrip("/")
        entries = [
            {"fullUrl": f"{base}/Patient/{patient_id(s, v)}", "resource": self._patient(s, v)}
            for s, v in wanted
        ]
        return _fhir(_bundle(entries, len(entries), f"{base}/Patient", params, None))

    async def _conditions(self, request: Request) -> Response:
        params, failed = await self._arrive(request)
        if failed is not None:
            return failed
        raw = next((v for k, v in params if k in _IDENTIFIER_PARAMS), "")
        wanted = self._known(parse_tokens(raw))
        category = _param(params, "category")
        if category is not None and category.split("|")[-1] != ENCOUNTER_DIAGNOSIS:
            wanted = []
        matches = [
            (system, value, diagnosis)
            for system, value in wanted
            for diagnosis in self.diagnoses_of(value)
        ]
        size = min(int(_param(params, "_count") or DEFAULT_PAGE), MAX_PAGE)
        offset = int(_param(params, "_offset") or 0)
        page = matches[offset : offset + size]
        base = str(request.base_url).rstrip("/")
        entries = [
            {
                "fullUrl": f"{base}/Condition/{d.condition_id}",
                "resource": self._condition(patient_id(s, v), d),
                "search": {"mode": "match"},
            }
            for s, v, d in page
        ]
        includes = {"Condition:subject", "Condition:patient"}
        if any(k == "_include" and v in includes for k, v in params):
            for s, v in dict.fromkeys((s, v) for s, v, _ in page):
                entries.append(
                    {
                        "fullUrl": f"{base}/Patient/{patient_id(s, v)}",
                        "resource": self._patient(s, v),
                        "search": {"mode": "include"},
                    }
                )
        if self.faults.malformed and wanted:
            entries += self._broken_entries(patient_id(*wanted[0]))
        following = offset + size if offset + size < len(matches) else None
        return _fhir(_bundle(entries, len(matches), f"{base}/Condition", params, following))

    def release(self) -> None:
        """Let requests held by `hang` or latency answer now (before stopping)."""
        self._released.set()

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on a local port (0 = any free one) in this event loop; yields the base URL."""
        try:
            async with serve_locally(self.app, name="EMR 模拟器", host=host, port=port) as url:
                try:
                    yield url
                finally:
                    # Requests held by `hang` or latency must answer before the server stops.
                    self.release()
        finally:
            self._released = asyncio.Event()


def _param(params: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in params if k == name), None)


def _bundle(
    entries: list[dict[str, Any]],
    total: int,
    url: str,
    params: list[tuple[str, str]],
    next_offset: int | None,
) -> dict[str, Any]:
    search = [(k, v) for k, v in params if k != "_offset"]
    links = [{"relation": "self", "url": f"{url}?{urlencode(params)}"}]
    if next_offset is not None:
        links.append(
            {"relation": "next", "url": f"{url}?{urlencode([*search, ('_offset', next_offset)])}"}
        )
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": entries,
    }


def _fhir(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def _outcome(status: int, code: str, text: str) -> Response:
    return _fhir(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        },
        status,
    )


def build_app() -> Starlette:
    """The simulator the demo serves (no faults, diagnoses generated per identifier)."""
    return EmrSimulator().app


def run(host: str, port: int, faults: Faults) -> None:
    """`mhub simulate emr`: serve the simulator until interrupted."""
    import uvicorn

    print(f"EMR FHIR 模拟器：http://{host}:{port}  （{faults}）", flush=True)
    uvicorn.run(
        EmrSimulator(faults=faults).app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
