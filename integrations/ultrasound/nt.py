"""Read the NT (颈项透明层, nuchal translucency) out of Chinese ultrasound report text.

`extract_nt(text)` is a pure function: it never raises and never does I/O. It returns an
`NtExtraction` whose `status` is one of

* ``OK`` – exactly one trustworthy NT value for one fetus; ``nt_mm`` holds it (mm) and
  ``fetuses`` holds that one value with label ``None``.
* ``MULTIPLE`` – twins or more, one value per fetus; ``nt_mm`` is ``None`` and ``fetuses`` lists
  the values in report order with the label the report used ("胎儿A", "F1", "左侧胎儿", …) or
  ``None`` when the report gave the values without labels ("两胎NT分别为1.2mm、1.4mm").
* ``NOT_FOUND`` – the report does not mention NT at all.
* ``NOT_MEASURED`` – NT is mentioned but stated as not measured (未测, 未测量, 显示不清,
  未能测出, 未显示, 无法测量, 未行NT检查, …) and no value is given.
* ``AMBIGUOUS`` – NT is mentioned but no single trustworthy value can be taken. This is the
  answer whenever in doubt; the extractor never guesses.

``crl_mm`` and ``gestational_age`` are filled independently of the status.

Rules, in the order they are applied:

1. The text is normalised with ``unicodedata.normalize("NFKC", …)``: full-width digits, letters
   and punctuation become ASCII (``１．６ｍｍ`` → ``1.6mm``, ``NT：`` → ``NT:``), ``㎜``/``㎝``
   become ``mm``/``cm``. ``matched_text`` is a snippet of this normalised text (≤ 200 chars).
2. Reference ranges and thresholds are blanked out before anything is read: ``正常值<3.0mm``,
   ``参考值：0-3.0mm``, ``正常参考范围…``, ``正常<3mm``, ``≥3.0mm为增厚``, ``2.5mm以下为正常``,
   any bracket holding 正常/参考/界值/cut-off/百分位/MoM and a number, and any bracket holding a
   bound (``1.6mm（<3.0mm）``, ``（≥3.0mm为增厚）``); a bracket with just a value
   (``NT增厚（3.5mm）``) is kept. Gestational ages and ranges of weeks (``11-13+6周``), dates,
   clock times, percentiles (``第95百分位``) and risk ratios (``1:2500``) are blanked too.
3. NT is recognised by NT / NT值 / 颈项透明层 / 颈项透明层厚度 / 颈后透明层 / 颈后透明带 /
   颈部透明层 / "颈项透明层厚度（NT）" / "NT（颈项透明层）" / "nuchal translucency". ``NT`` must
   stand alone as a word, so NTD (神经管缺陷), NST and "NT-proBNP" are not NT; NF (颈部皮肤皱褶),
   IT (颅内透明层), CRL/头臀长, 羊水/AFV/AFI never match.
4. The value of one mention is read from the text after the keyword up to the end of the clause
   (``，`` ``；`` ``。`` line break …), the next NT mention, or the keyword of another measurement
   (CRL, 头臀长, NF, IT, 羊水, 鼻骨, 孕, 周, 建议, …); at most 80 characters. "NT：" followed by a line
   break continues on the next line. A following clause (after ``，``/``；``) that starts with a
   bare value belongs to the mention too ("NT参考值<3.0mm，实测1.6mm"; "NT 1.6mm，1.9mm" is then
   two conflicting values), and so does one that starts with a fetus label when the mention
   itself began with one ("NT：胎儿A 1.2mm，胎儿B 1.4mm").
5. In that clause a number is a *value* (``1.6mm``, ``约1.6 mm``, ``NT=1.6mm``, ``1.6mm左右``),
   a *range* (``1.5-2.0mm``), a *bound* (``<2.5mm``, ``小于0.25cm``, ``2.5mm以下``), or
   *something else* (``%``, ``MoM``, weeks …, ignored). Ranges and bounds make the report
   AMBIGUOUS. Units: mm, 毫米, cm, 厘米, 公分 (cm is multiplied by 10); values are rounded to
   2 decimals. A value outside 0.3–10 mm after conversion is implausible → AMBIGUOUS.
6. Unitless numbers ("NT 1.6") are read as mm only when that is clear: the mention's header
   names the unit ("NT(mm)：1.6"), or every other length in the report carries a unit and all of
   those are mm (at least one; reference ranges do not count). Otherwise → AMBIGUOUS. A number
   written with a decimal comma ("1,6mm") → AMBIGUOUS.
7. A mention that states "not measured" gives NOT_MEASURED – unless the same mention also has a
   number, which is AMBIGUOUS. A mention with neither number nor "not measured" (NT未见增厚,
   NT正常) is a *qualitative* mention: it does not hide a value given elsewhere, but alone it is
   AMBIGUOUS. A mention that is only a plan or recommendation (建议/预约/择期… "行NT检查") is not
   an NT finding at all and is ignored.
8. Fetuses. Labels are 胎儿A–D, 胎儿1–4, 胎儿甲/乙, A胎, 甲胎(儿), F1–F4, Twin A, Fetus 1,
   左侧/右侧/上方/下方胎儿; a label applies to every value after it until the next label
   (``胎儿A：NT 1.2mm；胎儿B：NT 1.4mm`` and ``NT：胎儿A 1.2mm，胎儿B 1.4mm``). A list of labels
   ("胎儿A、胎儿B均…") resets to "no label". A value written *before* a label inside its own clause
   ("NT 1.2mm（胎儿A）") cannot be attributed safely → AMBIGUOUS. Words such as 双胎/双活胎/
   单绒双羊/三胎 give the expected number of fetuses (not in a history: "既往双胎妊娠史"); the
   expected number is the larger of that and the number of distinct labels.
9. Decision: any range, bound, implausible or unattributable number anywhere → AMBIGUOUS.
   Several values for the same fetus must agree (repeating "NT 1.6mm" in the conclusion is fine),
   otherwise AMBIGUOUS. One fetus with a value in a report that expects one fetus → OK; one value
   when twins are expected → AMBIGUOUS. With labels, every labelled fetus must have exactly one
   value and their number must equal the expected number → MULTIPLE; if all say "not measured" →
   NOT_MEASURED; a mix → AMBIGUOUS. Without labels, several values in one mention are per fetus
   only if the mention says 分别 or the report expects exactly that many fetuses.
10. ``crl_mm``: CRL / 头臀长 / 顶臀长 / 头臀径 (same unit rules, 1–150 mm). When the report gives
    different CRLs (twins) ``crl_mm`` is ``None``: no single CRL can be trusted.
11. ``gestational_age`` ("W+D"): "孕12+3周", "12+3w", "12周3天", "12周+3天", "12W3D",
    "孕周：12+3", "孕12周" (→ "12+0"); ranges such as "11-13+6周" are not ages. When the report
    gives several, the first one stated as the ultrasound age (相当于, 超声孕周, 符合, 估测) wins,
    otherwise the first. Weeks must be 4–42.

Any unexpected internal error yields AMBIGUOUS with no values (never OK), so callers can rely on
the function not raising.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

OK: Final = "OK"
MULTIPLE: Final = "MULTIPLE"
NOT_FOUND: Final = "NOT_FOUND"
NOT_MEASURED: Final = "NOT_MEASURED"
AMBIGUOUS: Final = "AMBIGUOUS"
STATUSES: Final = (OK, MULTIPLE, NOT_FOUND, NOT_MEASURED, AMBIGUOUS)

NT_MIN_MM: Final = Decimal("0.3")
NT_MAX_MM: Final = Decimal("10")
CRL_MIN_MM: Final = Decimal("1")
CRL_MAX_MM: Final = Decimal("150")
SNIPPET_MAX: Final = 200
_WINDOW: Final = 80
_MAX_CONTINUATIONS: Final = 4
_CENT: Final = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Fetus:
    """One fetus's NT: the report's label for it ("胎儿A", "F1", …) or None, and the value in mm."""

    label: str | None
    nt_mm: float

    def to_json(self) -> dict[str, object]:
        return {"label": self.label, "nt_mm": self.nt_mm}


@dataclass(frozen=True, slots=True)
class NtExtraction:
    """What `extract_nt` read; `to_json()` is the `mhub extract-nt` output."""

    status: str
    nt_mm: float | None
    crl_mm: float | None
    gestational_age: str | None
    fetuses: tuple[Fetus, ...] = ()
    matched_text: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "nt_mm": self.nt_mm,
            "crl_mm": self.crl_mm,
            "gestational_age": self.gestational_age,
            "fetuses": [f.to_json() for f in self.fetuses],
        }


# --------------------------------------------------------------------------- patterns

_I = re.IGNORECASE
_NUM = r"(?<![0-9.])\d+(?:\.\d+)?(?![0-9])(?!\.\d)"
# mm/cm, but not mmHg, mmol, cmH2O, cm/s.
_UNIT = r"(?:mm|cm|毫米|厘米|公分)(?!hg|ol|h2o|\s*/\s*[a-z])"
_CMP = (
    r"(?:<=|>=|≤|≥|≦|≧|<|>|小于等于|小于|少于|低于|不足|不超过|不大于|未超过|未达|"
    r"大于等于|大于|高于|超过|不小于|不低于)"
)
_RSEP = r"(?:-|~|〜|—|–|−|至|到)"
_NUMU = rf"{_NUM}\s*(?:{_UNIT})?"
# A Latin keyword starts a word, or follows a unit directly ("1.6mmCRL").
_WORD_START = r"(?:(?<![A-Za-z])|(?<=mm)|(?<=cm))"

_NT_CN = r"(?:颈项透明层|颈后透明层|颈项透明带|颈后透明带|颈部透明层|颈部透明带|颈项部透明层|颈后部透明层)"
_NT_WORD = rf"{_WORD_START}NT(?![A-Za-z])(?!\s*[-‐‑–—−]?\s*pro)"
_NT_KEYWORD = re.compile(
    rf"{_NT_CN}(?:厚度)?(?:\s*\(\s*NT\s*\))?"
    rf"|{_NT_WORD}(?:\s*\(\s*{_NT_CN}(?:厚度)?\s*\))?"
    r"|nuchal\s+translucency(?:\s+thickness)?(?:\s*\(\s*NT\s*\))?",
    _I,
)
_CRL_KEYWORD = re.compile(
    rf"{_WORD_START}CRL(?![A-Za-z])(?:\s*\(\s*(?:头臀长|顶臀长)度?\s*\))?"
    r"|(?:头臀长|顶臀长)度?(?:\s*\(\s*CRL\s*\))?"
    r"|头臀径|顶臀径|crown[-\s]?rump\s+length",
    _I,
)

# Where the value of a mention ends.
_TERM = re.compile(
    r"[,;。!?\n\r]|(?<!\d)\.(?!\d)"
    rf"|{_WORD_START}(?:CRL|NF|NST|NTD|IT|AFV|AFI|BPD|HC|AC|FL|HL|FHR|NB|DV|TR|GS|YS|MoM|PI|RI"
    r"|EFW|BNP|LMP|GA|T21|T18|T13|P\d+)(?![A-Za-z])"
    r"|头臀|顶臀|皮肤|皱褶|皮褶|神经管|颅内|脑室|羊水|双顶径|头围|腹围|股骨|肱骨|胎心|心率|心管"
    r"|鼻骨|静脉导管|三尖瓣|胎盘|宫颈|孕囊|卵黄囊|孕|相当于|百分位|风险|三体|建议|提示|诊断"
    r"|结论|印象|所见|血压|体重|年|月|日|周|天"
    rf"|{_NT_CN}|{_NT_WORD}|nuchal",
    _I,
)

_ITEM = re.compile(
    rf"(?P<cmp>{_CMP})?\s*(?P<num>{_NUM})\s*(?P<unit>{_UNIT})?"
    rf"(?:\s*(?P<sep>{_RSEP})\s*(?:{_CMP})?\s*(?P<num2>{_NUM})\s*(?P<unit2>{_UNIT})?)?"
    r"(?P<suffix>\s*(?:以下|以内|以上|之间|左右|上下))?",
    _I,
)
_OTHER_AFTER = re.compile(r"\s*(?:%|‰|[A-Za-z]|周|天|次|倍|岁|个|枚|例|分|秒|克)")
_DECIMAL_COMMA = re.compile(r",\d")
_HEADER_UNIT = re.compile(r"\(\s*(mm|cm|毫米|厘米)\s*\)|单位\s*[:为]?\s*(mm|cm|毫米|厘米)", _I)
_UNIT_ITEM = re.compile(rf"{_NUM}\s*({_UNIT})", _I)

_NOT_MEASURED = re.compile(
    r"未测量?|未测出|未测及|未能测(?:量|出|及|得)?|无法测(?:量|出|及)?|不能测(?:量|出)?|测不出"
    r"|测量不满意|显示不清|显示欠清|显示不满意|显示困难|显示不佳|显示欠佳"
    r"|未能?显示(?!增厚|异常|明显|扩张)|未能?获(?:得|取)|无法获[得取]|不能获[得取]"
    r"|未做|未查|未检|未行|未能完成|未完成|暂未|切面不满意"
    r"|not\s+(?:measured|seen|visuali[sz]ed|obtained)",
    _I,
)
_NOT_MEASURED_BEFORE = re.compile(
    r"(?:未|没有|未能|无法|不能)(?:行|做|进行|测量?|检查?|检测|获得|显示)\s*$"
)
_RECOMMEND = re.compile(r"建议|预约|择期|届时|下次|择日|应于|可于|请于|拟行|需(?:要)?行|进一步", _I)
_RESPECTIVELY = re.compile(r"分别|respectively", _I)
_VALUE_LEAD = re.compile(r"(?:实测值?|测得|测值|测量值?|数值|约为?|为|[:=]|\s)*\d")

# Reference ranges and thresholds: blanked before reading.
_REF_LEAD = (
    r"(?:正常参考范围|正常参考值|正常值范围|正常范围|正常值|正常上限|参考范围|参考区间|参考值|参考"
    r"|标准值|界值|临界值|截断值|cut-?off(?:\s+value)?|normal(?:\s+range|\s+value)?"
    r"|ref(?:erence)?(?:\s+range|\s+value)?)"
)
_REF_PATTERNS: Final = (
    re.compile(
        rf"{_REF_LEAD}\s*(?:[:=]|应为|为|是|应|在)?\s*(?:{_CMP})?\s*{_NUMU}"
        rf"(?:\s*{_RSEP}\s*(?:{_CMP})?\s*{_NUMU})?(?:\s*(?:以下|以内|以上|之间))?",
        _I,
    ),
    re.compile(rf"正常\s*[:=]?\s*{_CMP}\s*{_NUMU}(?:\s*(?:以下|以内))?", _I),
    re.compile(
        rf"{_CMP}\s*{_NUMU}\s*(?:时)?\s*(?:为|属|即为|属于|提示|考虑|视为)?\s*"
        r"(?:正常|异常|增厚|临界|阳性|阴性|高风险|低风险)",
        _I,
    ),
    re.compile(
        rf"{_NUMU}\s*(?:以下|以内)\s*(?:为|属|即为|属于)?\s*正常"
        rf"|{_NUMU}\s*(?:及)?以上\s*(?:为|属|即为|属于|提示)?\s*(?:异常|增厚|高风险)",
        _I,
    ),
)
_BRACKET = re.compile(r"\([^()\n]{0,80}\)|\[[^\[\]\n]{0,80}\]|【[^【】\n]{0,80}】")
_BRACKET_REF_WORD = re.compile(r"正常|参考|界值|cut|normal|ref|百分位|percentile|中位数|MoM", _I)
_BRACKET_BOUND = re.compile(rf"{_CMP}\s*\d")
_DIGIT = re.compile(r"\d")
_PAREN_BOUND_AFTER_VALUE = re.compile(rf"(?<=[mM米分])(\s*\(\s*{_CMP}\s*{_NUMU}\s*\))", _I)
_OTHER_BLANKS: Final = (
    re.compile(r"(?<![0-9.])1\s*[:/]\s*\d{3,}(?![0-9])"),  # risk ratio 1:2500
    re.compile(r"(?<![0-9.])\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"),  # dates
    re.compile(r"(?<![0-9.])\d{1,2}:\d{2}(?::\d{2})?(?![0-9])"),  # clock times
    re.compile(r"(?:第\s*)?(?<![0-9])\d+\s*(?:百分位(?:数)?|th\s+percentile)", _I),  # 第95百分位
)

# Gestational age.
_WK = r"(?:周|w(?:k|ks|eeks?)?)"
_GA_RANGE = re.compile(
    rf"(?<![0-9.])\d{{1,2}}(?:\s*\+\s*[0-6])?\s*{_WK}?\s*{_RSEP}\s*"
    rf"\d{{1,2}}(?:\s*\+\s*[0-6])?\s*{_WK}(?:\s*[0-6]\s*天)?",
    _I,
)
_GA_PATTERNS: Final = (
    # 12周3天, 12周+3天, 12W3D, 12w+3d
    re.compile(
        rf"(?<![0-9.])(\d{{1,2}})\s*{_WK}\s*(?:\+|又|零|and)?\s*([0-6])\s*(?:天|日|d(?:ays?)?)"
        r"(?![A-Za-z])",
        _I,
    ),
    # 12+3周, 12+3w
    re.compile(rf"(?<![0-9.])(\d{{1,2}})\s*\+\s*([0-6])\s*{_WK}(?![A-Za-z])", _I),
    # 孕12+3, 孕周：12+3
    re.compile(
        r"(?:孕周|孕龄|孕|GA|相当于)\s*[:=]?\s*(?:约|为)?\s*(\d{1,2})\s*\+\s*([0-6])(?![0-9.])", _I
    ),
    # 孕12周 → 12+0
    re.compile(
        rf"(?:孕周|孕龄|孕|GA|相当于)\s*[:=]?\s*(?:约|为)?\s*(\d{{1,2}})\s*{_WK}(?![A-Za-z0-9])"
        r"(?!\s*(?:\+|又|零)?\s*[0-6]\s*(?:天|日|d))",
        _I,
    ),
)
_GA_US_CONTEXT = re.compile(r"相当于|超声|符合|估测|US|sono", _I)
_RANGE_BEFORE = re.compile(rf"{_RSEP}\s*$")
_RANGE_AFTER = re.compile(rf"\s*{_RSEP}\s*\d")

# Fetus labels and counts.
_HISTORY = re.compile(r"既往|曾|史|家族|前次|上次")
_LETTERS = "ABCD"
_LABEL_SEP = re.compile(r"\s*(?:[、,/&]|和|及|与|以及)\s*")
_ALIAS_OPEN = re.compile(r"\s*\(\s*")
_ALIAS_CLOSE = re.compile(r"\s*\)")
_CN_ORDINAL = {"甲": "A", "乙": "B", "丙": "C", "丁": "D"}
_LABEL_LETTER = re.compile(
    r"胎儿\s*([A-D])(?![A-Za-z超])((?:\s*[、,/和及与]\s*[A-D](?![A-Za-z超]))*)", _I
)
_LABEL_DIGIT = re.compile(
    r"胎儿\s*([1-4])(?![0-9.])(?!\s*(?:个|枚|只|胎|例|名|周|天|次|mm|cm|毫米|厘米))", _I
)
_LABEL_CN_AFTER = re.compile(r"胎儿\s*([甲乙丙丁])(?=[^\u4e00-\u9fff]|[头顶颈胎]|$)")
_LABEL_LETTER_BEFORE = re.compile(r"(?<![A-Za-z])([A-D])\s*胎儿?(?![盘心位头动龄囊芽膜])", _I)
_LABEL_CN_BEFORE = re.compile(r"([甲乙丙丁])胎儿?(?![盘心位头动龄囊芽膜]|蛋白)")
_LABEL_F = re.compile(r"(?<![A-Za-z0-9])F([1-4])(?![0-9.])", _I)
_LABEL_EN = re.compile(r"(?<![A-Za-z])(?:twin|fetus)\s*([A-D1-4])(?![A-Za-z0-9.])", _I)
_LABEL_SIDE = re.compile(r"(?:宫腔)?(左侧|右侧|左方|右方|上方|下方|左|右)(?:的)?胎儿")
_FETUS_COUNTS: Final = (
    (4, re.compile(r"(?<!第)四胎|四活胎|四胞胎|四个胎儿|quadruplets?", _I)),
    (3, re.compile(r"(?<!第)三胎|三活胎|三胞胎|三个胎儿|3个胎儿|triplets?", _I)),
    (2, re.compile(r"双胎|双活胎|双胞胎|两胎|两个?胎儿|2个胎儿|双绒|双羊|twins?(?![A-Za-z])", _I)),
)


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class _Label:
    start: int
    end: int
    keys: tuple[str, ...]
    surfaces: tuple[str, ...]

    @property
    def key(self) -> str | None:
        """The fetus this label names, or None for a list of labels ("胎儿A、胎儿B")."""
        return self.keys[0] if len(self.keys) == 1 else None


@dataclass(slots=True)
class _Value:
    pos: int
    mm: Decimal
    scope: _Label | None


@dataclass(slots=True)
class _Mention:
    start: int
    end: int
    scope: _Label | None
    values: list[_Value] = field(default_factory=list)
    ambiguous: bool = False
    not_measured: bool = False
    nm_scope: _Label | None = None
    has_number: bool = False
    recommendation: bool = False
    respectively: bool = False
    snippet: str = ""

    @property
    def qualitative(self) -> bool:
        return not self.has_number and not self.not_measured


def _blank_text(s: str) -> str:
    return "".join(c if c in "\r\n" else " " for c in s)


def _blank(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda m: _blank_text(m.group(0)), text)


def _blank_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    parts: list[str] = []
    last = 0
    for start, end in sorted(spans):
        start = max(start, last)
        if end <= start:
            continue
        parts.append(text[last:start])
        parts.append(_blank_text(text[start:end]))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _blank_references(text: str) -> str:
    def bracket(m: re.Match[str]) -> str:
        inner = m.group(0)
        if (_BRACKET_REF_WORD.search(inner) and _DIGIT.search(inner)) or _BRACKET_BOUND.search(
            inner
        ):
            return _blank_text(inner)
        return inner

    text = _BRACKET.sub(bracket, text)
    for pattern in _REF_PATTERNS:
        text = _blank(pattern, text)
    text = _PAREN_BOUND_AFTER_VALUE.sub(lambda m: _blank_text(m.group(0)), text)
    for pattern in _OTHER_BLANKS:
        text = _blank(pattern, text)
    return text


def _to_mm(num: str, unit: str | None) -> Decimal | None:
    if len(num) > 12:
        return None
    try:
        value = Decimal(num)
    except InvalidOperation:
        return None
    if unit is not None and unit.lower() in ("cm", "厘米", "公分"):
        value *= 10
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _as_float(value: Decimal) -> float:
    return float(value)


def _snippet(norm: str, start: int, end: int) -> str:
    return " ".join(norm[start:end].split()).rstrip(" ([【")[:SNIPPET_MAX]


# --------------------------------------------------------------------------- gestational age


def _gestational_age(text: str) -> tuple[str | None, list[tuple[int, int]]]:
    """The stated gestational age and every span that looks like a week count (to blank)."""
    spans = [(m.start(), m.end()) for m in _GA_RANGE.finditer(text)]
    found: list[tuple[int, int, str, bool]] = []
    for pattern in _GA_PATTERNS:
        for m in pattern.finditer(text):
            spans.append((m.start(), m.end()))
            first = m.start(1)
            if _RANGE_BEFORE.search(text, max(0, first - 3), first):
                continue
            if _RANGE_AFTER.match(text, m.end()):
                continue
            weeks = int(m.group(1))
            days = int(m.group(2)) if m.lastindex is not None and m.lastindex >= 2 else 0
            if not 4 <= weeks <= 42:
                continue
            us = bool(_GA_US_CONTEXT.search(text, max(0, m.start() - 8), m.start() + 5))
            found.append((m.start(), m.end(), f"{weeks}+{days}", us))
    found.sort()
    kept: list[tuple[int, int, str, bool]] = []
    for item in found:
        if kept and item[0] < kept[-1][1]:
            continue
        kept.append(item)
    preferred = [k for k in kept if k[3]] or kept
    return (preferred[0][2] if preferred else None), spans


# --------------------------------------------------------------------------- labels


def _find_labels(work: str) -> list[_Label]:
    raw: list[tuple[int, int, tuple[str, ...], tuple[str, ...]]] = []
    for m in _LABEL_LETTER.finditer(work):
        letters = [m.group(1).upper(), *(c.upper() for c in re.findall(r"[A-D]", m.group(2), _I))]
        raw.append((m.start(), m.end(), tuple(letters), tuple(f"胎儿{c}" for c in letters)))
    for m in _LABEL_DIGIT.finditer(work):
        raw.append((m.start(), m.end(), (_LETTERS[int(m.group(1)) - 1],), (f"胎儿{m.group(1)}",)))
    for m in _LABEL_CN_AFTER.finditer(work):
        raw.append((m.start(), m.end(), (_CN_ORDINAL[m.group(1)],), (f"胎儿{m.group(1)}",)))
    for m in _LABEL_LETTER_BEFORE.finditer(work):
        raw.append((m.start(), m.end(), (m.group(1).upper(),), ("".join(m.group(0).split()),)))
    for m in _LABEL_CN_BEFORE.finditer(work):
        raw.append((m.start(), m.end(), (_CN_ORDINAL[m.group(1)],), (m.group(0),)))
    for m in _LABEL_F.finditer(work):
        raw.append((m.start(), m.end(), (_LETTERS[int(m.group(1)) - 1],), (m.group(0).upper(),)))
    for m in _LABEL_EN.finditer(work):
        ident = m.group(1).upper()
        key = _LETTERS[int(ident) - 1] if ident.isdigit() else ident
        raw.append((m.start(), m.end(), (key,), (" ".join(m.group(0).split()),)))
    for m in _LABEL_SIDE.finditer(work):
        raw.append((m.start(), m.end(), (m.group(1)[0],), (m.group(0),)))
    raw.sort(key=lambda r: (r[0], -r[1]))

    # [start, end, keys, surfaces]; lists so that a long run of labels merges in linear time.
    merged: list[tuple[int, list[int], list[str], list[str]]] = []
    for start, end, keys, surfaces in raw:
        if merged:
            _, prev_end, prev_keys, prev_surfaces = merged[-1]
            if start < prev_end[0]:
                continue
            if _LABEL_SEP.fullmatch(work, prev_end[0], start):
                prev_end[0] = end
                prev_keys.extend(keys)
                prev_surfaces.extend(surfaces)
                continue
            if _ALIAS_OPEN.fullmatch(work, prev_end[0], start) and _ALIAS_CLOSE.match(work, end):
                prev_end[0] = end
                continue
        merged.append((start, [end], list(keys), list(surfaces)))
    return [_Label(s, e[0], tuple(k), tuple(f)) for s, e, k, f in merged]


class _Scopes:
    """Which label is in force at a position: the last label that ended before it."""

    def __init__(self, labels: list[_Label]) -> None:
        self.labels = labels
        self.ends = [label.end for label in labels]
        self.starts = [label.start for label in labels]

    def at(self, pos: int) -> _Label | None:
        i = bisect.bisect_right(self.ends, pos)
        return self.labels[i - 1] if i else None

    def inside(self, start: int, end: int) -> list[_Label]:
        lo = bisect.bisect_left(self.starts, start)
        hi = bisect.bisect_left(self.starts, end)
        return self.labels[lo:hi]


# --------------------------------------------------------------------------- reading values


def _region_end(work: str, start: int) -> tuple[int, str]:
    limit = min(len(work), start + _WINDOW)
    m = _TERM.search(work, start, limit)
    if m is None:
        return limit, ""
    return m.start(), m.group(0)


@dataclass(slots=True)
class _Reading:
    values: list[tuple[int, Decimal]] = field(default_factory=list)
    ambiguous: bool = False
    has_number: bool = False
    first_number: int | None = None


def _read_numbers(
    work: str,
    start: int,
    end: int,
    header_unit: str | None,
    mm_context: bool,
    low: Decimal,
    high: Decimal,
) -> _Reading:
    reading = _Reading()
    for m in _ITEM.finditer(work, start, end):
        unit = m.group("unit")
        if m.group("num2") is None and unit is None and _OTHER_AFTER.match(work, m.end()):
            continue  # a percentage, MoM, weeks …: not a length
        reading.has_number = True
        if reading.first_number is None:
            reading.first_number = m.start("num")
        suffix = (m.group("suffix") or "").strip()
        if (
            m.group("num2") is not None
            or m.group("cmp")
            or suffix in ("以下", "以内", "以上", "之间")
        ):
            reading.ambiguous = True  # a range or only a bound
            continue
        if unit is None:
            if _DECIMAL_COMMA.match(work, m.end()):
                reading.ambiguous = True
                continue
            if header_unit is not None:
                unit = header_unit
            elif mm_context:
                unit = "mm"
            else:
                reading.ambiguous = True  # unit unknown
                continue
        mm = _to_mm(m.group("num"), unit)
        if mm is None or not low <= mm <= high:
            reading.ambiguous = True
            continue
        reading.values.append((m.start("num"), mm))
    return reading


def _header_unit(work: str, start: int, end: int) -> str | None:
    m = _HEADER_UNIT.search(work, start, end)
    if m is None:
        return None
    return (m.group(1) or m.group(2)).lower()


def _clause_start(work: str, pos: int) -> int:
    lo = max(0, pos - 20)
    for i in range(pos - 1, lo - 1, -1):
        if work[i] in ",;。!?\n\r":
            return i + 1
    return lo


def _read_mention(
    kw: re.Match[str], work: str, norm: str, scopes: _Scopes, mm_context: bool, hint: int
) -> _Mention:
    mention = _Mention(start=kw.start(), end=kw.end(), scope=scopes.at(kw.start()))
    prefix = work[_clause_start(work, kw.start()) : kw.start()]
    start = kw.end()
    end, term = _region_end(work, start)
    if term in ("\n", "\r") and (
        not work[start:end].strip() or work[start:end].rstrip().endswith(":")
    ):
        # "NT：" closing a line: the value is on the next one.
        nxt = end
        while nxt < len(work) and work[nxt].isspace() and nxt - end < _WINDOW:
            nxt += 1
        start = nxt
        end, term = _region_end(work, start)

    header = _header_unit(work, kw.start(), end)
    reading = _read_numbers(work, start, end, header, mm_context, NT_MIN_MM, NT_MAX_MM)
    readings = [(start, end, reading)]
    nm = _NOT_MEASURED.search(work, kw.end(), end)
    labelled = bool(scopes.inside(start, end))
    for _ in range(_MAX_CONTINUATIONS):
        if term not in (",", ";"):
            break
        nxt = end + 1
        while nxt < len(work) and work[nxt] in " \t":
            nxt += 1
        following = scopes.inside(end + 1, nxt + 1)  # labels are blanked: they look like spaces
        by_label = labelled and bool(following)
        if not by_label and not _VALUE_LEAD.match(work, nxt, nxt + 30):
            break
        sub_start = end + 1
        sub_end, term = _region_end(work, following[0].end if following else sub_start)
        sub = _read_numbers(work, sub_start, sub_end, header, mm_context, NT_MIN_MM, NT_MAX_MM)
        if not sub.has_number:
            break
        readings.append((sub_start, sub_end, sub))
        end = sub_end

    mention.end = end
    mention.snippet = _snippet(norm, kw.start(), end)
    mention.respectively = bool(
        _RESPECTIVELY.search(prefix) or _RESPECTIVELY.search(work, kw.end(), end)
    )
    if nm is not None or _NOT_MEASURED_BEFORE.search(prefix):
        mention.not_measured = True
        mention.nm_scope = scopes.at(nm.start()) if nm is not None else mention.scope
    for sub_start, sub_end, sub in readings:
        mention.has_number = mention.has_number or sub.has_number
        mention.ambiguous = mention.ambiguous or sub.ambiguous
        inner = scopes.inside(sub_start, sub_end)
        if sub.first_number is not None and inner and sub.first_number < inner[0].start:
            mention.ambiguous = True  # "1.2mm（胎儿A）": the value comes before its label
        for pos, mm in sub.values:
            mention.values.append(_Value(pos, mm, scopes.at(pos)))
    if mention.not_measured and mention.has_number:
        mention.ambiguous = True
    if mention.qualitative:
        mention.recommendation = bool(
            _RECOMMEND.search(prefix) or _RECOMMEND.search(work, kw.end(), end)
        )
    return mention


def _crl(work: str, mm_context: bool) -> float | None:
    values: set[Decimal] = set()
    for kw in _CRL_KEYWORD.finditer(work):
        end, _ = _region_end(work, kw.end())
        header = _header_unit(work, kw.start(), end)
        reading = _read_numbers(work, kw.end(), end, header, mm_context, CRL_MIN_MM, CRL_MAX_MM)
        if reading.ambiguous:
            continue
        values.update(mm for _, mm in reading.values)
    if len(values) == 1:
        return _as_float(next(iter(values)))
    return None


def _expected_fetuses(work: str) -> int:
    for count, pattern in _FETUS_COUNTS:
        for m in pattern.finditer(work):
            context = work[max(0, m.start() - 6) : m.end() + 3]
            if not _HISTORY.search(context):
                return count
    return 0


# --------------------------------------------------------------------------- decision


def _key(scope: _Label | None) -> str | None:
    return scope.key if scope is not None else None


def _decide(
    mentions: list[_Mention], hint: int, label_keys: int
) -> tuple[str, tuple[Fetus, ...], str | None]:
    relevant = [m for m in mentions if not (m.qualitative and m.recommendation)]
    if not relevant:
        return NOT_FOUND, (), None
    for m in relevant:
        if m.ambiguous:
            return AMBIGUOUS, (), m.snippet
    first_snippet = relevant[0].snippet
    ambiguous: tuple[str, tuple[Fetus, ...], str | None] = (AMBIGUOUS, (), first_snippet)
    expected = max(hint, label_keys, 1)

    def is_multi(m: _Mention) -> bool:
        if len(m.values) < 2:
            return False
        scopes = {id(v.scope) for v in m.values}
        if len(scopes) != 1:
            return False
        if m.respectively:
            return True
        return _key(m.values[0].scope) is None and hint >= 2 and len(m.values) == hint

    multis = [m for m in relevant if is_multi(m)]
    multi_ids = {id(m) for m in multis}
    singles = [m for m in relevant if id(m) not in multi_ids]

    # Values, "not measured" and qualitative mentions per fetus (None = unlabelled).
    values: dict[str | None, list[_Value]] = {}
    surfaces: dict[str | None, str | None] = {}
    not_measured: set[str | None] = set()
    qualitative: set[str | None] = set()
    for m in singles:
        for v in m.values:
            k = _key(v.scope)
            values.setdefault(k, []).append(v)
            if k not in surfaces:
                surfaces[k] = v.scope.surfaces[0] if v.scope is not None and k is not None else None
        if m.not_measured:
            not_measured.add(_key(m.nm_scope))
        elif m.qualitative:
            qualitative.add(_key(m.scope))
    labelled = {k for k in (*values, *not_measured, *qualitative) if k is not None}

    def single_value(k: str | None) -> Decimal | None:
        distinct = {v.mm for v in values.get(k, [])}
        return next(iter(distinct)) if len(distinct) == 1 else None

    if multis:
        lists = {tuple(v.mm for v in m.values) for m in multis}
        if len(lists) != 1 or not_measured or None in values:
            return ambiguous
        multi = next(iter(lists))
        if labelled:
            if any(k not in values or single_value(k) is None for k in labelled):
                return ambiguous
            ordered = sorted(labelled, key=lambda k: min(v.pos for v in values[k]))
            if tuple(single_value(k) for k in ordered) != multi:
                return ambiguous
            labels: list[str | None] = [surfaces[k] for k in ordered]
        else:
            scope = multis[0].values[0].scope
            if scope is not None and len(scope.surfaces) == len(multi):
                labels = list(scope.surfaces)
            else:
                labels = [None] * len(multi)
        if expected > len(multi) or (hint >= 2 and hint != len(multi)):
            return ambiguous
        fetuses = tuple(Fetus(lbl, _as_float(mm)) for lbl, mm in zip(labels, multi, strict=True))
        return MULTIPLE, fetuses, "；".join(dict.fromkeys(m.snippet for m in multis))

    if labelled:
        if None in values or None in not_measured:
            return ambiguous
        for k in labelled:
            has_value = k in values
            if has_value and single_value(k) is None:
                return ambiguous
            if has_value and k in not_measured:
                return ambiguous
            if not has_value and k not in not_measured:
                return ambiguous  # only a qualitative mention for this fetus
        if all(k in not_measured for k in labelled):
            snippet = next(m.snippet for m in singles if m.not_measured)
            return NOT_MEASURED, (), snippet
        if not_measured:
            return ambiguous
        count = len(labelled)
        if count < 2 or count != expected or (hint >= 2 and hint != count):
            return ambiguous
        ordered = sorted(labelled, key=lambda k: min(v.pos for v in values[k]))
        fetuses = tuple(Fetus(surfaces[k], _as_float(values[k][0].mm)) for k in ordered)
        snippets = [m.snippet for m in singles if m.values]
        return MULTIPLE, fetuses, "；".join(dict.fromkeys(snippets))

    if None in values:
        if None in not_measured:
            return ambiguous
        mm = single_value(None)
        if mm is None or expected >= 2:
            return ambiguous
        snippet = next(m.snippet for m in singles if m.values)
        return OK, (Fetus(None, _as_float(mm)),), snippet
    if None in not_measured:
        snippet = next(m.snippet for m in singles if m.not_measured)
        return NOT_MEASURED, (), snippet
    return ambiguous


# --------------------------------------------------------------------------- entry point


def _extract(text: str) -> NtExtraction:
    norm = unicodedata.normalize("NFKC", text)
    gestational_age, ga_spans = _gestational_age(norm)
    work = _blank_references(norm)
    work = _blank_spans(work, ga_spans)
    labels = _find_labels(work)
    work = _blank_spans(work, ((label.start, label.end) for label in labels))
    scopes = _Scopes(labels)
    units = {m.group(1).lower() for m in _UNIT_ITEM.finditer(work)}
    mm_context = bool(units) and units <= {"mm", "毫米"}
    hint = _expected_fetuses(work)
    label_keys = len({k for label in labels for k in label.keys})

    mentions = [
        _read_mention(kw, work, norm, scopes, mm_context, hint) for kw in _NT_KEYWORD.finditer(work)
    ]
    status, fetuses, matched = _decide(mentions, hint, label_keys)
    nt_mm = fetuses[0].nt_mm if status == OK else None
    return NtExtraction(
        status=status,
        nt_mm=nt_mm,
        crl_mm=_crl(work, mm_context),
        gestational_age=gestational_age,
        fetuses=fetuses if status in (OK, MULTIPLE) else (),
        matched_text=matched,
    )


def extract_nt(text: str) -> NtExtraction:
    """Read the NT (and CRL, gestational age) out of one ultrasound report; never raises."""
    try:
        return _extract(text)
    except Exception:
        return NtExtraction(status=AMBIGUOUS, nt_mm=None, crl_mm=None, gestational_age=None)
