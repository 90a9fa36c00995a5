"""The control API contract (BRIEF §5): shapes, and 4xx (never 5xx) for bad input."""

from __future__ import annotations

import pytest

from tests.brokers.conftest import Control

ORDER_FIELDS = {
    "broker_order_id",
    "account",
    "exchange",
    "symbol",
    "side",
    "quantity",
    "filled_quantity",
    "average_price",
    "price",
    "trigger_price",
    "order_type",
    "product",
    "variety",
    "status",
    "tag",
}


def test_orders_have_exactly_the_contract_fields(control: Control) -> None:
    control.session("open")
    control.prices({"NSE:RELIANCE": 2501.35})
    placed = control.post(
        "/control/manual/orders",
        {
            "account": "acc-1",
            "exchange": "NSE",
            "symbol": "RELIANCE",
            "side": "BUY",
            "quantity": 2,
            "order_type": "MARKET",
            "price": None,
            "trigger_price": None,
            "product": "CNC",
        },
    )
    assert set(placed) == {"broker_order_id"}
    (row,) = control.orders()
    assert set(row) == ORDER_FIELDS
    assert row == {
        "broker_order_id": placed["broker_order_id"],
        "account": "acc-1",
        "exchange": "NSE",
        "symbol": "RELIANCE",
        "side": "BUY",
        "quantity": 2,
        "filled_quantity": 2,
        "average_price": 2501.35,
        "price": None,
        "trigger_price": None,
        "order_type": "MARKET",
        "product": "CNC",
        "variety": "regular",
        "status": "COMPLETE",
        "tag": None,
    }
    assert control.orders("other") == []
    (position,) = control.get("/control/positions", account="acc-1")["positions"]
    assert (position["symbol"], position["quantity"], position["average_price"]) == (
        "RELIANCE",
        2,
        2501.35,
    )


def test_clock_session_and_now(control: Control) -> None:
    assert control.get("/control/clock")["session"] == "closed"
    assert control.session("pre_open")["session"] == "pre_open"
    state = control.post("/control/clock", {"now": "2026-11-23T09:15:00+05:30"})
    assert state["session"] == "open" and state["now"].startswith("2026-11-23T03:45")
    assert (
        control.post("/control/clock", {"now": "2026-11-23T10:00:00+05:30", "session": "closed"})[
            "session"
        ]
        == "closed"
    )


def test_accounts_set_cash_and_manual_holdings(control: Control) -> None:
    funds = control.post("/control/accounts", {"account": "rich", "cash": 5_000_000})
    assert funds["cash"] == 5_000_000 and funds["available"] == 5_000_000
    control.post(
        "/control/manual/holdings",
        {"account": "rich", "symbol": "SBIN-EQ", "exchange": "NSE", "quantity": 7},
    )
    (row,) = control.get("/control/holdings", account="rich")["holdings"]
    assert (row["symbol"], row["quantity"]) == ("SBIN", 7)


def test_reset_clears_everything(control: Control) -> None:
    control.session("open")
    control.prices({"NSE:SBIN": 800})
    first = control.post(
        "/control/manual/orders", {"account": "a", "symbol": "SBIN", "side": "BUY", "quantity": 1}
    )
    control.faults(rate_limit=1)
    control.reset()
    assert control.orders() == []
    again = control.post(
        "/control/manual/orders", {"account": "a", "symbol": "SBIN", "side": "BUY", "quantity": 1}
    )
    assert again["broker_order_id"] != first["broker_order_id"]  # ids are never reused
    control.reset()
    assert control.get("/control/clock")["session"] == "closed"
    assert control.get("/control/faults")["faults"]["rate_limit"] == 0
    assert control.get("/control/positions")["positions"] == []


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/control/clock", {}, 400),
        ("/control/clock", {"session": "lunch"}, 400),
        ("/control/clock", {"now": "yesterday"}, 400),
        ("/control/clock", {"now": "2026-11-23T09:15:00"}, 400),
        ("/control/clock", [1, 2], 400),
        ("/control/prices", {"prices": {}}, 400),
        ("/control/prices", {"prices": {"RELIANCE": 1}}, 400),
        ("/control/prices", {"prices": {"NSE:RELIANCE": -5}}, 400),
        ("/control/prices", {"prices": {"NSE:RELIANCE": "NaN"}}, 400),
        ("/control/prices", {"prices": {"NSE:RELIANCE": 1}, "volume": -1}, 400),
        ("/control/prices", {"prices": {"NFO:NOSUCH01JAN99FUT": 1}}, 400),
        ("/control/accounts", {"account": "", "cash": 1}, 400),
        ("/control/accounts", {"account": "a", "cash": "lots"}, 400),
        ("/control/accounts", {"account": "a/b", "cash": 1}, 400),
        (
            "/control/manual/orders",
            {"account": "a", "symbol": "SBIN", "side": "HOLD", "quantity": 1},
            400,
        ),
        (
            "/control/manual/orders",
            {"account": "a", "symbol": "SBIN", "side": "BUY", "quantity": 0},
            400,
        ),
        (
            "/control/manual/orders",
            {"account": "a", "symbol": "SBIN", "side": "BUY", "quantity": 1, "order_type": "LIMIT"},
            400,
        ),
        (
            "/control/manual/orders",
            {"account": "a", "exchange": "NFO", "symbol": "NOPE", "side": "BUY", "quantity": 1},
            400,
        ),
        ("/control/manual/cancel", {"broker_order_id": "999"}, 404),
        ("/control/manual/cancel", {}, 400),
        ("/control/manual/modify", {"broker_order_id": "999", "price": 1}, 404),
        ("/control/manual/modify", {"broker_order_id": "999"}, 400),
        ("/control/manual/holdings", {"account": "a", "symbol": "SBIN", "quantity": -1}, 400),
        ("/control/faults", {"timeout": 2}, 400),
        ("/control/faults", {"timout": 0.5}, 400),
        ("/control/faults", {"latency_ms": [50]}, 400),
        ("/control/faults", {"drop_stream": "yes"}, 400),
    ],
)
def test_bad_input_is_a_clear_4xx(control: Control, path: str, body: object, status: int) -> None:
    response = control.http.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


def test_cancelling_a_final_order_is_a_conflict(control: Control) -> None:
    rejected = control.post(
        "/control/manual/orders",
        {"account": "a", "symbol": "SBIN", "side": "BUY", "quantity": 1, "variety": "regular"},
    )
    assert control.order(rejected["broker_order_id"])["status"] == "REJECTED"  # market closed
    response = control.http.post("/control/manual/cancel", json=rejected)
    assert response.status_code == 409
    assert "cannot be cancelled" in response.json()["error"]["message"]


def test_non_json_and_unknown_paths(control: Control) -> None:
    response = control.http.post(
        "/control/prices", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert control.http.get("/control/nothing").status_code == 404
    assert control.http.get("/control/reset").status_code == 405
