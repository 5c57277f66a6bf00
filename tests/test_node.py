"""Relay `node(id)` for every type, and the lab results and ultrasound exams reached from it."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from domain.lab.models import LabResult
from domain.ultrasound.models import UltrasoundExam
from graphql_schema.base import from_global_id, to_global_id
from tests.conftest import Api
from tests.helpers import RECORD_VISIT, TODAY, add_factor, book, register

NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id }
}
"""

LAB_NODE = """
query Lab($id: ID!) {
  node(id: $id) {
    __typename id
    ... on LabResult {
      itemCode itemName valueNumeric valueQualitative valueText unit referenceRange
      abnormalFlag reportedAt source sourceId amended
    }
  }
}
"""

EXAM_NODE = """
query Exam($id: ID!) {
  node(id: $id) {
    __typename id
    ... on UltrasoundExam {
      examDate reportText ntMm crlMm gestationalAge { text } extractionStatus source
    }
  }
}
"""

LAB_RESULTS = """
query Labs($id: ID!, $first: Int, $after: String, $itemCode: String) {
  node(id: $id) {
    ... on Patient {
      labResults(first: $first, after: $after, itemCode: $itemCode) {
        totalCount
        edges { cursor node { id itemCode valueNumeric } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
}
"""

PREGNANCY_EXAMS = """
query Exams($id: ID!) {
  node(id: $id) { ... on Pregnancy { ultrasoundExams { id examDate ntMm extractionStatus } } }
}
"""

REPORTED = dt.datetime(2024, 3, 1, 8, 30, tzinfo=dt.UTC)


def raw_id(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def insert_labs(api: Api, patient_id: str, rows: list[tuple[str, float]]) -> list[str]:
    """Store lab results for a patient in the given order; their global ids, oldest first."""
    _, patient_db_id = from_global_id(patient_id)
    stored = [
        LabResult(
            patient_id=patient_db_id,
            item_code=item_code,
            item_name={"HGB": "血红蛋白", "HBSAG": "乙肝表面抗原"}[item_code],
            value_numeric=value,
            unit="g/L" if item_code == "HGB" else "IU/mL",
            reported_at=REPORTED + dt.timedelta(days=n),
            source="LIS",
            source_id=f"LIS-{patient_db_id}-{n}",
        )
        for n, (item_code, value) in enumerate(rows)
    ]
    async with api.services.db.transaction() as session:
        session.add_all(stored)
        await session.flush()
        return [to_global_id("LabResult", row.id) for row in stored]


async def labs(api: Api, patient_id: str, **args: Any) -> dict[str, Any]:
    body = await api.gql(LAB_RESULTS, {"id": patient_id, **args})
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["node"]["labResults"]
    return connection


async def test_node_returns_every_clinical_type_by_its_global_id(api: Api) -> None:
    patient_id = await register(api, 1)
    pregnancy_id = (await book(api, patient_id))["id"]
    visit = await api.gql(
        RECORD_VISIT, {"input": {"pregnancyId": pregnancy_id, "visitDate": TODAY.isoformat()}}
    )
    visit_id = visit["data"]["recordVisit"]["visit"]["id"]
    factor_id = (await add_factor(api, pregnancy_id, "Y-GDM"))["id"]

    found = {
        type_name: (await api.gql(NODE, {"id": global_id}))
        for type_name, global_id in (
            ("Patient", patient_id),
            ("Pregnancy", pregnancy_id),
            ("PrenatalVisit", visit_id),
            ("RiskFactor", factor_id),
        )
    }

    assert found == {
        "Patient": {"data": {"node": {"__typename": "Patient", "id": patient_id}}},
        "Pregnancy": {"data": {"node": {"__typename": "Pregnancy", "id": pregnancy_id}}},
        "PrenatalVisit": {"data": {"node": {"__typename": "PrenatalVisit", "id": visit_id}}},
        "RiskFactor": {"data": {"node": {"__typename": "RiskFactor", "id": factor_id}}},
    }


async def test_a_lab_result_is_reachable_by_its_global_id(api: Api) -> None:
    patient_id = await register(api, 1)
    [lab_id] = await insert_labs(api, patient_id, [("HGB", 112.0)])

    body = await api.gql(LAB_NODE, {"id": lab_id})

    assert body == {
        "data": {
            "node": {
                "__typename": "LabResult",
                "id": lab_id,
                "itemCode": "HGB",
                "itemName": "血红蛋白",
                "valueNumeric": 112.0,
                "valueQualitative": None,
                "valueText": None,
                "unit": "g/L",
                "referenceRange": None,
                "abnormalFlag": None,
                "reportedAt": REPORTED.isoformat(),
                "source": "LIS",
                "sourceId": f"LIS-{from_global_id(patient_id)[1]}-0",
                "amended": False,
            }
        }
    }


async def test_lab_results_are_paged_newest_first_and_filtered_by_item(api: Api) -> None:
    patient_id = await register(api, 1)
    other_patient = await register(api, 2)
    ids = await insert_labs(
        api,
        patient_id,
        [("HGB", 118.0), ("HBSAG", 0.01), ("HGB", 109.0), ("HBSAG", 0.02), ("HGB", 104.0)],
    )
    await insert_labs(api, other_patient, [("HGB", 130.0), ("HBSAG", 0.03)])
    newest_first = list(reversed(ids))

    first = await labs(api, patient_id, first=2)
    second = await labs(api, patient_id, first=2, after=first["pageInfo"]["endCursor"])
    third = await labs(api, patient_id, first=2, after=second["pageInfo"]["endCursor"])

    pages = [[e["node"]["id"] for e in page["edges"]] for page in (first, second, third)]
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]
    assert [page["totalCount"] for page in (first, second, third)] == [5, 5, 5]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][-1]["cursor"],
    }
    assert second["pageInfo"]["hasNextPage"] is True
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert third["pageInfo"]["hasNextPage"] is False
    assert first["edges"][0]["node"] == {"id": ids[4], "itemCode": "HGB", "valueNumeric": 104.0}

    hgb = await labs(api, patient_id, itemCode="HGB")
    hgb_page = await labs(api, patient_id, itemCode="HGB", first=1)
    hgb_rest = await labs(
        api, patient_id, itemCode="HGB", first=5, after=hgb_page["pageInfo"]["endCursor"]
    )
    none = await labs(api, patient_id, itemCode="TSH")

    assert [e["node"]["id"] for e in hgb["edges"]] == [ids[4], ids[2], ids[0]]
    assert hgb["totalCount"] == 3
    assert hgb["pageInfo"]["hasNextPage"] is False
    assert [e["node"]["id"] for e in hgb_page["edges"]] == [ids[4]]
    assert hgb_page["pageInfo"]["hasNextPage"] is True
    assert hgb_page["totalCount"] == 3
    assert [e["node"]["id"] for e in hgb_rest["edges"]] == [ids[2], ids[0]]
    assert hgb_rest["pageInfo"]["hasNextPage"] is False
    assert none["edges"] == []
    assert none["totalCount"] == 0
    assert none["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


async def test_lab_results_of_several_patients_in_one_request_stay_apart(api: Api) -> None:
    first_patient = await register(api, 1)
    second_patient = await register(api, 2)
    mine = await insert_labs(api, first_patient, [("HGB", 118.0), ("HGB", 110.0)])
    theirs = await insert_labs(api, second_patient, [("HGB", 125.0)])
    query = """
    query Both($a: ID!, $b: ID!) {
      a: node(id: $a) { ... on Patient { labResults(first: 1) { totalCount edges { node { id } } } } }
      b: node(id: $b) { ... on Patient { labResults(first: 1) { totalCount edges { node { id } } } } }
    }
    """

    body = await api.gql(query, {"a": first_patient, "b": second_patient})

    assert body["data"]["a"]["labResults"] == {
        "totalCount": 2,
        "edges": [{"node": {"id": mine[1]}}],
    }
    assert body["data"]["b"]["labResults"] == {
        "totalCount": 1,
        "edges": [{"node": {"id": theirs[0]}}],
    }


async def test_a_bad_lab_cursor_or_page_size_is_bad_user_input(api: Api) -> None:
    patient_id = await register(api, 1)
    await insert_labs(api, patient_id, [("HGB", 118.0)])

    bad_cursor = await api.gql(LAB_RESULTS, {"id": patient_id, "after": "not-a-cursor"})
    too_many = await api.gql(LAB_RESULTS, {"id": patient_id, "first": 5000})

    codes = {
        "bad cursor": [e["extensions"]["code"] for e in bad_cursor["errors"]],
        "first: 5000": [e["extensions"]["code"] for e in too_many["errors"]],
    }
    assert codes == {"bad cursor": ["BAD_USER_INPUT"], "first: 5000": ["BAD_USER_INPUT"]}


async def test_ultrasound_exams_are_reachable_by_id_and_listed_by_date(api: Api) -> None:
    patient_id = await register(api, 1)
    pregnancy_id = (await book(api, patient_id))["id"]
    _, patient_db_id = from_global_id(patient_id)
    _, pregnancy_db_id = from_global_id(pregnancy_id)
    later = UltrasoundExam(
        patient_id=patient_db_id,
        pregnancy_id=pregnancy_db_id,
        exam_date=TODAY - dt.timedelta(days=2),
        report_text="宫内单活胎，NT 1.6mm，CRL 58mm。",
        nt_mm=1.6,
        crl_mm=58.0,
        gestational_days=82,
        extraction_status="EXTRACTED",
        source="RIS",
        source_id="RIS-2",
    )
    earlier = UltrasoundExam(
        patient_id=patient_db_id,
        pregnancy_id=pregnancy_db_id,
        exam_date=TODAY - dt.timedelta(days=20),
        report_text="宫内早孕，NT 未测。",
        gestational_days=64,
        extraction_status="NOT_MEASURED",
        source="RIS",
        source_id="RIS-1",
    )
    async with api.services.db.transaction() as session:
        session.add_all([later, earlier])
        await session.flush()
        later_id = to_global_id("UltrasoundExam", later.id)
        earlier_id = to_global_id("UltrasoundExam", earlier.id)

    by_id = await api.gql(EXAM_NODE, {"id": later_id})
    listed = await api.gql(PREGNANCY_EXAMS, {"id": pregnancy_id})

    assert by_id == {
        "data": {
            "node": {
                "__typename": "UltrasoundExam",
                "id": later_id,
                "examDate": (TODAY - dt.timedelta(days=2)).isoformat(),
                "reportText": "宫内单活胎，NT 1.6mm，CRL 58mm。",
                "ntMm": 1.6,
                "crlMm": 58.0,
                "gestationalAge": {"text": "11+5"},
                "extractionStatus": "EXTRACTED",
                "source": "RIS",
            }
        }
    }
    assert listed["data"]["node"]["ultrasoundExams"] == [
        {
            "id": earlier_id,
            "examDate": (TODAY - dt.timedelta(days=20)).isoformat(),
            "ntMm": None,
            "extractionStatus": "NOT_MEASURED",
        },
        {
            "id": later_id,
            "examDate": (TODAY - dt.timedelta(days=2)).isoformat(),
            "ntMm": 1.6,
            "extractionStatus": "EXTRACTED",
        },
    ]


async def test_unknown_or_malformed_ids_give_null_without_errors(api: Api) -> None:
    await register(api, 1)
    ids = {
        "unknown patient": to_global_id("Patient", 424242),
        "unknown pregnancy": to_global_id("Pregnancy", 424242),
        "unknown visit": to_global_id("PrenatalVisit", 424242),
        "unknown factor": to_global_id("RiskFactor", 424242),
        "unknown lab result": to_global_id("LabResult", 424242),
        "unknown exam": to_global_id("UltrasoundExam", 424242),
        "unknown type": to_global_id("Nonsense", 1),
        "not base64": "not base64!",
        "not a number": raw_id("Patient:abc"),
        "no separator": raw_id("Patient"),
        "not utf-8": base64.b64encode(b"\x9e\xff:1").decode(),
        "empty": "",
    }

    answers = {case: await api.gql(NODE, {"id": global_id}) for case, global_id in ids.items()}

    assert answers == {case: {"data": {"node": None}} for case in ids}


async def test_an_id_beyond_64_bits_gives_null_without_errors(api: Api) -> None:
    await register(api, 1)

    body = await api.gql(NODE, {"id": raw_id("Patient:99999999999999999999999")})

    assert body == {"data": {"node": None}}


async def test_anonymous_callers_cannot_use_node(api: Api) -> None:
    patient_id = await register(api, 1)

    body = await api.gql(NODE, {"id": patient_id}, as_user=None)

    assert body["data"] == {"node": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
