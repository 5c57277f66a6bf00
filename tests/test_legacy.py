"""Issue 3 item 7: the old obstetric system's database, read through a mapping of its
tables and columns; merged live into the lab history and `legacyPregnancies`; moved over
by `mhub import-legacy` (idempotently)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from api import cli
from domain.database import Database
from domain.lab.mapping import LabDictionary
from domain.lab.models import LabResult
from domain.lab.service import IncomingResult, store_results
from domain.patient.models import Patient
from domain.patient.rules import check_digit
from domain.pregnancy.models import Pregnancy
from domain.settings import Settings
from integrations.legacy.database import (
    LegacyDatabase,
    LegacyLabResult,
    LegacyPatient,
    LegacyPregnancy,
    LegacyUnavailable,
)
from integrations.legacy.demo import LegacyWriter
from integrations.legacy.mapping import DEFAULT_MAPPING, LegacyMapping, LegacyMappingError
from tests.conftest import Api
from tests.helpers import resident_id
from tests.lab_helpers import cst, gid, incoming, seed_patient

BAD_ID = resident_id(3)[:17] + ("0" if resident_id(3)[17] != "0" else "1")

HISTORY = """
query History($id: ID!) {
  node(id: $id) {
    ... on Patient {
      labHistory(first: 20) {
        totalCount
        edges { node { itemCode valueText valueQualitative testedAt sources labResult { id } } }
      }
    }
  }
}
"""

PREGNANCIES = """
query Two($a: ID!, $b: ID!) {
  a: node(id: $a) { ... on Patient { legacyPregnancies {
    legacyId description lmp edd bookingDate gravidity parity deliveredOn } } }
  b: node(id: $b) { ... on Patient { legacyPregnancies {
    legacyId description lmp edd bookingDate gravidity parity deliveredOn } } }
}
"""


@pytest.fixture
def legacy_path(tmp_path: Path) -> Path:
    return tmp_path / "legacy.db"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, legacy_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key="test-secret-key",
        legacy_database_url=f"sqlite+aiosqlite:///{legacy_path}",
    )


def write_legacy(path: Path) -> None:
    """Two women MaternityHub may know (resident IDs 1 and 2) and one with a mistyped ID."""
    w = LegacyWriter(path)
    w.patient("100001", "黄丽萍", resident_id(1), "13907710001", dt.date(1994, 5, 17))
    w.pregnancy(5001, "100001", dt.date(2018, 2, 1), gravidity=1, parity=0,
                booking=dt.date(2018, 3, 20), delivered=dt.date(2018, 11, 5))  # fmt: skip
    w.pregnancy(5002, "100001", dt.date(2021, 6, 10), gravidity=2, parity=1,
                booking=dt.date(2021, 8, 2), delivered=dt.date(2022, 3, 14))  # fmt: skip
    w.patient("100002", "韦秀兰", resident_id(2), "0771-5301234", dt.date(1994, 5, 17))
    w.pregnancy(5003, "100002", dt.date(2019, 7, 7), gravidity=1, parity=0,
                booking=dt.date(2019, 9, 1))  # fmt: skip
    w.patient("100003", "覃海燕", BAD_ID, None, None)
    w.pregnancy(5004, "100003", dt.date(2016, 1, 1), gravidity=1, parity=0)
    # The same result MaternityHub received over HL7 (see `seed_local`).
    w.result(900001, "100001", "XCG-HGB", "血红蛋白", "118", cst(2024, 3, 1, 8, 30), unit="g/L",
             reference="110-150")  # fmt: skip
    w.result(900002, "100001", "HBsAg", "乙肝表面抗原", "阴性", cst(2019, 5, 6, 8, 0))
    # Not in the dictionary: neither shown nor imported.
    w.result(900003, "100001", "SH-ALT", "谷丙转氨酶", "23", cst(2019, 5, 6, 8, 0), unit="U/L")
    w.result(900004, "100002", "XCG-HGB", "血红蛋白", "105", cst(2020, 1, 2, 9, 0), unit="g/L")
    w.result(900005, "100003", "XCG-HGB", "血红蛋白", "99", cst(2016, 3, 2, 9, 0), unit="g/L")
    w.close()


async def store(db: Database, results: list[IncomingResult]) -> None:
    async with db.transaction() as session:
        outcome = await store_results(session, await LabDictionary.load(session), results)
        assert outcome.errors == []


async def seed_local(db: Database) -> tuple[int, dict[str, int]]:
    """Patient 1 with two results received over HL7 (one of them also in the old system)."""
    patient_id, _ = await seed_patient(db, 1, lis_record_no=None)
    await store(
        db,
        [
            incoming(patient_id, "HL7-1", "118", local_code="XCG-HGB", unit="g/L",
                     specimen_at=cst(2024, 3, 1, 8, 30)),
            incoming(patient_id, "HL7-2", "阴性", local_code="MY-HBSAG",
                     specimen_at=cst(2024, 3, 1, 8, 30)),
        ],
    )  # fmt: skip
    async with db.reader() as session:
        ids = dict((await session.execute(select(LabResult.source_id, LabResult.id))).all())
    return patient_id, ids


# ------------------------------------------------------------------ the adapter


async def test_the_adapter_reads_the_old_tables_through_the_mapping(legacy_path: Path) -> None:
    write_legacy(legacy_path)
    legacy = LegacyDatabase(f"sqlite+aiosqlite:///{legacy_path}")
    try:
        patients = await legacy.patients()
        pregnancies = await legacy.pregnancies([resident_id(1), resident_id(2)])
        results = await legacy.lab_results([resident_id(2)])
    finally:
        await legacy.dispose()

    assert patients == [
        LegacyPatient("100001", "黄丽萍", resident_id(1), "13907710001", dt.date(1994, 5, 17)),
        LegacyPatient("100002", "韦秀兰", resident_id(2), "0771-5301234", dt.date(1994, 5, 17)),
        LegacyPatient("100003", "覃海燕", BAD_ID, None, None),
    ]
    assert pregnancies == {
        resident_id(1): [
            LegacyPregnancy("5002", "100001", resident_id(1), dt.date(2021, 6, 10),
                            dt.date(2022, 3, 17), dt.date(2021, 8, 2), 2, 1, dt.date(2022, 3, 14)),
            LegacyPregnancy("5001", "100001", resident_id(1), dt.date(2018, 2, 1),
                            dt.date(2018, 11, 8), dt.date(2018, 3, 20), 1, 0, dt.date(2018, 11, 5)),
        ],
        resident_id(2): [
            LegacyPregnancy("5003", "100002", resident_id(2), dt.date(2019, 7, 7),
                            dt.date(2020, 4, 12), dt.date(2019, 9, 1), 1, 0, None),
        ],
    }  # fmt: skip
    # Stored as naive Beijing time '2020-01-02 09:00:00'; read as the UTC instant.
    assert results == {
        resident_id(2): [
            LegacyLabResult("900004", "100002", resident_id(2), "XCG-HGB", "血红蛋白", "105",
                            "g/L", None, dt.datetime(2020, 1, 2, 1, 0, tzinfo=dt.UTC),
                            dt.datetime(2020, 1, 2, 4, 0, tzinfo=dt.UTC)),
        ]
    }  # fmt: skip


async def test_the_old_database_is_opened_read_only(legacy_path: Path) -> None:
    write_legacy(legacy_path)
    legacy = LegacyDatabase(f"sqlite+aiosqlite:///{legacy_path}")
    try:
        async with legacy.engine.connect() as conn:
            with pytest.raises(Exception, match="readonly database"):
                await conn.exec_driver_sql("DELETE FROM YF_BRXX")
    finally:
        await legacy.dispose()


def _mapping(change: Any) -> LegacyMapping:
    raw = json.loads(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    change(raw["tables"])
    return LegacyMapping.from_json(raw)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["patients"]["columns"].update(resident_id="SFHM"),
            "旧系统数据库的表 YF_BRXX（病人信息）中没有列 SFHM（映射字段 resident_id），请检查映射文件",
        ),
        (
            lambda t: t["lab_results"].update(table="JY_JGJG"),
            "旧系统数据库中没有表 JY_JGJG（映射的检验结果表），请检查映射文件",
        ),
    ],
)
async def test_a_mapping_that_does_not_fit_names_the_table_or_column(
    legacy_path: Path, change: Any, message: str
) -> None:
    write_legacy(legacy_path)
    legacy = LegacyDatabase(f"sqlite+aiosqlite:///{legacy_path}", _mapping(change))
    try:
        with pytest.raises(LegacyMappingError) as checked:
            await legacy.verify()
        with pytest.raises(LegacyUnavailable) as read:
            await legacy.lab_results([resident_id(1)])
    finally:
        await legacy.dispose()

    assert checked.value.message == message
    assert read.value.message == message


def test_an_incomplete_mapping_file_names_the_missing_field() -> None:
    with pytest.raises(LegacyMappingError) as caught:
        _mapping(lambda t: t["patients"]["columns"].pop("phone"))

    assert caught.value.message == "旧系统映射中病人信息表 YF_BRXX 缺少字段 phone 的列名"


# ------------------------------------------------------------------ live, through GraphQL


def entry(
    item: str, text: str, qualitative: str | None, at: dt.datetime, sources: list[str], lab: Any
) -> dict[str, Any]:
    return {
        "itemCode": item,
        "valueText": text,
        "valueQualitative": qualitative,
        "testedAt": at.isoformat(),
        "sources": sources,
        "labResult": lab,
    }


async def test_lab_history_merges_local_and_legacy_results(api: Api, legacy_path: Path) -> None:
    patient_id, ids = await seed_local(api.services.db)
    write_legacy(legacy_path)

    body = await api.gql(HISTORY, {"id": gid("Patient", patient_id)})

    assert "errors" not in body, body
    history = body["data"]["node"]["labHistory"]
    assert [e["node"] for e in history["edges"]] == [
        entry("HBSAG", "阴性", "NEGATIVE", cst(2024, 3, 1, 8, 30), ["LOCAL"],
              {"id": gid("LabResult", ids["HL7-2"])}),
        entry("HGB", "118", None, cst(2024, 3, 1, 8, 30), ["LOCAL", "LEGACY"],
              {"id": gid("LabResult", ids["HL7-1"])}),
        entry("HBSAG", "阴性", "NEGATIVE", cst(2019, 5, 6, 8, 0), ["LEGACY"], None),
    ]  # fmt: skip
    assert history["totalCount"] == 3


async def test_legacy_pregnancies_of_two_women_take_one_legacy_query(
    api: Api, legacy_path: Path
) -> None:
    first, _ = await seed_patient(api.services.db, 1, lis_record_no=None)
    second, _ = await seed_patient(api.services.db, 2, lis_record_no="LIS0000002")
    write_legacy(legacy_path)
    legacy: LegacyDatabase = api.services.legacy
    await legacy.verify()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(legacy.engine.sync_engine, "before_cursor_execute", count)
    try:
        body = await api.gql(PREGNANCIES, {"a": gid("Patient", first), "b": gid("Patient", second)})
    finally:
        event.remove(legacy.engine.sync_engine, "before_cursor_execute", count)

    assert "errors" not in body, body
    assert len(statements) == 1
    assert body["data"] == {
        "a": {
            "legacyPregnancies": [
                {"legacyId": "5002", "description": "2021-08-02 建档，G2P1，2022-03-14 分娩",
                 "lmp": "2021-06-10", "edd": "2022-03-17", "bookingDate": "2021-08-02",
                 "gravidity": 2, "parity": 1, "deliveredOn": "2022-03-14"},
                {"legacyId": "5001", "description": "2018-03-20 建档，G1P0，2018-11-05 分娩",
                 "lmp": "2018-02-01", "edd": "2018-11-08", "bookingDate": "2018-03-20",
                 "gravidity": 1, "parity": 0, "deliveredOn": "2018-11-05"},
            ]
        },
        "b": {
            "legacyPregnancies": [
                {"legacyId": "5003", "description": "2019-09-01 建档，G1P0，未记录分娩",
                 "lmp": "2019-07-07", "edd": "2020-04-12", "bookingDate": "2019-09-01",
                 "gravidity": 1, "parity": 0, "deliveredOn": None},
            ]
        },
    }  # fmt: skip


async def test_with_the_old_database_unreachable_local_rows_come_with_upstream_unavailable(
    api: Api, legacy_path: Path
) -> None:
    patient_id, _ = await seed_local(api.services.db)
    # Nothing to open; read-only, so it is not created either.
    assert not await asyncio.to_thread(legacy_path.exists)
    query = """
    query H($id: ID!) { node(id: $id) { ... on Patient {
      labHistory(first: 20) { edges { node { itemCode sources } } }
      legacyPregnancies { legacyId } } } }
    """

    body = await api.gql(query, {"id": gid("Patient", patient_id)})

    assert body["data"]["node"] == {
        "labHistory": {
            "edges": [
                {"node": {"itemCode": "HBSAG", "sources": ["LOCAL"]}},
                {"node": {"itemCode": "HGB", "sources": ["LOCAL"]}},
            ]
        },
        "legacyPregnancies": [],
    }
    problem = {"code": "UPSTREAM_UNAVAILABLE", "system": "LEGACY"}
    message = "旧产科系统数据库无法读取：unable to open database file"
    assert sorted(body["errors"], key=lambda e: e["path"]) == [
        {"message": message, "path": ["node", "labHistory"], "extensions": problem},
        {"message": message, "path": ["node", "legacyPregnancies"], "extensions": problem},
    ]
    assert not await asyncio.to_thread(legacy_path.exists)


# ------------------------------------------------------------------ mhub import-legacy


async def test_import_legacy_twice_imports_nothing_the_second_time(
    db: Database,
    database_url: str,
    tmp_path: Path,
    legacy_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    patient_id, _ = await seed_local(db)
    write_legacy(legacy_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LEGACY_DATABASE_URL", f"sqlite+aiosqlite:///{legacy_path}")
    monkeypatch.setenv("MHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MHUB_SECRET_KEY", "cli-test-key")
    wrong = resident_id(3)[:17]
    skipped = (
        f"  跳过：覃海燕（旧系统编号 100003） 身份证号 {BAD_ID} 无效：身份证号码校验位错误："
        f"应为 {check_digit(wrong)}，实际为 {BAD_ID[17]}"
    )
    pregnancies = "  孕产档案：新导入 3 份，已在本系统 0 份，跳过 0 份"

    first = await asyncio.to_thread(cli.main, ["import-legacy"])
    first_out = capsys.readouterr()
    second = await asyncio.to_thread(cli.main, ["import-legacy"])
    second_out = capsys.readouterr()

    assert (first, second) == (0, 0)
    assert first_out.err == second_out.err == ""
    assert first_out.out.splitlines() == [
        "导入旧系统数据 0%（0/3）",
        "导入旧系统数据 100%（3/3）",
        "导入完成：旧系统孕妇 3 人，匹配已有 1 人，新建 1 人，跳过 1 人",
        "  检验结果：新导入 2 条，更正 0 条，已导入过 0 条，与本系统已有结果相同 1 条，"
        "项目未映射 1 条",
        pregnancies,
        skipped,
    ]
    assert second_out.out.splitlines()[2:5] == [
        "导入完成：旧系统孕妇 3 人，匹配已有 2 人，新建 0 人，跳过 1 人",
        "  检验结果：新导入 0 条，更正 0 条，已导入过 2 条，与本系统已有结果相同 1 条，"
        "项目未映射 1 条",
        "  孕产档案：新导入 0 份，已在本系统 3 份，跳过 0 份",
    ]
    async with db.reader() as session:
        created = (await session.scalars(select(Patient).where(Patient.id != patient_id))).one()
        imported = (
            await session.execute(
                select(LabResult.patient_id, LabResult.item_code, LabResult.source_id)
                .where(LabResult.source == "LEGACY")
                .order_by(LabResult.source_id)
            )
        ).all()
        total = await session.scalar(select(func.count()).select_from(LabResult))
        moved = (
            await session.execute(
                select(
                    Pregnancy.patient_id,
                    Pregnancy.legacy_id,
                    Pregnancy.lmp,
                    Pregnancy.status,
                    Pregnancy.delivered_on,
                    Pregnancy.gravidity,
                    Pregnancy.parity,
                )
                .where(Pregnancy.legacy_id.is_not(None))
                .order_by(Pregnancy.legacy_id)
            )
        ).all()
    assert (created.name, created.resident_id, created.legacy_id, created.phone) == (
        "韦秀兰",
        resident_id(2),
        "LEGACY-100002",
        "0771-5301234",
    )
    assert created.birth_date == dt.date(1994, 5, 17)
    assert [tuple(r) for r in imported] == [
        (patient_id, "HBSAG", "900002"),
        (created.id, "HGB", "900004"),
    ]
    assert total == 4
    assert [tuple(r) for r in moved] == [
        (patient_id, "LEGACY-5001", dt.date(2018, 2, 1), "DELIVERED", dt.date(2018, 11, 5), 1, 0),
        (patient_id, "LEGACY-5002", dt.date(2021, 6, 10), "DELIVERED", dt.date(2022, 3, 14), 2, 1),
        (created.id, "LEGACY-5003", dt.date(2019, 7, 7), "ARCHIVED", None, 1, 0),
    ]


async def test_import_legacy_dry_run_writes_nothing(
    db: Database,
    database_url: str,
    tmp_path: Path,
    legacy_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await seed_local(db)
    write_legacy(legacy_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LEGACY_DATABASE_URL", f"sqlite+aiosqlite:///{legacy_path}")
    monkeypatch.setenv("MHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MHUB_SECRET_KEY", "cli-test-key")

    code = await asyncio.to_thread(cli.main, ["import-legacy", "--dry-run"])
    out = capsys.readouterr().out.splitlines()

    assert code == 0
    assert out[2] == "试运行（未写入）：旧系统孕妇 3 人，匹配已有 1 人，新建 1 人，跳过 1 人"
    async with db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Patient)) == 1
        assert await session.scalar(select(func.count()).select_from(LabResult)) == 2
