"""The order dataset of the ``api`` benchmark: users, strategies and a million orders in SQLite,
built once through the store's tables with multi-row inserts and cached under
``.tradewarden-bench/`` (keyed by the migrations, so a schema change rebuilds it)."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table

from tradewarden.brokers.instruments import bundled_master
from tradewarden.crypto import SecretBox, key_from_secret
from tradewarden.domain.orders import new_client_order_id, new_order_id
from tradewarden.store import migrate
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, ApiKeys, Users
from tradewarden.store.strategies import Strategies
from tradewarden.store.tables import OrderRow

CACHE_DIR = Path(".tradewarden-bench")
DATASET_VERSION = "3"  # bump when the generated data changes shape
#: The service under test is started with this secret, so the strategies' webhook secrets
#: (encrypted at rest) are readable to it.
SECRET_KEY = "tradewarden benchmark dataset key"
BOX = SecretBox(key_from_secret(SECRET_KEY))
STRATEGIES_PER_USER = 5
SYMBOLS = 50
DAYS = 365
# (status, weight, reason code) — only states the engine leaves alone at startup
STATUSES = [("filled", 55, None), ("cancelled", 12, None), ("expired", 5, None),
            ("rejected", 8, "broker_validation"), ("denied", 10, "risk_blocked"),
            ("denied", 3, "validation_failed"), ("denied", 2, "duplicate_blocked"),
            ("failed", 2, "insufficient_funds"), ("retry_pending", 3, "insufficient_funds")]
ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]


def api_key(user: int) -> str:
    return f"tw_bench_api_key_{user:04d}_0123456789abcdef"


def _timestamp(moment: datetime) -> str:
    """How the store keeps a UTC timestamp on SQLite (naive, microseconds)."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _setup_owners(db: Database, users: int) -> list[tuple[int, int, list[tuple[int, str]]]]:
    """Users with a key, a paper account and strategies: (user id, account id, strategies)."""
    owners = []
    with db.transaction() as session:
        for n in range(users):
            user = Users(session).create(f"bench-{n:03d}")
            ApiKeys(session).create(user, name="bench", key=api_key(n))
            account = Accounts(session).add(user, broker="paper", name=f"bench-{n:03d}")
            strategies = [(row.id, row.name) for row in (
                Strategies(session, user.id).create(
                    name=f"strategy-{k}", account_id=account.id, mode="both",
                    position_guards=True, allow_amo=False, settings={}, box=BOX)
                for k in range(STRATEGIES_PER_USER))]
            owners.append((user.id, account.id, strategies))
    return owners


def _rows(count: int, owners: list[tuple[int, int, list[tuple[int, str]]]],
          symbols: list[str], seed: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    statuses = [s for s, w, _ in STATUSES for _ in range(w)]
    reasons = {s: r for s, _, r in STATUSES if s not in ("denied",)}
    denial_codes = [r for s, w, r in STATUSES if s == "denied" for _ in range(w)]
    now = datetime.now(UTC)
    far = _timestamp(datetime(2099, 1, 1, tzinfo=UTC))
    for _ in range(count):
        user_id, account_id, strategies = owners[rng.randrange(len(owners))]
        strategy_id, label = strategies[rng.randrange(len(strategies))]
        status = statuses[rng.randrange(len(statuses))]
        reason = rng.choice(denial_codes) if status == "denied" else reasons.get(status)
        created = now - timedelta(seconds=rng.randrange(DAYS * 86_400))
        stamp = _timestamp(created)
        quantity = rng.randrange(1, 200)
        filled = quantity if status == "filled" else 0
        price = f"{rng.randrange(2_000, 400_000) / 20:.2f}"
        failed = status in ("failed", "retry_pending")
        yield (new_order_id(), user_id, account_id, strategy_id, label, None,
               new_client_order_id(), None, None if status == "denied" else f"B{rng.random()}",
               "NSE", symbols[rng.randrange(len(symbols))], rng.choice(("BUY", "SELL")),
               quantity, filled, price if filled else "0", "LIMIT", "MIS", price, None,
               "regular", "DAY", status, None, None, reason,
               f"{reason} (benchmark)" if reason else None,
               "RMS: benchmark rejection" if status == "rejected" else None,
               "broker" if status == "cancelled" else None, "webhook", "entry",
               rng.randrange(3) if failed else 0, stamp if failed else None, None,
               far if status == "retry_pending" else None, None, stamp, stamp,
               None if status in ("failed", "retry_pending") else stamp, 3, "{}")


def build_database(path: Path, orders: int, users: int) -> float:
    """Create the benchmark database at ``path``; returns the seconds it took."""
    began = time.perf_counter()
    partial = path.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    url = f"sqlite:///{partial.resolve()}"
    migrate.upgrade(url)
    db = Database(url, pool_size=1)
    try:
        owners = _setup_owners(db, users)
        symbols = [i.symbol for i in bundled_master() if i.exchange == "NSE"][:SYMBOLS]
        columns = [c.name for c in ORDERS.columns]
        sql = (f"INSERT INTO orders ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' for _ in columns)})")
        rows = _rows(orders, owners, symbols, seed=8)
        assert len(next(_rows(1, owners, symbols, seed=0))) == len(columns)
        with db.engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA journal_mode=OFF")  # a failed build is discarded anyway
            raw.execute("PRAGMA synchronous=OFF")
            while batch := [row for _, row in zip(range(20_000), rows, strict=False)]:
                raw.execute("BEGIN")
                raw.executemany(sql, batch)
                raw.execute("COMMIT")
            raw.execute("ANALYZE")
            raw.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()
    partial.rename(path)
    return time.perf_counter() - began


def _schema_digest() -> str:
    """Changes whenever a migration does, so a cached database always has today's schema."""
    digest = hashlib.sha256(DATASET_VERSION.encode())
    for path in sorted((migrate.MIGRATIONS_DIR / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def cached_database(orders: int, users: int) -> tuple[Path, float | None]:
    CACHE_DIR.mkdir(exist_ok=True)
    path = CACHE_DIR / f"api-{orders}-orders-{users}-users-{_schema_digest()}.db"
    if path.exists():
        return path, None
    return path, build_database(path, orders, users)


def dataset_symbols() -> list[str]:
    """The NSE symbols the dataset uses."""
    return [i.symbol for i in bundled_master() if i.exchange == "NSE"][:SYMBOLS]
