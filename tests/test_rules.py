"""Property-based and corpus tests of the domain rules: resident IDs, pinyin, grading, dates."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import FieldError
from domain.patient import rules as patient_rules
from domain.pregnancy import rules as pregnancy_rules
from domain.risk.rules import RiskColor, grade

REGIONS = st.sampled_from(["450102", "450103", "110105", "440106", "510104", "650102"])
BIRTHS = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2010, 12, 31))


@given(REGIONS, BIRTHS, st.integers(min_value=0, max_value=999))
def test_generated_ids_validate_and_yield_their_birth_date(
    region: str, birth: dt.date, seq: int
) -> None:
    rid = patient_rules.make_resident_id(region, birth, seq)

    assert patient_rules.validate_resident_id(rid, today=dt.date(2026, 11, 27)) == (rid, birth)


@given(REGIONS, BIRTHS, st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(
    region: str, birth: dt.date, seq: int, position: int, delta: int
) -> None:
    rid = patient_rules.make_resident_id(region, birth, seq)
    changed = rid[:position] + str((int(rid[position]) + delta) % 10) + rid[position + 1 :]

    outcome = patient_rules.validate_resident_id(changed, today=dt.date(2026, 11, 27))

    assert isinstance(outcome, FieldError)


@given(st.text(max_size=30))
def test_validation_never_crashes_on_arbitrary_text(raw: str) -> None:
    outcome = patient_rules.validate_resident_id(raw, today=dt.date(2026, 11, 27))

    assert isinstance(outcome, FieldError | tuple)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002X", ("11010519491231002X", dt.date(1949, 12, 31))),  # GB 11643 example
        ("11010519491231002x", ("11010519491231002X", dt.date(1949, 12, 31))),  # lower-case x
        (" 11010519491231002X ", ("11010519491231002X", dt.date(1949, 12, 31))),
    ],
)
def test_known_ids(raw: str, expected: tuple[str, dt.date]) -> None:
    assert patient_rules.validate_resident_id(raw, today=dt.date(2026, 11, 27)) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("110105194912310021", "INVALID_CHECK_DIGIT"),
        ("1101051949123100", "INVALID_FORMAT"),
        ("11010519491231002Y", "INVALID_FORMAT"),
        ("110105194913310028", "INVALID_BIRTH_DATE"),
        ("110105203012310021", "INVALID_BIRTH_DATE"),  # born after today
        ("000105194912310021", "INVALID_REGION"),
    ],
)
def test_bad_ids(raw: str, code: str) -> None:
    outcome = patient_rules.validate_resident_id(raw, today=dt.date(2026, 11, 27))

    assert isinstance(outcome, FieldError)
    assert outcome.code == code


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("王小明", "WXM"),
        ("欧阳娜娜", "OYNN"),
        ("覃海燕", "QHY"),
        ("单丽", "SL"),
        ("尉迟敏", "YCM"),
        ("曾小红", "ZXH"),
        ("韦·阿依", "WAY"),
        ("Anna李", "ANNAL"),
    ],
)
def test_pinyin_initials(name: str, initials: str) -> None:
    assert patient_rules.name_initials(name) == initials


def test_masking_keeps_only_the_edges() -> None:
    assert patient_rules.mask_resident_id("11010519491231002X") == "110105********002X"
    assert patient_rules.mask_phone("13877100009") == "138****0009"


COLORS = st.sampled_from(["YELLOW", "ORANGE", "RED", "PURPLE"])


@given(st.lists(st.tuples(st.text(min_size=1, max_size=5), COLORS), max_size=8))
def test_grading_takes_the_highest_colour_and_flags_purple(factors: list[tuple[str, str]]) -> None:
    grading = grade(factors)

    ranked = [c for _, c in factors if c != "PURPLE"]
    order = ["GREEN", "YELLOW", "ORANGE", "RED"]
    expected = max(ranked, key=order.index) if ranked else "GREEN"
    assert grading.color == RiskColor(expected)
    assert grading.infectious == any(c == "PURPLE" for _, c in factors)
    assert set(grading.infectious_factor_codes) == {code for code, c in factors if c == "PURPLE"}


def test_edd_is_280_days_after_lmp_and_gestational_age_counts_days() -> None:
    lmp = dt.date(2026, 3, 1)

    assert pregnancy_rules.edd_from_lmp(lmp) == dt.date(2026, 12, 6)
    assert (
        pregnancy_rules.format_gestational_age(
            pregnancy_rules.gestational_days(lmp, dt.date(2026, 9, 16))
        )
        == "28+3"
    )


def test_parity_must_be_below_gravidity() -> None:
    errors = pregnancy_rules.check_gravidity_parity(2, 2)

    assert [(e.field, e.code) for e in errors] == [("parity", "PARITY_NOT_BELOW_GRAVIDITY")]
