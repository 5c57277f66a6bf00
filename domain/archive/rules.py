"""How the archive search reads what was typed: which fields a term can match, and how.

A term is matched against the fields it could be: digits against resident ID, phone
and handbook number (prefixes); latin letters against pinyin initials (prefix) and the
handbook number; Chinese against the name. Every match is one the indexes answer:

- names: substring for three or more characters (pg_trgm); a two-character term as the
  start or end of a name, or inside a name of four or more characters; a single
  character as the start of the name (the surname) — trigram indexes cannot find a
  lone character in the middle of a word, and a scan of a million names is too slow;
- identifiers: prefixes (a full resident ID or phone number is its own prefix).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from domain.errors import FieldError

TEXT_MAX = 64
TOKENS_MAX = 4
_IDENTIFIER = re.compile(r"^[0-9A-Za-z-]+$")
_RESIDENT_ID_PREFIX = re.compile(r"^\d{1,17}[\dX]?$")
_PHONE_PREFIX = re.compile(r"^[\d-]{1,20}$")
_LETTERS = re.compile(r"^[A-Za-z]+$")


class Field(enum.Enum):
    NAME = "name"
    INITIALS = "initials"
    RESIDENT_ID = "resident_id"
    PHONE = "phone"
    HANDBOOK = "handbook_no"


class Mode(enum.Enum):
    PREFIX = "prefix"
    SUFFIX = "suffix"
    CONTAINS = "contains"
    # Inside a name of four or more characters (two-character terms).
    INSIDE_LONG = "inside_long"


@dataclass(frozen=True)
class Match:
    field: Field
    mode: Mode
    value: str


def normalise(raw: str) -> str | FieldError:
    """Full-width forms folded (ＷＸＭ → WXM, １３８ → 138), whitespace collapsed."""
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    if len(text) > TEXT_MAX:
        return FieldError("text", f"查询文字不能超过{TEXT_MAX}个字符", "TOO_LONG")
    if len(text.split()) > TOKENS_MAX:
        return FieldError("text", f"查询文字最多{TOKENS_MAX}个词（以空格分隔）", "TOO_MANY_TERMS")
    return text


def matches(term: str) -> tuple[Match, ...]:
    """The ways one term (no spaces) can match an archived pregnancy."""
    if _IDENTIFIER.match(term) and not _LETTERS.match(term):
        upper = term.upper()
        found = []
        if _RESIDENT_ID_PREFIX.match(upper):
            found.append(Match(Field.RESIDENT_ID, Mode.PREFIX, upper))
        if _PHONE_PREFIX.match(term):
            found.append(Match(Field.PHONE, Mode.PREFIX, term))
        found.append(Match(Field.HANDBOOK, Mode.PREFIX, term))
        if upper != term:
            found.append(Match(Field.HANDBOOK, Mode.PREFIX, upper))
        return tuple(found)
    if _LETTERS.match(term):
        upper = term.upper()
        letters = [
            Match(Field.INITIALS, Mode.PREFIX, upper),
            Match(Field.HANDBOOK, Mode.PREFIX, term),
        ]
        if upper != term:
            letters.append(Match(Field.HANDBOOK, Mode.PREFIX, upper))
        if len(term) >= 3:
            letters.append(Match(Field.NAME, Mode.CONTAINS, term))
        return tuple(letters)
    if len(term) >= 3:
        return (Match(Field.NAME, Mode.CONTAINS, term),)
    if len(term) == 2:
        return (
            Match(Field.NAME, Mode.PREFIX, term),
            Match(Field.NAME, Mode.SUFFIX, term),
            Match(Field.NAME, Mode.INSIDE_LONG, term),
        )
    return (Match(Field.NAME, Mode.PREFIX, term),)


def _selectivity(term: str) -> tuple[int, int]:
    """Rough rank of how few rows a term matches: long identifiers first, then long names."""
    if _IDENTIFIER.match(term) and any(ch.isdigit() for ch in term):
        return (2, len(term))
    if not term.isascii():
        return (1 if len(term) >= 2 else 0, len(term))
    return (0, len(term))


def primary_term(terms: list[str]) -> str:
    """The term whose matches drive the search; the others only narrow it down."""
    return max(terms, key=_selectivity)
