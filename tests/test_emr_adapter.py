"""The FHIR R4 EMR adapter against the EMR simulator over real HTTP on a local port."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.emr.fhir import RECORD_NO_SYSTEM, RESIDENT_ID_SYSTEM, FhirEmr, escape
from integrations.emr.port import (
    EmrDiagnosis,
    EmrPatient,
    EmrPatientId,
    EmrUnavailable,
    IdentifierKind,
)
from integrations.emr.simulator import EmrSimulator, parse_tokens

TODAY = dt.date(2025, 3, 14)
RECORD = IdentifierKind.RECORD_NO
RESIDENT = IdentifierKind.RESIDENT_ID
WANG = EmrPatientId(RECORD, "EMR10000001")
LI = EmrPatientId(RECORD, "EMR10000002")
HUANG = EmrPatientId(RESIDENT, "450103199405170028")


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[EmrSimulator, str]]:
    sim = EmrSimulator(today=TODAY)
    async with sim.running() as url:
        yield sim, url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def searches(sim: EmrSimulator) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in sim.calls if c.path.startswith("/Condition")]


async def test_many_women_are_asked_for_in_one_request(
    simulator: tuple[EmrSimulator, str], http: httpx.AsyncClient
) -> None:
    sim, url = simulator
    sim.put(
        WANG.value,
        [("Z34.0", "正常首次妊娠监督", days_ago(90)), ("O24.4", "妊娠期糖尿病", days_ago(7))],
    )
    sim.put(
        LI.value,
        [("o34.2", "瘢痕子宫妊娠", days_ago(30))],
        local=[("YB-1", "孕期保健指导", days_ago(2))],
    )
    sim.put(HUANG.value, [("O13", "妊娠期高血压", days_ago(12))])
    unknown = EmrPatientId(RECORD, "EMR10000004")
    sim.put(unknown.value, [])
    emr = FhirEmr(http, url)

    found = await emr.diagnoses_for([WANG, LI, HUANG, unknown, WANG])

    wang, li, huang = (sim.diagnoses_of(p.value) for p in (WANG, LI, HUANG))
    assert found == {
        WANG: [
            EmrDiagnosis(
                f"Condition/{wang[1].condition_id}",
                "O24.4",
                "妊娠期糖尿病",
                days_ago(7),
                f"Encounter/{wang[1].encounter_id}",
            ),
            EmrDiagnosis(
                f"Condition/{wang[0].condition_id}",
                "Z34.0",
                "正常首次妊娠监督",
                days_ago(90),
                f"Encounter/{wang[0].encounter_id}",
            ),
        ],
        # the code is normalised; the diagnosis coded only locally is left out
        LI: [
            EmrDiagnosis(
                f"Condition/{li[0].condition_id}",
                "O34.2",
                "瘢痕子宫妊娠",
                days_ago(30),
                f"Encounter/{li[0].encounter_id}",
            )
        ],
        HUANG: [
            EmrDiagnosis(
                f"Condition/{huang[0].condition_id}",
                "O13",
                "妊娠期高血压",
                days_ago(12),
                f"Encounter/{huang[0].encounter_id}",
            )
        ],
        unknown: [],
    }
    assert searches(sim) == [("GET", "/Condition")]
    call = sim.calls[0]
    assert parse_tokens(call.param("patient.identifier") or "") == [
        (RECORD_NO_SYSTEM, WANG.value),
        (RECORD_NO_SYSTEM, LI.value),
        (RESIDENT_ID_SYSTEM, HUANG.value),
        (RECORD_NO_SYSTEM, unknown.value),
    ]
    assert call.param("category") == "encounter-diagnosis"
    assert call.param("_include") == "Condition:subject"


async def test_generated_diagnoses_are_stable_per_identifier(
    simulator: tuple[EmrSimulator, str], http: httpx.AsyncClient
) -> None:
    sim, url = simulator
    women = [EmrPatientId(RECORD, f"EMR2000{n:04d}") for n in range(30)]

    found = await FhirEmr(http, url).diagnoses_for(women)

    other = EmrSimulator(today=TODAY)
    for woman in women:
        held = other.diagnoses_of(woman.value)
        icd10 = [d for d in held if d.system == "http://hl7.org/fhir/sid/icd-10"]
        assert sorted(d.condition_id for d in found[woman]) == sorted(
            f"Condition/{d.condition_id}" for d in icd10
        )
        assert [d.recorded_date for d in found[woman]] == sorted(
            (d.recorded for d in icd10), reverse=True
        )
    every = [d for ds in found.values() for d in ds]
    # every woman has her pregnancy-supervision visit; some have obstetric diagnoses
    assert sum(d.icd10_code.startswith("Z34") for d in every) == len(women)
    assert any(d.icd10_code.startswith("O") for d in every)
    assert searches(sim) == [("GET", "/Condition")]


async def test_pages_are_followed_through_next_links_in_one_round(
    simulator: tuple[EmrSimulator, str], http: httpx.AsyncClient
) -> None:
    sim, url = simulator
    sim.put(WANG.value, [(f"O99.{n}", f"诊断{n}", days_ago(n)) for n in range(1, 4)])
    sim.put(
        LI.value, [("O24.4", "妊娠期糖尿病", days_ago(5)), ("O13", "妊娠期高血压", days_ago(6))]
    )

    found = await FhirEmr(http, url, page_size=2).diagnoses_for([WANG, LI])

    assert [d.icd10_code for d in found[WANG]] == ["O99.1", "O99.2", "O99.3"]
    assert [d.icd10_code for d in found[LI]] == ["O24.4", "O13"]
    assert searches(sim) == [("GET", "/Condition")] * 3
    assert [c.param("_offset") for c in sim.calls] == [None, "2", "4"]


async def test_a_long_search_is_posted_to_search(
    simulator: tuple[EmrSimulator, str], http: httpx.AsyncClient
) -> None:
    sim, url = simulator
    women = [EmrPatientId(RECORD, f"EMR3000{n:04d}") for n in range(150)]
    for woman in women:
        sim.put(woman.value, [("O24.4", "妊娠期糖尿病", days_ago(1))])

    found = await FhirEmr(http, url).diagnoses_for(women)

    assert searches(sim) == [("POST", "/Condition/_search")]
    assert {w: [d.icd10_code for d in ds] for w, ds in found.items()} == {
        w: ["O24.4"] for w in women
    }


async def test_broken_entries_are_skipped_with_a_warning(
    simulator: tuple[EmrSimulator, str],
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim, url = simulator
    sim.put(WANG.value, [("O24.4", "妊娠期糖尿病", days_ago(7))])
    sim.faults.malformed = True

    with caplog.at_level(logging.WARNING, logger="integrations.emr.fhir"):
        found = await FhirEmr(http, url).diagnoses_for([WANG])

    assert [(d.icd10_code, d.text) for d in found[WANG]] == [("O24.4", "妊娠期糖尿病")]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 6, skipped


async def test_a_server_error_makes_the_emr_unavailable(
    simulator: tuple[EmrSimulator, str], http: httpx.AsyncClient
) -> None:
    sim, url = simulator
    sim.faults.fail = True

    with pytest.raises(EmrUnavailable) as raised:
        await FhirEmr(http, url).diagnoses_for([WANG])

    assert raised.value.reason == "EMR 返回 HTTP 500"


async def test_a_slow_emr_is_unavailable_within_the_timeout(
    simulator: tuple[EmrSimulator, str], http: httpx.AsyncClient
) -> None:
    sim, url = simulator
    sim.faults.latency_ms = 10_000
    started = time.monotonic()

    with pytest.raises(EmrUnavailable) as raised:
        await FhirEmr(http, url, timeout_s=0.3).diagnoses_for([WANG])

    assert raised.value.reason == "EMR 在 0.3 秒内未答复"
    assert time.monotonic() - started < 0.3 + 1.0


async def test_a_refused_connection_makes_the_emr_unavailable(http: httpx.AsyncClient) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(EmrUnavailable) as raised:
        await FhirEmr(http, f"http://127.0.0.1:{port}").diagnoses_for([WANG])

    assert raised.value.reason == "无法连接 EMR（ConnectError）"


async def test_patients_are_looked_up_by_identifier(
    simulator: tuple[EmrSimulator, str], http: httpx.AsyncClient
) -> None:
    sim, url = simulator

    found = await FhirEmr(http, url).patients_for([WANG, HUANG])

    assert set(found) == {WANG, HUANG}
    assert all(isinstance(p, EmrPatient) and p.name and p.birth_date for p in found.values())
    assert found[WANG].reference.startswith("Patient/")
    assert [(c.method, c.path) for c in sim.calls] == [("GET", "/Patient")]


async def test_the_simulator_describes_itself(
    simulator: tuple[EmrSimulator, str], http: httpx.AsyncClient
) -> None:
    _, url = simulator

    response = await http.get(f"{url}/metadata")

    body = response.json()
    assert (response.status_code, body["resourceType"], body["fhirVersion"]) == (
        200,
        "CapabilityStatement",
        "4.0.1",
    )
    assert [r["type"] for r in body["rest"][0]["resource"]] == ["Patient", "Condition"]


# --- wire shapes the simulator does not produce -------------------------------------------------

BASE = "http://emr.test/fhir"


def mocked(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def bundle(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    links = [{"relation": "next", "url": next_url}] if next_url else []
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": r} for r in resources],
    }


def condition(cid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cid, **fields}


ICD = "http://hl7.org/fhir/sid/icd-10"


async def test_what_a_condition_may_look_like() -> None:
    wang_patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": RECORD_NO_SYSTEM, "value": WANG.value}],
    }
    answer = bundle(
        wang_patient,
        # text from the coding's display when code.text is missing; dateTime with offset
        condition(
            "c1",
            subject={"reference": f"{BASE}/Patient/p1/_history/3"},
            code={"coding": [{"system": ICD, "code": "O24.4", "display": "妊娠期糖尿病"}]},
            recordedDate="2025-03-01T23:30:00+08:00",
        ),
        # a logical reference by identifier; a partial onset date gives no day
        condition(
            "c2",
            subject={"identifier": {"system": RECORD_NO_SYSTEM, "value": WANG.value}},
            code={"coding": [{"system": ICD, "code": "o99.0"}], "text": "妊娠合并轻度贫血"},
            onsetDateTime="2024-11",
        ),
        # entered in error, and a local code only: not diagnoses to match
        condition(
            "c3",
            subject={"reference": "Patient/p1"},
            verificationStatus={"coding": [{"code": "entered-in-error"}]},
            code={"coding": [{"system": ICD, "code": "O13"}]},
        ),
        condition(
            "c4",
            subject={"reference": "Patient/p1"},
            code={"coding": [{"system": "urn:local", "code": "YB-1"}], "text": "保健指导"},
        ),
        # a patient nobody asked for
        condition(
            "c5",
            subject={"reference": "Patient/elsewhere"},
            code={"coding": [{"system": ICD, "code": "O13"}]},
        ),
    )
    async with mocked(lambda request: httpx.Response(200, json=answer)) as client:
        found = await FhirEmr(client, BASE).diagnoses_for([WANG])

    assert found == {
        WANG: [
            EmrDiagnosis("Condition/c1", "O24.4", "妊娠期糖尿病", dt.date(2025, 3, 1), None),
            EmrDiagnosis("Condition/c2", "O99.0", "妊娠合并轻度贫血", None, None),
        ]
    }


async def test_a_body_that_is_no_bundle_makes_the_emr_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, text="<html>维护中</html>", headers={"Content-Type": "text/html"}
        )

    async with mocked(handler) as client:
        with pytest.raises(EmrUnavailable) as raised:
            await FhirEmr(client, BASE).diagnoses_for([WANG])

    assert raised.value.reason == "EMR 的答复不是 JSON"


async def test_a_next_link_naming_another_host_is_fetched_from_the_configured_base() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if len(seen) == 1:
            return httpx.Response(
                200, json=bundle(next_url="http://10.0.0.5:8080/fhir/Condition?page=2")
            )
        return httpx.Response(200, json=bundle())

    async with mocked(handler) as client:
        await FhirEmr(client, BASE).diagnoses_for([WANG])

    assert seen[1] == f"{BASE}/Condition?page=2"


@given(
    system=st.text(min_size=1, max_size=20),
    value=st.text(min_size=1, max_size=20),
)
def test_search_tokens_survive_escaping(system: str, value: str) -> None:
    searched = f"{escape(system)}|{escape(value)},{escape(value)}|{escape(system)}"

    assert parse_tokens(searched) == [(system, value), (value, system)]
