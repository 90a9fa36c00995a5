"""Real processes for tests: free ports, starting `tradewarden …`, waiting for HTTP."""

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


def tradewarden(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a CLI command to completion."""
    return subprocess.run([sys.executable, "-m", "tradewarden", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, input=stdin,
                          env={**os.environ, **(env or {})})


def spawn(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
          log: Path | None = None) -> subprocess.Popen[str]:
    """Start a long-running CLI command; stdout and stderr are merged.

    With ``log`` the output goes to that file (appending), so a chatty long-running process
    can never block on a full pipe; without it, read it with ``communicate``.
    """
    output = open(log, "a") if log is not None else subprocess.PIPE  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "tradewarden", *args], cwd=cwd,
                            stdout=output, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})


def wait_http_ok(url: str, process: subprocess.Popen[str], timeout: float = 60) -> float:
    """Poll ``url`` until it answers 200; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"process exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout}s")
