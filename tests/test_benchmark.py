"""The worklist benchmark compares like with like: both endpoints return the same JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import main


def test_bench_worklist_runs_and_both_endpoints_return_identical_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "worklist", "--rounds", "3", "--first", "20"])

    out = capsys.readouterr().out
    assert code == 0
    assert "identical JSON: True" in out
    assert "hand-written SQL + orjson" in out
    assert "GraphQL worklist" in out
