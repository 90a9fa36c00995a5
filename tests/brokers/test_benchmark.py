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
