"""The ingestion every channel shares: value normalisation and `store_results`
(dictionary mapping, idempotency, corrections as amendments, pregnancy by specimen
date, purple-factor proposals)."""

from __future__ import annotations

import datetime as dt
import math
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from domain.auth.actor import Actor, Role
from domain.database import Database
from domain.errors import FieldError
from domain.lab.amend import Amendment, amend_lab_result
from domain.lab.mapping import LabDictionary
from domain.lab.models import LabResult, LabResultAmendment
from domain.lab.normalise import NEGATIVE, POSITIVE, WEAK_POSITIVE, NormalisedValue, normalise
from domain.lab.service import IncomingResult, StoreOutcome, store_results
from domain.risk.proposal_models import RiskFactorProposal
from tests.lab_helpers import add_pregnancy, cst, incoming, seed_patient

DOCTOR = Actor(user_id=None, username="doctor", roles=frozenset({Role.DOCTOR}))

# --- normalise --------------------------------------------------------------------------------

CORPUS: list[tuple[str, str | None, NormalisedValue]] = [
    ("阴性", None, NormalisedValue(None, None, NEGATIVE, "阴性")),
    ("阳性", None, NormalisedValue(None, None, POSITIVE, "阳性")),
    ("弱阳性", None, NormalisedValue(None, None, WEAK_POSITIVE, "弱阳性")),
    (" 阴性 ", None, NormalisedValue(None, None, NEGATIVE, "阴性")),
    ("(-)", None, NormalisedValue(None, None, NEGATIVE, "(-)")),
    ("(+)", None, NormalisedValue(None, None, POSITIVE, "(+)")),
    ("（－）", None, NormalisedValue(None, None, NEGATIVE, "(-)")),
    ("(±)", None, NormalisedValue(None, None, WEAK_POSITIVE, "(±)")),
    ("10828004", None, NormalisedValue(None, None, POSITIVE, "10828004")),
    ("260385009", None, NormalisedValue(None, None, NEGATIVE, "260385009")),
    ("0.35 S/CO", "NEG", NormalisedValue(0.35, None, NEGATIVE, "0.35 S/CO")),
    ("12.5 S/CO", "阳性", NormalisedValue(12.5, None, POSITIVE, "12.5 S/CO")),
    ("12.5(S/CO)", None, NormalisedValue(12.5, None, None, "12.5(S/CO)")),
    ("0.8 COI", None, NormalisedValue(0.8, None, None, "0.8 COI")),
    ("阳性 12.5 S/CO", None, NormalisedValue(12.5, None, POSITIVE, "阳性 12.5 S/CO")),
    ("48.2 S/CO 阳性", None, NormalisedValue(48.2, None, POSITIVE, "48.2 S/CO 阳性")),
    ("<0.05", None, NormalisedValue(0.05, "<", None, "<0.05")),
    ("<0.05", "NEG", NormalisedValue(0.05, "<", NEGATIVE, "<0.05")),
    ("≥1000", None, NormalisedValue(1000.0, ">=", None, "≥1000")),
    ("＞1000", None, NormalisedValue(1000.0, ">", None, ">1000")),
    ("<=2.00", None, NormalisedValue(2.0, "<=", None, "<=2.00")),
    ("118", "L", NormalisedValue(118.0, None, None, "118")),
    ("-3.5", None, NormalisedValue(-3.5, None, None, "-3.5")),
    # Fixed: the comparator beside a reading was dropped ("<0.05 阴性" became 0.05).
    ("<0.05 阴性", None, NormalisedValue(0.05, "<", NEGATIVE, "<0.05 阴性")),
    # Fixed: an RPR titre beside a reading became the number 1.
    ("阳性 1:16", None, NormalisedValue(None, None, POSITIVE, "阳性 1:16")),
    ("1:16", "POS", NormalisedValue(None, None, POSITIVE, "1:16")),
    ("1.2 mIU/mL", None, NormalisedValue(None, None, None, "1.2 mIU/mL")),
    # Unreadable text is kept (NFKC-normalised, as every value is: full-width → ASCII).
    ("溶血，请重新采样", None, NormalisedValue(None, None, None, "溶血,请重新采样")),
    ("A型", None, NormalisedValue(None, None, None, "A型")),
    ("", None, NormalisedValue(None, None, None, "")),
    # Fixed: NUL (refused by PostgreSQL text) and numbers too long to be finite.
    ("阴性\x00", None, NormalisedValue(None, None, NEGATIVE, "阴性")),
    ("9" * 400, None, NormalisedValue(None, None, None, "9" * 400)),
]


@pytest.mark.parametrize(("raw", "interpretation", "expected"), CORPUS)
def test_normalise_reads_the_values_lis_systems_send(
    raw: str, interpretation: str | None, expected: NormalisedValue
) -> None:
    assert normalise(raw, interpretation=interpretation) == expected


@given(raw=st.text(), interpretation=st.none() | st.text(max_size=12))
def test_normalise_never_raises_and_never_guesses_beyond_its_rules(
    raw: str, interpretation: str | None
) -> None:
    value = normalise(raw, interpretation=interpretation)

    assert value.text == unicodedata.normalize("NFKC", raw).replace("\x00", "").strip()
    assert value.numeric is None or math.isfinite(value.numeric)
    assert value.comparator in (None, "<", "<=", ">", ">=")
    assert value.qualitative in (None, POSITIVE, NEGATIVE, WEAK_POSITIVE)
    assert value.comparator is None or value.numeric is not None


@given(
    number=st.integers(min_value=0, max_value=10**9),
    places=st.integers(min_value=0, max_value=4),
    comparator=st.sampled_from(["", "<", "<=", ">", ">=", "≤", "≥"]),
    unit=st.sampled_from(["", " S/CO", "(S/CO)", " COI"]),
)
def test_normalise_keeps_every_plain_number_with_its_comparator(
    number: int, places: int, comparator: str, unit: str
) -> None:
    text = f"{number / 10**places:.{places}f}"

    value = normalise(f"{comparator}{text}{unit}")

    assert value.numeric == float(text)
    assert value.comparator == {"": None, "≤": "<=", "≥": ">="}.get(comparator, comparator)
    assert value.qualitative is None


# --- store_results ----------------------------------------------------------------------------


async def store(db: Database, results: list[IncomingResult]) -> StoreOutcome:
    async with db.transaction() as session:
        dictionary = await LabDictionary.load(session)
        return await store_results(session, dictionary, results)


async def rows(db: Database) -> list[LabResult]:
    async with db.reader() as session:
        return list((await session.scalars(select(LabResult).order_by(LabResult.id))).all())


async def proposals(db: Database) -> list[RiskFactorProposal]:
    async with db.reader() as session:
        found = await session.scalars(select(RiskFactorProposal).order_by(RiskFactorProposal.id))
        return list(found.all())


async def test_items_map_by_local_code_and_else_by_loinc(db: Database) -> None:
    patient_id, _ = await seed_patient(db)

    outcome = await store(
        db,
        [
            incoming(patient_id, "r1", "阴性", local_code="MY-HBSAG"),
            incoming(patient_id, "r2", "阴性", local_code="抗-HIV"),
            incoming(patient_id, "r3", "阴性", local_code="NEW-CODE-9", loinc="7918-6"),
            incoming(patient_id, "r4", "118", local_code=None, loinc="718-7", unit="g/L"),
        ],
    )

    assert outcome.errors == []
    stored = [(r.item_code, r.item_name, r.loinc, r.local_code) for r in await rows(db)]
    assert stored == [
        ("HBSAG", "乙肝表面抗原", "5196-1", "MY-HBSAG"),
        ("HIV", "HIV抗体", "7918-6", "抗-HIV"),
        ("HIV", "HIV抗体", "7918-6", "NEW-CODE-9"),
        ("HGB", "血红蛋白", "718-7", None),
    ]


async def test_an_unmapped_item_is_reported_and_not_stored(db: Database) -> None:
    patient_id, _ = await seed_patient(db)

    outcome = await store(
        db,
        [
            incoming(patient_id, "ok", "阴性"),
            incoming(
                patient_id,
                "alt",
                "23",
                local_code="SH-ALT",
                loinc="1742-6",
                local_name="谷丙转氨酶",
            ),
            incoming(patient_id, "none", "5", local_code=None, loinc=None),
        ],
    )

    assert outcome.errors == [
        FieldError(
            "results[1].code", "检验项目 SH-ALT（谷丙转氨酶） 未在数据字典中映射", "UNMAPPED_ITEM"
        ),
        FieldError("results[2].code", "检验项目 （空） 未在数据字典中映射", "UNMAPPED_ITEM"),
    ]
    assert [r.source_id for r in await rows(db)] == ["ok"]


async def test_the_same_result_again_is_a_duplicate_and_adds_no_row(db: Database) -> None:
    patient_id, _ = await seed_patient(db)
    result = incoming(patient_id, "LIS-1", "0.35 S/CO", interpretation="NEG", unit="S/CO")

    first = await store(db, [result])
    again = await store(db, [result, result])

    assert (len(first.stored), first.duplicates) == (1, 0)
    assert (len(again.stored), len(again.corrected), again.duplicates) == (0, 0, 2)
    assert len(await rows(db)) == 1


async def test_a_corrected_value_becomes_an_amendment_that_keeps_the_old_values(
    db: Database,
) -> None:
    patient_id, _ = await seed_patient(db)
    await store(db, [incoming(patient_id, "LIS-1", "0.35 S/CO", interpretation="NEG", unit="S/CO")])

    outcome = await store(
        db, [incoming(patient_id, "LIS-1", "12.5 S/CO", interpretation="POS", unit="S/CO")]
    )

    [row] = await rows(db)
    async with db.reader() as session:
        [amendment] = (await session.scalars(select(LabResultAmendment))).all()
    assert [r.id for r in outcome.corrected] == [row.id]
    assert (row.value_numeric, row.value_qualitative, row.amendment_count) == (12.5, POSITIVE, 1)
    assert amendment.lab_result_id == row.id
    assert amendment.before == {
        "value_numeric": 0.35,
        "comparator": None,
        "value_qualitative": NEGATIVE,
        "value_text": "0.35 S/CO",
        "unit": "S/CO",
        "reference_range": None,
        "abnormal_flag": None,
    }
    assert amendment.after == {
        **amendment.before,
        "value_numeric": 12.5,
        "value_qualitative": POSITIVE,
        "value_text": "12.5 S/CO",
    }
    assert (amendment.amended_by, amendment.reason) == ("LIS", "检验系统更正结果")


async def test_results_join_the_pregnancy_during_which_the_specimen_was_taken(
    db: Database,
) -> None:
    patient_id, current = await seed_patient(db, lmp=dt.date(2024, 1, 10))
    assert current is not None
    earlier = await add_pregnancy(
        db, patient_id, dt.date(2021, 1, 5), delivered_on=dt.date(2021, 10, 1)
    )

    await store(
        db,
        [
            incoming(patient_id, "a", "118", local_code="HGB", specimen_at=cst(2021, 6, 1)),
            # 35 days after delivery: still within 产后42天.
            incoming(patient_id, "b", "118", local_code="HGB", specimen_at=cst(2021, 11, 5)),
            incoming(patient_id, "c", "118", local_code="HGB", specimen_at=cst(2023, 5, 1)),
            # 07:30 Beijing time on the LMP day is 23:30 UTC the day before (fixed: the
            # UTC date put this result outside the pregnancy).
            incoming(patient_id, "d", "118", local_code="HGB", specimen_at=cst(2024, 1, 10, 7)),
            incoming(patient_id, "e", "118", local_code="HGB", specimen_at=cst(2024, 3, 1)),
        ],
    )

    assert [(r.source_id, r.pregnancy_id) for r in await rows(db)] == [
        ("a", earlier),
        ("b", earlier),
        ("c", None),
        ("d", current),
        ("e", current),
    ]


async def test_a_positive_hbsag_proposes_the_purple_factor_once(db: Database) -> None:
    patient_id, pregnancy_id = await seed_patient(db)

    first = await store(db, [incoming(patient_id, "h1", "阳性", specimen_at=cst(2024, 3, 1, 7))])
    second = await store(
        db,
        [
            incoming(patient_id, "h2", "阳性 2563.4 IU/mL", specimen_at=cst(2024, 3, 20)),
            incoming(patient_id, "h3", "阳性", specimen_at=cst(2024, 4, 2)),
        ],
    )

    [proposal] = await proposals(db)
    first_row = (await rows(db))[0]
    assert [p.id for p in first.proposals] == [proposal.id]
    assert second.proposals == []
    assert (proposal.pregnancy_id, proposal.code, proposal.status) == (
        pregnancy_id,
        "P-HEPATITIS",
        "PENDING",
    )
    assert proposal.lab_result_id == first_row.id
    # The item's own test date, in Beijing time.
    assert proposal.reason == "乙肝表面抗原阳性（2024-03-01），建议确认传染病（紫色）高危因素"


async def test_a_positive_result_outside_any_pregnancy_proposes_nothing(db: Database) -> None:
    patient_id, _ = await seed_patient(db, lmp=None)

    outcome = await store(db, [incoming(patient_id, "h1", "阳性")])

    assert outcome.proposals == []
    assert await proposals(db) == []


async def test_a_correction_to_positive_proposes_the_factor(db: Database) -> None:
    patient_id, _ = await seed_patient(db)
    await store(db, [incoming(patient_id, "t1", "阴性", local_code="MY-TP")])

    outcome = await store(db, [incoming(patient_id, "t1", "阳性", local_code="MY-TP")])

    assert [p.code for p in outcome.proposals] == ["P-SYPHILIS"]
    assert [p.code for p in await proposals(db)] == ["P-SYPHILIS"]


async def test_receiving_the_original_again_does_not_undo_a_doctors_amendment(
    db: Database,
) -> None:
    patient_id, _ = await seed_patient(db)
    original = incoming(patient_id, "LIS-7", "阳性", local_code="MY-HIV")
    await store(db, [original])
    [row] = await rows(db)
    await amend_lab_result(db, DOCTOR, row.id, Amendment(qualitative=NEGATIVE, reason="复核为阴性"))

    again = await store(db, [original])

    [after] = await rows(db)
    assert again.duplicates == 1
    assert again.corrected == []
    assert (after.value_qualitative, after.value_text, after.amendment_count) == (
        NEGATIVE,
        "阴性",
        1,
    )


async def test_values_that_would_not_fit_the_columns_are_cut_not_refused(db: Database) -> None:
    patient_id, _ = await seed_patient(db)

    outcome = await store(
        db,
        [
            incoming(
                patient_id,
                "long",
                "阴性\x00" + "备注" * 200,
                local_code="X" * 100,
                loinc="718-7",
                unit="g/L" * 20,
                reference_range="1" * 100,
            )
        ],
    )

    [row] = await rows(db)
    assert outcome.errors == []
    assert (len(row.local_code or ""), len(row.value_text or ""), len(row.unit or "")) == (
        64,
        256,
        32,
    )
    assert "\x00" not in (row.value_text or "")
    async with db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(LabResult)) == 1
