"""Five-colour risk grading (五色管理): the colour is the highest factor, purple is a flag."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class RiskColor(enum.StrEnum):
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    ORANGE = "ORANGE"
    RED = "RED"


PURPLE = "PURPLE"
FACTOR_COLORS = frozenset({c.value for c in RiskColor} | {PURPLE}) - {RiskColor.GREEN.value}
_RANK = {RiskColor.GREEN: 0, RiskColor.YELLOW: 1, RiskColor.ORANGE: 2, RiskColor.RED: 3}


@dataclass(frozen=True)
class Grading:
    color: RiskColor
    infectious: bool
    # Codes of the factors that produced the colour and of those that set the purple flag.
    color_factor_codes: tuple[str, ...]
    infectious_factor_codes: tuple[str, ...]


def grade(factors: Iterable[tuple[str, str]]) -> Grading:
    """Grade current factors given as (code, colour) pairs."""
    best = RiskColor.GREEN
    by_color: dict[RiskColor, list[str]] = {}
    purple: list[str] = []
    for code, color in factors:
        if color == PURPLE:
            purple.append(code)
            continue
        rc = RiskColor(color)
        by_color.setdefault(rc, []).append(code)
        if _RANK[rc] > _RANK[best]:
            best = rc
    return Grading(
        color=best,
        infectious=bool(purple),
        color_factor_codes=tuple(by_color.get(best, [])) if best != RiskColor.GREEN else (),
        infectious_factor_codes=tuple(purple),
    )
