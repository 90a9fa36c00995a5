"""The pure rules: flood control, quiet hours, preference resolution, encryption at rest."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from tradewarden.crypto import SecretError, key_from_secret, secret_box
from tradewarden.notify.events import Mode, NotificationKind, is_critical, resolve_mode
from tradewarden.notify.limiter import (
    TELEGRAM_CHAT,
    TELEGRAM_GROUP,
    Limit,
    Limiters,
    SlidingWindow,
    default_limit,
)
from tradewarden.notify.preferences import ChannelInfo, UserPreferences, verdict
from tradewarden.notify.quiet_hours import QuietHours


def test_sliding_window_never_allows_more_than_count_per_window() -> None:
    window = SlidingWindow(Limit(3, 1.0))
    sent: list[float] = []
    now = 0.0
    while len(sent) < 20:
        wait = window.wait(now)
        if wait == 0:
            sent.append(now)
            window.record(now)
        now += max(wait, 0.125)  # exact in binary floating point
    for i in range(len(sent) - 3):
        assert sent[i + 3] - sent[i] >= 1.0


def test_free_slots_and_blocking() -> None:
    window = SlidingWindow(Limit(2, 10.0))
    assert window.free(0.0) == 2
    window.record(0.0)
    assert window.free(1.0) == 1 and window.wait(1.0) == 0
    window.record(1.0)
    assert window.free(2.0) == 0 and window.wait(2.0) == pytest.approx(8.0)
    window.block(30.0, 2.0)
    assert window.free(20.0) == 0 and window.wait(20.0) == pytest.approx(12.0)


def test_failures_back_off_exponentially_and_retry_after_wins() -> None:
    window = SlidingWindow(Limit(1, 1.0))
    delays = [window.failed(0.0, 1.0, 10.0) for _ in range(6)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    window.succeeded()
    assert window.failed(100.0, 1.0, 10.0) == 1.0
    assert window.failed(200.0, 1.0, 10.0, retry_after=37) == 37
    assert window.wait(200.0) == 37


def test_telegram_limits_per_chat_and_group() -> None:
    assert default_limit("tgram", ["123456"]) == TELEGRAM_CHAT == Limit(1, 1.0)
    assert default_limit("tgram", ["123456", "-100200300"]) == TELEGRAM_GROUP == Limit(20, 60.0)
    assert default_limit("json") == Limit(10, 1.0)


def test_a_changed_limit_keeps_the_history() -> None:
    limiters = Limiters()
    first = limiters.get(1, Limit(5, 1.0))
    for t in (0.0, 0.1, 0.2):
        first.record(t)
    renewed = limiters.get(1, Limit(3, 1.0))
    assert renewed is not first and renewed.wait(0.3) == pytest.approx(0.7)


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours(time(22, 0), time(7, 0))
    late = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 22:30 IST
    early = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 05:30 IST
    day = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 11:30 IST
    assert quiet.active(late) and quiet.active(early) and not quiet.active(day)
    assert quiet.ends_after(late) == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 07:00 IST
    assert quiet.ends_after(early) == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert quiet.ends_after(day) is None
    lunch = QuietHours(time(12, 0), time(13, 0))
    assert lunch.active(datetime(2026, 11, 23, 6, 45, tzinfo=UTC))  # 12:15 IST
    assert not lunch.active(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))  # 13:00 IST: over
    with pytest.raises(ValueError):
        QuietHours(time(9, 0), time(9, 0))


def test_modes_resolve_channel_then_user_then_default() -> None:
    kind = NotificationKind.ORDER_PLACED.value
    assert resolve_mode(kind, {}, {}) is Mode.SILENT
    assert resolve_mode(kind, {}, {kind: "off"}) is Mode.OFF
    assert resolve_mode(kind, {kind: "on"}, {kind: "off"}) is Mode.ON
    assert resolve_mode("retry_retried", {}, {}) is Mode.OFF
    assert resolve_mode("order_executed", {"order_executed": "bogus"}, {}) is Mode.ON


def _channel(enabled: bool = True, **modes: str) -> ChannelInfo:
    return ChannelInfo(1, 1, "c", "json", "token", enabled, dict(modes), None, None)


def test_verdicts() -> None:
    night = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 22:30 IST
    quiet = UserPreferences({}, QuietHours(time(22, 0), time(7, 0)))
    assert verdict(_channel(), UserPreferences(), "order_executed", "info", night).action == (
        "send")
    held = verdict(_channel(), quiet, "order_executed", "info", night)
    assert held.action == "hold" and held.until == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
    assert verdict(_channel(), quiet, "system_alert", "critical", night).action == "send"
    off = _channel(system_alert="off")
    assert verdict(off, UserPreferences(), "system_alert", "warning", night).action == "suppress"
    loud = verdict(off, UserPreferences(), "system_alert", "error", night)
    assert loud.action == "send" and not loud.silent
    silent = verdict(_channel(order_placed="silent"), UserPreferences(), "order_placed", "info",
                     night)
    assert silent.action == "send" and silent.silent
    assert verdict(_channel(enabled=False), UserPreferences(), "order_executed", "info",
                   night).action == "suppress"
    assert is_critical("critical") and is_critical("error") and not is_critical("warning")


def test_key_file_is_created_once_with_0600(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "secret.key"
    box = secret_box(None, key_file)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    token = box.encrypt("tgram://123:ABC/456")
    assert "ABC" not in token
    assert secret_box(None, key_file).decrypt(token) == "tgram://123:ABC/456"
    with pytest.raises(SecretError):
        secret_box("another key entirely", key_file).decrypt(token)


def test_configured_secret_wins_and_may_be_any_string(tmp_path: Path) -> None:
    box = secret_box("correct horse battery staple, long and random", tmp_path / "unused.key")
    assert not (tmp_path / "unused.key").exists()
    again = secret_box("correct horse battery staple, long and random", tmp_path / "x")
    assert again.decrypt(box.encrypt("json://host/x")) == "json://host/x"
    fernet_key = key_from_secret("a" * 10)
    assert key_from_secret(fernet_key.decode()) == fernet_key
