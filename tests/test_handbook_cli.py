"""`mhub handbooks`: many handbooks from the command line, with a progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from api import cli
from domain.document.models import StoredDocument
from graphql_schema.base import from_global_id
from tests.conftest import Api
from tests.document_helpers import given_pregnancy, pdf_text, squeeze
from tests.helpers import book, register


def configure(monkeypatch: pytest.MonkeyPatch, database_url: str, data_dir: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MHUB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MHUB_SECRET_KEY", "cli-test-key")
    monkeypatch.delenv("REDIS_URL", raising=False)


async def test_handbooks_for_chosen_pregnancies_are_stored_and_saved(
    api: Api,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    given = await given_pregnancy(api)
    other = await book(api, await register(api, 2, name="梁秀英"), weeks=14)
    ids = [given.pregnancy_db_id, from_global_id(other["id"])[1]]
    configure(monkeypatch, database_url, tmp_path)
    out = tmp_path / "print"

    code = await asyncio.to_thread(
        cli.main,
        ["handbooks", *(f"--pregnancy={i}" for i in ids), "--out-dir", str(out)],
    )

    printed = capsys.readouterr().out
    assert code == 0
    assert "生成母子健康手册 100%（2/2）" in printed
    assert "完成：2 份（新版本 2 份，内容未变 0 份，" in printed
    async with api.services.db.reader() as session:
        stored = (await session.scalars(select(StoredDocument).order_by(StoredDocument.id))).all()
    assert sorted(d.pregnancy_id for d in stored) == sorted(ids)
    assert {d.created_by for d in stored} == {"cli"}
    saved = sorted(p.name for p in out.iterdir())
    assert saved == sorted(d.filename for d in stored)
    text = pdf_text((out / "母子健康手册-韦春燕-4501072024000001.pdf").read_bytes(), tmp_path)
    for remark in given.remarks:
        assert squeeze(remark) in squeeze(text)

    again = await asyncio.to_thread(cli.main, ["handbooks", "--all"])

    assert again == 0
    assert "完成：2 份（新版本 0 份，内容未变 2 份，" in capsys.readouterr().out


async def test_an_unknown_pregnancy_stops_the_batch_before_rendering(
    api: Api,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pregnancy = await book(api, await register(api, 3), weeks=14)
    configure(monkeypatch, database_url, tmp_path)

    code = await asyncio.to_thread(
        cli.main,
        [
            "handbooks",
            "--pregnancy",
            str(from_global_id(pregnancy["id"])[1]),
            "--pregnancy",
            "98765",
        ],
    )

    assert code == 2
    assert capsys.readouterr().err == "错误：找不到孕产档案 98765\n"
    async with api.services.db.reader() as session:
        assert (await session.scalars(select(StoredDocument))).all() == []
