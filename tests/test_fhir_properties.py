"""Property-based tests of the two FHIR readers: RIS DiagnosticReports and the EMR adapter.

Both face bodies written by other systems; neither may let an exception other than its
documented one escape. `parse_diagnostic_report` answers a `ReportProblem` for anything it
cannot read; `FhirEmr.diagnoses_for` either answers every woman asked for or raises
`EmrUnavailable`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.ultrasound.service import (
    RESIDENT_ID_SYSTEM,
    DiagnosticReport,
    ReportProblem,
    parse_diagnostic_report,
)
from integrations.emr.fhir import RECORD_NO_SYSTEM, FhirEmr
from integrations.emr.fhir import RESIDENT_ID_SYSTEM as EMR_RESIDENT_ID_SYSTEM
from integrations.emr.port import EmrDiagnosis, EmrPatientId, EmrUnavailable, IdentifierKind

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- shared strategies

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def wrong(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: valid, of some other JSON type, or (via `absent`) left out."""
    return st.one_of(valid, scalars, json_values)


ABSENT = object()


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(ABSENT), wrong(valid))


def drop_absent(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not ABSENT}


# The ends of the calendar are where zone arithmetic overflows; draw them often.
dates = st.one_of(st.dates(), st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31)]))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
)


@st.composite
def fhir_datetimes(draw: st.DrawFn) -> str:
    """A FHIR date or dateTime: a day, or a moment with or without a zone (Z or ±hh:mm)."""
    day = draw(dates)
    if draw(st.booleans()):
        return day.isoformat()
    time = draw(st.times()).replace(microsecond=0)
    zone = draw(st.sampled_from(["", "Z", "+14:00", "-12:00"]) | offsets)
    return f"{day.isoformat()}T{time.isoformat()}{zone}"


# --------------------------------------------------------------------------- DiagnosticReport

resident_ids = st.from_regex(r"\A[1-9]\d{16}[0-9X]\Z")
fhir_ids = st.from_regex(r"\A[A-Za-z0-9\-.]{1,64}\Z")


def encoded(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


identifier_values = st.fixed_dictionaries(
    {}, optional={"system": wrong(st.just(RESIDENT_ID_SYSTEM)), "value": wrong(resident_ids)}
)
presented_forms = st.fixed_dictionaries(
    {},
    optional={
        "contentType": wrong(
            st.sampled_from(["text/plain", "text/plain; charset=utf-8", "application/pdf"])
        ),
        "data": wrong(st.text(max_size=40).map(encoded) | st.text(max_size=20)),
    },
)


@st.composite
def report_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """A dict shaped like a DiagnosticReport, each field present, missing, wrong or valid."""
    subject = draw(
        maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "identifier": wrong(identifier_values | st.lists(identifier_values, max_size=3))
                },
            )
        )
    )
    return drop_absent(
        {
            "resourceType": draw(maybe(st.just("DiagnosticReport"))),
            "id": draw(maybe(fhir_ids)),
            "subject": subject,
            "effectiveDateTime": draw(maybe(fhir_datetimes() | st.text(max_size=30))),
            "effectivePeriod": draw(
                maybe(st.fixed_dictionaries({"start": wrong(fhir_datetimes())}))
            ),
            "conclusion": draw(maybe(st.text(max_size=60))),
            "presentedForm": draw(maybe(st.lists(wrong(presented_forms), max_size=3))),
            "text": draw(
                maybe(
                    st.fixed_dictionaries(
                        {"div": wrong(st.text(max_size=60).map(lambda t: f"<div><p>{t}</p></div>"))}
                    )
                )
            ),
        }
    )


def assert_report_or_problem(result: object) -> None:
    assert isinstance(result, DiagnosticReport | ReportProblem)
    if isinstance(result, DiagnosticReport):
        assert result.id is None or isinstance(result.id, str)
        assert result.identifiers
        assert isinstance(result.exam_date, dt.date)
        assert isinstance(result.text, str)
        assert result.text
        assert "\x00" not in result.text
    else:
        assert isinstance(result.code, str)
        assert result.code
        assert isinstance(result.detail, str)
        assert isinstance(result.path, str)


@PROPERTY
@given(st.binary(max_size=300))
def test_any_bytes_are_a_report_or_a_problem(raw: bytes) -> None:
    assert_report_or_problem(parse_diagnostic_report(raw))


@PROPERTY
@given(json_values)
def test_any_json_value_is_a_report_or_a_problem(value: Any) -> None:
    assert_report_or_problem(parse_diagnostic_report(json.dumps(value).encode("utf-8")))


@PROPERTY
@given(report_shaped())
def test_a_report_shaped_body_is_a_report_or_a_problem(resource: dict[str, Any]) -> None:
    assert_report_or_problem(
        parse_diagnostic_report(json.dumps(resource, ensure_ascii=False).encode("utf-8"))
    )


@PROPERTY
@given(
    rid=fhir_ids,
    resident_id=resident_ids,
    day=dates,
    tenths=st.integers(min_value=5, max_value=99),
)
def test_a_valid_report_is_read(rid: str, resident_id: str, day: dt.date, tenths: int) -> None:
    conclusion = f"颈项透明层厚度（NT）{tenths / 10:.1f}mm"
    resource = {
        "resourceType": "DiagnosticReport",
        "id": rid,
        "status": "final",
        "subject": {"identifier": {"system": RESIDENT_ID_SYSTEM, "value": resident_id}},
        "effectiveDateTime": day.isoformat(),
        "conclusion": conclusion,
    }

    report = parse_diagnostic_report(json.dumps(resource, ensure_ascii=False).encode("utf-8"))

    assert isinstance(report, DiagnosticReport)
    assert report.id == rid
    assert [(i.system, i.value) for i in report.identifiers] == [(RESIDENT_ID_SYSTEM, resident_id)]
    assert report.exam_date == day
    assert conclusion in report.text


# --------------------------------------------------------------------------- EMR adapter

BASE = "http://emr.test/fhir"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
MAX_PAGES = 4

requested = st.lists(
    st.builds(
        EmrPatientId,
        st.sampled_from(IdentifierKind),
        st.sampled_from(["EMR10000001", "EMR10000002", "450103199405170028"]),
    ),
    min_size=1,
    max_size=4,
)
codings = st.fixed_dictionaries(
    {},
    optional={
        "system": wrong(st.sampled_from([ICD10, "http://hl7.org/fhir/sid/icd-10-cn", "urn:local"])),
        "code": wrong(st.sampled_from(["O24.4", "o34.2", "Z340", "O13", "Ｏ２４．４", "X"])),
        "display": wrong(st.text(max_size=10)),
    },
)
subjects = st.one_of(
    st.fixed_dictionaries(
        {"reference": wrong(st.sampled_from(["Patient/p1", "Patient/p2/_history/3", "Group/g"]))}
    ),
    st.fixed_dictionaries(
        {
            "identifier": st.fixed_dictionaries(
                {},
                optional={
                    "system": wrong(st.sampled_from([RECORD_NO_SYSTEM, EMR_RESIDENT_ID_SYSTEM])),
                    "value": wrong(st.sampled_from(["EMR10000001", "450103199405170028"])),
                },
            )
        }
    ),
    json_values,
)


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    return drop_absent(
        {
            "resourceType": "Condition",
            "id": draw(maybe(fhir_ids)),
            "verificationStatus": draw(
                maybe(
                    st.fixed_dictionaries(
                        {
                            "coding": wrong(
                                st.lists(
                                    st.fixed_dictionaries(
                                        {"code": wrong(st.sampled_from(["confirmed", "refuted"]))}
                                    ),
                                    max_size=2,
                                )
                            )
                        }
                    )
                )
            ),
            "subject": draw(maybe(subjects)),
            "code": draw(
                maybe(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "coding": wrong(st.lists(codings, max_size=3)),
                            "text": wrong(st.text(max_size=10)),
                        },
                    )
                )
            ),
            "recordedDate": draw(maybe(fhir_datetimes() | st.sampled_from(["2024", "2024-05"]))),
            "onsetDateTime": draw(maybe(fhir_datetimes())),
            "encounter": draw(
                maybe(st.fixed_dictionaries({"reference": wrong(st.just("Encounter/e1"))}))
            ),
        }
    )


patients = st.builds(
    lambda pid, identifier: drop_absent(
        {"resourceType": "Patient", "id": pid, "identifier": identifier}
    ),
    wrong(st.sampled_from(["p1", "p2"])),
    maybe(
        st.lists(
            st.fixed_dictionaries(
                {
                    "system": wrong(st.sampled_from([RECORD_NO_SYSTEM, EMR_RESIDENT_ID_SYSTEM])),
                    "value": wrong(st.sampled_from(["EMR10000001", "450103199405170028"])),
                }
            ),
            max_size=2,
        )
    ),
)
resources = st.one_of(
    conditions(),
    patients,
    st.fixed_dictionaries({"resourceType": st.sampled_from(["OperationOutcome", "Encounter"])}),
    json_values,
)
entries = st.one_of(
    st.fixed_dictionaries({"resource": resources}),
    scalars,
    json_values,
)
links = st.one_of(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "relation": wrong(st.sampled_from(["next", "self"])),
                # Every next page is fetched from BASE (the adapter rewrites other hosts onto it);
                # the handler keeps serving the last page, so `max_pages` ends the cycle.
                "url": wrong(
                    st.sampled_from(
                        [
                            f"{BASE}/Condition?page=2",
                            "/fhir/Condition?page=3",
                            "http://emr.internal:8080/fhir/Condition?page=4",
                            "http://[emr.test/fhir/Condition?page=5",  # unbalanced IPv6 bracket
                        ]
                    )
                ),
            },
        ),
        max_size=3,
    ),
    scalars,
    json_values,
)


@st.composite
def bundles(draw: st.DrawFn) -> Any:
    """Mostly Bundles with random entries and links; sometimes any JSON value at all."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(json_values)
    return drop_absent(
        {
            "resourceType": "Bundle",
            "type": draw(maybe(st.just("searchset"))),
            "entry": draw(st.one_of(st.lists(entries, max_size=5), maybe(json_values))),
            "link": draw(st.one_of(st.just(ABSENT), links)),
        }
    )


async def ask_emr(
    pages: list[Any], wanted: list[EmrPatientId]
) -> dict[EmrPatientId, list[EmrDiagnosis]]:
    served = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal served
        body = pages[min(served, len(pages) - 1)]
        served += 1
        return httpx.Response(
            200,
            content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/fhir+json"},
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await FhirEmr(client, BASE, max_pages=MAX_PAGES).diagnoses_for(wanted)


@PROPERTY
@given(pages=st.lists(bundles(), min_size=1, max_size=3), wanted=requested)
def test_any_answer_is_diagnoses_or_unavailable(
    pages: list[Any], wanted: list[EmrPatientId]
) -> None:
    try:
        found = asyncio.run(ask_emr(pages, wanted))
    except EmrUnavailable:
        return
    assert set(found) == set(wanted)
    for diagnoses in found.values():
        assert isinstance(diagnoses, list)
        for diagnosis in diagnoses:
            assert isinstance(diagnosis, EmrDiagnosis)
            assert isinstance(diagnosis.condition_id, str)
            assert diagnosis.condition_id.startswith("Condition/")
            assert isinstance(diagnosis.icd10_code, str)
            assert isinstance(diagnosis.text, str)
            assert diagnosis.text
            assert diagnosis.recorded_date is None or isinstance(diagnosis.recorded_date, dt.date)
            assert diagnosis.encounter_id is None or isinstance(diagnosis.encounter_id, str)


@PROPERTY
@given(moment=fhir_datetimes(), resident_id=resident_ids)
def test_any_valid_effective_date_time_is_a_report_or_a_problem(
    moment: str, resident_id: str
) -> None:
    resource = {
        "resourceType": "DiagnosticReport",
        "subject": {"identifier": {"system": RESIDENT_ID_SYSTEM, "value": resident_id}},
        "effectiveDateTime": moment,
        "conclusion": "颈项透明层厚度（NT）1.5mm",
    }
    assert_report_or_problem(parse_diagnostic_report(json.dumps(resource).encode("utf-8")))
