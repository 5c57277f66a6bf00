"""Normalising LIS result values: 阴性/阳性/弱阳性, (+)/(-), SNOMED codes, S/CO, comparators."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

POSITIVE = "POSITIVE"
NEGATIVE = "NEGATIVE"
WEAK_POSITIVE = "WEAK_POSITIVE"

SNOMED_POSITIVE = "10828004"
SNOMED_NEGATIVE = "260385009"

_QUALITATIVE = {
    "阴性": NEGATIVE, "阴": NEGATIVE, "-": NEGATIVE, "(-)": NEGATIVE, "NEG": NEGATIVE,
    "NEGATIVE": NEGATIVE, "NONREACTIVE": NEGATIVE, "NON-REACTIVE": NEGATIVE, "未检出": NEGATIVE,
    "阳性": POSITIVE, "阳": POSITIVE, "+": POSITIVE, "(+)": POSITIVE, "POS": POSITIVE,
    "POSITIVE": POSITIVE, "REACTIVE": POSITIVE, "检出": POSITIVE, "(++)": POSITIVE, "(+++)": POSITIVE,
    "弱阳性": WEAK_POSITIVE, "弱阳": WEAK_POSITIVE, "(+-)": WEAK_POSITIVE, "(±)": WEAK_POSITIVE,
    "±": WEAK_POSITIVE, "WEAKPOSITIVE": WEAK_POSITIVE, "WEAK POSITIVE": WEAK_POSITIVE,
    SNOMED_POSITIVE: POSITIVE, SNOMED_NEGATIVE: NEGATIVE,
}  # fmt: skip
_NUMBER = re.compile(r"^(?P<cmp><=|>=|<|>|≤|≥)?\s*(?P<num>[-+]?\d+(?:\.\d+)?)\s*(?P<rest>.*)$")
_SCO = re.compile(r"S/CO|COI|S/C", re.IGNORECASE)
_COMPARATORS = {"≤": "<=", "≥": ">="}


@dataclass(frozen=True)
class NormalisedValue:
    numeric: float | None
    comparator: str | None
    qualitative: str | None
    text: str


def _clean(raw: str) -> str:
    # NUL cannot be stored in PostgreSQL text and is never part of a result.
    return unicodedata.normalize("NFKC", raw).replace("\x00", "").strip()


def qualitative_of(raw: str) -> str | None:
    cleaned = _clean(raw).upper().replace(" ", "")
    for key, value in _QUALITATIVE.items():
        if cleaned == key.upper().replace(" ", ""):
            return value
    return None


def normalise(raw: str, *, interpretation: str | None = None) -> NormalisedValue:
    """Split a raw LIS value into number, comparator and qualitative result.

    `interpretation` is an abnormal flag or a separate qualitative field (HL7 OBX-8,
    FHIR interpretation) used when the value itself is a number such as an S/CO ratio.
    A value that fits no rule keeps its text and no number: never a guess.
    """
    text = _clean(raw)
    qualitative = qualitative_of(text)
    if qualitative is not None:
        return NormalisedValue(None, None, qualitative, text)
    # "阳性 12.5 S/CO" or "12.5 S/CO 阳性": a number with the reading beside it.
    for word in ("弱阳性", "阴性", "阳性"):
        if word in text:
            number, comparator = _number(text.replace(word, "").strip(" ()（）"))
            return NormalisedValue(number, comparator, _QUALITATIVE[word], text)
    number, comparator = _number(text)
    return NormalisedValue(number, comparator, qualitative_of(interpretation or ""), text)


def _number(text: str) -> tuple[float | None, str | None]:
    """A number, alone or followed by S/CO or a bracket; a titre such as 1:16 is not one."""
    match = _NUMBER.match(text)
    if match is None:
        return None, None
    rest = match.group("rest").strip()
    if rest and not _SCO.fullmatch(rest.strip("() ")) and not rest.startswith("("):
        return None, None
    number = float(match.group("num"))
    if not math.isfinite(number):
        return None, None
    comparator = match.group("cmp")
    return number, _COMPARATORS.get(comparator, comparator) if comparator else None
