"""High-risk factors and the five-colour grading (五色管理) through GraphQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from domain.history.models import Revision
from graphql_schema.base import from_global_id, to_global_id
from tests.conftest import Api
from tests.helpers import ADD_FACTOR, PREGNANCY_RISK, add_factor, book, count_rows, register

EDIT_FACTOR = """
mutation Edit($input: EditRiskFactorInput!) {
  editRiskFactor(input: $input) {
    riskFactor { id code diagnosis diagnosisSource icd10Code version updatedBy }
    userErrors { field message code }
  }
}
"""

REMOVE_FACTOR = """
mutation Remove($input: RemoveRiskFactorInput!) {
  removeRiskFactor(input: $input) {
    riskFactor { id code version }
    userErrors { field message code }
  }
}
"""

FACTOR = """
query Factor($id: ID!) {
  node(id: $id) {
    ... on RiskFactor { id code name color diagnosis diagnosisSource icd10Code version updatedBy }
  }
}
"""

CURRENT_FACTORS = """
query Factors($id: ID!) {
  node(id: $id) { ... on Pregnancy { riskFactors { code } } }
}
"""

ARCHIVE = """
mutation Archive($input: ArchivePregnancyInput!) {
  archivePregnancy(input: $input) { userErrors { field code } }
}
"""


def errors_of(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def outcome(api: Api, document: str, field: str, input: dict[str, Any]) -> object:
    """The user errors of a refused mutation as (field, code) pairs, or its GraphQL error codes."""
    body = await api.gql(document, {"input": input})
    if "errors" in body:
        return ("GraphQL errors", [e["extensions"]["code"] for e in body["errors"]])
    payload = body["data"][field]
    assert payload["riskFactor"] is None, payload
    assert all(e["message"] for e in payload["userErrors"])
    return errors_of(payload)


async def new_pregnancy(api: Api) -> str:
    patient_id = await register(api, 1)
    return str((await book(api, patient_id))["id"])


async def risk(api: Api, pregnancy_id: str) -> dict[str, Any]:
    """The pregnancy's grading: colour, purple flag and the codes of the factors behind them."""
    node = (await api.gql(PREGNANCY_RISK, {"id": pregnancy_id}))["data"]["node"]
    assessment = node["riskAssessment"]
    assert assessment["color"] == node["riskColor"]
    assert assessment["infectious"] == node["infectious"]
    return {
        "color": node["riskColor"],
        "infectious": node["infectious"],
        "colorFactors": [f["code"] for f in assessment["colorFactors"]],
        "infectiousFactors": [f["code"] for f in assessment["infectiousFactors"]],
    }


def grading(
    color: str, infectious: bool, color_factors: list[str], infectious_factors: list[str]
) -> dict[str, Any]:
    return {
        "color": color,
        "infectious": infectious,
        "colorFactors": color_factors,
        "infectiousFactors": infectious_factors,
    }


async def remove(api: Api, factor_id: str, reason: str = "复查排除") -> dict[str, Any]:
    body = await api.gql(REMOVE_FACTOR, {"input": {"riskFactorId": factor_id, "reason": reason}})
    payload: dict[str, Any] = body["data"]["removeRiskFactor"]
    assert payload["userErrors"] == [], payload
    return payload


async def current_codes(api: Api, pregnancy_id: str) -> list[str]:
    node = (await api.gql(CURRENT_FACTORS, {"id": pregnancy_id}))["data"]["node"]
    return [f["code"] for f in node["riskFactors"]]


async def revisions(api: Api) -> list[tuple[str, int, int, str | None, Any, Any]]:
    async with api.services.db.reader() as session:
        rows = await session.scalars(select(Revision).order_by(Revision.id))
        return [(r.entity, r.entity_id, r.version, r.changed_by, r.before, r.after) for r in rows]


async def test_grading_follows_the_factors_as_they_are_added_and_removed(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)
    assert await risk(api, pregnancy_id) == grading("GREEN", False, [], [])

    gdm = await add_factor(api, pregnancy_id, "Y-GDM")
    assert await risk(api, pregnancy_id) == grading("YELLOW", False, ["Y-GDM"], [])

    age = await add_factor(api, pregnancy_id, "O-AGE40")
    assert await risk(api, pregnancy_id) == grading("ORANGE", False, ["O-AGE40"], [])

    hepatitis = await add_factor(api, pregnancy_id, "P-HEPATITIS")
    assert await risk(api, pregnancy_id) == grading("ORANGE", True, ["O-AGE40"], ["P-HEPATITIS"])

    removed = await remove(api, age["id"], reason="年龄录入错误")
    assert removed["riskFactor"] == {"id": age["id"], "code": "O-AGE40", "version": 2}
    assert await risk(api, pregnancy_id) == grading("YELLOW", True, ["Y-GDM"], ["P-HEPATITIS"])
    assert await current_codes(api, pregnancy_id) == ["Y-GDM", "P-HEPATITIS"]

    await remove(api, gdm["id"])
    await remove(api, hepatitis["id"])
    assert await risk(api, pregnancy_id) == grading("GREEN", False, [], [])
    assert await current_codes(api, pregnancy_id) == []
    # removal is soft: the rows stay for the history of the grading
    assert await count_rows(api, "risk_factor") == 3


async def test_one_factor_alone_sets_its_colour(api: Api) -> None:
    cases = {
        "Y-GDM": ("妊娠期糖尿病", "YELLOW", grading("YELLOW", False, ["Y-GDM"], [])),
        "O-AGE40": ("年龄≥40岁", "ORANGE", grading("ORANGE", False, ["O-AGE40"], [])),
        "R-PULMONARY-HYPERTENSION": (
            "各种原因引起的肺动脉高压（≥50mmHg）",
            "RED",
            grading("RED", False, ["R-PULMONARY-HYPERTENSION"], []),
        ),
        # purple is a flag beside the colour, not a colour: alone it leaves the pregnancy green
        "P-HEPATITIS": (
            "病毒性肝炎（HBsAg阳性）",
            "PURPLE",
            grading("GREEN", True, [], ["P-HEPATITIS"]),
        ),
    }

    factors = {}
    gradings = {}
    for sequence, code in enumerate(cases, start=1):
        pregnancy_id = str((await book(api, await register(api, sequence)))["id"])
        factors[code] = await add_factor(api, pregnancy_id, code)
        gradings[code] = await risk(api, pregnancy_id)

    assert factors == {
        code: {
            "id": factors[code]["id"],
            "code": code,
            "name": name,
            "color": color,
            "diagnosis": None,
            "diagnosisSource": "MANUAL",
            "icd10Code": None,
            "version": 1,
        }
        for code, (name, color, _) in cases.items()
    }
    assert gradings == {code: expected for code, (_, _, expected) in cases.items()}
    assert await count_rows(api, "risk_factor") == 4


async def test_highest_colour_wins_and_lists_every_factor_of_that_colour(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)
    for code in ("Y-GDM", "R-PULMONARY-HYPERTENSION", "O-AGE40", "P-HIV", "P-HEPATITIS"):
        await add_factor(api, pregnancy_id, code)

    assert await risk(api, pregnancy_id) == grading(
        "RED", True, ["R-PULMONARY-HYPERTENSION"], ["P-HIV", "P-HEPATITIS"]
    )


async def test_a_diagnosis_typed_by_the_doctor_is_manual(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)

    factor = await add_factor(
        api, pregnancy_id, "Y-GDM", diagnosis="  妊娠期糖尿病A1级，饮食控制  ", icd10Code="o24.4"
    )

    assert factor["diagnosis"] == "妊娠期糖尿病A1级，饮食控制"
    assert factor["icd10Code"] == "O24.4"
    assert factor["diagnosisSource"] == "MANUAL"
    stored = (await api.gql(FACTOR, {"id": factor["id"]}))["data"]["node"]
    assert stored["diagnosis"] == "妊娠期糖尿病A1级，饮食控制"
    assert stored["icd10Code"] == "O24.4"


async def test_editing_the_diagnosis_bumps_the_version_and_keeps_history(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)
    factor = await add_factor(api, pregnancy_id, "Y-GDM", diagnosis="GDM A1", icd10Code="O24.4")

    body = await api.gql(
        EDIT_FACTOR,
        {
            "input": {
                "riskFactorId": factor["id"],
                "diagnosis": "GDM A2，胰岛素治疗",
                "icd10Code": "O24.9",
            }
        },
        as_user="doctor2",
    )

    payload = body["data"]["editRiskFactor"]
    assert payload["userErrors"] == []
    expected = {
        "id": factor["id"],
        "code": "Y-GDM",
        "diagnosis": "GDM A2，胰岛素治疗",
        "diagnosisSource": "MANUAL",
        "icd10Code": "O24.9",
        "version": 2,
        "updatedBy": "doctor2",
    }
    assert payload["riskFactor"] == expected
    stored = (await api.gql(FACTOR, {"id": factor["id"]}))["data"]["node"]
    assert stored == {**expected, "name": "妊娠期糖尿病", "color": "YELLOW"}
    _, factor_db_id = from_global_id(factor["id"])
    assert await revisions(api) == [
        (
            "risk_factor",
            factor_db_id,
            2,
            "doctor2",
            {"diagnosis": "GDM A1", "icd10_code": "O24.4"},
            {"diagnosis": "GDM A2，胰岛素治疗", "icd10_code": "O24.9"},
        )
    ]
    assert await risk(api, pregnancy_id) == grading("YELLOW", False, ["Y-GDM"], [])


async def test_an_edit_with_the_same_diagnosis_keeps_the_version(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)
    factor = await add_factor(api, pregnancy_id, "Y-GDM", diagnosis="GDM A1", icd10Code="O24.4")

    body = await api.gql(
        EDIT_FACTOR,
        {"input": {"riskFactorId": factor["id"], "diagnosis": " GDM A1 ", "icd10Code": "o24.4"}},
    )

    payload = body["data"]["editRiskFactor"]
    assert payload["userErrors"] == []
    assert payload["riskFactor"]["version"] == 1
    assert await count_rows(api, "revision") == 0


async def test_editing_only_the_icd10_code_keeps_the_diagnosis(api: Api) -> None:
    # `diagnosis` has no default in EditRiskFactorInput: leaving it out is not asking to clear it.
    pregnancy_id = await new_pregnancy(api)
    factor = await add_factor(api, pregnancy_id, "Y-GDM", diagnosis="GDM A1")

    body = await api.gql(
        EDIT_FACTOR, {"input": {"riskFactorId": factor["id"], "icd10Code": "O24.4"}}
    )

    payload = body["data"]["editRiskFactor"]
    assert payload["userErrors"] == []
    assert payload["riskFactor"]["icd10Code"] == "O24.4"
    stored = (await api.gql(FACTOR, {"id": factor["id"]}))["data"]["node"]
    assert stored["diagnosis"] == "GDM A1"
    assert stored["icd10Code"] == "O24.4"


async def test_a_refused_factor_writes_nothing_and_keeps_the_colour(api: Api) -> None:
    # given a yellow pregnancy (Y-GDM)
    pregnancy_id = await new_pregnancy(api)
    await add_factor(api, pregnancy_id, "Y-GDM")
    cases: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
        "unknown code": ({"code": "X-NOT-A-FACTOR"}, [("code", "UNKNOWN_CODE")]),
        "current code again": ({"code": "Y-GDM"}, [("code", "DUPLICATE")]),
        "bad icd-10": ({"code": "O-AGE40", "icd10Code": "XYZ"}, [("icd10Code", "INVALID_FORMAT")]),
        "diagnosis 1001 chars": (
            {"code": "O-AGE40", "diagnosis": "诊" * 1001},
            [("diagnosis", "TOO_LONG")],
        ),
        "malformed pregnancy id": (
            {"code": "O-AGE40", "pregnancyId": "%%%"},
            [("pregnancyId", "INVALID_ID")],
        ),
        "patient id as pregnancy id": (
            {"code": "O-AGE40", "pregnancyId": to_global_id("Patient", 1)},
            [("pregnancyId", "INVALID_ID")],
        ),
        "unknown pregnancy": (
            {"code": "O-AGE40", "pregnancyId": to_global_id("Pregnancy", 9999)},
            [("pregnancyId", "NOT_FOUND")],
        ),
    }

    # when each is sent
    outcomes = {
        case: await outcome(
            api, ADD_FACTOR, "addRiskFactor", {"pregnancyId": pregnancy_id, **extra}
        )
        for case, (extra, _) in cases.items()
    }

    # then each is refused with exactly its error, nothing is written, the colour stays
    assert outcomes == {case: expected for case, (_, expected) in cases.items()}
    assert await count_rows(api, "risk_factor") == 1
    assert await risk(api, pregnancy_id) == grading("YELLOW", False, ["Y-GDM"], [])


async def test_a_removed_factor_cannot_be_removed_again(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)
    await add_factor(api, pregnancy_id, "Y-GDM")
    age = await add_factor(api, pregnancy_id, "O-AGE40")
    await remove(api, age["id"])

    body = await api.gql(REMOVE_FACTOR, {"input": {"riskFactorId": age["id"], "reason": "再删"}})

    payload = body["data"]["removeRiskFactor"]
    assert payload["riskFactor"] is None
    assert errors_of(payload) == [("riskFactorId", "NOT_FOUND")]
    assert await count_rows(api, "risk_factor") == 2
    assert await risk(api, pregnancy_id) == grading("YELLOW", False, ["Y-GDM"], [])
    stored = (await api.gql(FACTOR, {"id": age["id"]}))["data"]["node"]
    assert stored["version"] == 2
    assert await current_codes(api, pregnancy_id) == ["Y-GDM"]


async def test_a_removed_factor_can_be_added_again(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)
    age = await add_factor(api, pregnancy_id, "O-AGE40")
    await remove(api, age["id"])

    again = await add_factor(api, pregnancy_id, "O-AGE40")

    assert again["id"] != age["id"]
    assert await risk(api, pregnancy_id) == grading("ORANGE", False, ["O-AGE40"], [])
    assert await count_rows(api, "risk_factor") == 2


async def test_a_deactivated_dictionary_entry_cannot_be_added(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)
    async with api.services.db.transaction() as session:
        await session.execute(
            text(
                "UPDATE dictionary_entry SET active = :active WHERE kind = :kind AND code = :code"
            ).bindparams(active=False, kind="risk_factor", code="O-AGE40")
        )

    body = await api.gql(ADD_FACTOR, {"input": {"pregnancyId": pregnancy_id, "code": "O-AGE40"}})

    payload = body["data"]["addRiskFactor"]
    assert payload["riskFactor"] is None
    assert errors_of(payload) == [("code", "UNKNOWN_CODE")]
    assert await count_rows(api, "risk_factor") == 0
    assert await risk(api, pregnancy_id) == grading("GREEN", False, [], [])


async def test_an_invalid_edit_changes_nothing(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)
    factor = await add_factor(api, pregnancy_id, "Y-GDM", diagnosis="GDM A1", icd10Code="O24.4")
    removed = await add_factor(api, pregnancy_id, "O-AGE40", diagnosis="40岁")
    await remove(api, removed["id"])
    edit = {"riskFactorId": factor["id"], "diagnosis": "GDM A2", "icd10Code": "O24.9"}
    cases: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
        "bad icd-10": ({**edit, "icd10Code": "XYZ"}, [("icd10Code", "INVALID_FORMAT")]),
        "diagnosis 1001 chars": ({**edit, "diagnosis": "诊" * 1001}, [("diagnosis", "TOO_LONG")]),
        "removed factor": (
            {**edit, "riskFactorId": removed["id"]},
            [("riskFactorId", "NOT_FOUND")],
        ),
        "unknown factor": (
            {**edit, "riskFactorId": to_global_id("RiskFactor", 9999)},
            [("riskFactorId", "NOT_FOUND")],
        ),
    }

    outcomes = {
        case: await outcome(api, EDIT_FACTOR, "editRiskFactor", changes)
        for case, (changes, _) in cases.items()
    }

    assert outcomes == {case: expected for case, (_, expected) in cases.items()}
    stored = (await api.gql(FACTOR, {"id": factor["id"]}))["data"]["node"]
    assert (stored["diagnosis"], stored["icd10Code"], stored["version"]) == ("GDM A1", "O24.4", 1)
    stored_removed = (await api.gql(FACTOR, {"id": removed["id"]}))["data"]["node"]
    assert (stored_removed["diagnosis"], stored_removed["version"]) == ("40岁", 2)
    assert await count_rows(api, "revision") == 0


async def test_factors_of_an_archived_pregnancy_are_read_only(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)
    gdm = await add_factor(api, pregnancy_id, "Y-GDM", diagnosis="GDM A1")
    archived = await api.gql(ARCHIVE, {"input": {"pregnancyId": pregnancy_id}})
    assert archived["data"]["archivePregnancy"]["userErrors"] == []

    added = await api.gql(ADD_FACTOR, {"input": {"pregnancyId": pregnancy_id, "code": "O-AGE40"}})
    edited = await api.gql(EDIT_FACTOR, {"input": {"riskFactorId": gdm["id"], "diagnosis": "改"}})
    removed = await api.gql(REMOVE_FACTOR, {"input": {"riskFactorId": gdm["id"], "reason": "删"}})

    assert errors_of(added["data"]["addRiskFactor"]) == [("pregnancyId", "PREGNANCY_CLOSED")]
    assert errors_of(edited["data"]["editRiskFactor"]) == [("riskFactorId", "PREGNANCY_CLOSED")]
    assert errors_of(removed["data"]["removeRiskFactor"]) == [("riskFactorId", "PREGNANCY_CLOSED")]
    assert await count_rows(api, "risk_factor") == 1
    assert await current_codes(api, pregnancy_id) == ["Y-GDM"]
    stored = (await api.gql(FACTOR, {"id": gdm["id"]}))["data"]["node"]
    assert (stored["diagnosis"], stored["version"]) == ("GDM A1", 1)
    assert await risk(api, pregnancy_id) == grading("YELLOW", False, ["Y-GDM"], [])


async def test_auditor_cannot_add_a_factor(api: Api) -> None:
    pregnancy_id = await new_pregnancy(api)

    body = await api.gql(
        ADD_FACTOR, {"input": {"pregnancyId": pregnancy_id, "code": "Y-GDM"}}, as_user="auditor"
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count_rows(api, "risk_factor") == 0
    assert await risk(api, pregnancy_id) == grading("GREEN", False, [], [])
