"""`tradewarden calendar …` against a real database file."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from tests.procs import tradewarden
from tradewarden.engine.calendar import TradingCalendar
from tradewarden.store.calendar_overrides import CalendarOverride, load_overrides
from tradewarden.store.db import Database


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _calendar(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = tradewarden("calendar", *args, "--data-dir", str(data_dir))
    return result.returncode, result.stdout, result.stderr


def test_add_list_remove_round_trip(data_dir: Path) -> None:
    code, out, err = _calendar(data_dir, "add-holiday", "2026-01-28", "--note", "closure")
    assert (code, err) == (0, "") and out == "added holiday on 2026-01-28\n"
    code, out, err = _calendar(data_dir, "add-session", "2026-11-08", "--open", "18:00",
                               "--close", "19:15", "--note", "Muhurat trading")
    assert code == 0, err
    code, out, err = _calendar(data_dir, "add-session", "2026-11-08", "--open", "18:15",
                               "--close", "19:15", "--note", "Muhurat trading")
    assert code == 0, err
    assert out.startswith("replaced special session on 2026-11-08 18:00-19:15 IST with")

    code, out, err = _calendar(data_dir, "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["DATE", "WEEKDAY", "KIND", "IST", "HOURS", "NOTE"]
    assert lines[1].split() == ["2026-01-28", "Wednesday", "holiday", "-", "closure"]
    assert lines[2].split() == ["2026-11-08", "Sunday", "special_session", "18:15-19:15",
                                "Muhurat", "trading"]
    code, out, _ = _calendar(data_dir, "list", "--from", "2026-02-01", "--to", "2026-12-31")
    assert code == 0 and len(out.splitlines()) == 2 and "2026-11-08" in out

    db = Database(f"sqlite:///{data_dir / 'tradewarden.db'}")
    try:
        overrides = load_overrides(db)
    finally:
        db.close()
    assert overrides == [
        CalendarOverride.holiday(date(2026, 1, 28), "closure"),
        CalendarOverride.special_session(date(2026, 11, 8), time(18, 15), time(19, 15),
                                         "Muhurat trading"),
    ]
    calendar = TradingCalendar().with_overrides(overrides)
    assert not calendar.is_trading_day(date(2026, 1, 28))
    assert calendar.is_trading_day(date(2026, 11, 8))

    code, out, err = _calendar(data_dir, "remove", "2026-01-28")
    assert (code, out) == (0, "removed the override on 2026-01-28\n"), err
    code, _, err = _calendar(data_dir, "remove", "2026-01-28")
    assert (code, err) == (2, "error: no calendar override on 2026-01-28\n")
    code, out, _ = _calendar(data_dir, "list", "--to", "2026-06-30")
    assert (code, out) == (0, "no calendar overrides\n")


@pytest.mark.parametrize(("args", "message"), [
    (("add-holiday", "2026-02-30"), "invalid date '2026-02-30': expected YYYY-MM-DD"),
    (("add-holiday", "28/01/2026"), "invalid date '28/01/2026'"),
    (("add-session", "2026-11-08", "--open", "6pm", "--close", "19:15"), "invalid --open '6pm'"),
    (("add-session", "2026-11-08", "--open", "19:15", "--close", "18:15"),
     "session open 19:15 must be before close 18:15"),
    (("list", "--from", "2026-12-01", "--to", "2026-01-01"), "--from must not be after --to"),
])
def test_bad_input_is_a_clear_error(data_dir: Path, args: tuple[str, ...], message: str) -> None:
    code, _, err = _calendar(data_dir, *args)
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
