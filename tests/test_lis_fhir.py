"""The LIS FHIR adapter against the simulator over HTTP: paging, mapping of every value
kind, malformed entries, failures; the backfill through the service, GraphQL and the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from api import cli
from domain.database import Database
from domain.errors import FieldError
from domain.lab.backfill import backfill_patient
from domain.lab.history import PulledResults, UpstreamUnavailable
from domain.lab.models import LabResult, LabResultAmendment
from domain.lab.normalise import normalise
from domain.lab.service import IncomingResult
from domain.settings import Settings
from integrations.lis.fhir import (
    EntryProblem,
    LisFhirClient,
    LisUnavailable,
    observation_to_result,
    read_bundle,
)
from integrations.lis.fhir_simulator import Fault, LisFhirSimulator, patient_id_for, serving
from tests.conftest import Api
from tests.lab_helpers import (
    cst,
    entry,
    gid,
    observation,
    reading,
    seed_patient,
    snomed,
)

TODAY = dt.date(2025, 6, 1)
GENERATED = "LIS1234567"  # the simulator generates this patient's years of results
PUT = "LIS0000001"  # tests give this patient's results exactly

BACKFILL = """
mutation Backfill($id: ID!) {
  backfillLabHistory(patientId: $id) {
    received stored corrected unchanged rejected proposals
    userErrors { field message code }
  }
}
"""


@pytest.fixture
def simulator() -> LisFhirSimulator:
    return LisFhirSimulator(today=TODAY, hang_s=1.0)


@pytest.fixture
def lis_url(simulator: LisFhirSimulator) -> Iterator[str]:
    with serving(simulator) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path, lis_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key="test-secret-key",
        lis_fhir_base_url=lis_url,
        lis_fhir_timeout_ms=3000,
    )


async def pull(
    url: str, identifier: str = PUT, **client: Any
) -> PulledResults | UpstreamUnavailable:
    lis = LisFhirClient(url, **{"timeout_s": 2.0, **client})
    return (await lis.pull([(7, identifier)]))[7]


def observation_requests(simulator: LisFhirSimulator) -> list[str]:
    return [r for r in simulator.requests if r.startswith("/Observation")]


# --- paging -----------------------------------------------------------------------------------


async def test_paging_follows_next_links_to_the_last_page(
    simulator: LisFhirSimulator, lis_url: str
) -> None:
    simulator.put(PUT, [entry(observation(f"o{n}", valueString="阴性")) for n in range(7)])

    pulled = await pull(lis_url, page_size=3)

    assert isinstance(pulled, PulledResults)
    assert [r.source_id for r in pulled.results] == [f"fhir:o{n}" for n in range(7)]
    assert pulled.problems == []
    patient = patient_id_for(PUT)
    assert simulator.requests == [
        f"/Patient?identifier={PUT}",
        f"/Observation?patient={patient}&category=laboratory&_count=3",
        f"/Observation?patient={patient}&category=laboratory&_getpagesoffset=3&_count=3",
        f"/Observation?patient={patient}&category=laboratory&_getpagesoffset=6&_count=3",
    ]


async def test_a_generated_history_spans_years_and_reads_completely(
    simulator: LisFhirSimulator, lis_url: str
) -> None:
    expected = len(simulator.entries(GENERATED))

    pulled = await pull(lis_url, GENERATED, page_size=10)

    assert isinstance(pulled, PulledResults)
    assert len(pulled.results) == expected
    assert len(observation_requests(simulator)) == -(-expected // 10)
    assert pulled.problems == []
    years = {r.specimen_at.year for r in pulled.results if r.specimen_at}
    assert max(years) == 2025
    assert min(years) < 2024
    # Deterministic: the same number and day give the same results.
    again = LisFhirSimulator(today=TODAY).entries(GENERATED)
    assert again == simulator.entries(GENERATED)


async def test_a_result_that_moves_between_pages_is_kept_once(
    simulator: LisFhirSimulator, lis_url: str
) -> None:
    same = entry(observation("dup", valueString="阴性"))
    simulator.put(PUT, [same, entry(observation("x", valueString="阴性")), same])

    pulled = await pull(lis_url, page_size=2)

    assert isinstance(pulled, PulledResults)
    assert [r.source_id for r in pulled.results] == ["fhir:dup", "fhir:x"]


async def test_an_identifier_the_lis_does_not_know_gives_no_results(lis_url: str) -> None:
    assert await pull(lis_url, "UNKNOWN-42") == PulledResults(known=False)


async def test_date_bounds_are_sent_to_the_server(
    simulator: LisFhirSimulator, lis_url: str
) -> None:
    simulator.put(
        PUT,
        [
            entry(observation("old", effective="2019-05-06T08:00:00+08:00", valueString="阴性")),
            entry(observation("new", valueString="阴性")),
        ],
    )
    lis = LisFhirClient(lis_url)

    pulled = await lis.history(7, PUT, since=cst(2024, 1, 1, 0, 0), until=cst(2025, 1, 1, 0, 0))

    assert [r.source_id for r in pulled.results] == ["fhir:new"]
    assert observation_requests(simulator)[0].endswith(
        "&date=ge2023-12-31T16%3A00%3A00Z&date=lt2024-12-31T16%3A00%3A00Z"
    )


# --- mapping ----------------------------------------------------------------------------------

TAKEN = cst(2024, 3, 1, 8, 30)
ISSUED = cst(2024, 3, 1, 11, 0)


def expected(obs_id: str, raw: str, **fields: Any) -> IncomingResult:
    values: dict[str, Any] = {
        "patient_id": 7,
        "source": "LIS",
        "source_id": f"fhir:{obs_id}",
        "raw_value": raw,
        "reported_at": ISSUED,
        "local_code": "MY-HBSAG",
        "loinc": "5196-1",
        "local_name": "乙肝表面抗原",
        "specimen_at": TAKEN,
    }
    values.update(fields)
    return IncomingResult(**values)


VALUE_KINDS: list[
    tuple[dict[str, Any], IncomingResult, tuple[float | None, str | None, str | None]]
] = [
    (
        observation(
            "quantity-comparator",
            valueQuantity={"value": 0.05, "comparator": "<", "unit": "IU/mL"},
            interpretation=reading("NEG"),
            referenceRange=[{"text": "<0.05"}],
        ),
        expected(
            "quantity-comparator",
            "<0.05",
            interpretation="NEG",
            unit="IU/mL",
            reference_range="<0.05",
        ),
        (0.05, "<", "NEGATIVE"),
    ),
    (
        observation(
            "sco-positive",
            valueQuantity={"value": 48.21, "unit": "S/CO"},
            interpretation=[*reading("POS"), *reading("A")],
            referenceRange=[{"high": {"value": 1.0}}],
        ),
        expected(
            "sco-positive",
            "48.21",
            interpretation="POS",
            unit="S/CO",
            reference_range="<1",
            abnormal_flag="A",
        ),
        (48.21, None, "POSITIVE"),
    ),
    (
        observation("snomed-positive", valueCodeableConcept=snomed(True)),
        expected("snomed-positive", "阳性"),
        (None, None, "POSITIVE"),
    ),
    (
        observation("snomed-negative", valueCodeableConcept=snomed(False, "阴性(-)")),
        expected("snomed-negative", "阴性(-)"),
        (None, None, "NEGATIVE"),
    ),
    (
        observation(
            "old-lis", loinc=None, local="MY-TP", name="梅毒螺旋体抗体", valueString="阳性"
        ),
        expected("old-lis", "阳性", loinc=None, local_code="MY-TP", local_name="梅毒螺旋体抗体"),
        (None, None, "POSITIVE"),
    ),
    (
        observation(
            "haemoglobin",
            loinc="718-7",
            local="XCG-HGB",
            name="血红蛋白",
            valueQuantity={"value": 156, "unit": "g/L"},
            interpretation=reading("H"),
            referenceRange=[{"low": {"value": 110}, "high": {"value": 150}}],
        ),
        expected(
            "haemoglobin",
            "156",
            loinc="718-7",
            local_code="XCG-HGB",
            local_name="血红蛋白",
            unit="g/L",
            reference_range="110-150",
            abnormal_flag="H",
        ),
        (156.0, None, None),
    ),
    (
        observation(
            "date-only", local=None, effective="2019-05-06", issued=None, valueString="阴性"
        ),
        expected(
            "date-only",
            "阴性",
            local_code=None,
            specimen_at=cst(2019, 5, 6, 0, 0),
            reported_at=cst(2019, 5, 6, 0, 0),
        ),
        (None, None, "NEGATIVE"),
    ),
    (
        observation(
            "titre",
            loinc="20507-0",
            local="MY-RPR",
            name="快速血浆反应素试验",
            valueRatio={"numerator": {"value": 1}, "denominator": {"value": 8}},
            interpretation=reading("POS"),
        ),
        expected(
            "titre",
            "1:8",
            loinc="20507-0",
            local_code="MY-RPR",
            local_name="快速血浆反应素试验",
            interpretation="POS",
        ),
        (None, None, "POSITIVE"),
    ),
    (
        observation(
            "period",
            effective=None,
            issued="2024-03-02T03:00:00Z",
            effectivePeriod={"start": "2024-03-01T08:30:00+08:00"},
            valueString="弱阳性",
        ),
        expected("period", "弱阳性", reported_at=dt.datetime(2024, 3, 2, 3, 0, tzinfo=dt.UTC)),
        (None, None, "WEAK_POSITIVE"),
    ),
]


async def test_every_value_kind_maps_to_an_incoming_result(
    simulator: LisFhirSimulator, lis_url: str
) -> None:
    simulator.put(PUT, [entry(resource) for resource, _, _ in VALUE_KINDS])

    pulled = await pull(lis_url)

    assert isinstance(pulled, PulledResults)
    assert pulled.problems == []
    assert pulled.results == [result for _, result, _ in VALUE_KINDS]
    readings = [normalise(r.raw_value, interpretation=r.interpretation) for r in pulled.results]
    assert [(v.numeric, v.comparator, v.qualitative) for v in readings] == [
        reading for _, _, reading in VALUE_KINDS
    ]


async def test_malformed_entries_are_skipped_and_reported(
    simulator: LisFhirSimulator, lis_url: str
) -> None:
    patient = patient_id_for(PUT)
    no_id = observation("x", valueString="阴性")
    del no_id["id"]
    simulator.put(
        PUT,
        [
            entry(observation("good-1", valueString="阴性")),
            "not an entry",
            {"fullUrl": "urn:uuid:1"},
            entry(no_id),
            entry(observation("no-code", loinc=None, local=None, valueString="阴性")),
            entry(observation("no-value", dataAbsentReason={"text": "标本溶血"})),
            entry(observation("bad-number", valueQuantity={"value": "abc"})),
            entry(observation("conflict", valueCodeableConcept=snomed(True, "阴性"))),
            entry(observation("elsewhere", patient="pt-someone-else", valueString="阴性")),
            entry(observation("withdrawn", status="entered-in-error", valueString="阳性")),
            entry(observation("no-time", effective=None, issued=None, valueString="阴性")),
            entry({"resourceType": "DiagnosticReport", "id": "r1"}),
            {"resource": {"resourceType": "Patient", "id": patient}, "search": {"mode": "include"}},
            entry(observation("good-2", patient=patient, valueString="阳性")),
        ],
    )

    pulled = await pull(lis_url)

    assert isinstance(pulled, PulledResults)
    assert [r.source_id for r in pulled.results] == ["fhir:good-1", "fhir:good-2"]
    assert pulled.problems == [
        FieldError("entry[1]", "条目没有 resource", "MALFORMED_ENTRY"),
        FieldError("entry[2]", "条目没有 resource", "MALFORMED_ENTRY"),
        FieldError("entry[3]", "Observation 缺少有效的 id", "MALFORMED_ENTRY"),
        FieldError("Observation/no-code", "Observation.code 没有可用的项目编码", "MALFORMED_ENTRY"),
        FieldError("Observation/no-value", "没有结果值（标本溶血）", "NO_VALUE"),
        FieldError("Observation/bad-number", "valueQuantity.value 不是有限数值", "MALFORMED_ENTRY"),
        FieldError(
            "Observation/conflict",
            "结果文字「阴性」与 SNOMED 编码 10828004 含义相反",
            "CONFLICTING_VALUE",
        ),
        FieldError(
            "Observation/elsewhere", "结果属于 Patient/pt-someone-else，不是本患者", "WRONG_PATIENT"
        ),
        FieldError(
            "Observation/withdrawn", "检验系统已作废该结果（status=entered-in-error）", "WITHDRAWN"
        ),
        FieldError(
            "Observation/no-time", "Observation 既没有采样时间也没有报告时间", "MALFORMED_ENTRY"
        ),
        FieldError(
            "DiagnosticReport/r1", "资源类型 DiagnosticReport 不是 Observation", "NOT_OBSERVATION"
        ),
    ]


def test_a_bundle_whose_entries_are_not_a_list_is_reported() -> None:
    results, problems = read_bundle({"resourceType": "Bundle", "entry": {"a": 1}}, 7)

    assert results == []
    assert problems == [FieldError("Bundle.entry", "Bundle.entry 不是列表", "MALFORMED_BUNDLE")]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_coding = st.fixed_dictionaries(
    {},
    optional={
        "system": st.sampled_from(["http://loinc.org", "http://snomed.info/sct", "urn:x"]) | _json,
        "code": st.sampled_from(["5196-1", "10828004", "260385009", "POS", "H"]) | _json,
        "display": _json,
    },
)
_concept = st.fixed_dictionaries(
    {},
    optional={
        "coding": st.lists(_coding, max_size=3) | _json,
        "text": st.sampled_from(["阳性", "阴性"]) | _json,
    },
)
_resource = st.fixed_dictionaries(
    {"resourceType": st.just("Observation") | _json},
    optional={
        "id": st.from_regex(r"\A[a-z0-9]{1,8}\Z") | _json,
        "status": st.sampled_from(["final", "entered-in-error"]) | _json,
        "code": _concept | _json,
        "subject": st.fixed_dictionaries(
            {"reference": st.sampled_from(["Patient/p", "x"]) | _json}
        ),
        "effectiveDateTime": st.sampled_from(
            ["2024-03-01", "2024-13-01", "0001-01-01T00:00:00+08:00"]
        )
        | _json,
        "issued": st.datetimes().map(lambda d: d.isoformat()) | _json,
        "valueQuantity": st.fixed_dictionaries(
            {}, optional={"value": _json, "comparator": _json, "unit": _json}
        ),
        "valueCodeableConcept": _concept | _json,
        "valueString": _json,
        "valueRatio": _json,
        "interpretation": st.lists(_concept, max_size=2) | _json,
        "referenceRange": st.lists(st.dictionaries(st.sampled_from(["low", "high", "text"]), _json))
        | _json,
    },
)


@given(resource=_resource)
def test_mapping_any_json_gives_a_result_or_a_reported_problem(resource: dict[str, Any]) -> None:
    try:
        result = observation_to_result(resource, 7, lis_patient="p")
    except EntryProblem as problem:
        problems = {
            "MALFORMED_ENTRY",
            "NO_VALUE",
            "CONFLICTING_VALUE",
            "WRONG_PATIENT",
            "WITHDRAWN",
            "NOT_OBSERVATION",
        }
        assert problem.code in problems  # noqa: PT017 (any input either maps or is refused)
        return
    assert result.source_id.startswith("fhir:")
    assert result.reported_at.tzinfo is not None
    normalise(result.raw_value, interpretation=result.interpretation)


# --- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "kind", "message"),
    [
        (Fault(500, "/Observation"), "HTTP_ERROR", "检验系统（LIS）FHIR 服务出错（HTTP 500）"),
        (Fault(503, "/Patient"), "HTTP_ERROR", "检验系统（LIS）FHIR 服务出错（HTTP 503）"),
        (
            Fault(502, "/Observation", after=1),
            "HTTP_ERROR",
            "检验系统（LIS）FHIR 服务出错（HTTP 502）",
        ),
        (
            Fault(400, "/Observation"),
            "REJECTED",
            "检验系统（LIS）拒绝了请求（HTTP 400），请检查配置",
        ),
        (
            Fault("timeout", "/Observation"),
            "TIMEOUT",
            "检验系统（LIS）FHIR 服务在 0.3 秒内没有响应",
        ),
        (Fault("garbage"), "BAD_RESPONSE", "检验系统（LIS）返回的内容不是 JSON"),
        (
            Fault("not-bundle", "/Observation"),
            "BAD_RESPONSE",
            "检验系统（LIS）返回的内容不是 FHIR Bundle",
        ),
    ],
)
async def test_upstream_failures_are_a_typed_error(
    simulator: LisFhirSimulator, lis_url: str, fault: Fault, kind: str, message: str
) -> None:
    simulator.put(PUT, [entry(observation(f"o{n}", valueString="阴性")) for n in range(4)])
    simulator.faults.append(fault)

    pulled = await pull(lis_url, timeout_s=0.3, page_size=2)

    assert isinstance(pulled, LisUnavailable)
    assert (pulled.system, pulled.kind, pulled.message) == ("LIS", kind, message)


async def test_a_refused_connection_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    pulled = await pull(f"http://127.0.0.1:{port}")

    assert isinstance(pulled, LisUnavailable)
    assert (pulled.kind, pulled.message) == (
        "UNREACHABLE",
        "无法连接检验系统（LIS）FHIR 服务：ConnectError",
    )


async def test_a_slow_lis_is_cut_off_by_the_deadline(
    simulator: LisFhirSimulator, lis_url: str
) -> None:
    simulator.put(PUT, [entry(observation(f"o{n}", valueString="阴性")) for n in range(6)])
    simulator.latency_s = 0.2

    pulled = await pull(lis_url, page_size=2, deadline_s=0.5)

    assert isinstance(pulled, LisUnavailable)
    assert (pulled.kind, pulled.message) == ("TIMEOUT", "检验系统（LIS）未在 0.5 秒内返回全部结果")


async def test_one_patient_failing_does_not_fail_the_others(
    simulator: LisFhirSimulator, lis_url: str
) -> None:
    simulator.put(PUT, [entry(observation("mine", valueString="阴性"))])
    simulator.faults.append(Fault(500, "/Patient", after=1))
    lis = LisFhirClient(lis_url, concurrency=1)

    pulled = await lis.pull([(1, PUT), (2, GENERATED)])

    assert isinstance(pulled[1], PulledResults)
    assert [r.source_id for r in pulled[1].results] == ["fhir:mine"]
    assert isinstance(pulled[2], LisUnavailable)


# --- backfill ---------------------------------------------------------------------------------


async def lab_rows(db: Database) -> list[LabResult]:
    async with db.reader() as session:
        return list((await session.scalars(select(LabResult).order_by(LabResult.id))).all())


def generated_counts(simulator: LisFhirSimulator) -> tuple[int, list[str]]:
    """(results the dictionary maps, ids of the ALT results it does not)."""
    resources = [e["resource"] for e in simulator.entries(GENERATED) if isinstance(e, dict)]
    alt = [r["id"] for r in resources if r["code"]["coding"][-1]["code"] == "SH-ALT"]
    return len(resources) - len(alt), alt


async def test_backfill_stores_the_whole_history_and_a_second_run_stores_nothing(
    db: Database, simulator: LisFhirSimulator, lis_url: str
) -> None:
    patient_id, _ = await seed_patient(
        db, lis_record_no=GENERATED, lmp=TODAY - dt.timedelta(weeks=20)
    )
    lis = LisFhirClient(lis_url)
    mapped, alt = generated_counts(simulator)
    unmapped = [
        FieldError(
            f"Observation/{i}", "检验项目 SH-ALT（谷丙转氨酶） 未在数据字典中映射", "UNMAPPED_ITEM"
        )
        for i in alt
    ]

    first = await backfill_patient(db, lis, patient_id)
    rows_after_first = await lab_rows(db)
    second = await backfill_patient(db, lis, patient_id)

    assert (first.received, first.stored, first.corrected, first.unchanged) == (
        mapped + len(alt),
        mapped,
        0,
        0,
    )
    assert first.problems == unmapped
    assert (second.stored, second.corrected, second.unchanged, second.problems) == (
        0,
        0,
        mapped,
        unmapped,
    )
    assert len(await lab_rows(db)) == len(rows_after_first) == mapped
    assert {r.source_id for r in rows_after_first} == {
        f"fhir:{e['resource']['id']}" for e in simulator.entries(GENERATED) if isinstance(e, dict)
    } - {f"fhir:{i}" for i in alt}


async def test_a_value_the_lis_corrected_since_is_an_amendment_on_the_next_backfill(
    db: Database, simulator: LisFhirSimulator, lis_url: str
) -> None:
    patient_id, _ = await seed_patient(db)
    simulator.put(PUT, [entry(observation("h1", valueString="阴性"))])
    lis = LisFhirClient(lis_url)
    await backfill_patient(db, lis, patient_id)
    simulator.put(PUT, [entry(observation("h1", valueString="阳性"))])

    outcome = await backfill_patient(db, lis, patient_id)

    [row] = await lab_rows(db)
    async with db.reader() as session:
        [amendment] = (await session.scalars(select(LabResultAmendment))).all()
    assert (outcome.stored, outcome.corrected, outcome.proposals) == (0, 1, 1)
    assert (
        row.value_qualitative,
        amendment.before["value_text"],
        amendment.after["value_text"],
    ) == (
        "POSITIVE",
        "阴性",
        "阳性",
    )


async def test_backfill_when_the_lis_is_down_stores_nothing(
    db: Database, simulator: LisFhirSimulator, lis_url: str
) -> None:
    patient_id, _ = await seed_patient(db, lis_record_no=GENERATED)
    simulator.faults.append(Fault(503, "/Observation", after=2))

    outcome = await backfill_patient(db, LisFhirClient(lis_url, page_size=10), patient_id)

    assert outcome.unavailable is not None
    assert outcome.describe() == "失败：检验系统（LIS）FHIR 服务出错（HTTP 503）"
    assert await lab_rows(db) == []


# --- GraphQL ----------------------------------------------------------------------------------


async def test_backfill_lab_history_mutation_returns_the_counts(
    api: Api, simulator: LisFhirSimulator
) -> None:
    patient_id, _ = await seed_patient(api.services.db)
    simulator.put(
        PUT,
        [
            entry(observation("a", valueString="阴性")),
            entry(
                observation(
                    "b",
                    loinc="1742-6",
                    local="SH-ALT",
                    name="谷丙转氨酶",
                    valueQuantity={"value": 23, "unit": "U/L"},
                )
            ),
        ],
    )

    first = await api.gql(BACKFILL, {"id": gid("Patient", patient_id)})
    again = await api.gql(BACKFILL, {"id": gid("Patient", patient_id)})

    unmapped = {
        "field": "Observation/b",
        "message": "检验项目 SH-ALT（谷丙转氨酶） 未在数据字典中映射",
        "code": "UNMAPPED_ITEM",
    }
    assert first == {
        "data": {
            "backfillLabHistory": {
                "received": 2,
                "stored": 1,
                "corrected": 0,
                "unchanged": 0,
                "rejected": 1,
                "proposals": 0,
                "userErrors": [unmapped],
            }
        }
    }
    assert again["data"]["backfillLabHistory"] == {
        "received": 2,
        "stored": 0,
        "corrected": 0,
        "unchanged": 1,
        "rejected": 1,
        "proposals": 0,
        "userErrors": [unmapped],
    }


async def test_backfill_lab_history_reports_an_unavailable_lis_as_a_user_error(
    api: Api, simulator: LisFhirSimulator
) -> None:
    patient_id, _ = await seed_patient(api.services.db)
    simulator.faults.append(Fault(500))

    body = await api.gql(BACKFILL, {"id": gid("Patient", patient_id)})

    assert body["data"]["backfillLabHistory"]["userErrors"] == [
        {
            "field": "patientId",
            "message": "检验系统（LIS）FHIR 服务出错（HTTP 500）",
            "code": "UPSTREAM_UNAVAILABLE",
        }
    ]
    assert body["data"]["backfillLabHistory"]["stored"] == 0


async def test_backfill_lab_history_is_for_doctors_only(
    api: Api, simulator: LisFhirSimulator
) -> None:
    patient_id, _ = await seed_patient(api.services.db)
    simulator.put(PUT, [entry(observation("a", valueString="阴性"))])

    body = await api.gql(BACKFILL, {"id": gid("Patient", patient_id)}, as_user="auditor")

    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert await lab_rows(api.services.db) == []
    assert simulator.requests == []


# --- CLI --------------------------------------------------------------------------------------


def configure(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MHUB_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MHUB_SECRET_KEY", "cli-test-key")
    monkeypatch.setenv("LIS_FHIR_BASE_URL", str(settings.lis_fhir_base_url))


async def test_cli_backfills_with_a_progress_line_per_patient_and_is_idempotent(
    db: Database,
    settings: Settings,
    simulator: LisFhirSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first_id, _ = await seed_patient(db, 1, lis_record_no=PUT)
    second_id, _ = await seed_patient(db, 2, lis_record_no="LIS0000002")
    no_lis_id, _ = await seed_patient(db, 3, lis_record_no=None)
    simulator.put(PUT, [entry(observation(f"o{n}", valueString="阴性")) for n in range(3)])
    simulator.put("LIS0000002", [entry(observation("p", valueString="阳性"))])
    configure(monkeypatch, settings)

    code = await asyncio.to_thread(
        cli.main, ["lis-backfill", "--patient", PUT, "--patient", str(second_id)]
    )
    first = capsys.readouterr()
    again_code = await asyncio.to_thread(cli.main, ["lis-backfill", "--all"])
    again = capsys.readouterr()

    assert (code, again_code) == (0, 0)
    assert first.out == (
        f"[1/2] 患者 {first_id}（{PUT}）：收到 3，新增 3，更正 0，未变 0，未入库 0\n"
        f"[2/2] 患者 {second_id}（LIS0000002）：收到 1，新增 1，更正 0，未变 0，未入库 0，新的高危因素建议 1\n"
        "完成：2 位患者，新增 4，更正 0，未变 0，未入库 0，失败 0\n"
    )
    assert again.out == (
        f"[1/2] 患者 {first_id}（{PUT}）：收到 3，新增 0，更正 0，未变 3，未入库 0\n"
        f"[2/2] 患者 {second_id}（LIS0000002）：收到 1，新增 0，更正 0，未变 1，未入库 0\n"
        "完成：2 位患者，新增 0，更正 0，未变 4，未入库 0，失败 0\n"
    )
    assert no_lis_id not in {r.patient_id for r in await lab_rows(db)}
    async with db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(LabResult)) == 4


async def test_cli_exits_1_when_the_lis_fails_and_2_on_bad_arguments(
    db: Database,
    settings: Settings,
    simulator: LisFhirSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    patient_id, _ = await seed_patient(db, lis_record_no=PUT)
    configure(monkeypatch, settings)
    simulator.faults.append(Fault(500))

    failed = await asyncio.to_thread(cli.main, ["lis-backfill", "--patient", PUT])
    failed_out = capsys.readouterr()
    unknown = await asyncio.to_thread(cli.main, ["lis-backfill", "--patient", "LIS9999999"])
    unknown_out = capsys.readouterr()
    monkeypatch.delenv("LIS_FHIR_BASE_URL")
    unconfigured = await asyncio.to_thread(cli.main, ["lis-backfill", "--all"])
    unconfigured_out = capsys.readouterr()

    assert failed == 1
    assert failed_out.out == (
        f"[1/1] 患者 {patient_id}（{PUT}）：失败：检验系统（LIS）FHIR 服务出错（HTTP 500）\n"
        "完成：1 位患者，新增 0，更正 0，未变 0，未入库 0，失败 1\n"
    )
    assert (unknown, unknown_out.err) == (2, "错误：找不到患者 LIS9999999\n")
    assert (unconfigured, unconfigured_out.err) == (
        2,
        "错误：未配置检验系统 FHIR 服务（LIS_FHIR_BASE_URL）\n",
    )
