"""The sender against real HTTP servers on 127.0.0.1 (a JSON sink, a fake Telegram Bot API):
retries while a channel is down, flood control with digests, preferences and quiet hours,
Telegram silent messages and ``retry_after``, and no URL in the logs."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.notify.sinks import FakeTelegram, JsonSink, too_many_requests
from tests.seed import seed_owner
from tradewarden.clock import use_clock
from tradewarden.config import Settings
from tradewarden.notify.events import NotificationKind
from tradewarden.notify.outbox import enqueue
from tradewarden.notify.repository import NotificationStore
from tradewarden.notify.service import Notifier
from tradewarden.store.db import Database
from tradewarden.store.tables import OutboxRow

K = NotificationKind
BOT_TOKEN = "123456789:AAEfakeTokenForTestsOnly_xyz"
FAST = {"notify_poll_interval_s": 0.05, "notify_retry_initial_s": 0.1,
        "notify_retry_max_s": 0.3, "notify_max_attempts": 1000}


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


@pytest.fixture
def user(sqlite_db: Database) -> int:
    return seed_owner(sqlite_db).user_id


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The process's clock, settable by the test (every component reads it)."""
    fake = Clock()
    with use_clock(fake):
        yield fake


@pytest.fixture
async def notifier(sqlite_db: Database, tmp_path: Path, clock: Clock,
                   request: pytest.FixtureRequest) -> AsyncIterator[Notifier]:
    extra: dict[str, Any] = getattr(request, "param", {})
    service = Notifier(sqlite_db, Settings(data_dir=tmp_path, **FAST, **extra), 5)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def add_channel(notifier: Notifier, user: int, url: str, name: str = "c",
                      rate: tuple[int, int] | None = None, **modes: str) -> int:
    def write() -> int:
        with notifier.db.transaction() as session:
            store = NotificationStore(session, user)
            row = store.add_channel(name, url.split("://")[0], notifier.box.encrypt(url),
                                    rate=rate)
            if modes:
                store.save_preferences(channels={row.id: modes})
            return row.id

    channel = await notifier.db.run(write)
    await notifier.reload()
    return channel


async def push(notifier: Notifier, user: int, kind: K, payload: dict[str, Any]) -> None:
    def write() -> None:
        with notifier.db.transaction() as session:
            enqueue(session, user, kind, payload)

    await notifier.db.run(write)
    notifier.sender.wake()


def outbox(db: Database) -> list[OutboxRow]:
    with db.read() as session:
        found = list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
        session.expunge_all()
        return found


async def until(predicate: Callable[[], bool], limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def numbers(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := re.search(r"event (\d+)", line))]


async def test_a_channel_down_gets_everything_later_once_and_in_order(
        notifier: Notifier, user: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sink = JsonSink()  # not listening yet: connection refused
    await add_channel(notifier, user, sink.url)
    for i in range(6):
        await push(notifier, user, K.SYSTEM_ALERT, {"text": f"event {i}"})
    await until(lambda: outbox(notifier.db)[0].attempts >= 2)
    assert outbox(notifier.db)[0].last_error == "connection failed"
    assert all(r.status == "pending" for r in outbox(notifier.db))
    sink.status = 503  # up, but failing
    sink.start()
    try:
        await until(lambda: outbox(notifier.db)[0].last_error == "HTTP 503")
        for i in range(6, 9):
            await push(notifier, user, K.SYSTEM_ALERT, {"text": f"event {i}"})
        sink.status = 200
        await until(lambda: len(sink.lines()) >= 9)
        await notifier.sender.idle()
        assert numbers(sink.lines()) == list(range(9)), "each once, in order"
        assert {r.status for r in outbox(notifier.db)} == {"sent"}
    finally:
        sink.stop()
    assert f"127.0.0.1:{sink.port}" not in caplog.text
    assert "/hook" not in caplog.text


@pytest.mark.parametrize("notifier", [{"notify_digest_max_items": 40}], indirect=True)
async def test_a_flood_respects_the_limit_and_arrives_as_digests(
        notifier: Notifier, user: int) -> None:
    sink = JsonSink().start()
    try:
        await add_channel(notifier, user, sink.url, rate=(2, 1000))  # 2 messages per second

        def burst() -> None:  # 200 events in about 2 seconds
            for i in range(200):
                with notifier.db.transaction() as session:
                    enqueue(session, user, K.SYSTEM_ALERT, {"text": f"event {i}"})
                time.sleep(0.01)

        await asyncio.to_thread(burst)
        await until(lambda: len(sink.lines()) >= 200, limit_s=60)
        await notifier.sender.idle()
        arrivals = sink.received()
    finally:
        sink.stop()
    assert numbers(sink.lines()) == list(range(200)), "nothing dropped, nothing twice, in order"
    times = [a.at for a in arrivals]
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[2:], strict=False)), (
        "never more than 2 messages in any second")
    digests = [a for a in arrivals if str(a.body["title"]).startswith("📬")]
    assert digests and len(arrivals) < 40
    assert {r.status for r in outbox(notifier.db)} == {"sent"}
    assert max(r.digest_size or 0 for r in outbox(notifier.db)) > 1


async def test_preferences_and_quiet_hours(notifier: Notifier, user: int, clock: Clock) -> None:
    sink = JsonSink().start()
    clock.now = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 22:30 IST
    try:
        await add_channel(notifier, user, sink.url, order_placed="off")

        def quiet() -> None:
            with notifier.db.transaction() as session:
                NotificationStore(session, user).save_preferences(
                    quiet=(datetime(2026, 1, 1, 22).time(), datetime(2026, 1, 1, 7).time()),
                    set_quiet=True, events={"trade_exited": "silent"})

        await notifier.db.run(quiet)
        await notifier.reload()
        order = {"order_id": "01JDABCDEFGHJKMNPQRSTVWXYZ", "symbol": "SBIN", "side": "BUY",
                 "quantity": 1}
        await push(notifier, user, K.ORDER_PLACED, order)  # off: never written
        await push(notifier, user, K.TRADE_EXITED, {"symbol": "SBIN", "pnl": "10"})
        await push(notifier, user, K.SYSTEM_ALERT, {"severity": "warning", "text": "event 1"})
        await push(notifier, user, K.SYSTEM_ALERT, {"severity": "critical", "text": "event 2"})
        await until(lambda: len(sink.lines()) == 1)
        assert "CRITICAL: event 2" in sink.lines()[0], "critical alerts ignore quiet hours"
        await until(lambda: all(r.next_attempt_at > clock() for r in outbox(notifier.db)
                                if r.status == "pending"))
        held = [r for r in outbox(notifier.db) if r.status == "pending"]
        assert [r.kind for r in held] == ["trade_exited", "system_alert"]
        assert {r.next_attempt_at for r in held} == {datetime(2026, 11, 24, 1, 30, tzinfo=UTC)}

        def turn_off_alerts() -> None:
            with notifier.db.transaction() as session:
                NotificationStore(session, user).save_preferences(events={"system_alert": "off"})

        await notifier.db.run(turn_off_alerts)
        await notifier.reload()
        clock.now = datetime(2026, 11, 24, 1, 30, 1, tzinfo=UTC)  # 07:00:01 IST: window over
        notifier.sender.wake()
        await until(lambda: len(sink.lines()) == 2)
        await notifier.sender.idle()
        assert sink.lines()[1].startswith("🏁 Trade closed")
        statuses = {r.kind: (r.status, r.last_error) for r in outbox(notifier.db)
                    if r.payload.get("severity") != "critical"}
        assert statuses == {"trade_exited": ("sent", None),
                            "system_alert": ("suppressed", "turned off in preferences")}
    finally:
        sink.stop()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
async def tg_notifier(sqlite_db: Database, tmp_path: Path,
                      telegram: FakeTelegram) -> AsyncIterator[Notifier]:
    settings = Settings(data_dir=tmp_path, notify_telegram_api_url=telegram.api_url, **FAST)
    service = Notifier(sqlite_db, settings, 5)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def test_telegram_messages_silent_flags_and_retry_after(
        tg_notifier: Notifier, user: int, telegram: FakeTelegram,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await add_channel(tg_notifier, user, f"tgram://{BOT_TOKEN}/987654321",
                      order_placed="silent")
    telegram.script = [too_many_requests(1)]
    order = {"order_id": "01JDABCDEFGHJKMNPQRSTVWXYZ", "exchange": "NSE", "symbol": "SBIN",
             "side": "BUY", "quantity": 10, "order_type": "LIMIT", "price": "790",
             "product": "MIS"}
    await push(tg_notifier, user, K.ORDER_PLACED, order)
    await until(lambda: len(telegram.received()) == 1)
    await push(tg_notifier, user, K.ORDER_REJECTED,
               {**order, "rejection_reason": "RMS:<Margin> Exceeds & more"})
    await until(lambda: len(telegram.received()) == 2)
    await tg_notifier.sender.idle()
    placed, rejected = telegram.received()
    assert placed.at - telegram.refused[0] >= 1.0, "retry_after honoured"
    assert rejected.at - placed.at >= 1.0, "one message per second to a chat"
    assert placed.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert (placed.body["chat_id"], placed.body["disable_notification"]) == (987654321, True)
    assert rejected.body["disable_notification"] is False
    assert "Order placed: BUY 10 NSE:SBIN" in placed.body["text"]
    assert "RMS:&lt;Margin&gt; Exceeds &amp; more" in rejected.body["text"]
    rows = outbox(tg_notifier.db)
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 1)], (
        "a 429 is flow control, not a failed attempt")
    assert BOT_TOKEN not in caplog.text and "AAEfakeToken" not in caplog.text
    assert "retry after 1 s" in caplog.text


async def test_test_sends_report_per_channel(notifier: Notifier, user: int) -> None:
    sink = JsonSink().start()
    try:
        good = await add_channel(notifier, user, sink.url, name="good")
        bad = await add_channel(notifier, user, "json://127.0.0.1:9/nothing-here", name="bad")
        results = {r.channel_id: r for r in await notifier.send_test(user)}
    finally:
        sink.stop()
    assert results[good].ok and results[good].url == "json://…"
    assert not results[bad].ok and results[bad].error == "connection failed"
    assert sink.lines()[0].startswith("🔔 Tradewarden test message · Notifications to “good”")
    assert await notifier.send_test(user + 99) == []

