"""Inspections over GraphQL: administrators run them, administrators and auditors read the
reports; the second report compares itself with the first."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import update

from domain.parameter.models import Parameter
from tests.conftest import Api
from tests.document_helpers import (
    download,
    embedded,  # noqa: F401  (fixture)
    pdf_text,
    wait_for_job,
)
from tests.helpers import count_rows, register

RUN = """
mutation Run {
  runInspection {
    job { id kind status createdBy }
    userErrors { field message code }
  }
}
"""

REPORTS = """
query Reports($first: Int, $after: String) {
  inspectionReports(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id trigger createdBy highestSeverity figures comparison previousReportId downloadUrl
        findings { code severity severityLabel title detail action }
      }
    }
  }
}
"""


async def run_inspection(api: Api) -> dict[str, object]:
    body = await api.gql(RUN, as_user="admin")
    payload = body["data"]["runInspection"]
    assert payload["userErrors"] == [], payload
    assert payload["job"]["kind"] == "INSPECTION"
    return await wait_for_job(api, payload["job"]["id"], as_user="admin")


async def test_reports_are_stored_compared_and_downloadable(
    embedded: Api,  # noqa: F811
    tmp_path: Path,
) -> None:
    first_job = await run_inspection(embedded)
    # Between the two inspections: a backup appears and two women are registered.
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "mhub.dump").write_bytes(b"backup")
    recent = dt.datetime.now(dt.UTC).timestamp() - 3600
    os.utime(backups / "mhub.dump", (recent, recent))
    async with embedded.services.db.transaction() as session:
        await session.execute(
            update(Parameter).where(Parameter.key == "backup_dir").values(value=str(backups))
        )
    await register(embedded, 1)
    await register(embedded, 2)

    second_job = await run_inspection(embedded)

    assert first_job["status"] == second_job["status"] == "SUCCEEDED"
    body = await embedded.gql(REPORTS, {"first": 1}, as_user="auditor")
    connection = body["data"]["inspectionReports"]
    assert connection["totalCount"] == 2
    assert connection["pageInfo"]["hasNextPage"] is True
    newest = connection["edges"][0]["node"]
    rest = await embedded.gql(
        REPORTS, {"first": 5, "after": connection["pageInfo"]["endCursor"]}, as_user="admin"
    )
    oldest = rest["data"]["inspectionReports"]["edges"][0]["node"]
    assert (newest["trigger"], newest["createdBy"]) == ("MANUAL", "admin")
    assert newest["previousReportId"] == oldest["id"]
    comparison = newest["comparison"]
    assert comparison["previousReportId"] is not None
    grown = {t["name"]: t for t in comparison["tables"]}
    assert grown["patient"]["growth"] == 2
    assert grown["patient"]["now"] == await count_rows(embedded, "patient")
    assert "BACKUP_NOT_CONFIGURED" in comparison["resolvedFindings"]
    assert "BACKUP_OK" in comparison["newFindings"]
    tables = {t["name"]: t for t in newest["figures"]["database"]["tables"]}
    assert tables["patient"]["growth"] == 2
    assert tables["inspection_report"]["rows"] == 1  # measured before it was stored
    backup = next(f for f in newest["findings"] if f["code"] == "BACKUP_OK")
    assert (backup["severity"], backup["severityLabel"]) == ("INFO", "信息")
    text = pdf_text(await download(embedded, newest["downloadUrl"]), tmp_path)
    assert "上次巡检：第" in text
    assert "patient 0 2 2" in text  # table, rows before, now, growth


async def test_only_administrators_run_inspections(api: Api) -> None:
    for user in ("doctor", "auditor"):
        body = await api.gql(RUN, as_user=user)

        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count_rows(api, "background_job") == 0


async def test_doctors_do_not_read_inspection_reports(api: Api) -> None:
    body = await api.gql(REPORTS, {"first": 5}, as_user="doctor")

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_second_inspection_waits_for_the_queued_one(api: Api) -> None:
    # `api` runs no jobs: the first inspection stays queued.
    first = await api.gql(RUN, as_user="admin")

    second = await api.gql(RUN, as_user="admin")

    assert first["data"]["runInspection"]["job"]["status"] == "QUEUED"
    assert second["data"]["runInspection"] == {
        "job": None,
        "userErrors": [
            {
                "field": "",
                "message": "已有巡检任务在排队或执行中，请等待其完成",
                "code": "ALREADY_RUNNING",
            }
        ],
    }
    assert await count_rows(api, "background_job") == 1
