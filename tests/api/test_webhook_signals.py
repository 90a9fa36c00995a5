"""Webhook signals: the execution type in every accepted shape, unfilled TradingView
placeholders, and field errors that read once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Server
from tests.api.test_webhooks import _counts, _post, _strategy
from tradewarden.domain.instruments import InstrumentKey


def _order(server: Server, order_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = server.client().get(f"/api/v1/orders/{order_id}").json()
    return detail


def _wait_filled(server: Server, order_id: str) -> None:
    server.wait_for(lambda: _order(server, order_id)["status"] == "filled")


def _hold_infy(server: Server, **strategy_fields: Any) -> dict[str, Any]:
    """A strategy (max one open position) that holds 5 INFY, bought through its webhook."""
    server.simulator.exchange.set_prices({InstrumentKey("NSE", "INFY"): Decimal("1500")})
    strategy = _strategy(server, settings={"max_open_positions": 1}, **strategy_fields)
    entry = _post(server, strategy["webhook_token"], {
        "symbol": "INFY", "exchange": "NSE", "action": "BUY", "quantity": 5,
        "secret_key": strategy["webhook_secret"]})
    assert entry.status_code == 200, entry.text
    (leg,) = entry.json()["orders"]
    _wait_filled(server, leg["orderid"])
    return strategy


def test_flat_exit_reduces_then_closes_the_position(server: Server) -> None:
    strategy = _hold_infy(server)
    token, secret = strategy["webhook_token"], strategy["webhook_secret"]
    # a flat exit (with an action, as TradingView templates send it) reduces the position:
    # not an entry, so neither "already holds INFY" nor "maximum is 1 open position" applies
    partial = _post(server, token, {"execution_type": "exit", "symbol": "INFY",
                                    "exchange": "NSE", "action": "SELL", "quantity": 2,
                                    "secret_key": secret})
    assert partial.status_code == 200, partial.text
    (leg,) = partial.json()["orders"]
    assert leg["status"] != "denied", leg
    detail = _order(server, leg["orderid"])
    assert (detail["side"], detail["quantity"], detail["execution_type"]) == ("SELL", 2, "exit")
    _wait_filled(server, leg["orderid"])
    # "Exit" in any case, and without a quantity: what is left of the position
    rest = _post(server, token, {"execution_type": "Exit", "symbol": "INFY", "exchange": "NSE",
                                 "action": "SELL", "secret_key": secret})
    assert rest.status_code == 200, rest.text
    (leg,) = rest.json()["orders"]
    detail = _order(server, leg["orderid"])
    assert (detail["side"], detail["quantity"], detail["execution_type"]) == ("SELL", 3, "exit")
    _wait_filled(server, leg["orderid"])
    # the position is closed: a further exit has nothing to exit, and writes nothing
    before = _counts(server)
    again = _post(server, token, {"execution_type": "exit", "symbol": "INFY", "exchange": "NSE",
                                  "action": "SELL", "secret_key": secret})
    assert again.status_code == 422 and "holds no INFY" in again.json()["message"]
    assert _counts(server) == before


def test_legs_exit_still_works(server: Server) -> None:
    strategy = _hold_infy(server)
    answer = _post(server, strategy["webhook_token"], {
        "execution_type": "exit", "secret_key": strategy["webhook_secret"],
        "legs": [{"symbol": "INFY", "exchange": "NSE"}]})
    assert answer.status_code == 200, answer.text
    (leg,) = answer.json()["orders"]
    detail = _order(server, leg["orderid"])
    assert (detail["side"], detail["quantity"], detail["execution_type"]) == ("SELL", 5, "exit")
    assert detail["status"] != "denied"


def test_smart_alert_declared_exit_must_reduce(server: Server) -> None:
    strategy = _hold_infy(server)
    token, secret = strategy["webhook_token"], strategy["webhook_secret"]
    before = _counts(server)
    growing = _post(server, token, {"execution_type": "exit", "symbol": "INFY",
                                    "exchange": "NSE", "action": "BUY", "position_size": 8,
                                    "secret_key": secret})
    assert growing.status_code == 422, growing.text
    assert "execution_type" in growing.json()["message"]
    assert _counts(server) == before
    closing = _post(server, token, {"execution_type": "exit", "symbol": "INFY",
                                    "exchange": "NSE", "action": "SELL", "position_size": 0,
                                    "secret_key": secret})
    assert closing.status_code == 200, closing.text
    (leg,) = closing.json()["orders"]
    detail = _order(server, leg["orderid"])
    assert (detail["side"], detail["quantity"], detail["execution_type"]) == ("SELL", 5, "exit")


@pytest.mark.parametrize("shape", ["flat", "smart", "legs"])
@pytest.mark.parametrize("value", ["sideways", "exti", "", 1, ["exit"]])
def test_unknown_execution_type_is_refused(server: Server, shape: str, value: object) -> None:
    strategy = _strategy(server)
    leg = {"symbol": "SBIN", "exchange": "NSE", "action": "SELL", "quantity": 1}
    body: dict[str, Any] = {"execution_type": value, "secret_key": strategy["webhook_secret"]}
    if shape == "legs":
        body["legs"] = [leg]
    else:
        body.update(leg, **({"position_size": -1} if shape == "smart" else {}))
    response = _post(server, strategy["webhook_token"], body)
    assert response.status_code == 422, response.text
    assert response.json()["message"] == "execution_type: must be entry or exit"
    assert _counts(server) == 0


@pytest.mark.parametrize(
    ("field", "placeholder", "where"),
    [
        ("action", "{{strategy.order.action}}", "action"),
        ("quantity", "{{strategy.order.contracts}}", "quantity"),
        ("symbol", "NSE:{{ticker}}", "symbol"),
        ("execution_type", "{{strategy.market_position}}", "execution_type"),
        ("position_size", "{{strategy.position_size}}", "position_size"),
        ("legs", "{{plot_0}}", "legs.0.price"),
    ],
)
def test_unfilled_placeholder_is_named(server: Server, field: str, placeholder: str,
                                       where: str) -> None:
    strategy = _strategy(server)
    body: dict[str, Any] = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1,
                            "secret_key": strategy["webhook_secret"]}
    if field == "legs":
        body = {"secret_key": strategy["webhook_secret"], "legs": [
            {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1,
             "pricetype": "LIMIT", "price": placeholder}]}
    else:
        body[field] = placeholder
    response = _post(server, strategy["webhook_token"], body)
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    token = placeholder[placeholder.index("{{"):]
    assert message.startswith(f"{where}: the placeholder {token} ")
    assert "was not filled in by TradingView" in message
    assert _counts(server) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "HOLD"}, "action: must be one of BUY, SELL"),
        ({"exchange": "XYZ"}, "exchange: must be one of "),
        ({"quantity": "-3"}, "quantity: must be at least 1"),
        ({"quantity": "2.5"}, "quantity: must be a whole number"),
        ({"pricetype": "LIMIT", "price": "-1"}, "price: must be a number >= 0"),
        ({"pricetype": "SL", "trigger_price": "abc"}, "trigger_price: must be a number"),
        ({"product": "X"}, "product: must be one of "),
    ],
)
def test_field_errors_read_once(server: Server, body: dict[str, Any], message: str) -> None:
    strategy = _strategy(server)
    good = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1,
            "secret_key": strategy["webhook_secret"]}
    response = _post(server, strategy["webhook_token"], {**good, **body})
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith(message)
    assert _counts(server) == 0


def test_openalgo_field_errors_read_once(server: Server) -> None:
    response = server.openalgo("placeorder", strategy="s", symbol="SBIN", exchange="NSE",
                               action="HOLD", quantity="1", pricetype="MARKET", product="MIS")
    assert response.status_code == 400
    assert response.json()["message"] == "action: must be one of BUY, SELL"
    response = server.openalgo("placeorder", strategy="s", symbol="SBIN", exchange="NSE",
                               action="{{strategy.order.action}}", quantity="1")
    assert response.status_code == 400
    assert "{{strategy.order.action}} was not filled in by TradingView" in (
        response.json()["message"])
    assert _counts(server) == 0


@pytest.mark.parametrize("shape", ["flat", "smart"])
def test_an_exit_whose_action_does_not_close_the_position_is_refused(server: Server,
                                                                      shape: str) -> None:
    strategy = _hold_infy(server)  # long 5
    token, secret = strategy["webhook_token"], strategy["webhook_secret"]
    before = _counts(server)
    # a "BUY exit" is for a short: it must not sell the long the strategy now holds
    body: dict[str, Any] = {"execution_type": "exit", "symbol": "INFY", "exchange": "NSE",
                            "action": "BUY", "secret_key": secret}
    if shape == "smart":
        body["position_size"] = 0
    refused = _post(server, token, body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["message"] == (
        "legs.0.action: BUY does not close the strategy's INFY (+5): an exit of a long "
        "is a SELL")
    assert _counts(server) == before
    # the closing side is accepted
    closing = _post(server, token, {**body, "action": "SELL"})
    assert closing.status_code == 200, closing.text
    (leg,) = closing.json()["orders"]
    detail = _order(server, leg["orderid"])
    assert (detail["side"], detail["quantity"], detail["execution_type"]) == ("SELL", 5, "exit")
    _wait_filled(server, leg["orderid"])
    # with no position, a BUY exit is refused too, and writes nothing
    after = _counts(server)
    flat = _post(server, token, {**body, "action": "BUY"})
    assert flat.status_code == 422, flat.text
    assert _counts(server) == after


def test_placeholders_in_fields_that_are_not_read_are_left_alone(server: Server) -> None:
    server.simulator.exchange.set_prices({InstrumentKey("NSE", "SBIN"): Decimal("800")})
    strategy = _strategy(server)
    body = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1,
            "comment": "{{strategy.order.comment}}", "secret_key": strategy["webhook_secret"]}
    accepted = _post(server, strategy["webhook_token"], body)
    assert accepted.status_code == 200, accepted.text
    (leg,) = accepted.json()["orders"]
    assert leg["status"] != "denied", leg
    # in a legs alert the top-level instrument fields are not read either
    legs = _post(server, strategy["webhook_token"], {
        "secret_key": strategy["webhook_secret"], "symbol": "{{ticker}}",
        "legs": [{"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1,
                  "comment": "{{strategy.order.comment}}"}]})
    assert legs.status_code == 200, legs.text
    # a field that is read still refuses the alert
    refused = _post(server, strategy["webhook_token"], {**body, "quantity": "{{x}}"})
    assert refused.status_code == 422
    assert refused.json()["message"].startswith("quantity: the placeholder {{x}} ")
    # the OpenAlgo routes read only their own fields too
    placed = server.openalgo("placeorder", strategy="s", symbol="SBIN", exchange="NSE",
                             action="BUY", quantity="1", comment="{{strategy.order.comment}}")
    assert placed.status_code == 200, placed.text
