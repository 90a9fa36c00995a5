"""Intake benchmark: durable orders accepted over HTTP (BRIEF §8).

Starts a standalone paper broker and ``tradewarden run --paper-url`` (SQLite, WAL,
``synchronous=FULL``) as real processes, then

1. throughput: ``--orders`` placeorder calls from ``--concurrency`` clients as fast as they are
   answered → ``orders_per_s`` (HTTP 200 answers per second);
2. latency: an open-loop stream offered at ``--rate`` per second for ``--seconds`` →
   ``p50_ms`` / ``p99_ms`` of the answers.

Every order is distinct (its price differs) so the duplicate guard never short-cuts the path.
The executor places the accepted orders with the paper broker at ``--broker-orders-per-s``
(default 20/s, the order of a retail broker's limit); ``0`` lets it push as fast as it can,
competing with intake for the same CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from benchmarks._http import Connection
from benchmarks._procs import free_port, spawn, wait_ok

API_KEY = "tw_benchmark_key_0123456789abcdef"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (Linux /proc; -1 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _body(i: int) -> dict[str, Any]:
    return {"apikey": API_KEY, "strategy": f"bench-{i // 20000}", "exchange": "NSE",
            "symbol": "RELIANCE", "action": "BUY", "quantity": "1", "pricetype": "LIMIT",
            "product": "MIS", "price": f"{2000 + (i % 20000) * 0.05:.2f}"}


async def _throughput(port: int, orders: int, concurrency: int,
                      start: int) -> tuple[int, float]:
    counter = iter(range(start, start + orders))
    accepted = 0

    async def worker() -> None:
        nonlocal accepted
        connection = Connection("127.0.0.1", port)
        for i in counter:
            try:
                status, _ = await connection.post_json("/api/v1/placeorder", _body(i))
            except (OSError, ValueError, asyncio.IncompleteReadError):
                continue
            accepted += status == 200
        connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, time.perf_counter() - began


async def _latency(port: int, rate: float, seconds: float, start: int,
                   connections: int = 64) -> tuple[list[float], int]:
    """Open-loop load: request n is due at ``n / rate``; its latency counts from that instant,
    so time spent queued behind a slow server is included (no coordinated omission)."""
    latencies: list[float] = []
    failures = 0
    total = int(rate * seconds)
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def worker() -> None:
        nonlocal failures
        connection = Connection("127.0.0.1", port)
        while (item := await due.get()) is not None:
            i, scheduled = item
            try:
                status, _ = await connection.post_json("/api/v1/placeorder", _body(i))
            except (OSError, ValueError, asyncio.IncompleteReadError):
                failures += 1
                continue
            if status == 200:
                latencies.append((time.perf_counter() - scheduled) * 1000)
            else:
                failures += 1
        connection.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    began = time.perf_counter()
    for n in range(total):
        scheduled = began + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait((start + n, scheduled))
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    return latencies, failures


def main(argv: Sequence[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks intake")
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--broker-orders-per-s", type=float, default=20.0,
                        help="executor pace per account (retail brokers allow about 10-20/s); "
                             "0 = unthrottled")
    args = parser.parse_args(list(argv))
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    with tempfile.TemporaryDirectory(prefix="tw-intake-") as tmp:
        work = Path(tmp)
        broker_port, port = free_port(), free_port()
        pace = ({"TRADEWARDEN_BROKER_ORDERS_PER_S": str(args.broker_orders_per_s)}
                if args.broker_orders_per_s > 0 else {})
        broker = spawn(["paper-broker", "serve", "--port", str(broker_port), "--state",
                         str(work / "paper.db"), "--clock", "open"], work / "broker.log")
        service = None
        try:
            wait_ok(f"http://127.0.0.1:{broker_port}/control/orders")
            control = f"http://127.0.0.1:{broker_port}/control"
            httpx.post(f"{control}/prices", json={"prices": {"NSE:RELIANCE": 2500}}, timeout=10)
            httpx.post(f"{control}/accounts", json={"account": "paper-1", "cash": 10**12},
                       timeout=10)
            service = spawn(["run", "--port", str(port), "--data-dir", str(work / "data"),
                              "--paper-url", f"http://127.0.0.1:{broker_port}"],
                             work / "service.log",
                             env={"TRADEWARDEN_ADMIN_API_KEY": API_KEY,
                                  "TRADEWARDEN_LOG_LEVEL": "WARNING", **pace})
            url = f"http://127.0.0.1:{port}"
            wait_ok(f"{url}/healthz")
            cpu_before = _cpu_seconds(service.pid)
            accepted, elapsed = asyncio.run(
                _throughput(port, args.orders, args.concurrency, 0))
            cpu_used = _cpu_seconds(service.pid) - cpu_before if cpu_before >= 0 else -1.0
            latencies, failures = asyncio.run(
                _latency(port, args.rate, args.seconds, args.orders))
        finally:
            for process in (service, broker):
                if process is not None:
                    process.kill()
                    process.wait()
    latencies.sort()
    offered = int(args.rate * args.seconds)
    return {
        "benchmark": "intake",
        "orders": args.orders,
        "concurrency": args.concurrency,
        "accepted": accepted,
        "orders_per_s": round(accepted / elapsed, 1),
        "offered_rate_per_s": args.rate,
        "offered": offered,
        "answered_ok": len(latencies),
        "failed": failures,
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p90_ms": round(latencies[int(len(latencies) * 0.9) - 1], 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2) if latencies else None,
        "max_ms": round(latencies[-1], 2) if latencies else None,
        # the service process's CPU per accepted order in the throughput phase (Linux only)
        "server_cpu_us_per_order": (round(cpu_used / accepted * 1e6)
                                    if accepted and cpu_used >= 0 else None),
        "load_avg_1m_before": round(load_before, 2),
        "database": "sqlite (WAL, synchronous=FULL)",
        "executor_orders_per_s": args.broker_orders_per_s or "unthrottled",
    }
