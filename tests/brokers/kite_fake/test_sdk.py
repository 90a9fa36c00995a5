"""The Kite fake checked with the official ``kiteconnect`` SDK (sync, over real HTTP)."""

from __future__ import annotations

import pytest
from kiteconnect import KiteConnect, exceptions

from tests.brokers.kite_fake.conftest import API_KEY, API_SECRET, USER, FakeServer, checksum
from tradewarden.brokers.base import SessionName


def test_login_with_checksum_returns_a_session(fake: FakeServer) -> None:
    client = KiteConnect(api_key=API_KEY, root=fake.url, timeout=5)
    session = client.generate_session(fake.request_token(), api_secret=API_SECRET)
    assert session["user_id"] == USER
    assert session["api_key"] == API_KEY
    assert client.access_token == session["access_token"]
    assert client.profile()["user_id"] == USER


def test_a_wrong_checksum_or_a_spent_request_token_is_a_token_exception(
    fake: FakeServer,
) -> None:
    client = KiteConnect(api_key=API_KEY, root=fake.url, timeout=5)
    token = fake.request_token()
    with pytest.raises(exceptions.TokenException):
        client.generate_session(token, api_secret="not-the-secret")
    client.generate_session(token, api_secret=API_SECRET)
    with pytest.raises(exceptions.TokenException):
        client.generate_session(token, api_secret=API_SECRET)


def test_the_raw_login_answers_in_kites_envelope(fake: FakeServer) -> None:
    import httpx

    token = fake.request_token()
    response = httpx.post(
        f"{fake.url}/session/token",
        data={"api_key": API_KEY, "request_token": token, "checksum": checksum(token)},
        headers={"X-Kite-Version": "3"},
    )
    body = response.json()
    assert body["status"] == "success"
    assert len(body["data"]["login_time"]) == 19
    bad = httpx.get(
        f"{fake.url}/user/profile",
        headers={"X-Kite-Version": "3", "Authorization": f"token {API_KEY}:wrong"},
    )
    assert bad.status_code == 403
    assert bad.json() == {
        "status": "error",
        "message": "Incorrect `api_key` or `access_token`.",
        "data": None,
        "error_type": "TokenException",
    }


def test_regular_order_with_tag_fills_and_reads_back(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("prices", {"prices": {"NSE:INFY": 1500}})
    order_id = kite.place_order(
        variety=kite.VARIETY_REGULAR,
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="BUY",
        quantity=3,
        product="CNC",
        order_type="MARKET",
        market_protection=-1,
        tag="TW12345678901234567A",
    )
    assert order_id.isdigit() and len(order_id) == 15
    history = kite.order_history(order_id)
    statuses = [h["status"] for h in history]
    assert statuses[0] == "PUT ORDER REQ RECEIVED"
    assert statuses[-1] == "COMPLETE"
    assert all(h["tag"] == "TW12345678901234567A" for h in history)
    book = {o["order_id"]: o for o in kite.orders()}
    order = book[order_id]
    assert order["filled_quantity"] == 3 and order["average_price"] == 1500
    assert order["order_timestamp"].year >= 2026  # the SDK parsed "YYYY-MM-DD HH:MM:SS"
    trades = kite.order_trades(order_id)
    assert [(t["quantity"], t["average_price"]) for t in trades] == [(3, 1500)]
    assert [t["order_id"] for t in kite.trades()] == [order_id]
    positions = kite.positions()
    assert [(p["tradingsymbol"], p["quantity"]) for p in positions["net"]] == [("INFY", 3)]
    equity = kite.margins()["equity"]
    assert equity["available"]["cash"] == pytest.approx(500000 - 4500)


def test_modify_then_cancel_a_limit_order(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("prices", {"prices": {"NSE:SBIN": 800}})
    order_id = kite.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="SBIN",
        transaction_type="BUY",
        quantity=10,
        product="MIS",
        order_type="LIMIT",
        price=790,
        tag="TWLIMIT1",
    )
    assert kite.order_history(order_id)[-1]["status"] == "OPEN"
    assert kite.modify_order("regular", order_id, price=795, quantity=5) == order_id
    latest = kite.order_history(order_id)[-1]
    assert (latest["status"], latest["price"], latest["quantity"]) == ("OPEN", 795, 5)
    assert latest["modified"] is True
    assert kite.cancel_order("regular", order_id) == order_id
    latest = kite.order_history(order_id)[-1]
    assert latest["status"] == "CANCELLED" and latest["cancelled_quantity"] == 5


def test_amo_waits_for_the_open(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("clock", {"session": "closed"})
    order_id = kite.place_order(
        variety="amo",
        exchange="NSE",
        tradingsymbol="TCS",
        transaction_type="BUY",
        quantity=1,
        product="CNC",
        order_type="LIMIT",
        price=3000,
        tag="TWAMO1",
    )
    order = kite.order_history(order_id)[-1]
    assert (order["status"], order["variety"], order["tag"]) == (
        "AMO REQ RECEIVED",
        "amo",
        "TWAMO1",
    )
    assert order["exchange_order_id"] is None
    fake.state.exchange.set_session(SessionName.OPEN)
    fake.control("prices", {"prices": {"NSE:TCS": 2990}})
    assert kite.order_history(order_id)[-1]["status"] == "COMPLETE"


def test_rejection_keeps_the_message(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("prices", {"prices": {"NSE:RELIANCE": 1500}})
    order_id = kite.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="RELIANCE",
        transaction_type="BUY",
        quantity=5000,
        product="CNC",
        order_type="LIMIT",
        price=1500,
    )
    order = kite.order_history(order_id)[-1]
    assert order["status"] == "REJECTED"
    assert "margin" in order["status_message"].lower()


def test_bad_input_is_an_input_exception(kite: KiteConnect) -> None:
    with pytest.raises(exceptions.InputException):
        kite.place_order(
            variety="regular",
            exchange="NSE",
            tradingsymbol="RELIANC",
            transaction_type="BUY",
            quantity=1,
            product="CNC",
            order_type="LIMIT",
            price=100,
        )
    with pytest.raises(exceptions.InputException, match="market protection"):
        kite.place_order(
            variety="regular",
            exchange="NSE",
            tradingsymbol="INFY",
            transaction_type="BUY",
            quantity=1,
            product="CNC",
            order_type="MARKET",
        )
    with pytest.raises(exceptions.InputException, match="tag"):
        kite.place_order(
            variety="regular",
            exchange="NSE",
            tradingsymbol="INFY",
            transaction_type="BUY",
            quantity=1,
            product="CNC",
            order_type="LIMIT",
            price=100,
            tag="x" * 21,
        )


def test_expired_session_is_a_token_exception_until_login(
    fake: FakeServer, kite: KiteConnect
) -> None:
    fake.control("sessions/expire", {"user_id": USER})
    with pytest.raises(exceptions.TokenException):
        kite.orders()
    kite.generate_session(fake.request_token(), api_secret=API_SECRET)
    assert kite.orders() == []


def test_ltp_quote_and_instruments(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("prices", {"prices": {"NSE:INFY": 1512.35}})
    ltp = kite.ltp("NSE:INFY", "NSE:NOSUCH")
    assert list(ltp) == ["NSE:INFY"]
    assert ltp["NSE:INFY"]["last_price"] == 1512.35
    token = ltp["NSE:INFY"]["instrument_token"]
    assert token & 0xFF == 1  # NSE's segment in the token's low byte
    quote = kite.quote(str(token))
    assert quote[str(token)]["ohlc"]["close"] == 1512.35
    rows = kite.instruments()
    by_symbol = {(r["exchange"], r["tradingsymbol"]): r for r in rows}
    infy = by_symbol[("NSE", "INFY")]
    assert infy["instrument_token"] == token and infy["tick_size"] == 0.05
    assert infy["instrument_type"] == "EQ" and infy["segment"] == "NSE"
    futures = [r for r in rows if r["segment"] == "NFO-FUT" and r["name"] == "NIFTY"]
    assert futures and all(r["tradingsymbol"].endswith("FUT") for r in futures)
    assert all(r["lot_size"] > 1 and r["expiry"] is not None for r in futures)
    options = [r for r in rows if r["segment"] == "NFO-OPT" and r["name"] == "NIFTY"]
    assert {r["instrument_type"] for r in options} == {"CE", "PE"}
    assert all(r["strike"] > 0 for r in options)
    assert [r["exchange"] for r in kite.instruments("BSE")][:1] == ["BSE"]


def test_holdings_and_manual_cancel_at_the_kite_app(fake: FakeServer, kite: KiteConnect) -> None:
    assert kite.holdings() == []
    fake.control("prices", {"prices": {"NSE:SBIN": 800}})
    order_id = kite.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="SBIN",
        transaction_type="BUY",
        quantity=1,
        product="CNC",
        order_type="LIMIT",
        price=700,
        tag="TWMANUAL1",
    )
    fake.control("manual/cancel", {"order_id": order_id})
    assert kite.order_history(order_id)[-1]["status"] == "CANCELLED"
    with pytest.raises(exceptions.OrderException):
        kite.cancel_order("regular", order_id)


def test_login_page_redirects_with_a_request_token_and_logout_ends_the_session(
    fake: FakeServer,
) -> None:
    import httpx

    fake.control("users", {"user_id": USER, "redirect_url": "http://127.0.0.1:1/callback"})
    page = httpx.get(
        f"{fake.url}/connect/login",
        params={"v": "3", "api_key": API_KEY, "redirect_params": "account=kite1"},
    )
    assert page.status_code == 302
    target = httpx.URL(page.headers["location"])
    assert target.path == "/callback" and target.params["account"] == "kite1"
    assert target.params["status"] == "success"
    client = KiteConnect(api_key=API_KEY, root=fake.url, timeout=5)
    client.generate_session(target.params["request_token"], api_secret=API_SECRET)
    assert client.invalidate_access_token() is True
    with pytest.raises(exceptions.TokenException):
        client.profile()


def test_instruments_csv_has_kites_columns(fake: FakeServer) -> None:
    import httpx

    response = httpx.get(f"{fake.url}/instruments/NSE", headers={"X-Kite-Version": "3"})
    assert response.headers["content-type"].startswith("text/csv")
    header = response.text.splitlines()[0]
    assert header == (
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
        "tick_size,lot_size,instrument_type,segment,exchange"
    )


def test_stop_loss_waits_in_trigger_pending_then_fills(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("prices", {"prices": {"NSE:SBIN": 800}})
    order_id = kite.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="SBIN",
        transaction_type="SELL",
        quantity=1,
        product="MIS",
        order_type="SL-M",
        trigger_price=790,
        market_protection=-1,
        tag="TWSTOP1",
    )
    assert kite.order_history(order_id)[-1]["status"] == "TRIGGER PENDING"
    fake.control("prices", {"prices": {"NSE:SBIN": 789}})
    order = kite.order_history(order_id)[-1]
    assert (order["status"], order["average_price"], order["trigger_price"]) == (
        "COMPLETE",
        789,
        790,
    )
