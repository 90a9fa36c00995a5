"""The ``paper`` benchmark runs and reports its keys (tiny sizes; not a timing test)."""

from __future__ import annotations

import json

import pytest
from benchmarks import __main__ as runner


def test_paper_benchmark_reports_book_fetch_ms(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        runner.run(["paper", "--orders", "200", "--accounts", "4", "--rounds", "2", "--no-http"])
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["orders"] == 200 and result["accounts"] == 4
    assert result["book_fetch_ms"] >= 0 and "book_fetch_p99_ms" in result


def test_unknown_benchmark_is_an_error() -> None:
    assert runner.run(["nope"]) == 2


@pytest.mark.slow
def test_startup_benchmark_reports_ready_s(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.run(["startup", "--history", "2000", "--users", "2", "--open", "40",
                       "--accounts", "2", "--runs", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["open_orders"] == 40 and result["historical_orders"] == 2000
    assert result["ready_s"] > 0 and len(result["ready_runs_s"]) == 1
