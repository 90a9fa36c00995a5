"""The trades API contract (BRIEF §3.5, §4.4; seed 003 requirement 9), through HTTP only:
createtrade, activetrades, updatetrade, exittrade and tradehistory against a real Tradewarden
process and a standalone paper broker whose prices the tests set.

Every test uses its own symbols, so the module shares one stack."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.crash.harness import API_KEY, Stack
from tests.procs import tradewarden
from tests.trades.harness import Trading, wait_for
from tradewarden.clock import IST

pytestmark = pytest.mark.slow

Json = dict[str, Any]




@pytest.fixture(scope="module")
def stranger(stack: Stack) -> Trading:
    """A second user (made with the CLI against the running server's database)."""
    data_dir = str(stack.workdir / "data")
    made = tradewarden("users", "create", "stranger", "--data-dir", data_dir, cwd=stack.workdir)
    assert made.returncode == 0, made.stderr
    issued = tradewarden("apikeys", "create", "--user", "stranger", "--data-dir", data_dir,
                         cwd=stack.workdir)
    assert issued.returncode == 0, issued.stderr
    return Trading(stack, key=issued.stdout.strip().splitlines()[-1])


# --- helpers ------------------------------------------------------------------------------


def place(trading: Trading, symbol: str, action: str, quantity: int,
          pricetype: str = "MARKET", price: float = 0) -> str:
    """An OpenAlgo ``placeorder`` with a free-text strategy label (no trade defaults)."""
    response = trading.http.post("/api/v1/placeorder", json={
        "apikey": API_KEY, "strategy": "ladder-script", "exchange": "NSE", "symbol": symbol,
        "action": action, "quantity": quantity, "pricetype": pricetype, "product": "MIS",
        "price": price})
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    order_id: str = body["orderid"]
    return order_id


def filled(trading: Trading, symbol: str, action: str, quantity: int) -> str:
    """A MARKET order placed with ``placeorder`` and filled at the broker."""
    order_id = place(trading, symbol, action, quantity)
    trading.order_when(order_id, lambda o: o["status"] == "filled", "filled")
    return order_id


def ok(response: httpx.Response) -> Json:
    body: Json = response.json()
    assert response.status_code == 200 and body["status"] == "success", response.text
    data: Json = body["data"]
    return data


def refused(response: httpx.Response, status: int) -> str:
    """The OpenAlgo-style error answer: HTTP ``status`` and ``{"status":"error","message"}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error", body
    message: str = body["message"]
    assert message
    return message


def points(value: float | str) -> Json:
    return {"kind": "points", "value": str(value)}


def percent(value: float | str) -> Json:
    return {"kind": "percent", "value": str(value)}


def strategy_trade(trading: Trading, strategy: Json, symbol: str, action: str,
                   quantity: int) -> Json:
    """An entry through the strategy's webhook and the trade it opened (with a live price)."""
    leg = trading.signal(strategy, symbol, action, quantity)
    assert leg["status"] != "denied", leg
    trade = trading.trade_of(str(leg["orderid"]))
    wait_for(lambda: (trading.live(int(trade["trade_id"])) or {}).get("ltp"),
             f"a live price for {symbol}")
    return trade


def live_at(trading: Trading, trade_id: int, ltp: str) -> Json:
    """The active trade once the price ``ltp`` has reached it."""
    return wait_for(lambda: (lambda t: t if t and t["ltp"] == ltp else None)(
        trading.live(trade_id)), f"trade {trade_id} to see the price {ltp}")


def ist_today() -> str:
    return datetime.now(IST).date().isoformat()


def ist_day(offset: int) -> str:
    return (datetime.now(IST).date() + timedelta(days=offset)).isoformat()


# --- createtrade ----------------------------------------------------------------------------


def test_createtrade_levels_from_points_and_percent_rounded_away_from_entry(
        trading: Trading) -> None:
    trading.prices(HDFCBANK=100, AXISBANK=200)
    long_order = filled(trading, "HDFCBANK", "BUY", 10)
    short_order = filled(trading, "AXISBANK", "SELL", 4)

    long_trade = ok(trading.call("createtrade", {
        "orderid": long_order, "stop_loss": points("2.53"), "target": percent("1.23"),
        "trailing_stop": points("1.5")}))
    # 100 - 2.53 = 97.47 → down to 97.45; 100 + 1.23 % = 101.23 → up to 101.25
    assert (long_trade["side"], long_trade["quantity"], long_trade["entry_price"]) == (
        "long", 10, "100.00")
    assert (long_trade["stop_loss"], long_trade["target"]) == ("97.45", "101.25")
    assert long_trade["trailing_level"] == "98.50"
    assert long_trade["trailing_stop"]["kind"] == "points"
    assert Decimal(long_trade["trailing_stop"]["value"]) == Decimal("1.5")
    assert long_trade["status"] == "active"
    assert long_trade["entry_order_id"] == long_order
    assert long_trade["strategy_id"] is None  # a free-text label is no configured strategy

    short_trade = ok(trading.call("createtrade", {
        "orderid": short_order, "stop_loss": percent("1.11"), "target": points("3.02")}))
    # 200 + 1.11 % = 202.22 → up to 202.25; 200 - 3.02 = 196.98 → down to 196.95
    assert (short_trade["side"], short_trade["quantity"], short_trade["entry_price"]) == (
        "short", 4, "200.00")
    assert (short_trade["stop_loss"], short_trade["target"]) == ("202.25", "196.95")
    assert short_trade["trailing_stop"] is None

    listed = {t["trade_id"]: t for t in trading.active()}
    assert listed[long_trade["trade_id"]]["stop_loss"] == "97.45"
    assert listed[short_trade["trade_id"]]["target"] == "196.95"


def test_createtrade_refusals(trading: Trading, stranger: Trading) -> None:
    trading.prices(ICICIBANK=300, KOTAKBANK=500)
    order = filled(trading, "ICICIBANK", "BUY", 2)

    message = refused(trading.call("createtrade", {"orderid": order}), 422)
    assert "stop_loss" in message
    refused(trading.call("createtrade", {"orderid": "no-such-order",
                                         "stop_loss": points(5)}), 404)
    refused(stranger.call("createtrade", {"orderid": order, "stop_loss": points(5)}), 404)

    resting = place(trading, "KOTAKBANK", "BUY", 1, pricetype="LIMIT", price=450)
    trading.order_when(resting, lambda o: o["status"] == "open", "open at the broker")
    message = refused(trading.call("createtrade", {"orderid": resting,
                                                   "stop_loss": points(5)}), 409)
    assert "no fills" in message

    created = ok(trading.call("createtrade", {"orderid": order, "stop_loss": points(5)}))
    assert created["stop_loss"] == "295.00"
    refused(trading.call("createtrade", {"orderid": order, "stop_loss": points(5)}), 409)
    refused(trading.call("createtrade", {"orderid": order, "target": points(5)}), 409)
    mine = [t for t in trading.active() if t["entry_order_id"] == order]
    assert [t["trade_id"] for t in mine] == [created["trade_id"]]
    assert trading.live(int(created["trade_id"])) is not None
    assert stranger.active() == [] and stranger.history() == []  # the stranger sees nothing


def test_createtrade_stop_loss_beyond_the_last_price_is_refused(trading: Trading) -> None:
    """A symbol the trade engine already watches (another trade holds it)."""
    trading.prices(BHARTIARTL=100)
    watcher = ok(trading.call("createtrade", {"orderid": filled(trading, "BHARTIARTL", "BUY", 1),
                                              "stop_loss": points(50)}))
    later = filled(trading, "BHARTIARTL", "BUY", 3)
    trading.prices(BHARTIARTL=85)
    live_at(trading, int(watcher["trade_id"]), "85.00")

    message = refused(trading.call("createtrade", {"orderid": later,
                                                   "stop_loss": points(10)}), 422)
    assert "stop_loss" in message  # 90 is above the last price 85: it would fire at once
    refused(trading.call("createtrade", {"orderid": later, "stop_loss": points(-1)}), 422)
    assert all(t["entry_order_id"] != later for t in trading.active() + trading.history())
    assert ok(trading.call("createtrade", {"orderid": later, "stop_loss": points(20)}))[
        "stop_loss"] == "80.00"


def test_createtrade_stop_loss_beyond_the_last_price_on_a_fresh_symbol(
        trading: Trading) -> None:
    """A symbol no trade watches: the check needs the current price all the same (regression:
    it used the trade engine's prices, which only know watched symbols)."""
    trading.prices(BAJFINANCE=100)
    order = filled(trading, "BAJFINANCE", "BUY", 2)
    trading.prices(BAJFINANCE=85)  # below the stop-loss asked for next (90)
    message = refused(trading.call("createtrade", {"orderid": order,
                                                   "stop_loss": points(10)}), 422)
    assert "stop_loss" in message
    assert all(t["entry_order_id"] != order for t in trading.active() + trading.history())
    assert ok(trading.call("createtrade", {"orderid": order, "stop_loss": points(20)}))[
        "stop_loss"] == "80.00"


def test_createtrade_after_the_symbols_last_trade_closed_uses_the_current_price(
        trading: Trading) -> None:
    """Regression: the trade engine kept a symbol's last price after its last trade closed and
    createtrade checked new levels against that stale price."""
    trading.prices(GRASIM=100)
    first = ok(trading.call("createtrade", {"orderid": filled(trading, "GRASIM", "BUY", 1),
                                            "stop_loss": points(10)}))
    trading.prices(GRASIM=89)
    assert trading.closed(int(first["trade_id"]))["exit_reason"] == "stop_loss"

    trading.prices(GRASIM=120)  # nobody watches GRASIM any more
    order = filled(trading, "GRASIM", "BUY", 2)  # 2, not 1: no identical-signal dedupe
    created = ok(trading.call("createtrade", {"orderid": order, "stop_loss": points(10)}))
    assert (created["entry_price"], created["stop_loss"]) == ("120.00", "110.00")


def test_createtrade_on_a_partly_filled_order_grows_with_its_fills(trading: Trading) -> None:
    trading.prices(JSWSTEEL=101)
    order = place(trading, "JSWSTEEL", "BUY", 6, pricetype="LIMIT", price=100)
    trading.order_when(order, lambda o: o["status"] == "open", "resting at the broker")
    trading.price("JSWSTEEL", 100, volume=2)
    trading.order_when(order, lambda o: o["filled_quantity"] == 2, "2 filled")

    created = ok(trading.call("createtrade", {"orderid": order, "target": points(5)}))
    assert (created["quantity"], created["target"]) == (2, "105.00")
    trading.price("JSWSTEEL", 99.5)
    grown = wait_for(lambda: (lambda t: t if t and t["quantity"] == 6 else None)(
        trading.live(int(created["trade_id"]))), "the trade to grow to 6")
    assert (grown["entry_price"], grown["open_quantity"]) == ("100.00", 6)


# --- activetrades ---------------------------------------------------------------------------


def test_activetrades_live_ltp_and_unrealised_pnl_per_strategy(trading: Trading) -> None:
    strategy = trading.strategy("live-pnl", stop_loss=points(50), target=points(50))
    empty = trading.strategy("live-pnl-empty", stop_loss=points(50))
    trading.prices(MARUTI=300, TITAN=400)
    long_trade = strategy_trade(trading, strategy, "MARUTI", "BUY", 10)
    short_trade = strategy_trade(trading, strategy, "TITAN", "SELL", 5)
    long_id, short_id = int(long_trade["trade_id"]), int(short_trade["trade_id"])

    def snapshot(ltps: tuple[str, str]) -> Json:
        def probe() -> Json | None:
            data = ok(trading.http.get("/api/v1/activetrades",
                                       params={"strategy_id": strategy["id"]}))
            seen = {t["trade_id"]: t["ltp"] for t in data["trades"]}
            return data if (seen.get(long_id), seen.get(short_id)) == ltps else None
        return wait_for(probe, f"prices {ltps}")

    trading.prices(MARUTI=303.5, TITAN=410)
    data = snapshot(("303.50", "410.00"))
    by_id = {t["trade_id"]: t for t in data["trades"]}
    assert set(by_id) == {long_id, short_id}
    assert by_id[long_id]["unrealised_pnl"] == "35.00"  # (303.5 - 300) * 10
    assert by_id[short_id]["unrealised_pnl"] == "-50.00"  # (400 - 410) * 5
    assert data["total_unrealised_pnl"] == "-15.00"
    assert {t["strategy_id"] for t in data["trades"]} == {strategy["id"]}

    trading.prices(MARUTI=298, TITAN=396)
    data = snapshot(("298.00", "396.00"))
    by_id = {t["trade_id"]: t for t in data["trades"]}
    assert by_id[long_id]["unrealised_pnl"] == "-20.00"
    assert by_id[short_id]["unrealised_pnl"] == "20.00"
    assert data["total_unrealised_pnl"] == "0.00"

    posted = ok(trading.call("activetrades", {"strategy_id": strategy["id"]}))
    assert posted == data
    assert ok(trading.call("activetrades", {"strategy_id": empty["id"]})) == {
        "trades": [], "total_unrealised_pnl": "0.00"}
    everything = {t["trade_id"] for t in ok(trading.call("activetrades"))["trades"]}
    assert {long_id, short_id} <= everything


def test_activetrades_authentication(trading: Trading) -> None:
    with httpx.Client(base_url=trading.stack.url, timeout=30) as bare:
        in_body = bare.post("/api/v1/activetrades", json={"apikey": API_KEY})
        header = bare.get("/api/v1/activetrades", headers={"X-API-Key": API_KEY})
        bearer = bare.get("/api/v1/activetrades",
                          headers={"Authorization": f"Bearer {API_KEY}"})
        history = bare.post("/api/v1/tradehistory", json={"apikey": API_KEY})
        for response in (in_body, header, bearer, history):
            assert response.status_code == 200 and response.json()["status"] == "success"
        assert ok(in_body)["trades"] == ok(header)["trades"] == ok(bearer)["trades"]

        bad = bare.post("/api/v1/activetrades", json={"apikey": "tw_not_a_key"})
        assert bad.status_code == 403
        assert bad.json() == {"status": "error", "message": "Invalid openalgo apikey"}
        missing = bare.get("/api/v1/activetrades")
        assert missing.status_code == 403
        assert missing.json()["status"] == "error"


# --- updatetrade ----------------------------------------------------------------------------


def test_updatetrade_tighter_stop_loss_moves_the_exit(trading: Trading) -> None:
    strategy = trading.strategy("upd-sl", stop_loss=points(10), target=points(20))
    trading.prices(ASIANPAINT=100)
    trade = strategy_trade(trading, strategy, "ASIANPAINT", "BUY", 5)
    trade_id = int(trade["trade_id"])
    assert (trade["stop_loss"], trade["target"]) == ("90.00", "120.00")

    updated = ok(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": 95}))
    assert (updated["stop_loss"], updated["target"]) == ("95.00", "120.00")
    live = trading.live(trade_id)
    assert live is not None and live["stop_loss"] == "95.00"

    trading.prices(ASIANPAINT=93)  # between the old stop (90) and the new one (95)
    closed = trading.closed(trade_id)
    assert closed["exit_reason"] == "stop_loss"
    assert closed["exit_price"] == "93.00"
    assert closed["realised_pnl"] == "-35.00"  # (93 - 100) * 5


def test_updatetrade_null_removes_the_target_and_closed_trades_are_final(
        trading: Trading) -> None:
    strategy = trading.strategy("upd-null", stop_loss=points(10), target=points(20))
    trading.prices(CIPLA=100)
    trade_id = int(strategy_trade(trading, strategy, "CIPLA", "BUY", 2)["trade_id"])

    updated = ok(trading.call("updatetrade", {"trade_id": trade_id, "target": None}))
    assert (updated["stop_loss"], updated["target"]) == ("90.00", None)
    trading.prices(CIPLA=125)  # beyond the removed target (120)
    seen = live_at(trading, trade_id, "125.00")
    assert (seen["status"], seen["target"], seen["stop_loss"]) == ("active", None, "90.00")

    ok(trading.call("exittrade", {"trade_id": trade_id}))
    closed = trading.closed(trade_id)
    assert closed["exit_reason"] == "manual_exit"
    refused(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": 100}), 409)


def test_updatetrade_refusals_change_nothing(trading: Trading, stranger: Trading) -> None:
    strategy = trading.strategy("upd-bad", stop_loss=points(10), target=points(20))
    trading.prices(COALINDIA=100)
    trade_id = int(strategy_trade(trading, strategy, "COALINDIA", "BUY", 3)["trade_id"])

    def levels() -> tuple[str | None, str | None, Any]:
        live = trading.live(trade_id)
        assert live is not None
        return live["stop_loss"], live["target"], live["trailing_stop"]

    before = levels()
    assert before == ("90.00", "120.00", None)
    message = refused(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": 115,
                                                   "target": 110}), 422)
    assert "below target" in message
    refused(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": 130}), 422)
    refused(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": 105}), 422)
    refused(trading.call("updatetrade", {"trade_id": trade_id, "target": 95}), 422)
    refused(trading.call("updatetrade", {"trade_id": trade_id}), 422)
    refused(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": -1}), 422)
    refused(stranger.call("updatetrade", {"trade_id": trade_id, "stop_loss": 95}), 404)
    refused(trading.call("updatetrade", {"trade_id": 999_999, "stop_loss": 95}), 404)
    bad_field = trading.call("updatetrade", {"trade_id": "first", "stop_loss": 95})
    refused(bad_field, 422)
    assert [e["loc"] for e in bad_field.json()["errors"]] == [["trade_id"]]
    assert levels() == before

    # a valid change of only the trailing stop leaves the others as they are
    updated = ok(trading.call("updatetrade", {"trade_id": trade_id,
                                              "trailing_stop": points(3)}))
    assert (updated["stop_loss"], updated["target"], updated["trailing_level"]) == (
        "90.00", "120.00", "97.00")


# --- exittrade ------------------------------------------------------------------------------


def test_exittrade_exits_once_at_market(trading: Trading, stranger: Trading) -> None:
    strategy = trading.strategy("manual", stop_loss=points(10))
    trading.prices(SUNPHARMA=100)
    trade_id = int(strategy_trade(trading, strategy, "SUNPHARMA", "BUY", 10)["trade_id"])
    trading.prices(SUNPHARMA=104.5)
    live_at(trading, trade_id, "104.50")

    refused(stranger.call("exittrade", {"trade_id": trade_id}), 404)
    refused(trading.call("exittrade", {"trade_id": 999_999}), 404)
    response = trading.call("exittrade", {"trade_id": trade_id})
    data = ok(response)
    assert response.json()["message"] == "exit order placed"
    assert data["status"] == "exiting"
    refused(trading.call("exittrade", {"trade_id": trade_id}), 409)

    closed = trading.closed(trade_id)
    assert closed["exit_reason"] == "manual_exit"
    assert closed["exit_price"] == "104.50"
    assert closed["realised_pnl"] == "45.00"  # (104.5 - 100) * 10
    assert closed["status"] == "closed" and closed["open_quantity"] == 0
    assert trading.live(trade_id) is None
    refused(trading.call("exittrade", {"trade_id": trade_id}), 409)

    exits = trading.exits_at_broker("SUNPHARMA", "SELL")
    assert [(o["quantity"], o["filled_quantity"]) for o in exits] == [(10, 10)]
    exit_order = trading.stack.order(str(closed["exit_order_id"]))
    assert (exit_order["origin"], exit_order["execution_type"]) == ("trade_exit", "exit")
    message = refused(trading.call("createtrade", {"orderid": exit_order["orderid"],
                                                   "stop_loss": points(5)}), 409)
    assert "not an entry order" in message


# --- tradehistory ---------------------------------------------------------------------------


def test_tradehistory_filters_and_totals(trading: Trading) -> None:
    strategy = trading.strategy("hist", stop_loss=points(10), target=points(10))
    other = trading.strategy("hist-other", stop_loss=points(10), target=points(10))
    trading.prices(TECHM=100, NTPC=200, ONGC=50)
    winner = int(strategy_trade(trading, strategy, "TECHM", "BUY", 2)["trade_id"])
    loser = int(strategy_trade(trading, strategy, "NTPC", "BUY", 3)["trade_id"])
    elsewhere = int(strategy_trade(trading, other, "ONGC", "SELL", 4)["trade_id"])
    trading.prices(TECHM=110.5, NTPC=189, ONGC=39)
    for trade_id in (winner, loser, elsewhere):
        trading.closed(trade_id)

    mine = ok(trading.http.get("/api/v1/tradehistory", params={"strategy_id": strategy["id"]}))
    by_id = {t["trade_id"]: t for t in mine["trades"]}
    assert set(by_id) == {winner, loser}
    assert (by_id[winner]["exit_reason"], by_id[winner]["realised_pnl"]) == ("target", "21.00")
    assert (by_id[loser]["exit_reason"], by_id[loser]["realised_pnl"]) == ("stop_loss", "-33.00")
    assert mine["total_realised_pnl"] == "-12.00"
    theirs = ok(trading.call("tradehistory", {"strategy_id": other["id"]}))
    assert [t["trade_id"] for t in theirs["trades"]] == [elsewhere]
    assert theirs["total_realised_pnl"] == "44.00"  # (50 - 39) * 4, a short

    today, tomorrow, yesterday = ist_today(), ist_day(1), ist_day(-1)
    dated = ok(trading.http.get("/api/v1/tradehistory", params={
        "strategy_id": strategy["id"], "from_date": today, "to_date": today}))
    assert {t["trade_id"] for t in dated["trades"]} == {winner, loser}
    assert ok(trading.call("tradehistory", {"from_date": yesterday, "to_date": today,
                                            "strategy_id": strategy["id"]})) == dated
    assert ok(trading.call("tradehistory", {"from_date": tomorrow})) == {
        "trades": [], "total_realised_pnl": "0.00"}
    assert ok(trading.call("tradehistory", {"to_date": yesterday})) == {
        "trades": [], "total_realised_pnl": "0.00"}

    everything = ok(trading.call("tradehistory", {"from_date": today}))
    ids = [t["trade_id"] for t in everything["trades"]]
    assert {winner, loser, elsewhere} <= set(ids)
    assert all(t["status"] == "closed" for t in everything["trades"])
    assert Decimal(everything["total_realised_pnl"]) == sum(
        Decimal(t["realised_pnl"]) for t in everything["trades"])

    message = refused(trading.call("tradehistory", {"from_date": today,
                                                    "to_date": yesterday}), 422)
    assert "from_date" in message
    refused(trading.http.get("/api/v1/tradehistory", params={"from_date": "2026-13-01"}), 422)


# --- partial entry fills --------------------------------------------------------------------


def test_partial_entry_fills_size_the_trade(trading: Trading) -> None:
    strategy = trading.strategy("partial", stop_loss=points(20))
    trading.prices(HINDALCO=101)
    leg = trading.entry(strategy, "HINDALCO", "BUY", 10, pricetype="LIMIT", price=100)
    assert leg["status"] != "denied", leg
    order_id = str(leg["orderid"])
    trading.order_when(order_id, lambda o: o["status"] == "open", "resting at the broker")

    trading.price("HINDALCO", 100, volume=4)
    trade = trading.trade_of(order_id)
    trade_id = int(trade["trade_id"])
    assert (trade["quantity"], trade["entry_price"], trade["stop_loss"]) == (4, "100.00", "80.00")
    trading.order_when(order_id, lambda o: o["status"] == "partially_filled"
                       and o["filled_quantity"] == 4, "partly filled")

    trading.price("HINDALCO", 99.5, volume=3)
    grown = wait_for(lambda: (lambda t: t if t and t["quantity"] == 7 else None)(
        trading.live(trade_id)), "the trade to grow to 7")
    assert (grown["open_quantity"], grown["entry_price"]) == (7, "100.00")

    trading.price("HINDALCO", 99)
    full = wait_for(lambda: (lambda t: t if t and (t["quantity"], t["ltp"]) == (10, "99.00")
                             else None)(trading.live(trade_id)), "the trade to grow to 10")
    assert full["unrealised_pnl"] == "-10.00"  # (99 - 100) * 10
    trading.order_when(order_id, lambda o: o["status"] == "filled", "filled")
    assert [t["trade_id"] for t in trading.active(int(strategy["id"]))] == [trade_id]


def test_exit_of_a_partly_filled_trade_cancels_the_entrys_rest(trading: Trading) -> None:
    strategy = trading.strategy("partial-exit", stop_loss=points(20))
    trading.prices(EICHERMOT=201)
    leg = trading.entry(strategy, "EICHERMOT", "BUY", 10, pricetype="LIMIT", price=200)
    assert leg["status"] != "denied", leg
    order_id = str(leg["orderid"])
    trading.order_when(order_id, lambda o: o["status"] == "open", "resting at the broker")
    trading.price("EICHERMOT", 200, volume=4)
    trade_id = int(trading.trade_of(order_id)["trade_id"])
    trading.price("EICHERMOT", 202)
    live_at(trading, trade_id, "202.00")

    ok(trading.call("exittrade", {"trade_id": trade_id}))
    closed = trading.closed(trade_id)
    assert (closed["quantity"], closed["exit_reason"], closed["realised_pnl"]) == (
        4, "manual_exit", "8.00")  # (202 - 200) * 4
    entry = trading.order_when(order_id, lambda o: o["status"] == "cancelled",
                               "the entry's rest to be cancelled")
    assert entry["filled_quantity"] == 4
    assert [o["quantity"] for o in trading.exits_at_broker("EICHERMOT", "SELL")] == [4]
    trading.price("EICHERMOT", 199)  # would have filled the rest, had it stayed
    assert trading.stack.order(order_id)["filled_quantity"] == 4
