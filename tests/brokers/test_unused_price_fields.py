"""A price field the order type does not use may be sent as ``0`` (brokers and OpenAlgo clients
do), on the control API and on the broker-facing order API; a ``0`` the type needs is a 400."""

from __future__ import annotations

from typing import Any

import pytest

from tests.brokers.conftest import Control

ORDER = {"account": "acc-z", "exchange": "NSE", "symbol": "SBIN", "side": "BUY", "quantity": 1,
         "product": "CNC"}
UNUSED_ZEROS = [
    ({"order_type": "LIMIT", "price": 800, "trigger_price": 0}, "OPEN"),
    ({"order_type": "MARKET", "price": 0, "trigger_price": 0}, "COMPLETE"),
    ({"order_type": "SL-M", "price": 0, "trigger_price": 850}, "TRIGGER PENDING"),
]


def _assert_unused_are_none(order_type: str, row: dict[str, Any]) -> None:
    used = {"LIMIT": "price", "SL-M": "trigger_price"}.get(order_type)
    assert all(row[name] is None for name in {"price", "trigger_price"} - {used}), row


def _open_market(control: Control) -> None:
    control.session("open")
    control.prices({"NSE:SBIN": 810})


@pytest.mark.parametrize(("fields", "status"), UNUSED_ZEROS)
def test_control_order_takes_zero_for_an_unused_price(
    control: Control, fields: dict[str, Any], status: str
) -> None:
    _open_market(control)
    placed = control.post("/control/manual/orders", {**ORDER, **fields})
    row = control.order(placed["broker_order_id"])
    assert row["status"] == status
    _assert_unused_are_none(fields["order_type"], row)


@pytest.mark.parametrize(("fields", "status"), UNUSED_ZEROS)
def test_wire_order_takes_zero_for_an_unused_price(
    control: Control, fields: dict[str, Any], status: str
) -> None:
    _open_market(control)
    body = {k: v for k, v in {**ORDER, **fields}.items() if k != "account"}
    body = {k: (str(v) if k in ("price", "trigger_price") else v) for k, v in body.items()}
    response = control.http.post("/api/accounts/acc-z/orders", json=body)
    assert response.status_code == 200, response.text
    row = control.order(response.json()["broker_order_id"])
    assert row["status"] == status
    _assert_unused_are_none(fields["order_type"], row)


def test_zero_for_a_used_price_is_still_refused(control: Control) -> None:
    _open_market(control)
    for fields in ({"order_type": "LIMIT", "price": 0},
                   {"order_type": "SL-M", "trigger_price": 0}):
        response = control.http.post("/control/manual/orders", json={**ORDER, **fields})
        assert response.status_code == 400, response.text
        wire = {k: v for k, v in {**ORDER, **fields}.items() if k != "account"}
        response = control.http.post("/api/accounts/acc-z/orders", json=wire)
        assert response.status_code == 400, response.text
    assert control.orders() == []


def test_modify_takes_zero_for_an_unused_price(control: Control) -> None:
    _open_market(control)
    placed = control.post("/control/manual/orders",
                          {**ORDER, "order_type": "LIMIT", "price": 800})
    order_id = placed["broker_order_id"]
    control.post("/control/manual/modify",
                 {"broker_order_id": order_id, "price": 801, "trigger_price": 0})
    response = control.http.patch(f"/api/accounts/acc-z/orders/{order_id}",
                                  json={"price": "802", "trigger_price": "0"})
    assert response.status_code == 200, response.text
    row = control.order(order_id)
    assert (row["price"], row["trigger_price"], row["status"]) == (802, None, "OPEN")


def test_modify_with_zero_for_a_used_price_is_refused(control: Control) -> None:
    _open_market(control)
    placed = control.post("/control/manual/orders",
                          {**ORDER, "order_type": "LIMIT", "price": 800})
    order_id = placed["broker_order_id"]
    response = control.http.post("/control/manual/modify",
                                 json={"broker_order_id": order_id, "price": 0})
    assert 400 <= response.status_code < 500, response.text
    wire = control.http.patch(f"/api/accounts/acc-z/orders/{order_id}", json={"price": "0"})
    assert 400 <= wire.status_code < 500, wire.text
    assert control.order(order_id)["price"] == 800
