"""Real processes for the benchmarks: a free port, ``python -m tradewarden …``, waiting for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spawn(args: list[str], log: Path,
          env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``python -m tradewarden *args`` with its output appended to ``log``."""
    with open(log, "ab") as output:
        return subprocess.Popen([sys.executable, "-m", "tradewarden", *args], stdout=output,
                                stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def wait_ok(url: str, process: subprocess.Popen[bytes] | None = None,
            timeout: float = 60) -> None:
    """Until ``GET url`` answers 200 (an error if ``process`` exits first or time runs out)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the process exited with {process.returncode}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer")
