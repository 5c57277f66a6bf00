"""The NT (颈项透明层) extractor: a corpus of report texts, properties, and `mhub extract-nt`."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import api.cli
from integrations.ultrasound.nt import STATUSES, Fetus, NtExtraction, extract_nt

CORPUS_PATH = Path(__file__).parent / "data" / "nt_reports.jsonl"
CORPUS: list[dict[str, Any]] = [
    json.loads(line)
    for line in CORPUS_PATH.read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def full_width(text: str) -> str:
    """ASCII → full-width forms (Ａ, １, ：, ．, ideographic space), as some RIS exports write."""
    out = []
    for c in text:
        if c == " ":
            out.append("\u3000")
        elif "!" <= c <= "~":
            out.append(chr(ord(c) + 0xFEE0))
        else:
            out.append(c)
    return "".join(out)


# --------------------------------------------------------------------------- corpus


def test_corpus_is_large_and_covers_every_status() -> None:
    assert len(CORPUS) >= 60
    assert len({case["id"] for case in CORPUS}) == len(CORPUS)
    assert {case["expected"]["status"] for case in CORPUS} == set(STATUSES)


@pytest.mark.parametrize("case", CORPUS, ids=[case["id"] for case in CORPUS])
def test_corpus_report(case: dict[str, Any]) -> None:
    assert extract_nt(case["text"]).to_json() == case["expected"]


@pytest.mark.parametrize("case", CORPUS, ids=[case["id"] for case in CORPUS])
def test_corpus_report_written_full_width(case: dict[str, Any]) -> None:
    assert extract_nt(full_width(case["text"])).to_json() == case["expected"]


# --------------------------------------------------------------------------- shape and rules


def test_result_shape() -> None:
    result = extract_nt("早孕期超声：宫内单活胎，头臀长59mm，颈项透明层厚度（NT）1.6mm。")

    assert result == NtExtraction(
        status="OK",
        nt_mm=1.6,
        crl_mm=59.0,
        gestational_age=None,
        fetuses=(Fetus(None, 1.6),),
        matched_text="颈项透明层厚度(NT)1.6mm",
    )
    assert list(result.to_json()) == ["status", "nt_mm", "crl_mm", "gestational_age", "fetuses"]
    with pytest.raises(AttributeError):
        result.status = "AMBIGUOUS"  # type: ignore[misc]


def test_matched_text_is_the_snippet_the_value_came_from() -> None:
    result = extract_nt("超声所见：宫内单活胎。\nNT：１．５ｍｍ（正常值<3.0mm）\n头臀长60mm")

    assert result.status == "OK"
    assert result.matched_text == "NT:1.5mm(正常值<3.0mm)"
    assert extract_nt("宫内单活胎").matched_text is None


@pytest.mark.parametrize(
    ("text", "status", "nt_mm"),
    [
        # Every other length in the report is in mm: the bare number is mm.
        ("头臀长60mm，NT 1.6", "OK", 1.6),
        ("NT 1.6，羊水深度35mm，头臀长60mm", "OK", 1.6),
        # The header names the unit.
        ("NT(mm)：1.6", "OK", 1.6),
        ("颈项透明层厚度（mm）：2.1", "OK", 2.1),
        # Nothing else in the report: the unit is unknown.
        ("NT 1.6", "AMBIGUOUS", None),
        ("NT 0.16", "AMBIGUOUS", None),
        # The report measures in cm, or mixes units: not clearly mm.
        ("头臀长6.0cm，NT 0.16", "AMBIGUOUS", None),
        ("头臀长6.0cm，羊水深度35mm，NT 1.6", "AMBIGUOUS", None),
        # A reference range in mm is not a measurement.
        ("NT 1.6，正常值<3.0mm", "AMBIGUOUS", None),
        # mmHg and cm/s are not lengths.
        ("血压120/80mmHg，NT 1.6", "AMBIGUOUS", None),
        # mm context, but implausible as mm.
        ("头臀长60mm，NT 0.16", "AMBIGUOUS", None),
    ],
)
def test_unitless_values_are_mm_only_when_the_report_makes_it_clear(
    text: str, status: str, nt_mm: float | None
) -> None:
    result = extract_nt(text)

    assert (result.status, result.nt_mm) == (status, nt_mm)


@pytest.mark.parametrize(
    "text",
    [
        "NT 0.29mm",
        "NT 10.01mm",
        "NT 0.02cm",
        "NT 1.01cm",
        "NT 1.5-2.0mm",
        "NT 1.5mm-2.0mm",
        "NT 1.5至2.0mm",
        "NT<2.5mm",
        "NT＜2.5mm",
        "NT≤2.5mm",
        "NT 小于0.25cm",
        "NT 不超过2.5mm",
        "NT 2.5mm以内",
        "NT 1.6mm，1.9mm",
        "NT 1.6mm。结论：NT 1.9mm",
        "NT未测，NT 1.6mm",
    ],
)
def test_no_single_trustworthy_value_is_ambiguous(text: str) -> None:
    result = extract_nt(text)

    assert result.status == "AMBIGUOUS"
    assert result.nt_mm is None
    assert result.fetuses == ()


@pytest.mark.parametrize(
    ("text", "nt_mm"), [("NT 0.3mm", 0.3), ("NT 10mm", 10.0), ("NT 0.03cm", 0.3), ("NT 1cm", 10.0)]
)
def test_plausible_range_is_inclusive(text: str, nt_mm: float) -> None:
    assert extract_nt(text).nt_mm == nt_mm


@pytest.mark.parametrize(
    ("text", "ga"),
    [
        ("孕12+3周", "12+3"),
        ("相当于孕12周3天", "12+3"),
        ("超声孕周12W3D", "12+3"),
        ("12周+3天", "12+3"),
        ("GA 12w+3d", "12+3"),
        ("孕周：12+3", "12+3"),
        ("孕13周", "13+0"),
        ("建议孕11-13+6周复查", None),
        ("孕11周-13周+6天", None),
        ("孕50+1周", None),
        ("停经12+5周，超声孕周12+3周", "12+3"),
    ],
)
def test_gestational_age(text: str, ga: str | None) -> None:
    assert extract_nt(text).gestational_age == ga


def test_huge_input_is_read_in_reasonable_time() -> None:
    text = "宫内单活胎，" * 20_000 + "NT 1.6mm，" + " " * 200_000 + "胎儿A、胎儿B、" * 10_000
    started = time.monotonic()

    result = extract_nt(text)

    assert result.status == "AMBIGUOUS"  # a list of labels implies more than one fetus
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\x01\x02\xff\ufffd",
        "NT" + "9" * 5_000 + "mm",
        "NT 1.6mm" + "\ud800",
        "(" * 10_000 + "NT",
        "👶🏻 NT 🍼 1.6 ㎜ 🎉",
        "NT：\n" * 1_000,
    ],
)
def test_odd_inputs_never_raise(text: str) -> None:
    assert extract_nt(text).status in STATUSES


# --------------------------------------------------------------------------- properties

FRAGMENTS = [
    "NT",
    "NT值",
    "颈项透明层厚度（NT）",
    "颈后透明层",
    "颈后透明带",
    "NT-proBNP",
    "NTD",
    "NF",
    "IT",
    "头臀长",
    "CRL",
    "羊水深度",
    "1.6",
    "０．１５",
    "59",
    "12+3",
    "mm",
    "cm",
    "毫米",
    "厘米",
    "㎜",
    "㎝",
    "约",
    "：",
    ":",
    "=",
    "，",
    "；",
    "。",
    "\n",
    " ",
    "-",
    "～",
    "<",
    "小于",
    "以下",
    "正常值",
    "参考值",
    "（",
    "）",
    "(",
    ")",
    "胎儿A",
    "胎儿B",
    "F1",
    "左侧胎儿",
    "、",
    "分别",
    "双胎",
    "三活胎",
    "未测",
    "显示不清",
    "建议",
    "孕",
    "周",
    "天",
    "W",
    "D",
    "%",
    "😀",
    "\x00",
]


@given(st.text())
def test_never_raises_on_arbitrary_text(text: str) -> None:
    result = extract_nt(text)

    assert result.status in STATUSES
    json.dumps(result.to_json(), ensure_ascii=False)


@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join))
def test_never_raises_on_report_like_text(text: str) -> None:
    result = extract_nt(text)

    assert result.status in STATUSES
    assert (result.nt_mm is not None) == (result.status == "OK")
    if result.status in ("OK", "MULTIPLE"):
        assert result.fetuses
        assert all(0.3 <= f.nt_mm <= 10 for f in result.fetuses)
        assert result.matched_text
    else:
        assert result.fetuses == ()
    if result.status == "MULTIPLE":
        assert len(result.fetuses) >= 2


@given(st.integers(min_value=5, max_value=99))
def test_template_in_mm(tenths: int) -> None:
    v = f"{tenths // 10}.{tenths % 10}"

    result = extract_nt(f"颈项透明层厚度（NT）{v}mm")

    assert result.status == "OK"
    assert result.nt_mm == float(v)


@given(st.integers(min_value=5, max_value=99))
def test_template_in_cm(tenths: int) -> None:
    v = f"{tenths // 10}.{tenths % 10}"

    result = extract_nt(f"颈项透明层厚度（NT）0.{tenths:02d}cm")

    assert result.status == "OK"
    assert result.nt_mm == float(v)


@dataclass(frozen=True)
class Report:
    tokens: tuple[str, ...]
    nt_mm: float
    crl_mm: float | None
    gestational_age: str | None

    @property
    def text(self) -> str:
        return "".join(self.tokens)


KEYWORDS = [
    "颈项透明层厚度（NT）",
    "颈项透明层厚度（NT）：",
    "颈项透明层厚度",
    "颈项透明层",
    "颈后透明层厚度",
    "颈后透明带",
    "NT",
    "NT：",
    "NT:",
    "NT=",
    "NT值",
    "NT ",
]
MM_UNITS = ["mm", " mm", "毫米", "㎜", "ｍｍ"]
CM_UNITS = ["cm", " cm", "厘米", "㎝"]
REFERENCES = ["正常值<3.0mm", "（正常值<3.0mm）", "正常值＜3.0mm", "(参考值<3.0mm)"]


@st.composite
def reports(draw: st.DrawFn, with_crl: bool | None = None) -> Report:
    tenths = draw(st.integers(min_value=5, max_value=99))
    if draw(st.booleans()):
        value = f"{tenths // 10}.{tenths % 10}" + draw(st.sampled_from(MM_UNITS))
    else:
        value = f"0.{tenths:02d}" + draw(st.sampled_from(CM_UNITS))
    nt = [draw(st.sampled_from(KEYWORDS)), draw(st.sampled_from(["", "约", " "])), value]
    clauses = [nt]
    crl_mm = None
    if with_crl if with_crl is not None else draw(st.booleans()):
        crl = draw(st.integers(min_value=40, max_value=84))
        crl_mm = float(crl)
        clauses.append([draw(st.sampled_from(["头臀长", "CRL ", "顶臀长"])), f"{crl}mm"])
    ga = None
    if draw(st.booleans()):
        weeks, days = draw(st.integers(11, 13)), draw(st.integers(0, 6))
        ga = f"{weeks}+{days}"
        form = draw(st.sampled_from(["孕{w}+{d}周", "相当于孕{w}周{d}天", "超声孕周{w}W{d}D"]))
        clauses.append([form.format(w=weeks, d=days)])
    clauses = draw(st.permutations(clauses))
    tokens: list[str] = [draw(st.sampled_from(["", "早孕期超声：", "超声所见：宫内单活胎，"]))]
    for i, clause in enumerate(clauses):
        if i:
            tokens.append(draw(st.sampled_from(["，", "；", "。", "\n", "，\n"])))
        tokens.extend(clause)
    tokens.append(draw(st.sampled_from(["", "。", "。\n"])))
    return Report(tuple(tokens), tenths / 10, crl_mm, ga)


@given(reports())
def test_generated_report_is_read(report: Report) -> None:
    result = extract_nt(report.text)

    assert result.status == "OK", report.text
    assert result.nt_mm == report.nt_mm
    assert result.crl_mm == report.crl_mm
    assert result.gestational_age == report.gestational_age
    assert result.fetuses == (Fetus(None, report.nt_mm),)


@given(reports(), st.data())
def test_a_reference_range_anywhere_changes_nothing(report: Report, data: st.DataObject) -> None:
    """Anywhere = at any token boundary: before, between or after keyword, value, unit, clauses."""
    at = data.draw(st.integers(min_value=0, max_value=len(report.tokens)))
    reference = data.draw(st.sampled_from(REFERENCES))
    tokens = [*report.tokens[:at], reference, *report.tokens[at:]]

    assert extract_nt("".join(tokens)).to_json() == extract_nt(report.text).to_json()


@given(reports())
def test_full_width_text_changes_nothing(report: Report) -> None:
    assert extract_nt(full_width(report.text)).to_json() == extract_nt(report.text).to_json()


@given(reports(with_crl=False), st.integers(min_value=40, max_value=84), st.booleans())
def test_adding_a_crl_sets_crl_and_keeps_nt(report: Report, crl: int, before: bool) -> None:
    plain = extract_nt(report.text)
    clause = f"头臀长{crl}mm"
    text = f"{clause}，{report.text}" if before else f"{report.text}\n{clause}"

    result = extract_nt(text)

    assert result.crl_mm == crl
    assert (result.status, result.nt_mm) == (plain.status, plain.nt_mm)


@settings(deadline=None, max_examples=25)
@given(reports(), st.integers(min_value=1, max_value=4))
def test_repeating_the_finding_changes_nothing(report: Report, times: int) -> None:
    once = extract_nt(report.text)

    assert extract_nt("\n".join([report.text] * times)).to_json() == once.to_json()


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "早孕期超声：宫内单活胎，头臀长59mm，颈项透明层厚度（NT）1.6mm，孕12+3周。",
            '{"status": "OK", "nt_mm": 1.6, "crl_mm": 59.0, "gestational_age": "12+3", '
            '"fetuses": [{"label": null, "nt_mm": 1.6}]}',
        ),
        (
            "宫内双活胎。胎儿A：NT 1.2mm；胎儿B：NT 1.4mm",
            '{"status": "MULTIPLE", "nt_mm": null, "crl_mm": null, "gestational_age": null, '
            '"fetuses": [{"label": "胎儿A", "nt_mm": 1.2}, {"label": "胎儿B", "nt_mm": 1.4}]}',
        ),
        (
            "宫内单活胎，NF 3.2mm，羊水深度35mm，NT-proBNP 125 pg/mL",
            '{"status": "NOT_FOUND", "nt_mm": null, "crl_mm": null, "gestational_age": null, '
            '"fetuses": []}',
        ),
    ],
    ids=["ok", "multiple", "not-found"],
)
def test_cli_extract_nt(
    text: str, expected: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8"))

    assert api.cli.main(["extract-nt"]) == 0

    out, err = capsys.readouterr()
    assert out == expected + "\n"
    assert err == ""


def test_cli_extract_nt_survives_invalid_utf8(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = "NT：1.6mm".encode() + b"\xff\xfe"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))

    assert api.cli.main(["extract-nt"]) == 0

    assert json.loads(capsys.readouterr().out)["nt_mm"] == 1.6
