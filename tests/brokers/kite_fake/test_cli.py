"""``tradewarden paper-broker serve --dialect kite`` as a real process, used with the printed
credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from kiteconnect import KiteConnect

from tests.procs import free_port


@pytest.mark.slow
def test_serve_kite_prints_credentials_that_log_in(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tradewarden",
            "paper-broker",
            "serve",
            "--dialect",
            "kite",
            "--port",
            str(port),
            "--state",
            str(tmp_path / "kite.db"),
            "--clock",
            "open",
            "--api-key",
            "trykey",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ},
    )
    try:
        assert process.stdout is not None
        printed: dict[str, str] = {}
        while "request_token" not in printed:
            line = process.stdout.readline()
            assert line, "the Kite fake exited before printing its credentials"
            name, sep, value = line.strip().partition(":")
            if sep and name in ("user_id", "api_key", "api_secret", "request_token"):
                printed[name] = value.split()[0]
        assert printed["api_key"] == "trykey"
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                httpx.get(f"{url}/instruments/NSE", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None
        kite = KiteConnect(api_key="trykey", root=url, timeout=5)
        session = kite.generate_session(printed["request_token"], printed["api_secret"])
        assert session["user_id"] == printed["user_id"]
        httpx.post(f"{url}/_fake/prices", json={"prices": {"NSE:INFY": 1500}})
        order_id = kite.place_order(
            variety="regular",
            exchange="NSE",
            tradingsymbol="INFY",
            transaction_type="BUY",
            quantity=1,
            product="CNC",
            order_type="LIMIT",
            price=1500,
            tag="TRYIT1",
        )
        assert kite.order_history(order_id)[-1]["status"] == "COMPLETE"
    finally:
        process.terminate()
        process.wait(10)
