"""``tradewarden paper-broker serve`` argument handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewarden.cli import build_parser


def test_serve_options_and_defaults() -> None:
    args = build_parser().parse_args(["paper-broker", "serve"])
    assert (args.host, args.port, args.clock) == ("127.0.0.1", 9100, "real")
    args = build_parser().parse_args(
        [
            "paper-broker",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "9200",
            "--state",
            "x.db",
            "--clock",
            "manual",
            "--seed",
            "3",
        ]
    )
    assert (args.host, args.port, args.state, args.clock, args.seed) == (
        "0.0.0.0",
        9200,
        Path("x.db"),
        "manual",
        3,
    )
    assert callable(args.handler)


def test_bad_clock_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["paper-broker", "serve", "--clock", "sometimes"])
    assert "invalid choice" in capsys.readouterr().err


def test_a_state_file_serves_one_process_at_a_time(tmp_path: Path) -> None:
    from tradewarden.brokers.paper.exchange import PaperExchange
    from tradewarden.brokers.paper.store import StateFileBusy

    first = PaperExchange(tmp_path / "s.db")
    with pytest.raises(StateFileBusy, match="in use"):
        PaperExchange(tmp_path / "s.db")
    first.close()
    PaperExchange(tmp_path / "s.db").close()
