"""1.28.8: every result the hospital has for a woman, local and live from the LIS FHIR
server, merged (one row per result, listing its sources), filtered, paged; with the
LIS down the local rows come back with an UPSTREAM_UNAVAILABLE error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.auth.actor import Actor, Role
from domain.database import Database
from domain.lab.amend import Amendment, amend_lab_result
from domain.lab.history import LocalRows, PulledRows
from domain.lab.mapping import LabDictionary
from domain.lab.models import LabResult
from domain.lab.service import IncomingResult, store_results
from domain.settings import Settings
from integrations.lis.fhir_simulator import Fault, LisFhirSimulator, serving
from resolvers.lab.history_loaders import history_providers
from tests.conftest import Api
from tests.lab_helpers import cst, entry, gid, incoming, observation, seed_patient, snomed

PUT = "LIS0000001"
DOCTOR = Actor(user_id=None, username="doctor", roles=frozenset({Role.DOCTOR}))

HISTORY = """
query History($id: ID!, $items: [String!], $from: Date, $to: Date, $first: Int, $after: String) {
  node(id: $id) {
    ... on Patient {
      labHistory(items: $items, from: $from, to: $to, first: $first, after: $after) {
        totalCount
        edges {
          cursor
          node { itemCode valueText valueQualitative testedAt sources amended labResult { id } }
        }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
}
"""


@pytest.fixture
def simulator() -> LisFhirSimulator:
    return LisFhirSimulator(today=dt.date(2025, 6, 1), hang_s=2.0)


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
        lis_fhir_timeout_ms=1000,
    )


async def store(db: Database, results: list[IncomingResult]) -> list[LabResult]:
    async with db.transaction() as session:
        dictionary = await LabDictionary.load(session)
        outcome = await store_results(session, dictionary, results)
        assert outcome.errors == []
        return outcome.stored


class Seeded:
    def __init__(self, patient_id: int, rows: dict[str, LabResult]) -> None:
        self.patient_id = patient_id
        self.rows = rows

    def lab(self, key: str) -> dict[str, str]:
        return {"id": gid("LabResult", self.rows[key].id)}


async def seed(db: Database, simulator: LisFhirSimulator) -> Seeded:
    """Local results (received over HL7 and one earlier backfill) and the LIS's own copy."""
    patient_id, _ = await seed_patient(db, lis_record_no=PUT)
    hgb, hbsag, hiv, plt, glu = await store(
        db,
        [
            incoming(
                patient_id,
                "HL7-1",
                "118",
                local_code="XCG-HGB",
                unit="g/L",
                specimen_at=cst(2024, 3, 1, 8, 30),
            ),
            incoming(
                patient_id,
                "HL7-2",
                "阴性",
                local_code="MY-HBSAG",
                specimen_at=cst(2024, 3, 1, 8, 30),
            ),
            incoming(
                patient_id, "HL7-3", "阳性", local_code="MY-HIV", specimen_at=cst(2024, 3, 15, 9, 0)
            ),
            incoming(
                patient_id, "fhir:plt-1", "230", local_code="XCG-PLT", specimen_at=cst(2023, 9, 9)
            ),
            incoming(patient_id, "HL7-4", "4.6", local_code="SH-GLU", specimen_at=cst(2021, 6, 1)),
        ],
    )
    await amend_lab_result(db, DOCTOR, hiv.id, Amendment(qualitative="NEGATIVE", reason="确证阴性"))
    simulator.put(
        PUT,
        [
            # Same item, minute and value as HL7-1 (the LIS adds seconds).
            entry(
                observation(
                    "hgb-1",
                    loinc="718-7",
                    local="XCG-HGB",
                    name="血红蛋白",
                    effective="2024-03-01T08:30:40+08:00",
                    valueQuantity={"value": 118, "unit": "g/L"},
                )
            ),
            entry(
                observation(
                    "hbsag-1",
                    effective="2024-03-01T08:30:00+08:00",
                    valueCodeableConcept=snomed(False),
                )
            ),
            # The LIS's original of the result a doctor amended.
            entry(
                observation(
                    "hiv-1",
                    loinc="7918-6",
                    local="MY-HIV",
                    name="HIV抗体",
                    effective="2024-03-15T09:00:00+08:00",
                    valueString="阳性",
                )
            ),
            # Backfilled before; the LIS corrected it since: still the same result.
            entry(
                observation(
                    "plt-1",
                    loinc="777-3",
                    local="XCG-PLT",
                    name="血小板计数",
                    effective="2023-09-09T08:30:00+08:00",
                    valueQuantity={"value": 231, "unit": "10^9/L"},
                )
            ),
            # Only in the LIS: years before MaternityHub.
            entry(
                observation(
                    "hgb-0",
                    loinc="718-7",
                    local=None,
                    name="血红蛋白",
                    effective="2019-05-06T08:00:00+08:00",
                    valueQuantity={"value": 121, "unit": "g/L"},
                )
            ),
            # Not in the dictionary: not shown.
            entry(
                observation(
                    "alt-1",
                    loinc="1742-6",
                    local="SH-ALT",
                    name="谷丙转氨酶",
                    valueQuantity={"value": 23, "unit": "U/L"},
                )
            ),
        ],
    )
    rows = {"hgb": hgb, "hbsag": hbsag, "hiv": hiv, "plt": plt, "glu": glu}
    return Seeded(patient_id, rows)


def row(
    item: str,
    text: str,
    qualitative: str | None,
    at: dt.datetime,
    sources: list[str],
    lab: dict[str, str] | None,
    amended: bool = False,
) -> dict[str, Any]:
    return {
        "itemCode": item,
        "valueText": text,
        "valueQualitative": qualitative,
        "testedAt": at.isoformat(),
        "sources": sources,
        "amended": amended,
        "labResult": lab,
    }


def full_history(s: Seeded) -> list[dict[str, Any]]:
    both = ["LOCAL", "LIS"]
    return [
        row("HIV", "阴性", "NEGATIVE", cst(2024, 3, 15, 9, 0), both, s.lab("hiv"), amended=True),
        row("HBSAG", "阴性", "NEGATIVE", cst(2024, 3, 1, 8, 30), both, s.lab("hbsag")),
        row("HGB", "118", None, cst(2024, 3, 1, 8, 30), both, s.lab("hgb")),
        row("PLT", "230", None, cst(2023, 9, 9, 8, 30), both, s.lab("plt")),
        row("GLU", "4.6", None, cst(2021, 6, 1, 8, 30), ["LOCAL"], s.lab("glu")),
        row("HGB", "121", None, cst(2019, 5, 6, 8, 0), ["LIS"], None),
    ]


async def history(api: Api, patient_id: int, **args: Any) -> dict[str, Any]:
    body: dict[str, Any] = await api.gql(HISTORY, {"id": gid("Patient", patient_id), **args})
    return body


def nodes(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in body["data"]["node"]["labHistory"]["edges"]]


async def test_local_and_lis_results_are_merged_into_one_row_per_result(
    api: Api, simulator: LisFhirSimulator
) -> None:
    seeded = await seed(api.services.db, simulator)

    body = await history(api, seeded.patient_id, first=20)

    assert "errors" not in body, body
    assert nodes(body) == full_history(seeded)
    assert body["data"]["node"]["labHistory"]["totalCount"] == 6


async def test_items_and_dates_filter_every_source(api: Api, simulator: LisFhirSimulator) -> None:
    seeded = await seed(api.services.db, simulator)
    everything = full_history(seeded)

    haemoglobin = await history(api, seeded.patient_id, items=["hgb"])
    window = await history(api, seeded.patient_id, **{"from": "2021-06-01", "to": "2024-03-01"})

    assert nodes(haemoglobin) == [everything[2], everything[5]]
    assert nodes(window) == everything[1:5]
    assert [r for r in simulator.requests if r.startswith("/Observation")][-1].endswith(
        "&date=ge2021-05-31T16%3A00%3A00Z&date=lt2024-03-01T16%3A00%3A00Z"
    )


async def test_pages_follow_each_other_with_cursors(api: Api, simulator: LisFhirSimulator) -> None:
    seeded = await seed(api.services.db, simulator)
    seen: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        body = await history(api, seeded.patient_id, first=4, after=after)
        assert "errors" not in body, body
        seen += nodes(body)
        info = body["data"]["node"]["labHistory"]["pageInfo"]
        pages.append(info)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]

    assert seen == full_history(seeded)
    assert [(p["hasNextPage"], p["hasPreviousPage"]) for p in pages] == [
        (True, False),
        (False, True),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"after": "not-a-cursor"}, "无效的分页游标：not-a-cursor"),
        ({"first": 500}, "first 应在0到200之间"),
        ({"from": "2024-03-02", "to": "2024-03-01"}, "from 不能晚于 to"),
    ],
)
async def test_bad_arguments_are_bad_user_input(
    api: Api, args: dict[str, Any], message: str
) -> None:
    patient_id, _ = await seed_patient(api.services.db)

    body = await history(api, patient_id, **args)

    assert body["data"] == {"node": None}
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        (message, "BAD_USER_INPUT")
    ]


@pytest.mark.parametrize("fault", [Fault(500, "/Observation"), Fault("timeout", "/Patient")])
async def test_with_the_lis_down_local_rows_come_with_upstream_unavailable(
    api: Api, simulator: LisFhirSimulator, fault: Fault
) -> None:
    seeded = await seed(api.services.db, simulator)
    simulator.faults.append(fault)

    body = await history(api, seeded.patient_id, first=20)

    local = [{**r, "sources": ["LOCAL"]} for r in full_history(seeded) if r["labResult"]]
    assert nodes(body) == local
    message = (
        "检验系统（LIS）FHIR 服务出错（HTTP 500）"
        if fault.kind == 500
        # At request time the whole read is bounded by the timeout.
        else "检验系统（LIS）未在 1 秒内返回全部结果"
    )
    assert body["errors"] == [
        {
            "message": message,
            "path": ["node", "labHistory"],
            "extensions": {"code": "UPSTREAM_UNAVAILABLE", "system": "LIS"},
        }
    ]


async def test_one_lis_read_serves_every_page_of_a_request(
    api: Api, simulator: LisFhirSimulator
) -> None:
    seeded = await seed(api.services.db, simulator)
    query = """
    query Twice($id: ID!) {
      node(id: $id) {
        ... on Patient {
          a: labHistory(first: 1) { edges { node { itemCode } } }
          b: labHistory(first: 3) { edges { node { itemCode } } }
        }
      }
    }
    """

    body = await api.gql(query, {"id": gid("Patient", seeded.patient_id)})

    assert body == {
        "data": {
            "node": {
                "a": {"edges": [{"node": {"itemCode": "HIV"}}]},
                "b": {"edges": [{"node": {"itemCode": c}} for c in ("HIV", "HBSAG", "HGB")]},
            }
        }
    }
    assert len([r for r in simulator.requests if r.startswith("/Patient")]) == 1


async def test_a_patient_without_an_lis_number_is_read_locally_only(
    api: Api, simulator: LisFhirSimulator
) -> None:
    patient_id, _ = await seed_patient(api.services.db, lis_record_no=None)
    [stored] = await store(api.services.db, [incoming(patient_id, "HL7-9", "阴性")])

    body = await history(api, patient_id)

    assert nodes(body) == [
        row(
            "HBSAG",
            "阴性",
            "NEGATIVE",
            cst(2024, 3, 1),
            ["LOCAL"],
            {"id": gid("LabResult", stored.id)},
        )
    ]
    assert simulator.requests == []


def test_the_lis_is_a_source_only_when_configured(db: Database, settings: Settings) -> None:
    configured = history_providers(db, settings)
    local_only = history_providers(
        db, Settings(data_dir=settings.data_dir, database_url=settings.database_url, secret_key="k")
    )

    assert [type(p) for p in configured] == [LocalRows, PulledRows]
    assert [p.name for p in configured] == ["LOCAL", "LIS"]
    assert [type(p) for p in local_only] == [LocalRows]
