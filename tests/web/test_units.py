"""The dashboard's pure parts: risk preview, P&L curve, formatting, form mapping, live hub, and
an audit that every state-changing page route is CSRF-checked. No processes, no browser."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from fastapi.routing import APIRoute

from tradewarden.domain.risk_preview import position_size, risk_preview
from tradewarden.domain.strategy import StrategySettings
from tradewarden.store.tables import OrderRow
from tradewarden.web import strategy_form
from tradewarden.web.access import checked_form, safe_next
from tradewarden.web.charts import FillPoint, intraday_pnl, pnl_svg
from tradewarden.web.formatting import (
    IST,
    group_indian,
    inr,
    ist_datetime,
    ist_short,
    ist_time,
    signed_inr,
)
from tradewarden.web.live import ClientLagging, LiveHub
from tradewarden.web.routes import ROUTERS
from tradewarden.web.trade_views import exit_of

D = Decimal


def settings(**values: object) -> StrategySettings:
    return StrategySettings.model_validate(values)


@pytest.mark.parametrize(("values", "price", "quantity"), [
    ({"sizing": "fixed_quantity", "sizing_value": 7}, "100", 7),
    ({"sizing": "fixed_quantity"}, "100", None),
    ({"sizing": "fixed_value", "sizing_value": 50_000}, "2500", 20),
    ({"sizing": "fixed_value", "sizing_value": 50_000}, "2600", 19),  # rounds down
    ({"sizing": "percent_of_allocation", "sizing_value": 10, "allocated_funds": 500_000},
     "2500", 20),
    ({"sizing": "fixed_value", "sizing_value": 1000}, "2500", 0),
])
def test_position_size(values: dict[str, object], price: str, quantity: int | None) -> None:
    assert position_size(settings(**values), D(price)) == quantity


def test_loss_at_stop_uses_the_first_stop_to_trigger_and_the_portfolio_stop_caps() -> None:
    preview = risk_preview(settings(
        sizing="fixed_quantity", sizing_value=10, max_open_positions=5,
        stop_loss={"kind": "percent", "value": 2}, trailing_stop={"kind": "points", "value": 30},
        target={"kind": "points", "value": 100}), D(2000))
    assert preview.loss_at_stop == D(300)  # trail 30 points is tighter than 2 % (40)
    assert preview.gain_at_target == D(1000)
    assert preview.worst_case_loss == D(1500) and not preview.capped_by_portfolio_stop

    capped = risk_preview(settings(
        sizing="fixed_quantity", sizing_value=10, max_open_positions=5, allocated_funds=100_000,
        stop_loss={"kind": "points", "value": 40},
        portfolio_stop_loss={"kind": "percent", "value": 1}), D(2000))
    assert capped.uncapped_loss == D(2000)
    assert capped.portfolio_stop == D(1000)
    assert capped.worst_case_loss == D(1000) and capped.capped_by_portfolio_stop


def test_unbounded_risk_is_said_so() -> None:
    preview = risk_preview(settings(sizing="fixed_quantity", sizing_value=1), D(100))
    assert preview.loss_at_stop is None and preview.worst_case_loss is None
    assert any("not limited" in w for w in preview.warnings)
    daily = risk_preview(settings(sizing="fixed_quantity", sizing_value=100, daily_loss_limit=500,
                                  stop_loss={"kind": "points", "value": 10}), D(100))
    assert any("daily loss limit" in w for w in daily.warnings)


def test_intraday_pnl_marks_open_quantity_and_realises_round_trips() -> None:
    start = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    fills = [FillPoint(start, "NSE:A", "BUY", 10, D(100)),
             FillPoint(start + timedelta(minutes=5), "NSE:B", "SELL", 2, D(50)),
             FillPoint(start + timedelta(minutes=10), "NSE:A", "SELL", 10, D(104))]
    points = intraday_pnl(fills, {"NSE:B": D(45)}, start + timedelta(hours=1))
    assert [p.pnl for p in points] == [D(0), D(0), D(40), D(50)]  # B short 2 gains 10 at 45
    svg = str(pnl_svg(points))
    assert svg.startswith("<svg") and "₹50.00" in svg and "<script" not in svg
    assert "No fills" in str(pnl_svg([]))


def _axis_labels(fill_times: list[time], now: time) -> list[str]:
    """The time labels of the chart of fills at ``fill_times`` (IST, one day) seen at ``now``."""
    day = date(2026, 11, 24)
    fills = [FillPoint(datetime.combine(day, at, IST), "NSE:A", "BUY", 1, D(100))
             for at in fill_times]
    svg = str(pnl_svg(intraday_pnl(fills, {}, datetime.combine(day, now, IST))))
    return re.findall(r'text-anchor="middle">(\d\d:\d\d)</text>', svg)


def test_pnl_axis_spans_the_session_in_ist_or_else_the_data() -> None:
    # fills inside the session, looked at in the evening: the session, 09:15-15:30
    assert _axis_labels([time(10, 0), time(11, 30)], time(22, 0)) == [
        "10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]
    # fills before the session (early in the morning): the data's span, not 05:00-15:30
    early = _axis_labels([time(5, 10), time(5, 40)], time(6, 0))
    assert early == ["05:15", "05:30", "05:45"]


@pytest.mark.parametrize("days_ahead", range(0, 400, 3))
def test_example_contracts_expire_on_a_tuesday_at_least_a_week_ahead(days_ahead: int) -> None:
    today = datetime.now(IST).date() + timedelta(days=days_ahead)
    expiry = strategy_form.example_expiry(today)
    assert expiry.weekday() == 1 and timedelta(days=7) <= expiry - today <= timedelta(days=42)


def test_examples_mask_the_secret_and_include_an_exit_signal() -> None:
    today = datetime.now(IST).date()
    examples = {e.name: e for e in strategy_form.webhook_examples("s3cr3t-value", today)}
    assert set(examples) == {"single", "smart", "exit", "multi"}
    assert all("s3cr3t-value" not in e.masked and "s3cr3t-value" in e.full
               for e in examples.values())
    assert '"execution_type": "exit"' in examples["exit"].masked
    assert '"action"' not in examples["exit"].full  # direction comes from the position


def test_times_say_ist() -> None:
    moment = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    assert ist_time(moment) == "14:00:00 IST"
    assert ist_datetime(moment) == "24 Nov 2026 14:00:00 IST"
    assert ist_short(moment).endswith(" IST")
    assert ist_short(datetime.now(UTC)).endswith(" IST")


def test_indian_money_format() -> None:
    assert group_indian("1234567") == "12,34,567"
    assert inr(D("1234567.891")) == "₹12,34,567.89"
    assert inr(D("-500")) == "\u2212₹500.00"
    assert signed_inr(D("1200")) == "+₹1,200.00"
    assert inr(None) == "\u2013" and inr(D("NaN")) == "\u2013"


def test_strategy_form_errors_land_on_their_fields() -> None:
    base = strategy_form.defaults() | {"name": "s"}
    cases = {
        "stop_loss_value": {"stop_loss_kind": "percent", "stop_loss_value": "120"},
        "allocated_funds": {"sizing": "percent_of_allocation", "sizing_value": "5"},
        "sizing_value": {"sizing": "fixed_value"},
        "window_end": {"window_start": "10:00", "window_end": "09:00"},
        "max_open_positions": {"max_open_positions": "-3"},
        "target_kind": {"target_value": "5"},
        "daily_loss_limit": {"daily_loss_limit": "Infinity"},
        "name": {"name": "bad/name"},
    }
    for field, values in cases.items():
        form = strategy_form.parse(base | values)
        assert form.model is None and field in form.errors, (field, form.errors)
    good = strategy_form.parse(base | {"stop_loss_kind": "points", "stop_loss_value": "12.5",
                                       "square_off_time": ""})
    assert good.model is not None and good.settings is not None
    assert good.settings.square_off_time is None
    assert good.settings.stop_loss is not None and good.settings.stop_loss.value == D("12.5")


def test_safe_next_stays_on_this_site() -> None:
    assert safe_next("/orders?tab=failed") == "/orders?tab=failed"
    for hostile in ("https://evil.example/", "//evil.example", "/\\evil", "", None, "/\nx"):
        assert safe_next(hostile) == "/"


def test_every_state_changing_page_is_csrf_checked() -> None:
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            if "POST" not in route.methods or route.path == "/login":
                continue  # the login form has its own double-submit token
            calls = {dep.call for dep in route.dependant.dependencies}
            assert checked_form in calls, route.path


def in_own_loop(check: Callable[[], Awaitable[None]]) -> None:
    """Run ``check`` on a fresh event loop in a thread (the browser tests' Playwright keeps a
    loop of its own on the main thread)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, check()).result()


def test_live_hub_coalesces_keyed_messages_and_drops_laggards() -> None:
    in_own_loop(_hub_behaviour)


async def _hub_behaviour() -> None:
    hub = LiveHub(max_backlog=3)
    client, other = hub.connect(1), hub.connect(2)
    for price in (1, 2, 3):
        hub.publish(1, "tick", {"price": price}, key="NSE:A")
    hub.publish(1, "order", {"n": 1})
    assert await client.next_batch() == [{"type": "tick", "data": {"price": 3}},
                                         {"type": "order", "data": {"n": 1}}]
    assert other.pending() == 0  # another user's messages never reach it
    for n in range(4):
        hub.publish(1, "order", {"n": n})
    assert client.lagging.is_set() and not hub.has_clients(1) and hub.dropped_clients == 1
    with pytest.raises(ClientLagging):
        await asyncio.wait_for(client.next_batch(), 1)
    hub.publish(2, "order", {"n": 0})  # publishing never waits, whoever lags
    assert other.pending() == 1


def test_exit_orders_name_their_trade_and_reason() -> None:
    stop = exit_of(OrderRow(execution_type="exit",
                            extra={"trade_id": 7, "exit_reason": "stop_loss"}))
    assert stop is not None and (stop.trade_id, stop.reason, stop.text) == (
        7, "stop_loss", "stop-loss hit")
    signal = exit_of(OrderRow(execution_type="exit", extra={}))  # a strategy's exit signal
    assert signal is not None and signal.trade_id is None and signal.reason is None
    assert exit_of(OrderRow(execution_type="entry", extra={})) is None
