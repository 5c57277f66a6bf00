"""A LIS FHIR R4 server for the demo and the tests: years of Chinese lab results per patient.

Every LIS patient number (病人号) is known, except those starting with "UNKNOWN" or
listed in `unknown`. Her results are generated from the number itself
(`random.Random(identifier)`) and the simulator's `today`: a pre-pregnancy check, an
earlier pregnancy, the current one. Results older than three years come from the "old
LIS" (local codes only, 阴性/阳性 as text); newer ones carry LOINC codes, S/CO ratios with
interpretation, SNOMED Positive/Negative and reference ranges.

Supported: `GET /metadata`, `GET /Patient?identifier=[system|]value`, `GET /Patient/{id}`,
`GET /Observation?patient=…|subject=Patient/…|subject:Patient.identifier=…` with
`category`, `date` (ge/gt/le/lt), `_count` and paging through `link[next]`
(`_getpagesoffset`), and `GET /Observation/{id}`.

Faults for tests and demos: `latency_s`, `failure_rate` (random 503s), and `faults`, a
queue of one-shot faults (`Fault(500)`, `Fault("timeout")`, `Fault("garbage")`, …).
Tests can replace a patient's data with `put(identifier, entries)`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import random
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

DATA = json.loads((Path(__file__).parent / "data" / "lis_items.json").read_text(encoding="utf-8"))
LOCAL_SYSTEM: str = DATA["localSystem"]
ITEMS: dict[str, dict[str, Any]] = {item["code"]: item for item in DATA["items"]}
IDENTIFIER_SYSTEM = "http://lis.gxmch.example.cn/fhir/sid/patient-no"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CST = dt.timezone(dt.timedelta(hours=8))
FHIR_JSON = "application/fhir+json"
OLD_LIS_YEARS = 3
INFECTIOUS = ("HBSAG", "ANTI_HBS", "HBEAG", "ANTI_HBE", "ANTI_HBC", "HIV", "TP", "RPR", "HCV")
BLOOD = ("HGB", "PLT")
MAX_COUNT = 200


@dataclass(frozen=True)
class Fault:
    """One request answered badly: an HTTP status, "timeout" (no answer for `hang_s`),
    "garbage" (not JSON) or "not-bundle" (JSON that is not a Bundle)."""

    kind: int | str
    path: str | None = None  # only requests whose path starts with this, e.g. "/Observation"
    after: int = 0  # let this many matching requests through first (e.g. fail page 2)


def _sha(identifier: str) -> str:
    return hashlib.sha256(identifier.encode()).hexdigest()


def patient_id_for(identifier: str) -> str:
    return f"pt{_sha(identifier)[:12]}"


def _outcome(status: int, text: str) -> JSONResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "diagnostics": text}],
    }
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


class _Generator:
    """One patient's results, from her number and the simulator's `today`."""

    def __init__(self, identifier: str, today: dt.date) -> None:
        self.identifier = identifier
        self.rng = random.Random(identifier)  # noqa: S311 (reproducible demo data, not secrets)
        self.today = today
        self.key = f"o{_sha(identifier)[:10]}"
        self.seq = 0
        self.resources: list[dict[str, Any]] = []
        rng = self.rng
        self.positive: set[str] = set()
        if rng.random() < 0.09:
            self.positive |= {"HBSAG", "ANTI_HBC", rng.choice(("HBEAG", "ANTI_HBE", "ANTI_HBE"))}
        elif rng.random() < 0.6:
            self.positive.add("ANTI_HBS")
        if rng.random() < 0.025:
            self.positive |= {"TP", "RPR"}
        if rng.random() < 0.01:
            self.positive.add("HIV")
        if rng.random() < 0.01:
            self.positive.add("HCV")
        self.blood_group = rng.choices(("O", "A", "B", "AB"), (34, 31, 28, 7))[0]

    def build(self) -> list[dict[str, Any]]:
        rng = self.rng
        lmp = self.today - dt.timedelta(weeks=rng.randint(10, 36))
        first = lmp
        if rng.random() < 0.5:
            first = lmp - dt.timedelta(days=rng.randint(2 * 365, 6 * 365))
            self._pregnancy(first, self.today, rng.random() < 0.5)
        self._pregnancy(lmp, self.today, first == lmp)
        if rng.random() < 0.6:
            checkup = first - dt.timedelta(days=rng.randint(60, 700))
            self._draw(checkup, (*BLOOD, "GLU", "HBSAG", "HIV", "TP"))
        self.resources.sort(key=lambda r: (r["effectiveDateTime"], r["id"]), reverse=True)
        return self.resources

    def _pregnancy(self, lmp: dt.date, today: dt.date, blood_group: bool) -> None:
        rng = self.rng
        end = min(today, lmp + dt.timedelta(days=280))
        booked = lmp + dt.timedelta(days=rng.randint(42, 84))
        if booked > end:
            return
        self._draw(booked, (*BLOOD, "GLU", "ALT", *(("ABO", "RH") if blood_group else ())))
        spread = rng.random() < 0.35
        for code in INFECTIOUS:
            day = booked + dt.timedelta(days=rng.randint(0, 10)) if spread else booked
            self._draw(min(day, end), (code,))
        for start, stop, items in (
            (24, 28, (*BLOOD, "GLU")),
            (32, 36, (*BLOOD, "HBSAG", "HIV", "TP")),
        ):
            day = lmp + dt.timedelta(days=rng.randint(start * 7, stop * 7))
            if day <= end:
                self._draw(day, items)

    def _draw(self, day: dt.date, codes: tuple[str, ...]) -> None:
        rng = self.rng
        minute = rng.randint(7 * 60 + 30, 10 * 60 + 30)
        taken = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=CST)
        issued = taken + dt.timedelta(minutes=rng.randint(120, 360))
        old = day < self.today - dt.timedelta(days=OLD_LIS_YEARS * 365)
        for code in codes:
            self.seq += 1
            self.resources.append(self._observation(ITEMS[code], taken, issued, old))

    def _observation(
        self, item: Mapping[str, Any], taken: dt.datetime, issued: dt.datetime, old: bool
    ) -> dict[str, Any]:
        coding = [{"system": LOCAL_SYSTEM, "code": item["local"], "display": item["name"]}]
        if not old:
            coding.insert(0, {"system": LOINC, "code": item["loinc"], "display": item["name"]})
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"{self.key}-{self.seq:04d}",
            "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
            "code": {"coding": coding, "text": item["name"]},
            "subject": {
                "reference": f"Patient/{patient_id_for(self.identifier)}",
                "identifier": {"system": IDENTIFIER_SYSTEM, "value": self.identifier},
            },
            "effectiveDateTime": taken.isoformat(),
            "issued": issued.isoformat(),
        }
        resource.update(self._value(item, old))
        return resource

    def _value(self, item: Mapping[str, Any], old: bool) -> dict[str, Any]:
        rng = self.rng
        kind = item["kind"]
        if kind == "numeric":
            value = round(rng.gauss(item["mean"], item["sd"]), item["decimals"])
            value = max(value, 0.0)
            shown: float | int = int(value) if item["decimals"] == 0 else value
            flag = "L" if value < item["low"] else "H" if value > item["high"] else "N"
            reference: dict[str, Any] = (
                {"text": f"{item['low']}-{item['high']}"}
                if old
                else {
                    "low": {"value": item["low"], "unit": item["unit"]},
                    "high": {"value": item["high"], "unit": item["unit"]},
                }
            )
            return {
                "valueQuantity": {"value": shown, "unit": item["unit"]},
                "interpretation": [{"coding": [{"system": V3, "code": flag}]}],
                "referenceRange": [reference],
            }
        if kind == "blood_group":
            return {"valueString": f"{self.blood_group}型"}
        if kind == "rh":
            return {"valueString": "阳性"}
        positive = item["code"] in self.positive
        word = "阳性" if positive else "阴性"
        reading = {
            "coding": [{"system": V3, "code": "POS" if positive else "NEG"}],
            "text": word,
        }
        if old:
            return {"valueString": word, "referenceRange": [{"text": "阴性"}]}
        if kind == "titre":
            text = f"阳性(1:{rng.choice((2, 4, 8, 16, 32))})" if positive else "阴性"
            return {"valueString": text, "interpretation": [reading]}
        if kind == "qualitative" or rng.random() < 0.4:
            snomed = ("10828004", "Positive") if positive else ("260385009", "Negative")
            concept = {"coding": [{"system": SNOMED, "code": snomed[0], "display": snomed[1]}]}
            return {"valueCodeableConcept": {**concept, "text": word}, "interpretation": [reading]}
        cutoff = float(item["cutoff"])
        quantity: dict[str, Any] = {"unit": item["unit"]}
        if positive:
            quantity["value"] = round(rng.uniform(cutoff * 8, cutoff * 300), 2)
        elif item["code"] in ("HBSAG", "ANTI_HBS"):
            quantity.update(comparator="<", value=0.05 if item["code"] == "HBSAG" else 2.0)
        else:
            quantity["value"] = round(rng.uniform(0.05, 0.6) * cutoff, 2)
        interpretation = [reading]
        if positive and item["code"] != "ANTI_HBS":
            interpretation.append({"coding": [{"system": V3, "code": "A"}]})
        return {
            "valueQuantity": quantity,
            "interpretation": interpretation,
            "referenceRange": [{"text": f"<{cutoff:g}"}],
        }


class LisFhirSimulator:
    """The simulated LIS FHIR server; `app` is the ASGI application."""

    def __init__(
        self,
        *,
        today: dt.date | None = None,
        page_size: int = 50,
        latency_s: float = 0.0,
        failure_rate: float = 0.0,
        hang_s: float = 3.0,
    ) -> None:
        self.today = today
        self.page_size = page_size
        self.latency_s = latency_s
        self.failure_rate = failure_rate
        self.hang_s = hang_s
        self.faults: list[Fault] = []
        self.unknown: set[str] = set()
        self.requests: list[str] = []
        self._put: dict[str, list[object]] = {}
        self._generated: dict[tuple[str, dt.date], list[dict[str, Any]]] = {}
        self._identifiers: dict[str, str] = {}
        self._chaos = random.Random(0)  # noqa: S311 (fault injection, not secrets)
        self.app = Starlette(
            routes=[
                Route("/metadata", self._metadata),
                Route("/Patient", self._patients),
                Route("/Patient/{id}", self._patient),
                Route("/Observation", self._observations),
                Route("/Observation/{id}", self._observation),
            ]
        )

    # -------------------------------------------------------------- data

    def knows(self, identifier: str) -> bool:
        return identifier in self._put or not (
            identifier in self.unknown or identifier.upper().startswith("UNKNOWN")
        )

    def put(self, identifier: str, entries: list[object]) -> None:
        """Serve exactly these Bundle entries for the patient (in this order)."""
        self._put[identifier] = list(entries)
        self._identifiers[patient_id_for(identifier)] = identifier

    def entries(self, identifier: str) -> list[object]:
        if identifier in self._put:
            return self._put[identifier]
        today = self.today or dt.date.today()
        key = (identifier, today)
        if key not in self._generated:
            self._generated[key] = _Generator(identifier, today).build()
        return [{"resource": r, "search": {"mode": "match"}} for r in self._generated[key]]

    # -------------------------------------------------------------- HTTP

    async def _misbehave(self, request: Request) -> Response | None:
        self.requests.append(f"{request.url.path}?{request.url.query}")
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        fault = next(
            (f for f in self.faults if f.path is None or request.url.path.startswith(f.path)),
            None,
        )
        if fault is not None and fault.after > 0:
            self.faults[self.faults.index(fault)] = Fault(fault.kind, fault.path, fault.after - 1)
            fault = None
        if fault is not None:
            self.faults.remove(fault)
            if isinstance(fault.kind, int):
                return _outcome(fault.kind, "模拟故障")
            if fault.kind == "timeout":
                await asyncio.sleep(self.hang_s)
            elif fault.kind == "garbage":
                return PlainTextResponse("<html>502 Bad Gateway</html>", status_code=200)
            elif fault.kind == "not-bundle":
                return _outcome(200, "不是 Bundle")
        if self.failure_rate and self._chaos.random() < self.failure_rate:
            return _outcome(503, "模拟的检验系统繁忙")
        return None

    async def _metadata(self, request: Request) -> Response:
        return JSONResponse(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "software": {"name": "MaternityHub LIS FHIR simulator (检验系统模拟器)"},
            },
            media_type=FHIR_JSON,
        )

    def _patient_resource(self, identifier: str) -> dict[str, Any]:
        patient_id = patient_id_for(identifier)
        self._identifiers[patient_id] = identifier
        return {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [{"system": IDENTIFIER_SYSTEM, "value": identifier}],
            "gender": "female",
        }

    async def _patients(self, request: Request) -> Response:
        if (bad := await self._misbehave(request)) is not None:
            return bad
        token = request.query_params.get("identifier", "")
        identifier = token.split("|", 1)[-1]
        found = (
            [self._patient_resource(identifier)] if identifier and self.knows(identifier) else []
        )
        entries = [{"resource": r, "search": {"mode": "match"}} for r in found]
        return self._bundle(request, entries, 0, len(entries), len(entries))

    async def _patient(self, request: Request) -> Response:
        if (bad := await self._misbehave(request)) is not None:
            return bad
        identifier = self._identifiers.get(request.path_params["id"])
        if identifier is None:
            return _outcome(404, "未找到患者")
        return JSONResponse(self._patient_resource(identifier), media_type=FHIR_JSON)

    def _identifier_of(self, request: Request) -> str | None:
        params = request.query_params
        reference = params.get("patient") or params.get("subject", "").removeprefix("Patient/")
        if reference:
            return self._identifiers.get(reference.removeprefix("Patient/"))
        token = params.get("subject:Patient.identifier")
        return token.split("|", 1)[-1] if token else None

    async def _observations(self, request: Request) -> Response:
        if (bad := await self._misbehave(request)) is not None:
            return bad
        params = request.query_params
        try:
            count = min(int(params.get("_count", self.page_size)), MAX_COUNT)
            offset = int(params.get("_getpagesoffset", 0))
            bounds = [_bound(value) for value in params.getlist("date")]
        except ValueError:
            return _outcome(400, "无效的查询参数")
        if count < 1 or offset < 0:
            return _outcome(400, "无效的分页参数")
        identifier = self._identifier_of(request)
        category = params.get("category")
        entries: list[object] = []
        if identifier and self.knows(identifier) and category in (None, "laboratory"):
            entries = [e for e in self.entries(identifier) if _within(e, bounds)]
        return self._bundle(request, entries[offset : offset + count], offset, count, len(entries))

    async def _observation(self, request: Request) -> Response:
        if (bad := await self._misbehave(request)) is not None:
            return bad
        wanted = request.path_params["id"]
        for identifier in list(self._identifiers.values()):
            for entry in self.entries(identifier):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and resource.get("id") == wanted:
                    return JSONResponse(resource, media_type=FHIR_JSON)
        return _outcome(404, "未找到检验结果")

    def _bundle(
        self, request: Request, entries: Sequence[object], offset: int, count: int, total: int
    ) -> Response:
        links = [{"relation": "self", "url": str(request.url)}]
        if offset + count < total:
            following = request.url.include_query_params(
                _getpagesoffset=offset + count, _count=count
            )
            links.append({"relation": "next", "url": str(following)})
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": links,
            "entry": entries,
        }
        return JSONResponse(bundle, media_type=FHIR_JSON)


def _bound(value: str) -> tuple[str, dt.datetime]:
    prefix, moment = value[:2], value[2:]
    if prefix not in ("ge", "gt", "le", "lt"):
        prefix, moment = "eq", value
    parsed = dt.datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CST)
    return prefix, parsed


def _within(entry: object, bounds: list[tuple[str, dt.datetime]]) -> bool:
    resource = entry.get("resource") if isinstance(entry, dict) else None
    when = resource.get("effectiveDateTime") if isinstance(resource, dict) else None
    if not bounds or not isinstance(when, str):
        return True
    try:
        moment = dt.datetime.fromisoformat(when)
    except ValueError:
        return True
    checks = {
        "ge": moment.__ge__,
        "gt": moment.__gt__,
        "le": moment.__le__,
        "lt": moment.__lt__,
        "eq": moment.__eq__,
    }
    return all(checks[prefix](bound) for prefix, bound in bounds)


def build_app() -> Starlette:
    """The demo's simulator (`integrations.simulators.demo_simulators`)."""
    return LisFhirSimulator().app


@contextmanager
def serving(simulator: LisFhirSimulator, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the simulator on a free loopback port in a thread; yields its base URL.

    A thread (not a task) so that synchronous callers (the CLI's `asyncio.run`) and
    asynchronous tests can both use it.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        simulator.app,
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="none",
        http="h11",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="lis-fhir-simulator"
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise RuntimeError("LIS FHIR simulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def run(host: str, port: int, *, latency_ms: int = 0, failure_rate: float = 0.0) -> None:
    """`mhub simulate lis`: serve the simulator in the foreground."""
    import uvicorn

    simulator = LisFhirSimulator(latency_s=latency_ms / 1000, failure_rate=failure_rate)
    print(f"LIS FHIR 模拟器: http://{host}:{port}  (LIS_FHIR_BASE_URL)", flush=True)
    uvicorn.run(simulator.app, host=host, port=port, log_config=None, access_log=False)
