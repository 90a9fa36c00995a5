"""Message texts: every kind renders with its fields, times in IST, rupees grouped in lakhs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradewarden.notify.events import NotificationKind, Severity
from tradewarden.notify.formatting import inr, ist, percent
from tradewarden.notify.messages import Message, digest, digest_size, render

K = NotificationKind
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 10:30 IST
AT = "2026-11-23T04:45:03+00:00"  # 10:15:03 IST
OID = "01JDABCDEFGHJKMNPQRSTVWXYZ"
ORDER = {"order_id": OID, "exchange": "NSE", "symbol": "SBIN", "side": "BUY", "quantity": 10,
         "filled_quantity": 0, "average_price": "0", "order_type": "LIMIT", "price": "790",
         "product": "MIS", "strategy": "momentum", "at": AT}


def line(kind: K, **fields: object) -> str:
    return render(kind, {**ORDER, **fields}, now=NOW).line()


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("7890"), "₹7,890.00"), ("1000000", "₹10,00,000.00"), (123456789.5, "₹12,34,56,789.50"),
    ("-310.005", "-₹310.01"), ("999", "₹999.00"), (None, "—"), ("garbage", "—")])
def test_rupees_use_indian_grouping(value: object, text: str) -> None:
    assert inr(value) == text


def test_signed_rupees_and_percent() -> None:
    assert inr("310", signed=True) == "+₹310.00"
    assert inr("-5", signed=True) == "-₹5.00"
    assert percent(3, 10) == "30%" and percent(1, 0) == "—"


def test_times_are_ist_with_the_date_only_when_not_today() -> None:
    assert ist(AT, NOW) == "10:15:03 IST"
    assert ist("2026-11-22T18:29:00+00:00", NOW) == "22 Nov 23:59:00 IST"
    assert ist("not a time", NOW) == ""


def test_order_placed_and_external_placement() -> None:
    assert line(K.ORDER_PLACED) == (
        f"📤 Order placed: BUY 10 NSE:SBIN · LIMIT @ ₹790.00 · MIS · order {OID} · "
        "strategy momentum · 10:15:03 IST")
    assert line(K.ORDER_PLACED, origin="external").startswith(
        "📤 Order placed at the broker's app: BUY 10 NSE:SBIN")


def test_executed_shows_average_and_value() -> None:
    text = line(K.ORDER_EXECUTED, filled_quantity=10, average_price="789.5")
    assert text.startswith("✅ Executed: BUY 10 NSE:SBIN · avg ₹789.50 · value ₹7,895.00 · order")


def test_partial_fill_shows_progress() -> None:
    text = line(K.ORDER_PARTIALLY_FILLED, filled_quantity=3, average_price="789")
    assert text.startswith("🟡 Partially filled: BUY 3/10 NSE:SBIN (30%) · avg ₹789.00 · "
                           "7 remaining · order")


def test_rejection_carries_the_broker_reason_verbatim() -> None:
    reason = "RMS:Margin Exceeds,Required:79000000.00, Available:1000000.00"
    text = line(K.ORDER_REJECTED, rejection_reason=reason)
    assert text.startswith("❌ Rejected: BUY 10 NSE:SBIN · LIMIT @ ₹790.00 · MIS · "
                           f"broker: {reason} · order {OID}")


@pytest.mark.parametrize(("by", "words"), [("manual", "at the broker's app"), ("user", "by you"),
                                           ("system", "by Tradewarden"),
                                           ("broker", "by the broker")])
def test_cancellation_says_who(by: str, words: str) -> None:
    text = line(K.ORDER_CANCELLED, cancelled_by=by, filled_quantity=3)
    assert text.startswith(f"🚫 Cancelled {words}: BUY 10 NSE:SBIN · filled 3/10 · order")


def test_manual_modification_shows_old_and_new() -> None:
    text = line(K.ORDER_MODIFIED, changes={"quantity": {"old": 10, "new": 12},
                                           "price": {"old": "785", "new": "780"}})
    assert text.startswith("✏️ Modified at the broker's app: BUY NSE:SBIN · "
                           "quantity 10 → 12 · price ₹785.00 → ₹780.00 · order")


def test_expired_denied_failed_and_retry_queue() -> None:
    assert line(K.ORDER_EXPIRED, reason="validity ended unfilled").startswith(
        "⌛ Expired: BUY 10 NSE:SBIN · reason: validity ended unfilled · order")
    assert line(K.ORDER_DENIED, reason_code="risk_blocked", reason="Kill switch is on").startswith(
        "⛔ Denied (risk_blocked): BUY 10 NSE:SBIN · Kill switch is on · order")
    assert line(K.ORDER_FAILED, reason_code="lost", reason="Not found").startswith(
        "⚠️ Not placed (lost): BUY 10 NSE:SBIN · Not found · order")
    assert line(K.RETRY_ADDED, next_retry_at="2026-11-24T03:30:00+00:00",
                reason="broker down").startswith(
        "🔁 Queued for retry: BUY 10 NSE:SBIN · next attempt 24 Nov 09:00:00 IST · "
        "reason: broker down · order")
    assert line(K.RETRY_RETRIED, retry_count=2).startswith(
        "🔁 Retrying (attempt 2): BUY 10 NSE:SBIN · order")
    assert line(K.RETRY_DROPPED, reason="dropped from retry queue").startswith(
        "🗑️ Dropped from the retry queue: BUY 10 NSE:SBIN · reason: dropped from retry queue")
    assert line(K.RETRY_EXPIRED, reason="not placed by the close").startswith(
        "⌛ Retry expired: BUY 10 NSE:SBIN · reason: not placed by the close")


def test_trade_exit_shows_reason_prices_and_pnl() -> None:
    message = render(K.TRADE_EXITED, {
        "symbol": "SBIN", "exchange": "NSE", "side": "BUY", "quantity": 10,
        "entry_price": "789", "exit_price": "820.5", "reason": "trailing_stop",
        "pnl": "315", "trade_id": 12, "strategy": "momentum", "at": AT}, now=NOW)
    assert message.title == "🏁 Trade closed (trailing stop): LONG 10 NSE:SBIN"
    assert message.body == ("entry ₹789.00 → exit ₹820.50 · P&L +₹315.00\n"
                            "trade 12 · strategy momentum · 10:15:03 IST")
    loss = render(K.TRADE_EXITED, {"symbol": "SBIN", "exchange": "NSE", "side": "SELL",
                                   "quantity": 5, "entry_price": "800", "exit_price": "810",
                                   "reason": "stop_loss", "pnl": "-50"}, now=NOW)
    assert loss.title == "🏁 Trade closed (stop loss): SHORT 5 NSE:SBIN"
    assert "P&L -₹50.00" in loss.body


def test_trade_opened_manual_position_and_portfolio_limit() -> None:
    opened = render(K.TRADE_OPENED, {"symbol": "SBIN", "exchange": "NSE", "side": "BUY",
                                     "quantity": 10, "entry_price": "789", "stop_loss": "770",
                                     "target": "830", "trade_id": 3}, now=NOW).line()
    assert opened.startswith("📈 Trade opened: LONG 10 NSE:SBIN @ ₹789.00 · SL ₹770.00 · "
                             "target ₹830.00 · trade 3")
    manual = render(K.MANUAL_POSITION, {"kind": "manual_sell", "exchange": "NSE",
                                        "symbol": "SBIN", "quantity": 3, "expected": 8,
                                        "actual": 5}, now=NOW).line()
    assert manual.startswith("🖐️ Manual sell detected: -3 NSE:SBIN · ours 8 · at the broker 5")
    hit = render(K.PORTFOLIO_LIMIT_HIT, {"strategy": "momentum", "limit": "portfolio_stop_loss",
                                         "pnl": "-5000", "threshold": "5000", "trades": 3},
                 now=NOW).line()
    assert hit.startswith("🛑 Portfolio stop loss hit: strategy momentum · P&L -₹5,000.00 · "
                          "limit ₹5,000.00 · closing 3 trade(s)")


def test_system_alert_and_daily_summary() -> None:
    alert = render(K.SYSTEM_ALERT, {"severity": "error", "text": "Broker session expired\n"
                                    "Log in again", "at": AT}, "error", now=NOW)
    assert alert.title == "🔴 ERROR: Broker session expired"
    assert alert.severity is Severity.ERROR and alert.body.startswith("Log in again")
    summary = render(K.DAILY_SUMMARY, {"trading_day": "2026-11-23", "placed": 12, "executed": 9,
                                       "rejected": 1, "pending": 0, "retry_queue": 2,
                                       "realised_pnl": "1234.5", "success_rate": "90.00"},
                     now=NOW)
    assert summary.line() == ("📊 Daily summary · 2026-11-23 · placed 12 · executed 9 · "
                              "rejected 1 · pending 0 · retry queue 2 · realised P&L "
                              "+₹1,234.50 · success rate 90.00%")


def test_a_broken_payload_still_renders() -> None:
    message = render("trade_exited", {"quantity": object(), "pnl": [1]}, now=NOW)
    assert message.title
    assert render("no_such_kind", {}, now=NOW).title == "Tradewarden: no such kind"


def test_digest_folds_messages_in_order_within_limits() -> None:
    messages = [Message(f"item {i}", "detail", Severity.WARNING if i == 2 else Severity.INFO)
                for i in range(5)]
    folded = digest(messages)
    assert folded.title == "📬 5 updates" and folded.severity is Severity.WARNING
    assert folded.body.splitlines() == [f"• item {i} · detail" for i in range(5)]
    assert digest_size(messages, max_items=3, max_chars=10_000) == 3
    assert digest_size(messages, max_items=30, max_chars=40) == 2
    assert digest_size([Message("x" * 500, "")], max_items=30, max_chars=10) == 1
