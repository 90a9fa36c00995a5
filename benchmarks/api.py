"""API benchmark (BRIEF §8): the order list with filters over 1 000 000 orders, 50 clients.

1. Builds (once, then cached under ``.tradewarden-bench/``) a SQLite database migrated to head
   with ``--orders`` orders spread over ``--users`` users, five strategies and one paper account
   each, 50 NSE symbols, every status a historical order can have, and a year of dates. Rows go
   in through the store's tables with multi-row inserts. Orders that the engine would act on at
   startup (working at the broker) are left out, so the server is idle except for the benchmark.
2. Starts ``tradewarden run`` on a copy of that database and runs ``--clients`` concurrent
   keep-alive clients calling ``GET /api/v1/orders`` with a random user's key and a random mix
   of filters (status, symbol, strategy, date range, reason) and pages: first each client at
   ``--rate-per-client`` requests per second for ``--seconds`` (latency from the scheduled
   send time, so queueing counts), then back to back for ``--saturation-seconds`` to show the
   capacity.

The last line is the JSON result: ``p50_ms``, ``p95_ms``, ``requests``, ``orders`` (the paced
run), ``by_filter`` (the same per filter combination) and ``saturation_*``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchmarks._orders_dataset import (
    DAYS,
    SECRET_KEY,
    STRATEGIES_PER_USER,
    api_key,
    cached_database,
    dataset_symbols,
)
from benchmarks._procs import free_port, spawn, wait_ok


class Client:
    """One keep-alive HTTP/1.1 connection issuing GETs (the benchmark's own tiny client)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, key: str) -> int:
        if self._stream is None:
            self._stream = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self._stream
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n"
                     .encode())
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        return status

    def close(self) -> None:
        if self._stream is not None:
            self._stream[1].close()


def query(rng: random.Random, symbols: list[str]) -> dict[str, str]:
    """A filter a dashboard or script would send (``kind`` names the filter combination)."""
    params: dict[str, str] = {"page": str(rng.choice((1, 1, 1, 2, 3, 5, 10))),
                              "page_size": str(rng.choice((25, 50, 50, 100)))}
    kind = rng.random()
    today = datetime.now(UTC).date()
    if kind < 0.2:
        pass  # everything, newest first (the "All" tab)
    elif kind < 0.4:
        params["status"] = rng.choice(("failed,retry_pending", "rejected", "denied", "filled",
                                       "cancelled,expired", "retry_pending"))
    elif kind < 0.55:
        params["symbol"] = rng.choice(symbols)
    elif kind < 0.7:
        params["strategy"] = f"strategy-{rng.randrange(STRATEGIES_PER_USER)}"
    elif kind < 0.85:
        start = today - timedelta(days=rng.randrange(DAYS))
        params["from_date"] = start.isoformat()
        params["to_date"] = (start + timedelta(days=rng.choice((0, 6, 30)))).isoformat()
    elif kind < 0.93:
        params["status"] = "denied"
        params["reason"] = rng.choice(("risk_blocked", "validation_failed"))
    else:
        params["symbol"] = rng.choice(symbols)
        params["status"] = "filled"
        params["from_date"] = (today - timedelta(days=30)).isoformat()
        params["to_date"] = today.isoformat()
    return params


def kind_of(params: dict[str, str]) -> str:
    names = sorted(k for k in params if k not in ("page", "page_size"))
    if "status" in params and "," in params["status"]:
        names = ["statuses" if n == "status" else n for n in names]
    return "+".join(names) or "none"


Samples = list[tuple[str, float]]  # (filter kind, milliseconds)


async def load(port: int, clients: int, seconds: float, users: int, symbols: list[str],
               rate_per_client: float | None) -> tuple[Samples, int]:
    """``clients`` connections for ``seconds``. With ``rate_per_client`` each sends on a fixed
    schedule and latency counts from the scheduled instant (queueing included, no coordinated
    omission); without it each sends its next request as soon as the last one is answered."""
    samples: Samples = []
    errors = 0
    began = time.perf_counter()
    stop_at = began + seconds

    async def run(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        client = Client(port)
        due = began + (rng.random() / rate_per_client if rate_per_client else 0.0)
        try:
            while due < stop_at:
                if rate_per_client:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                else:
                    due = time.perf_counter()
                params = query(rng, symbols)
                try:
                    status = await client.get("/api/v1/orders?" + urlencode(params),
                                              api_key(rng.randrange(users)))
                except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                    errors += 1
                    client.close()
                    client = Client(port)
                    status = 0
                if status == 200:
                    samples.append((kind_of(params), (time.perf_counter() - due) * 1000))
                elif status:
                    errors += 1
                due = due + 1 / rate_per_client if rate_per_client else time.perf_counter()
        finally:
            client.close()

    await asyncio.gather(*(run(n) for n in range(clients)))
    return samples, errors


def _percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(len(values) * fraction))]


def _summary(samples: Samples) -> dict[str, Any]:
    latencies = sorted(ms for _, ms in samples)
    if not latencies:
        return {"requests": 0}
    return {"requests": len(latencies), "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(_percentile(latencies, 0.95), 2),
            "p99_ms": round(_percentile(latencies, 0.99), 2)}


def _by_filter(samples: Samples) -> dict[str, dict[str, Any]]:
    kinds: dict[str, Samples] = {}
    for kind, ms in samples:
        kinds.setdefault(kind, []).append((kind, ms))
    return {kind: _summary(rows) for kind, rows in sorted(kinds.items())}


def main(argv: Sequence[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks api")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate-per-client", type=float, default=1.0,
                        help="requests per second each client sends (0: back to back)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--saturation-seconds", type=float, default=10.0,
                        help="then the same clients back to back, to measure capacity "
                             "(0: skip)")
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args(list(argv))
    cached, build_s = cached_database(args.orders, args.users)
    names = dataset_symbols()
    rate = args.rate_per_client or None
    with tempfile.TemporaryDirectory(prefix="tw-api-") as tmp:
        work = Path(tmp)
        database = work / "tradewarden.db"
        shutil.copyfile(cached, database)  # the server's writes never reach the cache
        port = free_port()
        service = spawn(["run", "--port", str(port), "--data-dir", str(work / "data"),
                         "--database-url", f"sqlite:///{database}"], work / "service.log",
                        {"TRADEWARDEN_LOG_LEVEL": "WARNING", "TRADEWARDEN_SECRET_KEY": SECRET_KEY})
        try:
            wait_ok(f"http://127.0.0.1:{port}/healthz", service, timeout=120)
            asyncio.run(load(port, args.clients, args.warmup, args.users, names, rate))
            samples, errors = asyncio.run(
                load(port, args.clients, args.seconds, args.users, names, rate))
            saturated: Samples = []
            if args.saturation_seconds > 0:
                saturated, more = asyncio.run(load(port, args.clients, args.saturation_seconds,
                                                   args.users, names, None))
                errors += more
        finally:
            service.kill()
            service.wait()
    result: dict[str, Any] = {
        "benchmark": "api", "orders": args.orders, "users": args.users,
        "clients": args.clients, "seconds": args.seconds,
        "offered_per_s": args.clients * args.rate_per_client if rate else "back to back",
        **_summary(samples), "errors": errors,
        "by_filter": _by_filter(samples),
    }
    if saturated:
        summary = _summary(saturated)
        result.update(saturation_requests_per_s=round(len(saturated) /
                                                      args.saturation_seconds, 1),
                      saturation_p50_ms=summary["p50_ms"], saturation_p95_ms=summary["p95_ms"])
    result.update(database="sqlite (WAL)", dataset=str(cached),
                  dataset_build_s=round(build_s, 1) if build_s is not None else "cached")
    return result
