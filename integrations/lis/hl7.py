"""HL7 v2 messages: decoding by MSH-18, segments, encoding characters, escapes, ORU^R01, ACK.

Nothing here raises on bad input. Problems are returned as `Hl7Error` values that name
the position ("PID-7", "OBX[2]-5"), so a receiver can keep the message, report exactly
what is wrong and still use the parts that are right.

Positions follow the standard numbering: `segment.value(7)` is PID-7, and for MSH the
field separator is MSH-1 and the encoding characters are MSH-2, so `msh.value(10)` is
the message control id.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# HL7 times without an offset are hospital local time: China Standard Time, UTC+8 all
# year (no daylight saving since 1991), so a fixed offset is exact and needs no tzdata.
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

_SEGMENT_BREAK = re.compile(r"\r\n|\r|\n")
_SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_TS = re.compile(
    r"^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?"
    r"([+-]\d{4})?$"
)
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Hl7Error:
    """A problem at a position of a message: "MSH-9", "PID-7", "OBX[2]-5"; Chinese message."""

    field: str
    message: str
    code: str

    def as_json(self) -> dict[str, object]:
        return {"field": self.field, "message": self.message, "code": self.code}


# --------------------------------------------------------------------------- charsets

UTF_8 = "UTF-8"
GB18030 = "GB18030"
LATIN_1 = "ISO-8859-1"
ASCII = "ASCII"

# MSH-18 names (HL7 table 0211 and what Chinese LIS vendors send) → the codec used.
_CHARSETS = {
    "UNICODEUTF8": UTF_8,
    "UTF8": UTF_8,
    "UNICODE": UTF_8,
    "GB180302000": GB18030,
    "GB18030": GB18030,
    "GBK": GB18030,
    "GB2312": GB18030,
    "CHINESE": GB18030,
    "ISOIR58": GB18030,
    "8859/1": LATIN_1,
    "ISO88591": LATIN_1,
    "LATIN1": LATIN_1,
    "ASCII": ASCII,
    "USASCII": ASCII,
}
CODECS = {UTF_8: "utf-8", GB18030: "gb18030", LATIN_1: "latin-1", ASCII: "ascii"}


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str  # the charset actually used: UTF-8, GB18030, ISO-8859-1 or ASCII
    declared: str | None  # MSH-18 as sent
    errors: tuple[Hl7Error, ...] = ()


def declared_charset(raw: bytes) -> str | None:
    """MSH-18 read from the raw bytes (it is ASCII), before anything is decoded."""
    start = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    first = re.split(rb"\r|\n", start, maxsplit=1)[0]
    if not first.startswith(b"MSH") or len(first) < 8:
        return None
    separator = first[3:4]
    parts = first.split(separator)
    if len(parts) < 18:
        return None
    repetition = parts[1][1:2] or b"~"
    value = parts[17].split(repetition)[0].decode("ascii", errors="replace").strip()
    return value or None


def charset_of(name: str | None) -> str | None:
    """The codec for an MSH-18 name, or None when the name is unknown."""
    if not name:
        return None
    key = re.sub(r"[\s_\-]", "", name.upper())
    return _CHARSETS.get(key)


def decode(raw: bytes) -> Decoded:
    """Bytes to text by MSH-18; UTF-8, then GB18030, when it is absent or wrong."""
    declared = declared_charset(raw)
    charset = charset_of(declared)
    errors: list[Hl7Error] = []
    if declared and charset is None:
        errors.append(
            Hl7Error("MSH-18", f"不支持的字符集 {declared}，已按 UTF-8 / GB18030 解码", "CHARSET")
        )
    if charset is not None:
        try:
            return Decoded(raw.decode(CODECS[charset]), charset, declared)
        except UnicodeDecodeError:
            errors.append(
                Hl7Error(
                    "MSH-18",
                    f"消息声明字符集为 {declared}，但内容不符合该字符集，已改用其他字符集解码",
                    "CHARSET",
                )
            )
    for fallback in (UTF_8, GB18030):
        if fallback == charset:
            continue
        try:
            return Decoded(raw.decode(CODECS[fallback]), fallback, declared, tuple(errors))
        except UnicodeDecodeError:
            continue
    errors.append(Hl7Error("MSH-18", "消息含有无法解码的字节，已用替换字符（�）代替", "CHARSET"))
    used = charset or GB18030
    return Decoded(raw.decode(CODECS[used], errors="replace"), used, declared, tuple(errors))


def decode_stored(raw: bytes, charset: str | None) -> str:
    """Text of stored bytes with the charset found when they were received."""
    codec = CODECS.get(charset or "", "utf-8")
    return raw.decode(codec, errors="replace")


# --------------------------------------------------------------------------- encoding


@dataclass(frozen=True)
class Encoding:
    """The delimiters of one message, from MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def msh2(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent


DEFAULT_ENCODING = Encoding()


def _encoding_from(field_separator: str, chars: str) -> tuple[Encoding, list[Hl7Error]]:
    errors: list[Hl7Error] = []
    defaults = DEFAULT_ENCODING.msh2
    given = chars[:4]
    if len(given) < 4:
        errors.append(
            Hl7Error(
                "MSH-2",
                f"编码字符 {chars!r} 不完整，缺少的按标准值 {defaults} 补齐",
                "ENCODING_CHARACTERS",
            )
        )
    merged = list(given + defaults[len(given) :])
    used = {field_separator}
    for char in merged:
        if char in used or char.isalnum() or char.isspace():
            errors.append(
                Hl7Error("MSH-2", f"编码字符 {chars!r} 无效（重复或非符号）", "ENCODING_CHARACTERS")
            )
            fallback = field_separator not in defaults
            return (Encoding(field_separator) if fallback else DEFAULT_ENCODING), errors
        used.add(char)
    component, repetition, escape, subcomponent = merged
    return Encoding(field_separator, component, repetition, escape, subcomponent), errors


_NAMED_ESCAPES = {"F": "field", "S": "component", "T": "subcomponent", "R": "repetition"}


def unescape(text: str, encoding: Encoding = DEFAULT_ENCODING, codec: str = "utf-8") -> str:
    r"""Resolve \F\ \S\ \T\ \R\ \E\ \Xhh..\ and \.br\; unknown or broken escapes stay as sent."""
    esc = encoding.escape
    if esc not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        end = text.find(esc, i + 1) if char == esc else -1
        if end < 0:
            out.append(char)
            i += 1
            continue
        body = text[i + 1 : end]
        if body in _NAMED_ESCAPES:
            out.append(getattr(encoding, _NAMED_ESCAPES[body]))
        elif body == "E":
            out.append(esc)
        elif body.startswith("X") and _HEX.match(body[1:]):
            out.append(bytes.fromhex(body[1:]).decode(codec, errors="replace"))
        elif body in (".br", ".sp"):
            out.append("\n")
        elif body in ("H", "N") or (body[:1] in ("C", "M") and _HEX.match(body[1:])):
            pass  # highlighting and character-set switches carry no text
        else:
            out.append(text[i : end + 1])
        i = end + 1
    return "".join(out)


def escape(text: str, encoding: Encoding = DEFAULT_ENCODING) -> str:
    """Escape delimiters and control characters so that `unescape` gives the text back."""
    names = {
        encoding.escape: "E",
        encoding.field: "F",
        encoding.component: "S",
        encoding.subcomponent: "T",
        encoding.repetition: "R",
    }
    out: list[str] = []
    for char in text:
        if char in names:
            out.append(f"{encoding.escape}{names[char]}{encoding.escape}")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"{encoding.escape}X{ord(char):02X}{encoding.escape}")
        else:
            out.append(char)
    return "".join(out)


# --------------------------------------------------------------------------- segments

# A field as nested lists: repetitions → components → subcomponents (unescaped text).
Nested = list[list[list[str]]]


@dataclass
class Segment:
    """One segment. `fields[n]` is the raw (still escaped) text of field n."""

    name: str
    fields: list[str]
    encoding: Encoding
    ordinal: int = 1  # 1 for the first segment of this name, 2 for the second …
    codec: str = "utf-8"

    def position(self, number: int | None = None) -> str:
        """How errors name this segment (or one of its fields): "PID-7", "OBX[2]-5"."""
        base = (
            self.name
            if self.ordinal == 1 and self.name in _SINGLE
            else f"{self.name}[{self.ordinal}]"
        )
        return base if number is None else f"{base}-{number}"

    def raw(self, number: int) -> str:
        return self.fields[number] if 0 <= number < len(self.fields) else ""

    def _is_literal(self, number: int) -> bool:
        return self.name == "MSH" and number in (1, 2)

    def repetitions(self, number: int) -> list[str]:
        raw = self.raw(number)
        if self._is_literal(number):
            return [raw]
        return raw.split(self.encoding.repetition)

    def components(self, number: int, repetition: int = 1) -> list[str]:
        """The components of one repetition (first subcomponent of each), unescaped."""
        reps = self.repetitions(number)
        if not 1 <= repetition <= len(reps):
            return []
        if self._is_literal(number):
            return [reps[0]]
        return [
            self.unescaped(component.split(self.encoding.subcomponent)[0])
            for component in reps[repetition - 1].split(self.encoding.component)
        ]

    def value(
        self, number: int, component: int = 1, repetition: int = 1, subcomponent: int = 1
    ) -> str:
        """One unescaped value; "" when absent."""
        reps = self.repetitions(number)
        if not 1 <= repetition <= len(reps):
            return ""
        if self._is_literal(number):
            return reps[0] if component == 1 and subcomponent == 1 else ""
        comps = reps[repetition - 1].split(self.encoding.component)
        if not 1 <= component <= len(comps):
            return ""
        subs = comps[component - 1].split(self.encoding.subcomponent)
        if not 1 <= subcomponent <= len(subs):
            return ""
        return self.unescaped(subs[subcomponent - 1])

    def nested(self, number: int) -> Nested:
        """The whole field as repetitions → components → subcomponents."""
        if self._is_literal(number):
            return [[[self.raw(number)]]]
        enc = self.encoding
        return [
            [
                [self.unescaped(sub) for sub in comp.split(enc.subcomponent)]
                for comp in rep.split(enc.component)
            ]
            for rep in self.raw(number).split(enc.repetition)
        ]

    def text(self, number: int) -> str:
        """The whole field unescaped, delimiters kept (for free text such as TX/FT values)."""
        return self.unescaped(self.raw(number))

    def unescaped(self, raw: str) -> str:
        return unescape(raw, self.encoding, self.codec)


# Segments that occur once per message: their positions need no ordinal.
_SINGLE = frozenset({"MSH", "PID", "PV1", "MSA", "ERR", "EVN", "PD1"})


@dataclass
class Message:
    segments: list[Segment]
    encoding: Encoding
    errors: list[Hl7Error] = field(default_factory=list)

    @property
    def is_hl7(self) -> bool:
        return bool(self.segments) and self.segments[0].name == "MSH"

    @property
    def msh(self) -> Segment | None:
        return self.segments[0] if self.is_hl7 else None

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]


def parse(text: str, *, codec: str = "utf-8") -> Message:
    """Split a message into segments and fields; never raises.

    A text that does not start with MSH gives a message without segments and a NOT_HL7
    error. `codec` decodes \\Xhh\\ escapes (the message's character set).
    """
    start = text.lstrip("\ufeff \t\r\n")
    if not start.startswith("MSH") or len(start) < 4:
        preview = start[:20].replace("\r", " ").replace("\n", " ")
        return Message(
            [],
            DEFAULT_ENCODING,
            [
                Hl7Error(
                    "MSH", f"不是 HL7 v2 消息：应以 MSH 段开头，收到的是 {preview!r}", "NOT_HL7"
                )
            ],
        )
    separator = start[3]
    if separator.isalnum() or separator.isspace():
        return Message(
            [],
            DEFAULT_ENCODING,
            [Hl7Error("MSH-1", f"字段分隔符 {separator!r} 无效", "NOT_HL7")],
        )
    first_line = _SEGMENT_BREAK.split(start, maxsplit=1)[0]
    encoding, errors = _encoding_from(separator, first_line[4:].split(separator, 1)[0])
    segments: list[Segment] = []
    counts: dict[str, int] = {}
    for number, line in enumerate(_SEGMENT_BREAK.split(start), start=1):
        if not line.strip():
            continue
        name = line[:3]
        if not _SEGMENT_NAME.match(name) or (len(line) > 3 and line[3] != separator):
            errors.append(
                Hl7Error(f"第{number}段", f"无法识别的段 {line[:10]!r}，已忽略", "SEGMENT")
            )
            continue
        parts = line.split(separator)
        fields = [name, separator, *parts[1:]] if name == "MSH" else parts
        if name == "MSH" and segments:
            errors.append(
                Hl7Error(f"第{number}段", "一个消息中出现第二个 MSH 段，已忽略", "SEGMENT")
            )
            continue
        counts[name] = counts.get(name, 0) + 1
        segments.append(Segment(name, fields, encoding, counts[name], codec))
    return Message(segments, encoding, errors)


def parse_bytes(raw: bytes) -> tuple[Message, Decoded]:
    decoded = decode(raw)
    message = parse(decoded.text, codec=CODECS[decoded.charset])
    message.errors[:0] = decoded.errors
    return message, decoded


# --------------------------------------------------------------------------- building

FieldValue = str | Nested | None


def render_field(value: FieldValue, encoding: Encoding = DEFAULT_ENCODING) -> str:
    """A field from text (escaped as one value) or from nested repetitions/components."""
    if value is None:
        return ""
    if isinstance(value, str):
        return escape(value, encoding)
    return encoding.repetition.join(
        encoding.component.join(
            encoding.subcomponent.join(escape(sub, encoding) for sub in component)
            for component in repetition
        )
        for repetition in value
    )


def components(*values: str) -> Nested:
    """A field of one repetition with these components."""
    return [[[v] for v in values]]


def build_segment(
    name: str, fields: Sequence[FieldValue], encoding: Encoding = DEFAULT_ENCODING
) -> str:
    """A segment; for MSH, `fields` start at MSH-3 (MSH-1 and MSH-2 come from `encoding`)."""
    rendered = [render_field(f, encoding) for f in fields]
    if name == "MSH":
        return encoding.field.join(["MSH", encoding.msh2, *rendered])
    return encoding.field.join([name, *rendered])


def build_message(
    segments: Sequence[tuple[str, Sequence[FieldValue]]], encoding: Encoding = DEFAULT_ENCODING
) -> str:
    """Segments joined by CR, with the final CR."""
    return "".join(build_segment(name, fields, encoding) + "\r" for name, fields in segments)


def format_ts(value: dt.datetime) -> str:
    """An aware datetime as an HL7 timestamp in hospital local time with its offset."""
    return value.astimezone(LOCAL_TZ).strftime("%Y%m%d%H%M%S%z")


# --------------------------------------------------------------------------- typed values


def parse_ts(raw: str) -> dt.datetime | None:
    """An HL7 DTM/TS as an aware UTC datetime; no offset means hospital local time.

    Returns None for text that is not a valid timestamp (the caller reports it).
    """
    match = _TS.match(raw.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        tz = LOCAL_TZ
        if offset:
            sign = -1 if offset[0] == "-" else 1
            hours, minutes = int(offset[1:3]), int(offset[3:5])
            if hours > 14 or minutes > 59:
                return None
            tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
        value = dt.datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=tz,
        )
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def parse_date(raw: str) -> dt.date | None:
    """An HL7 date (YYYYMMDD, optionally with a time part); None when not a valid date."""
    text = raw.strip()
    if len(text) < 8:
        return None
    match = _TS.match(text)
    if match is None or match.group(3) is None:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


@dataclass(frozen=True)
class Coded:
    """A CE/CWE value: code^text^system^alternate code^alternate text^alternate system."""

    identifier: str = ""
    text: str = ""
    system: str = ""
    alt_identifier: str = ""
    alt_text: str = ""
    alt_system: str = ""

    @classmethod
    def of(cls, segment: Segment, number: int, repetition: int = 1) -> Coded:
        parts = segment.components(number, repetition)
        parts += [""] * (6 - len(parts))
        return cls(*(p.strip() for p in parts[:6]))

    @property
    def is_empty(self) -> bool:
        return not (self.identifier or self.text or self.alt_identifier or self.alt_text)

    def code_in(self, system: str) -> str | None:
        """The code of this coding system (e.g. "LN" for LOINC), primary or alternate."""
        if self.identifier and self.system.upper() == system:
            return self.identifier
        if self.alt_identifier and self.alt_system.upper() == system:
            return self.alt_identifier
        return None

    @property
    def label(self) -> str:
        return self.text or self.alt_text or self.identifier or self.alt_identifier


@dataclass(frozen=True)
class Identifier:
    """A CX patient identifier: value, assigning authority and type code (MR, PI, NNCHN …)."""

    value: str
    type_code: str
    authority: str

    @property
    def looks_like_resident_id(self) -> bool:
        return bool(_RESIDENT_ID.match(self.value.upper()))


@dataclass(frozen=True)
class Header:
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    sent_at: dt.datetime | None
    message_code: str  # ORU
    trigger: str  # R01
    control_id: str  # MSH-10
    processing_id: str
    version: str
    charset: str  # MSH-18 as sent

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger}" if self.trigger else self.message_code


@dataclass(frozen=True)
class PatientIdentification:
    identifiers: tuple[Identifier, ...]
    family_name: str
    given_name: str
    birth_date: dt.date | None
    sex: str

    @property
    def name(self) -> str:
        """The name as one string: Chinese names are family + given without a space."""
        family, given = self.family_name, self.given_name
        if family and given and not _CJK.search(family + given):
            return f"{family} {given}"
        return family + given


@dataclass(frozen=True)
class Observation:
    """One OBX: its 1-based position among the OBX of the message and its typed fields."""

    position: int
    set_id: str
    value_type: str
    code: Coded
    sub_id: str
    value: str  # OBX-5 as text: SN rendered ("<0.5", "1:128"), repetitions joined by newlines
    coded_value: Coded | None  # OBX-5 of a CE/CWE/CNE result
    unit: str
    reference_range: str
    abnormal_flags: tuple[str, ...]
    status: str
    observed_at: dt.datetime | None
    analysed_at: dt.datetime | None

    def field(self, number: int) -> str:
        return f"OBX[{self.position}]-{number}"


@dataclass(frozen=True)
class Order:
    """One OBR with the OBX that follow it."""

    position: int
    set_id: str
    filler_order: str
    service: Coded
    specimen_at: dt.datetime | None
    reported_at: dt.datetime | None
    observations: tuple[Observation, ...]


@dataclass(frozen=True)
class ObservationReport:
    """An ORU^R01 read into typed values, with every problem found on the way."""

    header: Header
    patient: PatientIdentification | None
    orders: tuple[Order, ...]
    errors: tuple[Hl7Error, ...]

    @property
    def observations(self) -> tuple[Observation, ...]:
        return tuple(o for order in self.orders for o in order.observations)


_CODED_TYPES = frozenset({"CE", "CWE", "CNE", "CF"})
_TIME_LABELS = {
    "MSH-7": "消息时间",
    "OBR-7": "采样时间",
    "OBR-22": "报告时间",
    "OBX-14": "观察时间",
    "OBX-19": "分析时间",
}


def _time(segment: Segment, number: int, errors: list[Hl7Error]) -> dt.datetime | None:
    raw = segment.value(number).strip()
    if not raw:
        return None
    value = parse_ts(raw)
    if value is None:
        label = _TIME_LABELS.get(f"{segment.name}-{number}", "时间")
        errors.append(
            Hl7Error(segment.position(number), f"{label} {raw} 不是有效的日期时间", "INVALID_DATE")
        )
    return value


def read_header(message: Message) -> Header:
    """MSH of a message; fields that are absent are ""."""
    msh = message.msh
    if msh is None:
        return Header("", "", "", "", None, "", "", "", "", "", "")
    return Header(
        sending_application=msh.value(3).strip(),
        sending_facility=msh.value(4).strip(),
        receiving_application=msh.value(5).strip(),
        receiving_facility=msh.value(6).strip(),
        sent_at=parse_ts(msh.value(7)),
        message_code=msh.value(9, 1).strip().upper(),
        trigger=msh.value(9, 2).strip().upper(),
        control_id=msh.value(10).strip(),
        processing_id=msh.value(11).strip(),
        version=msh.value(12).strip(),
        charset=msh.value(18).strip(),
    )


def _sn(segment: Segment, number: int, repetition: int) -> str:
    """A structured numeric (comparator^num1^separator^num2) as text: "<0.5", "1:128"."""
    comparator, num1, separator, num2 = (segment.components(number, repetition) + [""] * 4)[:4]
    return f"{comparator.strip()}{num1.strip()}{separator.strip()}{num2.strip()}"


def _observation(segment: Segment, position: int, errors: list[Hl7Error]) -> Observation:
    value_type = segment.value(2).strip().upper()
    count = len(segment.repetitions(5)) if segment.raw(5) else 0
    coded: Coded | None = None
    if value_type == "SN":
        values = [_sn(segment, 5, r) for r in range(1, count + 1)]
    elif value_type in _CODED_TYPES:
        coded = Coded.of(segment, 5)
        values = [Coded.of(segment, 5, r).label for r in range(1, count + 1)]
    elif value_type in ("TX", "FT", "ST"):
        values = [segment.unescaped(rep) for rep in segment.repetitions(5)] if count else []
    else:
        # NM and friends are one component; an unknown type with components ("^182")
        # is read like a structured numeric rather than dropped.
        values = [_sn(segment, 5, r) for r in range(1, count + 1)]
    observed_at = _time(segment, 14, errors)
    analysed_at = _time(segment, 19, errors)
    return Observation(
        position=position,
        set_id=segment.value(1).strip(),
        value_type=value_type,
        code=Coded.of(segment, 3),
        sub_id=segment.value(4).strip(),
        value="\n".join(values),
        coded_value=coded,
        unit=segment.value(6).strip(),
        reference_range=segment.text(7).strip(),
        abnormal_flags=tuple(
            f
            for f in (
                segment.value(8, 1, r).strip() for r in range(1, len(segment.repetitions(8)) + 1)
            )
            if f
        ),
        status=segment.value(11).strip().upper(),
        observed_at=observed_at,
        analysed_at=analysed_at,
    )


def _patient(pid: Segment, errors: list[Hl7Error]) -> PatientIdentification:
    identifiers = tuple(
        Identifier(
            value=pid.value(3, 1, r).strip(),
            type_code=pid.value(3, 5, r).strip(),
            authority=pid.value(3, 4, r).strip(),
        )
        for r in range(1, len(pid.repetitions(3)) + 1)
        if pid.value(3, 1, r).strip()
    )
    raw_birth = pid.value(7).strip()
    birth = parse_date(raw_birth) if raw_birth else None
    if raw_birth and birth is None:
        errors.append(
            Hl7Error(pid.position(7), f"出生日期 {raw_birth} 不是有效日期", "INVALID_DATE")
        )
    if not identifiers:
        errors.append(Hl7Error(pid.position(3), "缺少病人标识（PID-3）", "MISSING_FIELD"))
    return PatientIdentification(
        identifiers=identifiers,
        family_name=pid.value(5, 1).strip(),
        given_name=pid.value(5, 2).strip(),
        birth_date=birth,
        sex=pid.value(8).strip(),
    )


def read_oru(message: Message) -> ObservationReport:
    """Read an ORU^R01 (or any message with PID/OBR/OBX) into typed values; never raises."""
    errors = list(message.errors)
    header = read_header(message)
    msh = message.msh
    if msh is not None and msh.value(7).strip() and header.sent_at is None:
        _time(msh, 7, errors)
    pid = message.first("PID")
    patient = _patient(pid, errors) if pid is not None else None
    orders: list[Order] = []
    current: tuple[Segment | None, list[Observation]] | None = None
    position = 0

    def close() -> None:
        if current is None:
            return
        obr, observations = current
        if obr is None:
            orders.append(Order(len(orders) + 1, "", "", Coded(), None, None, tuple(observations)))
            return
        orders.append(
            Order(
                position=len(orders) + 1,
                set_id=obr.value(1).strip(),
                filler_order=obr.value(3).strip(),
                service=Coded.of(obr, 4),
                specimen_at=_time(obr, 7, errors),
                reported_at=_time(obr, 22, errors),
                observations=tuple(observations),
            )
        )

    for segment in message.segments:
        if segment.name == "OBR":
            close()
            current = (segment, [])
        elif segment.name == "OBX":
            position += 1
            if current is None:
                errors.append(
                    Hl7Error(segment.position(), "OBX 段出现在 OBR 段之前", "SEGMENT_ORDER")
                )
                current = (None, [])
            current[1].append(_observation(segment, position, errors))
    close()
    return ObservationReport(header, patient, tuple(orders), tuple(errors))


# --------------------------------------------------------------------------- acknowledgements


@dataclass(frozen=True)
class Ack:
    """A parsed acknowledgement: MSA-1 code, MSA-2 control id, MSA-3 text, ERR texts."""

    code: str
    control_id: str
    text: str
    errors: tuple[str, ...] = ()


def build_ack(
    received: Message | None,
    code: str,
    *,
    control_id: str,
    acknowledged_id: str,
    text: str = "",
    errors: Sequence[Hl7Error] = (),
    now: dt.datetime,
) -> str:
    """An original-mode ACK to `received`, in its encoding characters, charset UTF-8.

    Sending and receiving application/facility are swapped; MSA-2 is `acknowledged_id`
    (the received MSH-10, or a generated id when there was none).
    """
    header = (
        read_header(received)
        if received is not None
        else read_header(Message([], DEFAULT_ENCODING))
    )
    encoding = received.encoding if received is not None else DEFAULT_ENCODING
    msh = received.msh if received is not None else None

    def raw(number: int) -> Nested | None:
        # Application and facility are HD (namespace^universal id^type): copied as received.
        return msh.nested(number) if msh is not None and msh.raw(number) else None

    segments: list[tuple[str, Sequence[FieldValue]]] = [
        (
            "MSH",
            [
                raw(5),
                raw(6),
                raw(3),
                raw(4),
                format_ts(now),
                None,
                components("ACK", header.trigger or "R01", "ACK"),
                control_id,
                header.processing_id or "P",
                header.version or "2.5.1",
                None,
                None,
                None,
                None,
                None,
                "UNICODE UTF-8",
            ],
        ),
        ("MSA", [code, acknowledged_id, text]),
    ]
    for error in errors[:20]:
        location = components(*_err_location(error.field))
        segments.append(
            (
                "ERR",
                [
                    None,
                    location,
                    components(*_err_code(error.code)),
                    "E",
                    None,
                    None,
                    None,
                    error.message,
                ],
            )
        )
    return build_message(segments, encoding)


_ERR_CODES = {
    "MISSING_SEGMENT": ("100", "Segment sequence error"),
    "MISSING_FIELD": ("101", "Required field missing"),
    "INVALID_DATE": ("102", "Data type error"),
    "UNMAPPED_ITEM": ("103", "Table value not found"),
    "UNSUPPORTED_MESSAGE_TYPE": ("200", "Unsupported message type"),
    "UNKNOWN_PATIENT": ("204", "Unknown key identifier"),
    "AMBIGUOUS_PATIENT": ("205", "Duplicate key identifier"),
}


def _err_code(code: str) -> tuple[str, str, str]:
    number, text = _ERR_CODES.get(code, ("207", "Application internal error"))
    return number, text, "HL70357"


def _err_location(field_name: str) -> tuple[str, ...]:
    """ERR-2 (segment^sequence^field) from "OBX[2]-3" / "PID-7"; free text otherwise."""
    match = re.match(r"^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+))?$", field_name)
    if match is None:
        return ("",)
    return match.group(1), match.group(2) or "1", match.group(3) or ""


def read_ack(message: Message) -> Ack:
    """MSA and ERR of an acknowledgement; code "" when there is no MSA."""
    msa = message.first("MSA")
    if msa is None:
        return Ack("", "", "")
    errors = tuple(
        err.value(8) or err.value(3, 2)
        for err in message.all("ERR")
        if err.value(8) or err.value(3, 2)
    )
    return Ack(msa.value(1).strip(), msa.value(2).strip(), msa.value(3), errors)
