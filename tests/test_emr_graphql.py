"""EMR diagnoses through GraphQL (1.28.1): live, batched, cached, and absent without harm."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from api.app import create_app
from domain.auth.service import ensure_user, issue_token
from domain.database import Database
from domain.parameter.models import Parameter
from domain.patient.models import Patient
from domain.risk.models import RiskFactor
from domain.settings import Settings
from graphql_schema.base import from_global_id, to_global_id
from integrations.emr.fhir import RECORD_NO_SYSTEM, RESIDENT_ID_SYSTEM
from integrations.emr.simulator import ICD10, EmrSimulator, parse_tokens
from tests.conftest import PASSWORD, USERS, Api
from tests.helpers import book, count_rows, register, resident_id

TODAY = dt.date.today()

PATIENTS = """
query Patients($first: Int) {
  patients(first: $first) {
    edges { node { name emrRecordNo
                   emrDiagnoses { conditionId icd10Code text recordedDate encounterId } } }
  }
}
"""

ADD = """
mutation Add($input: AddRiskFactorInput!) {
  addRiskFactor(input: $input) {
    riskFactor { id code diagnosis diagnosisSource icd10Code emrConditionId version }
    userErrors { field code }
    warnings { field message code }
  }
}
"""

EDIT = """
mutation Edit($input: EditRiskFactorInput!) {
  editRiskFactor(input: $input) {
    riskFactor { id diagnosis diagnosisSource icd10Code version }
    userErrors { field code }
  }
}
"""

FACTOR_SUGGESTIONS = """
query Suggestions($id: ID!) {
  node(id: $id) { ... on RiskFactor { code diagnosisSuggestions { icd10Code text } } }
}
"""

SUGGESTIONS = """
query Suggestions($pregnancyId: ID!, $code: String!) {
  riskFactorDiagnosisSuggestions(pregnancyId: $pregnancyId, code: $code) {
    conditionId icd10Code text recordedDate
  }
}
"""

WORKLIST = """
query Worklist {
  pregnancies(first: 10) {
    edges { node { patient { name emrDiagnoses { icd10Code } }
                   riskFactors { code diagnosisSuggestions { icd10Code } } } }
  }
}
"""


@dataclass
class Emr:
    sim: EmrSimulator
    url: str

    def searches(self) -> int:
        return sum(1 for call in self.sim.calls if call.path.startswith("/Condition"))


@pytest.fixture
async def emr() -> AsyncIterator[Emr]:
    sim = EmrSimulator()
    async with sim.running() as url:
        yield Emr(sim, url)


@pytest.fixture
async def emr_api(settings: Settings, db: Database, emr: Emr) -> AsyncIterator[Api]:
    """The app of conftest's `api`, configured with the EMR simulator."""
    tokens: dict[str, str] = {}
    async with db.transaction() as session:
        for username, (display, roles) in USERS.items():
            await ensure_user(
                session, username, display_name=display, roles=roles, password=PASSWORD
            )
            tokens[username] = await issue_token(session, username, label="tests")
    app = create_app(dataclasses.replace(settings, emr_fhir_base_url=emr.url), run_jobs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=client, app=app, tokens=tokens)


async def set_parameter(api: Api, key: str, value: float) -> None:
    async with api.services.db.transaction() as session:
        await session.execute(update(Parameter).where(Parameter.key == key).values(value=value))
    api.services.emr.parameters.invalidate()


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def as_graphql(sim: EmrSimulator, identifier: str) -> list[dict[str, Any]]:
    """What the simulator holds for a woman, as `emrDiagnoses` shows it (ICD-10, newest first)."""
    held = [d for d in sim.diagnoses_of(identifier) if d.system == ICD10]
    held.sort(key=lambda d: (-d.recorded.toordinal(), d.condition_id))
    return [
        {
            "conditionId": f"Condition/{d.condition_id}",
            "icd10Code": d.code,
            "text": d.text,
            "recordedDate": d.recorded.isoformat(),
            "encounterId": f"Encounter/{d.encounter_id}",
        }
        for d in held
    ]


async def insert_patients(api: Api, count: int) -> dict[str, str]:
    """Patients 孕妇0…; the first has no EMR record number. Name → how the EMR knows her."""
    known: dict[str, str] = {}
    async with api.services.db.transaction() as session:
        for n in range(count):
            record_no = f"EMR4000{n:04d}" if n else None
            session.add(
                Patient(
                    name=f"孕妇{n}",
                    name_initials="YF",
                    resident_id=resident_id(n + 1),
                    birth_date=dt.date(1994, 5, 17),
                    emr_record_no=record_no,
                )
            )
            known[f"孕妇{n}"] = record_no or resident_id(n + 1)
    return known


async def new_pregnancy(api: Api, record_no: str | None = "EMR50000001") -> str:
    extra = {"emrRecordNo": record_no} if record_no else {}
    patient_id = await register(api, 1, **extra)
    return str((await book(api, patient_id, weeks=26))["id"])


async def add(api: Api, pregnancy_id: str, code: str, **extra: Any) -> dict[str, Any]:
    body = await api.gql(ADD, {"input": {"pregnancyId": pregnancy_id, "code": code, **extra}})
    payload: dict[str, Any] = body["data"]["addRiskFactor"]
    assert payload["userErrors"] == [], payload
    return payload


async def stored_condition_id(api: Api, factor_id: str) -> str | None:
    _, db_id = from_global_id(factor_id)
    db: Database = api.services.db
    async with db.reader() as session:
        return await session.scalar(
            select(RiskFactor.emr_condition_id).where(RiskFactor.id == db_id)
        )


# --- Patient.emrDiagnoses ---------------------------------------------------------------------


async def test_twenty_women_take_one_upstream_round(emr_api: Api, emr: Emr) -> None:
    known = await insert_patients(emr_api, 20)
    emr.sim.put("EMR40000005", [("O24.4", "妊娠期糖尿病", days_ago(3))])
    emr.sim.put(resident_id(1), [("O34.2", "瘢痕子宫妊娠", days_ago(40))])

    body = await emr_api.gql(PATIENTS, {"first": 20})

    assert "errors" not in body, body
    nodes = [edge["node"] for edge in body["data"]["patients"]["edges"]]
    assert {n["name"]: n["emrDiagnoses"] for n in nodes} == {
        name: as_graphql(emr.sim, identifier) for name, identifier in known.items()
    }
    by_name = {n["name"]: n["emrDiagnoses"] for n in nodes}
    held = emr.sim.diagnoses_of("EMR40000005")[0]
    assert by_name["孕妇5"] == [
        {
            "conditionId": f"Condition/{held.condition_id}",
            "icd10Code": "O24.4",
            "text": "妊娠期糖尿病",
            "recordedDate": days_ago(3).isoformat(),
            "encounterId": f"Encounter/{held.encounter_id}",
        }
    ]
    # the woman without a record number is looked up by her resident ID
    assert [d["icd10Code"] for d in by_name["孕妇0"]] == ["O34.2"]
    assert emr.searches() == 1
    asked = parse_tokens(emr.sim.calls[0].param("patient.identifier") or "")
    assert sorted(asked) == sorted(
        (RESIDENT_ID_SYSTEM if name == "孕妇0" else RECORD_NO_SYSTEM, identifier)
        for name, identifier in known.items()
    )


async def test_answers_are_cached_for_the_configured_time(emr_api: Api, emr: Emr) -> None:
    await insert_patients(emr_api, 3)

    first = await emr_api.gql(PATIENTS, {"first": 3})
    second = await emr_api.gql(PATIENTS, {"first": 3})
    await set_parameter(emr_api, "emr_cache_ttl_s", 0)
    third = await emr_api.gql(PATIENTS, {"first": 3})
    fourth = await emr_api.gql(PATIENTS, {"first": 3})

    assert first == second == third == fourth
    # two answers from the cache (60 s), then every request asks once
    assert emr.searches() == 3


async def test_an_emr_that_hangs_leaves_local_data_and_one_error_within_the_timeout(
    emr_api: Api, emr: Emr
) -> None:
    await insert_patients(emr_api, 5)
    await set_parameter(emr_api, "emr_timeout_s", 0.3)
    emr.sim.faults.hang = True
    started = time.monotonic()

    body = await emr_api.gql(PATIENTS, {"first": 5})

    elapsed = time.monotonic() - started
    nodes = [edge["node"] for edge in body["data"]["patients"]["edges"]]
    assert [(n["name"], n["emrDiagnoses"]) for n in nodes] == [
        (f"孕妇{n}", None) for n in (4, 3, 2, 1, 0)
    ]
    assert body["errors"] == [
        {
            "message": "电子病历系统（EMR）暂不可用（EMR 在 0.3 秒内未答复）：本次响应中的 EMR 诊断为 null，其余数据不受影响",
            "path": ["patients", "edges", 0, "node", "emrDiagnoses"],
            "extensions": {"code": "UPSTREAM_UNAVAILABLE", "system": "EMR"},
        }
    ]
    assert elapsed < 0.3 + 1.5
    assert emr.searches() == 1


async def test_an_emr_failing_with_500_gives_the_same_partial_answer(
    emr_api: Api, emr: Emr
) -> None:
    await insert_patients(emr_api, 2)
    emr.sim.faults.fail = True

    body = await emr_api.gql(PATIENTS, {"first": 2})

    assert [e["node"]["emrDiagnoses"] for e in body["data"]["patients"]["edges"]] == [None, None]
    assert [(e["extensions"], e["path"]) for e in body["errors"]] == [
        (
            {"code": "UPSTREAM_UNAVAILABLE", "system": "EMR"},
            ["patients", "edges", 0, "node", "emrDiagnoses"],
        )
    ]
    assert "EMR 返回 HTTP 500" in body["errors"][0]["message"]


async def test_without_an_emr_configured_the_field_is_null_and_says_so(api: Api) -> None:
    await insert_patients(api, 2)

    body = await api.gql(PATIENTS, {"first": 2})

    assert [e["node"]["emrDiagnoses"] for e in body["data"]["patients"]["edges"]] == [None, None]
    assert body["errors"] == [
        {
            "message": "未配置电子病历系统（EMR_FHIR_BASE_URL 未设置）：EMR 诊断为 null",
            "path": ["patients", "edges", 0, "node", "emrDiagnoses"],
            "extensions": {"code": "UPSTREAM_UNAVAILABLE", "system": "EMR"},
        }
    ]


async def test_one_error_however_many_emr_fields_miss_it(emr_api: Api, emr: Emr) -> None:
    pregnancy_id = await new_pregnancy(emr_api)
    await add(emr_api, pregnancy_id, "Y-GDM", diagnosis="妊娠期糖尿病")
    await add(emr_api, pregnancy_id, "Y-ANAEMIA", diagnosis="轻度贫血")
    emr.sim.faults.fail = True
    emr_api.services.emr.clear()

    body = await emr_api.gql(WORKLIST)

    node = body["data"]["pregnancies"]["edges"][0]["node"]
    assert node == {
        "patient": {"name": "黄丽萍", "emrDiagnoses": None},
        "riskFactors": [
            {"code": "Y-GDM", "diagnosisSuggestions": None},
            {"code": "Y-ANAEMIA", "diagnosisSuggestions": None},
        ],
    }
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_UNAVAILABLE"]


# --- addRiskFactor (1.28.1) -------------------------------------------------------------------


async def test_a_factor_without_a_diagnosis_takes_the_emrs(emr_api: Api, emr: Emr) -> None:
    emr.sim.put(
        "EMR50000001",
        [
            ("Z34.0", "正常首次妊娠监督", days_ago(120)),
            ("O24.4", "妊娠期糖尿病", days_ago(10)),
            ("O99.0", "妊娠合并贫血", days_ago(30)),
        ],
    )
    gdm = emr.sim.diagnoses_of("EMR50000001")[1]
    pregnancy_id = await new_pregnancy(emr_api)

    payload = await add(emr_api, pregnancy_id, "Y-GDM")

    condition = f"Condition/{gdm.condition_id}"
    assert payload["riskFactor"] == {
        "id": payload["riskFactor"]["id"],
        "code": "Y-GDM",
        "diagnosis": "妊娠期糖尿病",
        "diagnosisSource": "EMR",
        "icd10Code": "O24.4",
        "emrConditionId": condition,
        "version": 1,
    }
    assert payload["warnings"] == []
    assert await stored_condition_id(emr_api, payload["riskFactor"]["id"]) == condition
    assert emr.searches() == 1


async def test_the_texts_of_the_best_matches_are_joined_newest_first(
    emr_api: Api, emr: Emr
) -> None:
    emr.sim.put(
        "EMR50000001",
        [
            ("O24.4", "妊娠期糖尿病", days_ago(40)),
            ("O24.401", "妊娠期糖尿病A2级", days_ago(2)),
            ("O24.9", "妊娠合并糖尿病", days_ago(1)),
        ],
    )
    pregnancy_id = await new_pregnancy(emr_api)

    factor = (await add(emr_api, pregnancy_id, "Y-GDM"))["riskFactor"]

    assert (factor["diagnosis"], factor["icd10Code"], factor["diagnosisSource"]) == (
        "妊娠期糖尿病A2级；妊娠期糖尿病",
        "O24.401",
        "EMR",
    )


async def test_a_typed_diagnosis_stays_manual_and_the_emr_is_not_asked(
    emr_api: Api, emr: Emr
) -> None:
    emr.sim.put("EMR50000001", [("O24.4", "妊娠期糖尿病", days_ago(10))])
    pregnancy_id = await new_pregnancy(emr_api)

    payload = await add(emr_api, pregnancy_id, "Y-GDM", diagnosis="GDM A1，饮食控制")

    factor = payload["riskFactor"]
    assert (factor["diagnosis"], factor["diagnosisSource"], factor["icd10Code"]) == (
        "GDM A1，饮食控制",
        "MANUAL",
        None,
    )
    assert factor["emrConditionId"] is None
    assert (payload["warnings"], emr.searches()) == ([], 0)


async def test_without_a_matching_diagnosis_the_factor_is_recorded_manual(
    emr_api: Api, emr: Emr
) -> None:
    emr.sim.put("EMR50000001", [("Z34.0", "正常首次妊娠监督", days_ago(100))])
    pregnancy_id = await new_pregnancy(emr_api)

    payload = await add(emr_api, pregnancy_id, "Y-GDM")

    factor = payload["riskFactor"]
    assert (factor["diagnosis"], factor["diagnosisSource"], factor["icd10Code"]) == (
        None,
        "MANUAL",
        None,
    )
    assert (payload["warnings"], emr.searches()) == ([], 1)


async def test_with_the_emr_down_the_factor_is_recorded_with_a_warning(
    emr_api: Api, emr: Emr
) -> None:
    pregnancy_id = await new_pregnancy(emr_api)
    await set_parameter(emr_api, "emr_timeout_s", 0.3)
    emr.sim.faults.hang = True
    started = time.monotonic()

    payload = await add(emr_api, pregnancy_id, "Y-GDM")

    assert time.monotonic() - started < 0.3 + 1.5
    factor = payload["riskFactor"]
    assert (factor["code"], factor["diagnosis"], factor["diagnosisSource"]) == (
        "Y-GDM",
        None,
        "MANUAL",
    )
    assert payload["warnings"] == [
        {
            "field": "diagnosis",
            "message": "电子病历（EMR）暂不可用，诊断未能自动填入，请手工录入：EMR 在 0.3 秒内未答复",
            "code": "EMR_UNAVAILABLE",
        }
    ]
    assert await count_rows(emr_api, "risk_factor") == 1


async def test_a_refused_factor_asks_nothing_of_the_emr_it_would_not_use(
    emr_api: Api, emr: Emr
) -> None:
    pregnancy_id = await new_pregnancy(emr_api)

    body = await emr_api.gql(
        ADD, {"input": {"pregnancyId": pregnancy_id, "code": "Y-GDM", "icd10Code": "XYZ"}}
    )
    no_ranges = await add(emr_api, pregnancy_id, "O-AGE40")

    payload = body["data"]["addRiskFactor"]
    assert (payload["riskFactor"], payload["userErrors"], payload["warnings"]) == (
        None,
        [{"field": "icd10Code", "code": "INVALID_FORMAT"}],
        [],
    )
    assert no_ranges["riskFactor"]["diagnosisSource"] == "MANUAL"
    assert emr.searches() == 0


async def test_a_doctors_edit_makes_the_emr_diagnosis_manual(emr_api: Api, emr: Emr) -> None:
    emr.sim.put("EMR50000001", [("O24.4", "妊娠期糖尿病", days_ago(10))])
    pregnancy_id = await new_pregnancy(emr_api)
    factor = (await add(emr_api, pregnancy_id, "Y-GDM"))["riskFactor"]
    assert factor["diagnosisSource"] == "EMR"

    body = await emr_api.gql(
        EDIT,
        {"input": {"riskFactorId": factor["id"], "diagnosis": "妊娠期糖尿病A2级，胰岛素治疗"}},
    )

    assert body["data"]["editRiskFactor"] == {
        "riskFactor": {
            "id": factor["id"],
            "diagnosis": "妊娠期糖尿病A2级，胰岛素治疗",
            "diagnosisSource": "MANUAL",
            # Only the diagnosis was sent: the ICD-10 code from the EMR stays.
            "icd10Code": "O24.4",
            "version": 2,
        },
        "userErrors": [],
    }


# --- suggestions ------------------------------------------------------------------------------


async def test_a_factor_lists_the_emr_diagnoses_in_its_ranges(emr_api: Api, emr: Emr) -> None:
    emr.sim.put(
        "EMR50000001",
        [
            ("B18.1", "慢性乙型病毒性肝炎", days_ago(200)),
            ("Z34.0", "正常首次妊娠监督", days_ago(150)),
            ("O98.4", "妊娠合并乙型病毒性肝炎", days_ago(20)),
            ("O24.4", "妊娠期糖尿病", days_ago(10)),
        ],
    )
    pregnancy_id = await new_pregnancy(emr_api)
    factor = (await add(emr_api, pregnancy_id, "P-HEPATITIS", diagnosis="乙肝"))["riskFactor"]

    body = await emr_api.gql(FACTOR_SUGGESTIONS, {"id": factor["id"]})

    assert body == {
        "data": {
            "node": {
                "code": "P-HEPATITIS",
                "diagnosisSuggestions": [
                    {"icd10Code": "O98.4", "text": "妊娠合并乙型病毒性肝炎"},
                    {"icd10Code": "B18.1", "text": "慢性乙型病毒性肝炎"},
                ],
            }
        }
    }


async def test_suggestions_can_be_asked_before_adding_a_factor(emr_api: Api, emr: Emr) -> None:
    emr.sim.put(
        "EMR50000001",
        [("O24.4", "妊娠期糖尿病", days_ago(10)), ("O13", "妊娠期高血压", days_ago(5))],
    )
    gdm = emr.sim.diagnoses_of("EMR50000001")[0]
    pregnancy_id = await new_pregnancy(emr_api)

    body = await emr_api.gql(SUGGESTIONS, {"pregnancyId": pregnancy_id, "code": "Y-GDM"})
    unrelated = await emr_api.gql(SUGGESTIONS, {"pregnancyId": pregnancy_id, "code": "Y-TWINS"})

    assert body == {
        "data": {
            "riskFactorDiagnosisSuggestions": [
                {
                    "conditionId": f"Condition/{gdm.condition_id}",
                    "icd10Code": "O24.4",
                    "text": "妊娠期糖尿病",
                    "recordedDate": days_ago(10).isoformat(),
                }
            ]
        }
    }
    assert unrelated == {"data": {"riskFactorDiagnosisSuggestions": []}}
    assert await count_rows(emr_api, "risk_factor") == 0


@pytest.mark.parametrize(
    ("pregnancy_id", "code", "message"),
    [
        pytest.param("%%%", "Y-GDM", "无效的ID：%%%", id="bad-id"),
        pytest.param(
            to_global_id("Patient", 1),
            "Y-GDM",
            "ID 指向 Patient，此处需要 Pregnancy",
            id="wrong-type",
        ),
        pytest.param(
            None, "X-NOTHING", "高危因素编码 X-NOTHING 不在数据字典中或已停用", id="unknown-code"
        ),
        pytest.param(
            to_global_id("Pregnancy", 9999),
            "Y-GDM",
            f"孕产档案 {to_global_id('Pregnancy', 9999)} 不存在",
            id="unknown-pregnancy",
        ),
    ],
)
async def test_suggestions_need_a_pregnancy_and_a_factor(
    emr_api: Api, emr: Emr, pregnancy_id: str | None, code: str, message: str
) -> None:
    existing = await new_pregnancy(emr_api)

    body = await emr_api.gql(SUGGESTIONS, {"pregnancyId": pregnancy_id or existing, "code": code})

    assert body["data"] == {"riskFactorDiagnosisSuggestions": None}
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        (message, "BAD_USER_INPUT")
    ]
    assert emr.searches() == 0


async def test_suggestions_are_null_with_an_error_when_the_emr_is_down(
    emr_api: Api, emr: Emr
) -> None:
    pregnancy_id = await new_pregnancy(emr_api)
    emr.sim.faults.fail = True

    body = await emr_api.gql(SUGGESTIONS, {"pregnancyId": pregnancy_id, "code": "Y-GDM"})

    assert body["data"] == {"riskFactorDiagnosisSuggestions": None}
    assert [(e["extensions"], e["path"]) for e in body["errors"]] == [
        ({"code": "UPSTREAM_UNAVAILABLE", "system": "EMR"}, ["riskFactorDiagnosisSuggestions"])
    ]


async def test_an_anonymous_caller_gets_no_suggestions(emr_api: Api, emr: Emr) -> None:
    pregnancy_id = await new_pregnancy(emr_api)

    body = await emr_api.gql(
        SUGGESTIONS, {"pregnancyId": pregnancy_id, "code": "Y-GDM"}, as_user=None
    )

    assert body["data"] == {"riskFactorDiagnosisSuggestions": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert emr.searches() == 0
