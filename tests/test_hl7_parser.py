"""The HL7 v2 parser and MLLP framing: escapes, encodings, charsets, typed fields, errors as values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from integrations.lis import hl7
from integrations.lis.mllp import Frame, FrameDecoder, Oversized, Stray, frame

DATA = Path(__file__).resolve().parent / "data" / "hl7"
UTC = dt.UTC


def sample(name: str) -> bytes:
    """A sample file with CR segment separators, as it travels on the wire."""
    return (DATA / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r")


def oru(*segments: str, msh18: str = "UNICODE UTF-8") -> str:
    header = f"MSH|^~\\&|LIS|HOSP|MHUB|OB|20261120103000||ORU^R01|C1|P|2.5.1||||||{msh18}"
    return "\r".join([header, *segments]) + "\r"


PID = "PID|1||LIS0012345^^^LIS^PI||黄^丽萍||19940517|F"
OBR = "OBR|1|||YGWX^乙肝两对半^L|||20261120080500"


# --- escapes, encoding characters, repetitions ---------------------------------------------


def test_escape_sequences_become_the_characters_they_stand_for() -> None:
    text = oru(PID, OBR, r"OBX|1|ST|X^Y||a\F\b\S\c\T\d\R\e\E\f\X0D0A\g\.br\h\H\i\N\\Q\||||||F")

    obx = hl7.parse(text).all("OBX")[0]

    assert obx.value(5) == "a|b^c&d~e\\f\r\ng\nhi\\Q\\"


def test_custom_encoding_characters_from_msh_1_and_msh_2() -> None:
    text = (
        "MSH#*@!%#LIS#HOSP#MHUB#OB#20261120103000##ORU*R01#C7#P#2.5.1\r"
        "PID#1##A1*^*~*&*MR@B2****RI##Doe*Jane##19900101\r"
        "OBX#1#ST#K!S!1*Kalium##1!F!2 and 3!T!4!R!5!E!##\r"
    )

    message = hl7.parse(text)
    pid, obx = message.first("PID"), message.first("OBX")

    assert message.errors == []
    assert message.encoding == hl7.Encoding("#", "*", "@", "!", "%")
    assert message.msh is not None
    assert message.msh.value(1) == "#"
    assert message.msh.value(2) == "*@!%"
    assert message.msh.value(10) == "C7"
    assert pid is not None
    assert obx is not None
    assert pid.value(3, 1, 1) == "A1"
    assert pid.value(3, 2, 1) == "^"
    assert pid.value(3, 3, 1) == "~"
    assert pid.value(3, 5, 1) == "MR"
    assert pid.value(3, 1, 2) == "B2"
    assert pid.value(3, 5, 2) == "RI"
    assert obx.value(3, 1) == "K*1"
    assert obx.value(3, 2) == "Kalium"
    assert obx.value(5) == "1#2 and 3%4@5!"


def test_repetitions_components_and_subcomponents() -> None:
    text = oru("PID|1||LIS0012345^^^LIS&1.2.3&ISO^PI~450103199405170016^^^CHN^NNCHN||黄^丽萍", OBR)

    pid = hl7.parse(text).first("PID")

    assert pid is not None
    assert pid.nested(3) == [
        [["LIS0012345"], [""], [""], ["LIS", "1.2.3", "ISO"], ["PI"]],
        [["450103199405170016"], [""], [""], ["CHN"], ["NNCHN"]],
    ]
    assert pid.value(3, 4, 1, 2) == "1.2.3"
    assert pid.value(3, 4, 2, 2) == ""
    assert pid.value(3, 1, 3) == ""
    assert pid.value(99) == ""
    assert pid.components(5) == ["黄", "丽萍"]


def test_lf_crlf_and_cr_segment_ends_read_the_same() -> None:
    cr = oru(PID, OBR, "OBX|1|NM|XCG-HGB^血红蛋白^L||118|g/L")

    parsed = [hl7.parse(cr.replace("\r", end)) for end in ("\r", "\n", "\r\n")]

    assert [[s.fields for s in m.segments] for m in parsed] == [
        [s.fields for s in parsed[0].segments]
    ] * 3
    assert [s.name for s in parsed[0].segments] == ["MSH", "PID", "OBR", "OBX"]
    assert all(m.errors == [] for m in parsed)


# --- charsets --------------------------------------------------------------------------------


def test_utf8_message_with_a_chinese_name() -> None:
    raw = oru(PID, OBR, "OBX|1|ST|MY-HBSAG^乙肝表面抗原^L||阴性").encode("utf-8")

    message, decoded = hl7.parse_bytes(raw)
    report = hl7.read_oru(message)

    assert (decoded.charset, decoded.declared, decoded.errors) == ("UTF-8", "UNICODE UTF-8", ())
    assert report.patient is not None
    assert report.patient.name == "黄丽萍"
    assert report.observations[0].code.text == "乙肝表面抗原"
    assert report.observations[0].value == "阴性"


def test_gb18030_message_is_decoded_by_msh_18_read_from_the_bytes() -> None:
    text = oru(PID, OBR, "OBX|1|ST|MY-HBSAG^乙肝表面抗原^L||弱阳性", msh18="GB 18030-2000")
    raw = text.encode("gb18030")

    message, decoded = hl7.parse_bytes(raw)
    report = hl7.read_oru(message)

    assert hl7.declared_charset(raw) == "GB 18030-2000"
    assert (decoded.charset, decoded.errors) == ("GB18030", ())
    assert report.patient is not None
    assert report.patient.name == "黄丽萍"
    assert report.observations[0].value == "弱阳性"
    assert report.header.charset == "GB 18030-2000"


def test_charset_names_vendors_send() -> None:
    names = ["UNICODE UTF-8", "UTF-8", "GB18030", "GBK", "CHINESE", "gb 18030-2000", "8859/1"]

    assert [hl7.charset_of(n) for n in names] == [
        "UTF-8", "UTF-8", "GB18030", "GB18030", "GB18030", "GB18030", "ISO-8859-1",
    ]  # fmt: skip
    assert hl7.charset_of("EBCDIC") is None
    assert hl7.charset_of(None) is None


def test_undeclared_charset_is_utf8_then_gb18030() -> None:
    text = oru(PID, OBR, msh18="")

    utf8 = hl7.decode(text.encode("utf-8"))
    gb = hl7.decode(text.encode("gb18030"))

    assert (utf8.charset, utf8.text, utf8.errors) == ("UTF-8", text, ())
    assert (gb.charset, gb.text, gb.errors) == ("GB18030", text, ())


def test_a_wrong_declaration_falls_back_and_says_so() -> None:
    raw = oru(PID, OBR, msh18="UNICODE UTF-8").encode("gb18030")

    decoded = hl7.decode(raw)

    assert decoded.charset == "GB18030"
    assert "黄^丽萍" in decoded.text
    assert decoded.errors == (
        hl7.Hl7Error(
            "MSH-18",
            "消息声明字符集为 UNICODE UTF-8，但内容不符合该字符集，已改用其他字符集解码",
            "CHARSET",
        ),
    )


def test_latin1_and_unknown_charsets() -> None:
    latin = oru("PID|1||X1||Müller^Jürgen", "OBR|1", msh18="8859/1").encode("latin-1")
    unknown = oru(PID, OBR, msh18="EBCDIC").encode("utf-8")

    latin_message, latin_decoded = hl7.parse_bytes(latin)
    unknown_decoded = hl7.decode(unknown)
    patient = hl7.read_oru(latin_message).patient

    assert latin_decoded.charset == "ISO-8859-1"
    assert patient is not None
    assert patient.name == "Müller Jürgen"
    assert unknown_decoded.charset == "UTF-8"
    assert unknown_decoded.errors == (
        hl7.Hl7Error("MSH-18", "不支持的字符集 EBCDIC，已按 UTF-8 / GB18030 解码", "CHARSET"),
    )


# --- typed values and errors as values --------------------------------------------------------


def test_timestamps_without_offset_are_hospital_local_time() -> None:
    assert hl7.parse_ts("20261120080500") == dt.datetime(2026, 11, 20, 0, 5, tzinfo=UTC)
    assert hl7.parse_ts("20120629132900-0500") == dt.datetime(2012, 6, 29, 18, 29, tzinfo=UTC)
    assert hl7.parse_ts("202611200805") == dt.datetime(2026, 11, 20, 0, 5, tzinfo=UTC)
    assert hl7.parse_ts("20261120") == dt.datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    assert hl7.parse_ts("20261120080500.25+0800") == dt.datetime(
        2026, 11, 20, 0, 5, 0, 250000, tzinfo=UTC
    )
    assert hl7.parse_ts("20261320") is None
    assert hl7.parse_ts("2026112") is None
    assert hl7.parse_date("19880230") is None
    assert hl7.parse_date("19940517") == dt.date(1994, 5, 17)


def test_malformed_dates_are_field_errors_and_reading_goes_on() -> None:
    text = oru(
        "PID|1||LIS0012345^^^LIS^PI||黄^丽萍||19880230|F",
        "OBR|1|||YGWX^乙肝两对半^L|||2026112A|||||||||||||||20261120102500",
        "OBX|1|NM|XCG-HGB^血红蛋白^L||118|g/L|||||F|||20261199",
    )

    report = hl7.read_oru(hl7.parse(text))

    assert report.errors == (
        hl7.Hl7Error("PID-7", "出生日期 19880230 不是有效日期", "INVALID_DATE"),
        hl7.Hl7Error("OBX[1]-14", "观察时间 20261199 不是有效的日期时间", "INVALID_DATE"),
        hl7.Hl7Error("OBR[1]-7", "采样时间 2026112A 不是有效的日期时间", "INVALID_DATE"),
    )
    assert report.patient is not None
    assert report.patient.birth_date is None
    assert report.orders[0].reported_at == dt.datetime(2026, 11, 20, 2, 25, tzinfo=UTC)
    assert report.observations[0].value == "118"


def test_missing_segments_and_text_that_is_not_hl7() -> None:
    no_pid = hl7.read_oru(hl7.parse(oru(OBR, "OBX|1|ST|X^Y||阴性")))
    no_obr = hl7.read_oru(hl7.parse(oru(PID, "OBX|1|ST|X^Y||阴性")))
    garbage = hl7.parse("GET / HTTP/1.1\r\nHost: x\r\n")

    assert no_pid.patient is None
    assert [o.value for o in no_pid.observations] == ["阴性"]
    assert no_obr.errors == (hl7.Hl7Error("OBX[1]", "OBX 段出现在 OBR 段之前", "SEGMENT_ORDER"),)
    assert [o.value for o in no_obr.observations] == ["阴性"]
    assert garbage.is_hl7 is False
    assert garbage.segments == []
    assert garbage.errors == [
        hl7.Hl7Error(
            "MSH", "不是 HL7 v2 消息：应以 MSH 段开头，收到的是 'GET / HTTP/1.1  Host'", "NOT_HL7"
        )
    ]


def test_unknown_segment_lines_are_reported_and_skipped() -> None:
    message = hl7.parse(oru(PID, "this is not a segment", OBR))

    assert [s.name for s in message.segments] == ["MSH", "PID", "OBR"]
    assert message.errors == [hl7.Hl7Error("第3段", "无法识别的段 'this is no'，已忽略", "SEGMENT")]


def test_value_types_structured_numeric_coded_and_text() -> None:
    text = oru(
        PID,
        OBR,
        "OBX|1|SN|GLU^葡萄糖^L||<^0.5|mmol/L",
        "OBX|2|SN|TRUST^RPR^L||^1^:^16",
        "OBX|3|CWE|5195-3^HBsAg^LN^HBSAG^乙肝表面抗原^L||260385009^Negative^SCT^NEG^NEGATIVE^L||||||F",
        "OBX|4|TX|US^超声报告^L||第一行~第二行",
        r"OBX|5|FT|US^超声报告^L||NT 1.6mm\.br\CRL 59mm",
    )

    obs = hl7.read_oru(hl7.parse(text)).observations

    assert [o.value for o in obs] == [
        "<0.5",
        "1:16",
        "Negative",
        "第一行\n第二行",
        "NT 1.6mm\nCRL 59mm",
    ]
    assert obs[2].code.code_in("LN") == "5195-3"
    assert obs[2].code.alt_identifier == "HBSAG"
    assert obs[2].coded_value == hl7.Coded("260385009", "Negative", "SCT", "NEG", "NEGATIVE", "L")
    assert obs[2].status == "F"


# --- the public messages -----------------------------------------------------------------------


def test_the_hl7_normative_glucose_message() -> None:
    message, decoded = hl7.parse_bytes(sample("oru-r01-glucose-hl7-normative.hl7"))
    report = hl7.read_oru(message)

    assert decoded.charset == "UTF-8"
    assert report.header == hl7.Header(
        sending_application="GHH LAB",
        sending_facility="ELAB-3",
        receiving_application="GHH OE",
        receiving_facility="BLDG4",
        sent_at=dt.datetime(2002, 2, 15, 1, 30, tzinfo=UTC),
        message_code="ORU",
        trigger="R01",
        control_id="CNTRL-3456",
        processing_id="P",
        version="2.4",
        charset="",
    )
    assert report.errors == (
        hl7.Hl7Error("PID-7", "出生日期 196203520 不是有效日期", "INVALID_DATE"),
    )
    assert report.patient == hl7.PatientIdentification(
        identifiers=(hl7.Identifier("555-44-4444", "", ""),),
        family_name="EVERYWOMAN",
        given_name="EVE",
        birth_date=None,
        sex="F",
    )
    (order,) = report.orders
    assert order.service == hl7.Coded("1554-5", "GLUCOSE")
    assert order.specimen_at == dt.datetime(2002, 2, 14, 23, 30, tzinfo=UTC)
    assert [(o.set_id, o.value_type, o.code.identifier, o.value, o.unit, o.reference_range,
             o.abnormal_flags, o.status) for o in order.observations] == [
        ("1", "SN", "1554-5", "182", "mg/dl", "70_105", ("H",), "F"),
        ("2", "FN", "1553-5", "182", "mg/dl", "70_105", ("H",), "F"),
    ]  # fmt: skip


def test_the_nist_hepatitis_panel() -> None:
    message, _ = hl7.parse_bytes(sample("oru-r01-nist-lri-hepatitis-panel.hl7"))
    report = hl7.read_oru(message)

    assert report.errors == ()
    assert report.header.control_id == "NIST-LRI-GU-RU-005.00"
    assert report.header.message_type == "ORU^R01"
    assert report.header.sent_at == dt.datetime(2011, 5, 31, 19, 5, 51, tzinfo=UTC)
    assert report.patient is not None
    assert report.patient.identifiers == (hl7.Identifier("M0313831", "MR", ""),)
    assert report.patient.birth_date == dt.date(1975, 4, 1)
    assert [len(o.observations) for o in report.orders] == [9, 1]
    assert report.orders[0].reported_at == dt.datetime(2012, 6, 29, 18, 29, tzinfo=UTC)
    hcv = report.observations[7]
    assert (hcv.position, hcv.set_id, hcv.code.code_in("LN"), hcv.code.alt_identifier) == (
        8, "8", "16128-1", "HCVAB",
    )  # fmt: skip
    assert hcv.coded_value is not None
    assert hcv.coded_value.alt_text == "POSITIVE"
    assert hcv.observed_at == dt.datetime(2012, 6, 27, 23, 1, tzinfo=UTC)
    assert [o.value for o in report.observations if o.value_type == "SN"] == [
        "0.60", "10.8", "7611200",
    ]  # fmt: skip
    assert report.observations[9].position == 10
    assert report.observations[9].set_id == "1"


# --- acknowledgements ---------------------------------------------------------------------------


def test_ack_uses_the_received_encoding_and_swaps_applications() -> None:
    received = hl7.parse(
        "MSH#*@!%#LIS*1.2*ISO#HOSP#MHUB#OB#20261120103000##ORU*R01#C7#P#2.5.1\rPID#1##A1\r"
    )

    text = hl7.build_ack(
        received,
        "AE",
        control_id="ACK1",
        acknowledged_id="C7",
        text="未找到孕妇 A#1",
        errors=[hl7.Hl7Error("PID-3", "标识 A1 未登记", "UNKNOWN_PATIENT")],
        now=dt.datetime(2026, 11, 20, 2, 30, tzinfo=UTC),
    )
    ack = hl7.parse(text)

    assert text.split("\r")[0] == (
        "MSH#*@!%#MHUB#OB#LIS*1.2*ISO#HOSP#20261120103000+0800##ACK*R01*ACK#ACK1#P#2.5.1"
        "######UNICODE UTF-8"
    )
    assert hl7.read_ack(ack) == hl7.Ack("AE", "C7", "未找到孕妇 A#1", ("标识 A1 未登记",))
    err = ack.first("ERR")
    assert err is not None
    assert err.components(2) == ["PID", "1", "3"]
    assert err.components(3) == ["204", "Unknown key identifier", "HL70357"]


# --- properties ----------------------------------------------------------------------------------


@given(st.text())
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    message = hl7.parse(text)
    hl7.read_oru(message)
    hl7.read_ack(message)


@given(st.binary())
def test_parser_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    message, decoded = hl7.parse_bytes(raw)
    hl7.read_oru(message)
    assert decoded.charset in ("UTF-8", "GB18030", "ISO-8859-1", "ASCII")


_SEGMENT_LINES = st.lists(
    st.tuples(
        st.sampled_from(["PID", "OBR", "OBX", "NTE", "MSA", "ERR", "XYZ", "MSH"]),
        st.lists(st.text(alphabet="^~\\&|0123456789ABCXYZ.+-: 阴性", max_size=12), max_size=25),
    ),
    max_size=8,
)


@given(st.text(alphabet="^~\\&|#*!%", max_size=6), _SEGMENT_LINES, st.sampled_from(["\r", "\n"]))
def test_parser_never_raises_on_hl7_shaped_text(
    msh2: str, lines: list[tuple[str, list[str]]], end: str
) -> None:
    text = f"MSH|{msh2}|A|B|C|D|2026||ORU^R01|X|P|2.5" + end
    text += end.join(name + "|" + "|".join(fields) for name, fields in lines)

    report = hl7.read_oru(hl7.parse(text))

    assert all(isinstance(e, hl7.Hl7Error) for e in report.errors)


_DELIMITERS = st.lists(
    st.sampled_from(list("|^~\\&#*@!%$?;")), min_size=5, max_size=5, unique=True
).map(lambda c: hl7.Encoding(*c))
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)  # no lone surrogates
_FIELD = st.lists(st.lists(st.lists(_TEXT, min_size=1, max_size=3), min_size=1, max_size=3), min_size=1, max_size=2)  # fmt: skip
_SEGMENTS = st.lists(
    st.tuples(st.sampled_from(["PID", "OBR", "OBX", "ZXY"]), st.lists(_FIELD, min_size=1, max_size=6)),
    min_size=1,
    max_size=5,
)  # fmt: skip


@given(_DELIMITERS, _SEGMENTS, st.sampled_from(["utf-8", "gb18030"]))
def test_build_serialise_parse_round_trip(
    encoding: hl7.Encoding, segments: list[tuple[str, list[hl7.Nested]]], codec: str
) -> None:
    charset = {"utf-8": "UNICODE UTF-8", "gb18030": "GB 18030-2000"}[codec]
    built: list[tuple[str, list[hl7.FieldValue]]] = [("MSH", ["APP", *[None] * 14, charset])]
    built += [(name, list(fields)) for name, fields in segments]
    raw = hl7.build_message(built, encoding).encode(codec)

    message, _ = hl7.parse_bytes(raw)

    assert message.errors == []
    assert message.encoding == encoding
    assert [s.name for s in message.segments] == ["MSH", *(name for name, _ in segments)]
    for segment, (_, fields) in zip(message.segments[1:], segments, strict=True):
        assert [segment.nested(n) for n in range(1, len(fields) + 1)] == fields
        assert len(segment.fields) == len(fields) + 1


_PAYLOAD = st.binary(max_size=200).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b""))


@given(st.lists(_PAYLOAD, max_size=6), st.data())
def test_any_split_of_n_frames_yields_the_n_frames(
    payloads: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    decoder = FrameDecoder()

    events = [event for chunk in chunks for event in decoder.feed(chunk)]

    assert events == [Frame(p) for p in payloads]


def test_bytes_outside_frames_are_reported_and_oversized_frames_refused() -> None:
    decoder = FrameDecoder(max_frame_bytes=10)

    events = decoder.feed(b"\r\nxx" + frame(b"MSH|ok") + b"\n" + frame(b"MSH|" + b"9" * 20))
    events += decoder.feed(frame(b"next") + b"\x1cjunk")

    assert events == [
        Frame(b"MSH|ok"),
        Oversized(b"MSH|" + b"9" * 20, 24),
        Stray(5),
        Frame(b"next"),
        Stray(5),
    ]
