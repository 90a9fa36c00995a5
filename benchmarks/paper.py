"""Paper broker: order-book fetch time with 10 000 open orders over 100 accounts.

Reports ``book_fetch_ms`` — the mean time of one account's ``order_book()`` through the
in-process adapter (target < 5 ms) — plus percentiles, a full cycle over all accounts, the
fetch with no cached order snapshots (``book_fetch_cold_ms``), the placement rate, and the same
fetch over HTTP against the standalone server's app.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradewarden.brokers.base import OrderRequest
from tradewarden.brokers.instruments import bundled_master
from tradewarden.brokers.paper import LocalPaperBroker, RemotePaperBroker
from tradewarden.domain.orders import OrderType, Product, Side


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _populate(broker: LocalPaperBroker, orders: int, accounts: int) -> float:
    """Resting LIMIT buys (below the price) spread over accounts and 100 symbols."""
    ex = broker.exchange
    symbols = [i.key for i in bundled_master() if i.exchange == "NSE"][:100]
    ex.set_prices({key: Decimal("1000") for key in symbols})
    start = time.perf_counter()
    for n in range(orders):
        ex.place(
            f"bench-{n % accounts:03d}",
            OrderRequest(
                exchange="NSE",
                symbol=symbols[n % len(symbols)].symbol,
                side=Side.BUY,
                quantity=1,
                order_type=OrderType.LIMIT,
                product=Product.CNC,
                price=Decimal("900") + Decimal(n % 50),
                tag=f"TWB{n:017d}",
            ),
        )
    return time.perf_counter() - start


async def _fetch_times(adapters: list[Any], rounds: int) -> tuple[list[float], list[float]]:
    per_account: list[float] = []
    cycles: list[float] = []
    for _ in range(rounds):
        cycle_start = time.perf_counter()
        for adapter in adapters:
            start = time.perf_counter()
            book = await adapter.order_book()
            per_account.append((time.perf_counter() - start) * 1000)
            assert book, "every account has orders"
        cycles.append((time.perf_counter() - cycle_start) * 1000)
    return per_account, cycles


async def _cold_fetch_ms(broker: LocalPaperBroker, adapters: list[Any]) -> float:
    """Mean fetch time when no order snapshot is cached (every order changed since last time)."""
    times = []
    for adapter in adapters:
        for order in broker.exchange._orders.values():  # benchmark-only peek: drop the caches
            order._snapshot = None
        start = time.perf_counter()
        await adapter.order_book()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.mean(times)


def _serve_in_thread(broker: LocalPaperBroker) -> tuple[Any, str]:
    import socket

    import uvicorn

    from tradewarden.brokers.paper.server import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(broker.exchange),
            host="127.0.0.1",
            port=port,
            log_level="error",
            lifespan="on",
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


async def _run(args: argparse.Namespace, state: Path) -> dict[str, Any]:
    broker = LocalPaperBroker.open(state, clock="open")
    place_s = _populate(broker, args.orders, args.accounts)
    names = [f"bench-{i:03d}" for i in range(args.accounts)]
    local = [broker.adapter(n) for n in names]
    await _fetch_times(local, 1)  # warm-up
    per_account, cycles = await _fetch_times(local, args.rounds)
    result: dict[str, Any] = {
        "orders": args.orders,
        "accounts": args.accounts,
        "book_fetch_ms": round(statistics.mean(per_account), 4),
        "book_fetch_p50_ms": round(_percentile(per_account, 0.50), 4),
        "book_fetch_p99_ms": round(_percentile(per_account, 0.99), 4),
        "book_fetch_max_ms": round(max(per_account), 4),
        "all_accounts_cycle_ms": round(statistics.mean(cycles), 3),
        "book_fetch_cold_ms": round(await _cold_fetch_ms(broker, local), 4),
        "place_per_s": round(args.orders / place_s, 1),
    }
    if args.http:
        server, url = _serve_in_thread(broker)
        remote = RemotePaperBroker(url)
        try:
            adapters = [remote.adapter(n) for n in names]
            await _fetch_times(adapters, 1)
            http_times, http_cycles = await _fetch_times(adapters, max(1, args.rounds // 2))
            result["http_book_fetch_ms"] = round(statistics.mean(http_times), 3)
            result["http_book_fetch_p99_ms"] = round(_percentile(http_times, 0.99), 3)
            result["http_all_accounts_cycle_ms"] = round(statistics.mean(http_cycles), 2)
        finally:
            await remote.aclose()
            server.should_exit = True
            await asyncio.sleep(0.2)
    await broker.aclose()
    return result


def main(argv: Sequence[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks paper")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10, help="fetch cycles over all accounts")
    parser.add_argument(
        "--no-http", dest="http", action="store_false", help="skip the HTTP measurement"
    )
    args = parser.parse_args(list(argv))
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_run(args, Path(tmp) / "paper-bench.db"))
