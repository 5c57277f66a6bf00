"""母子健康手册 PDF (1.28.4): what the doctor wrote prints exactly; infectious items with
their own dates; NT; versions; permissions. Rendered by a job in the in-process runner."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.conftest import Api
from tests.document_helpers import (
    RENDER,
    VERSIONS,
    download,
    embedded,  # noqa: F401  (fixture)
    given_pregnancy,
    page_png,
    pages,
    pdf_text,
    render,
    squeeze,
)
from tests.helpers import count_rows

EDIT_VISIT = """
mutation Edit($input: EditVisitInput!) {
  editVisit(input: $input) { visit { id remarks } userErrors { field message code } }
}
"""

VISITS = """
query Visits($id: ID!) {
  node(id: $id) { ... on Pregnancy { visits { id remarks } } }
}
"""


async def test_the_handbook_prints_what_the_doctor_recorded(
    embedded: Api,  # noqa: F811
    tmp_path: Path,
) -> None:
    given = await given_pregnancy(embedded)

    job = await render(embedded, given.pregnancy_id)

    assert job["status"] == "SUCCEEDED", job
    assert job["kind"] == "RENDER_HANDBOOK"
    assert job["progress"] == 1.0
    assert job["createdBy"] == "doctor"
    pdf = await download(embedded, job["downloadUrl"])
    text = pdf_text(pdf, tmp_path)
    flat = squeeze(text)
    assert given.patient_name in text
    for remark in given.remarks:
        assert squeeze(remark) in flat, remark
    assert f"NT{squeeze(given.nt_text)}" in flat or squeeze(given.nt_text) in flat
    for item, (result, day) in given.screening.items():
        assert f"{item}{result}{day}" in flat, item
    for heading in ("母子健康手册", "第1次产前检查服务记录表", "产前随访服务记录", "（盖章）"):
        assert heading in text
    assert "第 1 页 / 共" in text
    assert job["result"]["pages"] == pages(pdf)
    # Looked at by a person: the cover and the visit table, kept as test artefacts.
    assert page_png(pdf, 1, "handbook-cover").is_file()
    assert page_png(pdf, pages(pdf), "handbook-visits").is_file()


async def test_unchanged_records_keep_one_version_and_an_edit_adds_one(
    embedded: Api,  # noqa: F811
) -> None:
    given = await given_pregnancy(embedded)
    first = await render(embedded, given.pregnancy_id)

    again = await render(embedded, given.pregnancy_id, as_user="doctor2")

    assert again["status"] == "SUCCEEDED"
    assert again["result"]["newVersion"] is False
    assert again["result"]["documentId"] == first["result"]["documentId"]
    visits = (await embedded.gql(VISITS, {"id": given.pregnancy_id}))["data"]["node"]["visits"]
    edited = await embedded.gql(
        EDIT_VISIT, {"input": {"visitId": visits[0]["id"], "remarks": "复查：一切正常。"}}
    )
    assert edited["data"]["editVisit"]["userErrors"] == []

    changed = await render(embedded, given.pregnancy_id, as_user="doctor2")

    assert changed["result"]["newVersion"] is True
    body = await embedded.gql(VERSIONS, {"id": given.pregnancy_id})
    versions = body["data"]["node"]["handbookDocuments"]
    assert [v["createdBy"] for v in versions] == ["doctor2", "doctor"]
    assert [v["contentHash"] for v in versions] == [
        changed["result"]["sha256"],
        first["result"]["sha256"],
    ]
    assert versions[0]["contentHash"] != versions[1]["contentHash"]
    assert versions[0]["filename"] == "母子健康手册-韦春燕-4501072024000001.pdf"
    newest = await download(embedded, versions[0]["downloadUrl"])
    assert len(newest) == versions[0]["size"]


async def test_only_doctors_render_handbooks(embedded: Api) -> None:  # noqa: F811
    given = await given_pregnancy(embedded)
    jobs_before = await count_rows(embedded, "background_job")

    for user in ("admin", "auditor"):
        body = await embedded.gql(RENDER, {"id": given.pregnancy_id}, as_user=user)

        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count_rows(embedded, "background_job") == jobs_before
    assert await count_rows(embedded, "stored_document") == 0


async def test_an_unknown_pregnancy_is_a_user_error(embedded: Api) -> None:  # noqa: F811
    from graphql_schema.base import to_global_id

    body = await embedded.gql(RENDER, {"id": to_global_id("Pregnancy", 999_999)})

    assert body["data"]["renderHandbook"] == {
        "job": None,
        "userErrors": [
            {"field": "pregnancyId", "message": "孕产档案 999999 不存在", "code": "NOT_FOUND"}
        ],
    }
    assert await count_rows(embedded, "background_job") == 0


async def test_a_pregnancy_without_visits_still_prints(
    embedded: Api,  # noqa: F811
    tmp_path: Path,
) -> None:
    from tests.helpers import book, register

    pregnancy = await book(embedded, await register(embedded, 7, name="陆小红"), weeks=10)

    job = await render(embedded, pregnancy["id"])

    text = pdf_text(await download(embedded, job["downloadUrl"]), tmp_path)
    assert "陆小红" in text
    assert "尚无产前检查记录" in text
    assert "无超声检查记录" in text
    assert dt.date.today().isoformat() in text  # booking date and the printed-on footer
