"""1.28.7: each screening item's latest result with its own test date; a doctor's
amendment keeps the LIS original and wins until a later result arrives; batched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from domain.auth.actor import Actor, Role
from domain.database import Database
from domain.lab.amend import Amendment, amend_lab_result
from domain.lab.mapping import LabDictionary
from domain.lab.models import LabResult
from domain.lab.service import IncomingResult, store_results
from tests.conftest import Api
from tests.helpers import count_rows
from tests.lab_helpers import cst, gid, incoming, seed_patient

SCREENING = """
query Screening($id: ID!) {
  node(id: $id) {
    ... on Pregnancy {
      infectiousScreening {
        complete
        items {
          itemCode itemName result valueText valueNumeric testedAt source amended
          labResult { id }
        }
      }
    }
  }
}
"""

AMEND = """
mutation Amend($input: AmendLabResultInput!) {
  amendLabResult(input: $input) {
    labResult {
      id valueQualitative valueText amended
      amendments {
        before { valueQualitative valueText valueNumeric abnormalFlag }
        after { valueQualitative valueText valueNumeric abnormalFlag }
        reason amendedBy sourceCorrection
      }
    }
    userErrors { field message code }
  }
}
"""

WORKLIST = """
query Worklist($first: Int) {
  pregnancies(first: $first) {
    edges {
      node {
        id
        infectiousScreening {
          items { itemCode result testedAt labResult { id amended amendments { reason } } }
        }
        riskFactorProposals { code reason labResult { itemCode } }
      }
    }
  }
}
"""

DOCTOR = Actor(user_id=None, username="doctor", roles=frozenset({Role.DOCTOR}))

NAMES = {
    "HBSAG": "乙肝表面抗原",
    "ANTI_HBS": "乙肝表面抗体",
    "HBEAG": "乙肝e抗原",
    "ANTI_HBE": "乙肝e抗体",
    "ANTI_HBC": "乙肝核心抗体",
    "HIV": "HIV抗体",
    "TP": "梅毒螺旋体抗体",
    "RPR": "快速血浆反应素试验",
    "HCV": "丙肝抗体",
}


async def store(db: Database, results: list[IncomingResult]) -> list[LabResult]:
    async with db.transaction() as session:
        dictionary = await LabDictionary.load(session)
        outcome = await store_results(session, dictionary, results)
        assert outcome.errors == []
        return outcome.stored + outcome.corrected


async def screening(api: Api, pregnancy_id: int | None) -> dict[str, Any]:
    body = await api.gql(SCREENING, {"id": gid("Pregnancy", pregnancy_id)})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["node"]["infectiousScreening"]
    return result


def untested(code: str) -> dict[str, Any]:
    return {
        "itemCode": code,
        "itemName": NAMES[code],
        "result": None,
        "valueText": None,
        "valueNumeric": None,
        "testedAt": None,
        "source": None,
        "amended": False,
        "labResult": None,
    }


def screened(
    code: str, row: LabResult, result: str, text: str, at: dt.datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "itemCode": code,
        "itemName": NAMES[code],
        "result": result,
        "valueText": text,
        "valueNumeric": None,
        "testedAt": at.isoformat(),
        "source": "LIS",
        "amended": False,
        "labResult": {"id": gid("LabResult", row.id)},
        **extra,
    }


async def test_every_item_keeps_its_own_test_date(api: Api) -> None:
    db = api.services.db
    patient_id, pregnancy_id = await seed_patient(db)
    hbsag, hiv, tp, _, _ = await store(
        db,
        [
            incoming(patient_id, "hbsag", "阴性", specimen_at=cst(2024, 3, 1, 8, 10)),
            incoming(
                patient_id,
                "hiv",
                "0.12 S/CO",
                local_code="MY-HIV",
                interpretation="NEG",
                specimen_at=cst(2024, 3, 15, 9, 0),
            ),
            # No specimen time: the report time is the test date.
            IncomingResult(patient_id, "LIS", "tp", "阴性", cst(2024, 3, 16, 10, 0), "MY-TP"),
            incoming(patient_id, "hgb", "118", local_code="HGB", specimen_at=cst(2024, 3, 1)),
            # Before this pregnancy (孕前检查): not part of its screening.
            incoming(patient_id, "old", "阳性", specimen_at=cst(2023, 5, 1)),
        ],
    )

    found = await screening(api, pregnancy_id)

    assert found == {
        "complete": False,
        "items": [
            screened("HBSAG", hbsag, "NEGATIVE", "阴性", cst(2024, 3, 1, 8, 10)),
            untested("ANTI_HBS"),
            untested("HBEAG"),
            untested("ANTI_HBE"),
            untested("ANTI_HBC"),
            screened(
                "HIV", hiv, "NEGATIVE", "0.12 S/CO", cst(2024, 3, 15, 9, 0), valueNumeric=0.12
            ),
            screened("TP", tp, "NEGATIVE", "阴性", cst(2024, 3, 16, 10, 0)),
            untested("RPR"),
            untested("HCV"),
        ],
    }


async def test_the_latest_result_by_test_date_wins_whatever_the_arrival_order(api: Api) -> None:
    db = api.services.db
    patient_id, pregnancy_id = await seed_patient(db)
    [later] = await store(db, [incoming(patient_id, "b", "阳性", specimen_at=cst(2024, 5, 10))])
    # An older result that arrives afterwards does not replace it.
    await store(db, [incoming(patient_id, "a", "阴性", specimen_at=cst(2024, 3, 1))])

    found = await screening(api, pregnancy_id)

    assert found["items"][0] == screened("HBSAG", later, "POSITIVE", "阳性", cst(2024, 5, 10))


async def test_a_doctors_amendment_keeps_the_original_and_wins_until_a_later_result(
    api: Api,
) -> None:
    db = api.services.db
    patient_id, pregnancy_id = await seed_patient(db)
    [hiv] = await store(
        db,
        [
            incoming(
                patient_id,
                "hiv-1",
                "阳性",
                local_code="MY-HIV",
                abnormal_flag="A",
                specimen_at=cst(2024, 3, 15),
            )
        ],
    )

    amended = await api.gql(
        AMEND,
        {
            "input": {
                "labResultId": gid("LabResult", hiv.id),
                "result": "NEGATIVE",
                "reason": "复核确证试验阴性，原结果录入错误",
            }
        },
    )
    after_amendment = await screening(api, pregnancy_id)
    [newer] = await store(
        db,
        [incoming(patient_id, "hiv-2", "阳性", local_code="MY-HIV", specimen_at=cst(2024, 4, 20))],
    )
    after_newer = await screening(api, pregnancy_id)

    assert amended == {
        "data": {
            "amendLabResult": {
                "labResult": {
                    "id": gid("LabResult", hiv.id),
                    "valueQualitative": "NEGATIVE",
                    "valueText": "阴性",
                    "amended": True,
                    "amendments": [
                        {
                            "before": {
                                "valueQualitative": "POSITIVE",
                                "valueText": "阳性",
                                "valueNumeric": None,
                                "abnormalFlag": "A",
                            },
                            "after": {
                                "valueQualitative": "NEGATIVE",
                                "valueText": "阴性",
                                "valueNumeric": None,
                                "abnormalFlag": None,
                            },
                            "reason": "复核确证试验阴性，原结果录入错误",
                            "amendedBy": "doctor",
                            "sourceCorrection": False,
                        }
                    ],
                },
                "userErrors": [],
            }
        }
    }
    assert after_amendment["items"][5] == screened(
        "HIV", hiv, "NEGATIVE", "阴性", cst(2024, 3, 15), amended=True
    )
    assert after_newer["items"][5] == screened("HIV", newer, "POSITIVE", "阳性", cst(2024, 4, 20))
    async with db.reader() as session:
        original = await session.get(LabResult, hiv.id)
    assert original is not None
    assert (original.value_qualitative, original.amendment_count) == ("NEGATIVE", 1)


async def test_amending_needs_a_reason_and_a_consistent_value(api: Api) -> None:
    db = api.services.db
    patient_id, _ = await seed_patient(db)
    [row] = await store(db, [incoming(patient_id, "h", "阳性")])
    lab_id = gid("LabResult", row.id)

    cases = [
        (
            {"labResultId": lab_id, "result": "NEGATIVE", "reason": " "},
            [{"field": "reason", "message": "修改原因不能为空", "code": "REQUIRED"}],
        ),
        (
            {"labResultId": lab_id, "reason": "复核"},
            [{"field": "valueText", "message": "请填写结果文字或选择定性结果", "code": "REQUIRED"}],
        ),
        (
            {"labResultId": lab_id, "valueText": "阳性", "result": "NEGATIVE", "reason": "复核"},
            [
                {
                    "field": "result",
                    "message": "结果文字「阳性」与所选定性结果阴性不一致",
                    "code": "CONFLICTING_VALUE",
                }
            ],
        ),
        (
            {"labResultId": gid("LabResult", 999999), "result": "NEGATIVE", "reason": "复核"},
            [{"field": "labResultId", "message": "检验结果不存在", "code": "NOT_FOUND"}],
        ),
        (
            {"labResultId": gid("Patient", row.id), "result": "NEGATIVE", "reason": "复核"},
            [
                {
                    "field": "labResultId",
                    "message": "ID 指向 Patient，此处需要 LabResult",
                    "code": "INVALID_ID",
                }
            ],
        ),
    ]
    for values, errors in cases:
        body = await api.gql(AMEND, {"input": values})
        assert body == {"data": {"amendLabResult": {"labResult": None, "userErrors": errors}}}
    assert await count_rows(api, "lab_result_amendment") == 0


async def test_an_auditor_cannot_amend_and_nothing_changes(api: Api) -> None:
    db = api.services.db
    patient_id, _ = await seed_patient(db)
    [row] = await store(db, [incoming(patient_id, "h", "阳性")])

    body = await api.gql(
        AMEND,
        {"input": {"labResultId": gid("LabResult", row.id), "result": "NEGATIVE", "reason": "x"}},
        as_user="auditor",
    )

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    async with db.reader() as session:
        unchanged = await session.get(LabResult, row.id)
    assert unchanged is not None
    assert (unchanged.value_qualitative, unchanged.amendment_count) == ("POSITIVE", 0)
    assert await count_rows(api, "lab_result_amendment") == 0


# --- statements per request -------------------------------------------------------------------


async def seed_worklist(api: Api, count: int) -> None:
    db = api.services.db
    for n in range(count):
        patient_id, _ = await seed_patient(db, n + 1, lis_record_no=f"LIS{n:07d}")
        rows = await store(
            db,
            [
                incoming(
                    patient_id,
                    f"{n}-hbsag",
                    "阳性" if n % 3 == 0 else "阴性",
                    specimen_at=cst(2024, 3, 1),
                ),
                incoming(
                    patient_id,
                    f"{n}-hiv",
                    "阴性",
                    local_code="MY-HIV",
                    specimen_at=cst(2024, 3, 15),
                ),
                incoming(
                    patient_id, f"{n}-tp", "阴性", local_code="MY-TP", specimen_at=cst(2024, 3, 16)
                ),
            ],
        )
        if n % 2 == 0:
            await amend_lab_result(
                db, DOCTOR, rows[1].id, Amendment(value_text="阴性(复核)", reason="复核")
            )


@contextmanager
def counting(api: Api) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = api.services.db.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def statements_for(api: Api, first: int) -> tuple[dict[str, Any], list[str]]:
    with counting(api) as statements:
        body = await api.gql(WORKLIST, {"first": first})
        await api.flush_audit()
    assert "errors" not in body, body
    return body, statements


async def test_statements_do_not_grow_from_5_to_50_pregnancies(api: Api) -> None:
    await seed_worklist(api, 50)

    five, statements_5 = await statements_for(api, 5)
    fifty, statements_50 = await statements_for(api, 50)

    assert (
        len(five["data"]["pregnancies"]["edges"]),
        len(fifty["data"]["pregnancies"]["edges"]),
    ) == (5, 50)
    proposals = [e["node"]["riskFactorProposals"] for e in fifty["data"]["pregnancies"]["edges"]]
    assert sum(len(p) for p in proposals) == 17
    assert len(statements_5) == len(statements_50), (statements_5, statements_50)
    # token, page, screening, proposals, lab results of proposals, amendments, audit insert
    assert len(statements_50) == 7
    async with api.services.db.reader() as session:
        assert len((await session.scalars(select(LabResult))).all()) == 150
