"""`mhub bench federated` runs end to end and finds one EMR round per request."""

from __future__ import annotations

import json

import pytest

from api.cli import main


def test_bench_federated_runs_and_makes_one_emr_round_per_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["bench", "federated", "--rounds", "2", "--first", "10", "--latency-ms", "5"])

    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert code == 0
    assert (result["one_round_per_request"], result["all_answers_as_expected"]) == (True, True)
    assert [(row["name"], row["upstream_calls"]) for row in result["rows"]] == [
        ("worklist, no EMR fields", 0.0),
        ("EMR alone (one adapter call)", 1.0),
        ("+ emrDiagnoses, no cache", 1.0),
        ("+ emrDiagnoses, warm cache", 0.0),
        ("+ emrDiagnoses, EMR 500", 1.0),
        ("+ emrDiagnoses, EMR hangs (0.5 s)", 1.0),
    ]
    assert "worklist, no EMR fields" in out
