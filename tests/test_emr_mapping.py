"""ICD-10 codes and ranges (1.28.1): normalising, matching, and the diagnosis a factor takes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.risk.emr_diagnosis import (
    JOINER,
    EmrFinding,
    Icd10Range,
    factor_ranges,
    finding,
    matching,
    parse_mapping,
    rank,
)
from integrations.emr.port import EmrDiagnosis, normalise_icd10

ROOT = Path(__file__).resolve().parent.parent
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

categories = st.builds(
    lambda letter, number: f"{letter}{number:02d}",
    st.sampled_from(LETTERS),
    st.integers(0, 99),
)
subdivisions = st.text(alphabet="0123456789X", min_size=1, max_size=6)
codes = st.one_of(
    categories,
    st.builds(lambda c, s: f"{c}.{s}", categories, subdivisions),
)


def ancestors(code: str) -> set[str]:
    """The code, its category, and each shorter form of its subdivision (the ICD tree)."""
    found = {code[:3]}
    if len(code) > 3:
        found |= {code[:k] for k in range(5, len(code) + 1)}
    return found


# --- normalising ------------------------------------------------------------------------------


@given(codes)
def test_normalising_a_normalised_code_keeps_it(code: str) -> None:
    assert normalise_icd10(code) == code


@given(codes)
def test_case_width_spaces_and_a_missing_dot_do_not_matter(code: str) -> None:
    dotless = code.replace(".", "")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())

    assert normalise_icd10(dotless) == code
    assert normalise_icd10(f"  {code.lower()} ") == code
    assert normalise_icd10(full_width) == code


@pytest.mark.parametrize("text", ["", "妊娠期糖尿病", "O2", "24.4", "O24.4.1", "OO24", "O24-4"])
def test_text_that_is_no_code_is_refused(text: str) -> None:
    assert normalise_icd10(text) is None


# --- ranges ------------------------------------------------------------------------------------


@given(codes, codes)
def test_a_code_holds_exactly_its_descendants(pattern: str, code: str) -> None:
    assert Icd10Range.parse(pattern).matches(code) == (pattern in ancestors(code))


@given(codes)
def test_every_ancestor_holds_the_code(code: str) -> None:
    assert all(Icd10Range.parse(a).matches(code) for a in ancestors(code))


@given(st.text(alphabet="0123456789", max_size=2), st.sampled_from(LETTERS), codes)
def test_a_star_holds_the_codes_that_start_so(digits: str, letter: str, code: str) -> None:
    stem = f"{letter}{digits}"

    assert Icd10Range.parse(f"{stem}*").matches(code) == code.startswith(stem)


@given(categories, categories, codes)
def test_a_range_of_categories_holds_what_lies_between(low: str, high: str, code: str) -> None:
    low, high = min(low, high), max(low, high)

    assert Icd10Range.parse(f"{low}-{high}").matches(code) == (low <= code[:3] <= high)


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("O24.4", ["O24.4", "O24.40", "O24.401", "O24.400X001"], ["O24", "O24.9", "O24.5"]),
        ("O24.*", ["O24.0", "O24.4", "O24.401"], ["O24", "O25.1"]),
        ("O13", ["O13", "O13.X00"], ["O14", "O12.9"]),
        ("B20-B24", ["B20", "B22.7", "B24"], ["B19.9", "B25", "B25.0"]),
        ("O33.0-O33.3", ["O33.0", "O33.101", "O33.3"], ["O33", "O33.4"]),
        ("J*", ["J45.9", "J00"], ["I99", "K00"]),
    ],
)
def test_ranges_as_the_mapping_file_writes_them(
    spec: str, inside: list[str], outside: list[str]
) -> None:
    entry = Icd10Range.parse(spec)

    assert [code for code in inside if entry.matches(code)] == inside
    assert [code for code in outside if entry.matches(code)] == []


@pytest.mark.parametrize("spec", ["", "O2.*", "*", "B24-B20", "O24-O24.4", "妊娠*", "O24.4.1"])
def test_a_malformed_range_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="ICD-10 范围"):
        Icd10Range.parse(spec)


# --- choosing the diagnosis -------------------------------------------------------------------

ranges_lists = st.lists(codes.map(Icd10Range.parse), min_size=1, max_size=4)
diagnosis_lists = st.lists(
    st.builds(
        lambda n, code, text, days: EmrDiagnosis(
            f"Condition/{n}",
            code,
            text,
            dt.date(2025, 1, 1) - dt.timedelta(days=days) if days is not None else None,
            None,
        ),
        st.integers(0, 10_000),
        codes,
        st.sampled_from(["妊娠期糖尿病", "妊娠期高血压", "妊娠合并贫血", ""]),
        st.one_of(st.none(), st.integers(0, 400)),
    ),
    max_size=8,
    unique_by=lambda d: d.condition_id,
)


@given(diagnosis_lists, ranges_lists)
def test_matching_keeps_the_held_diagnoses_best_range_first(
    diagnoses: list[EmrDiagnosis], ranges: list[Icd10Range]
) -> None:
    held = matching(diagnoses, ranges)

    assert sorted(d.condition_id for d in held) == sorted(
        d.condition_id for d in diagnoses if rank(d.icd10_code, ranges) is not None
    )
    positions = [rank(d.icd10_code, ranges) or 0 for d in held]
    assert positions == sorted(positions)


@given(diagnosis_lists, ranges_lists, st.randoms())
def test_the_finding_does_not_depend_on_the_emr_order(
    diagnoses: list[EmrDiagnosis], ranges: list[Icd10Range], shuffler: object
) -> None:
    shuffled = list(diagnoses)
    shuffler.shuffle(shuffled)  # type: ignore[attr-defined]

    assert finding(shuffled, ranges) == finding(diagnoses, ranges)


@given(diagnosis_lists, ranges_lists)
def test_the_finding_comes_from_the_best_range_only(
    diagnoses: list[EmrDiagnosis], ranges: list[Icd10Range]
) -> None:
    found = finding(diagnoses, ranges)
    ranks = [r for d in diagnoses if (r := rank(d.icd10_code, ranges)) is not None]

    if not ranks:
        assert found is None
        return
    assert found is not None
    best = [d for d in diagnoses if rank(d.icd10_code, ranges) == min(ranks)]
    assert rank(found.icd10_code, ranges) == min(ranks)
    assert found.condition_id in {d.condition_id for d in best}
    texts = {d.text for d in best if d.text}
    assert set(found.diagnosis.split(JOINER)) == (texts or {found.icd10_code})


def test_the_newest_best_diagnosis_gives_code_and_condition_and_texts_are_joined() -> None:
    day = dt.date(2025, 3, 1)
    diagnoses = [
        EmrDiagnosis("Condition/1", "Z34.0", "正常首次妊娠监督", day - dt.timedelta(90), None),
        EmrDiagnosis("Condition/2", "O24.4", "妊娠期糖尿病", day - dt.timedelta(30), None),
        EmrDiagnosis("Condition/3", "O24.401", "妊娠期糖尿病A2级", day, None),
        EmrDiagnosis("Condition/4", "O24.9", "妊娠合并糖尿病", day, None),
        EmrDiagnosis("Condition/5", "O24.4", "妊娠期糖尿病", day - dt.timedelta(60), None),
    ]

    assert finding(diagnoses, factor_ranges()["Y-GDM"]) == EmrFinding(
        diagnosis="妊娠期糖尿病A2级；妊娠期糖尿病",
        icd10_code="O24.401",
        condition_id="Condition/3",
    )


# --- the configured mapping -------------------------------------------------------------------


def test_every_mapped_code_is_a_dictionary_factor() -> None:
    dictionary = json.loads(
        (ROOT / "domain/dictionary/data/risk_factors_2017.json").read_text(encoding="utf-8")
    )
    codes_in_dictionary = {entry["code"] for entry in dictionary["entries"]}

    assert set(factor_ranges()) - codes_in_dictionary == set()


def test_every_coded_demo_diagnosis_lies_in_its_factors_ranges() -> None:
    clinical = json.loads((ROOT / "domain/demo/data/clinical.json").read_text(encoding="utf-8"))
    coded = [
        (code, icd10)
        for code, template in clinical["risk_factors"].items()
        for _, icd10 in template["diagnoses"]
        if icd10 is not None
    ]

    assert len(coded) > 40
    assert [(c, i) for c, i in coded if rank(i, factor_ranges().get(c, ())) is None] == []


@pytest.mark.parametrize(
    ("factor", "code", "held"),
    [
        ("P-HIV", "B20.1", True),
        ("P-HIV", "B25.0", False),  # cytomegalovirus, not HIV
        ("P-SYPHILIS", "A53.9", True),
        ("P-SYPHILIS", "A54.0", False),  # gonorrhoea
        ("Y-GDM", "O24.1", False),  # diabetes from before the pregnancy
        ("O-ENDOCRINE-MEDS", "O24.1", True),
        ("Y-TWINS", "O30.0", True),
    ],
)
def test_ranges_keep_neighbouring_diseases_apart(factor: str, code: str, held: bool) -> None:
    assert (rank(code, factor_ranges()[factor]) is not None) == held


def test_a_broken_mapping_document_is_refused() -> None:
    with pytest.raises(ValueError, match="factors"):
        parse_mapping({"factor": {}})
    with pytest.raises(ValueError, match="字符串列表"):
        parse_mapping({"factors": {"Y-GDM": "O24.4"}})
    with pytest.raises(ValueError, match="ICD-10 范围"):
        parse_mapping({"factors": {"Y-GDM": ["O24.4-"]}})
