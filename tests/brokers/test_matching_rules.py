"""Pure rules: triggers, execution prices, volume, margin, order checks."""

from __future__ import annotations

from decimal import Decimal as D

from tradewarden.brokers.base import OrderRequest
from tradewarden.brokers.instruments import bundled_master
from tradewarden.brokers.paper import margin, matching, rules
from tradewarden.clock import ist_today
from tradewarden.domain.contracts import future_symbol, monthly_expiries
from tradewarden.domain.instruments import Instrument, InstrumentKey
from tradewarden.domain.orders import OrderType, Product, Side


def _instrument(exchange: str, symbol: str) -> Instrument:
    found = bundled_master().get(InstrumentKey(exchange, symbol))
    assert found is not None
    return found


RELIANCE = _instrument("NSE", "RELIANCE")
NIFTY_FUT = _instrument("NFO", future_symbol("NIFTY", monthly_expiries(ist_today(), 1)[0]))


def test_stop_triggers_on_the_right_side() -> None:
    assert matching.trigger_reached(Side.BUY, D("100"), D("100"))
    assert not matching.trigger_reached(Side.BUY, D("100"), D("99.95"))
    assert matching.trigger_reached(Side.SELL, D("100"), D("99.95"))
    assert not matching.trigger_reached(Side.SELL, D("100"), D("100.05"))


def test_limit_executes_at_ltp_when_arriving_and_at_limit_when_resting() -> None:
    args = (Side.BUY, OrderType.LIMIT, D("100"))
    assert matching.execution_price(*args, D("99"), arriving=True) == D("99")
    assert matching.execution_price(*args, D("99"), arriving=False) == D("100")
    assert matching.execution_price(*args, D("100.05"), arriving=False) is None
    sell = (Side.SELL, OrderType.LIMIT, D("100"))
    assert matching.execution_price(*sell, D("101"), arriving=True) == D("101")
    assert matching.execution_price(*sell, D("99.95"), arriving=True) is None


def test_market_and_slm_execute_at_ltp() -> None:
    assert matching.execution_price(Side.BUY, OrderType.MARKET, None, D("5"), arriving=False) == 5
    assert matching.execution_price(Side.SELL, OrderType.SL_M, None, D("7"), arriving=True) == 7


def test_fill_quantity_respects_volume() -> None:
    assert matching.fill_quantity(100, None) == 100
    assert matching.fill_quantity(100, 40) == 40
    assert matching.fill_quantity(10, 40) == 10
    assert matching.fill_quantity(10, 0) == 0


def test_margin_model() -> None:
    assert margin.order_margin(RELIANCE, Product.CNC, Side.BUY, 10, D("100"), 0) == D("1000")
    assert margin.order_margin(RELIANCE, Product.MIS, Side.BUY, 10, D("100"), 0) == D("200")
    # a sell that only reduces a long MIS position needs nothing
    assert margin.order_margin(RELIANCE, Product.MIS, Side.SELL, 10, D("100"), 10) == 0
    assert margin.order_margin(RELIANCE, Product.MIS, Side.SELL, 15, D("100"), 10) == D("100")
    assert margin.order_margin(NIFTY_FUT, Product.NRML, Side.BUY, 65, D("100"), 0) == D("975")
    assert margin.position_margin(RELIANCE, Product.MIS, -10, D("100")) == D("200")
    assert margin.position_margin(RELIANCE, Product.CNC, 10, D("100")) == 0
    assert margin.rms_margin_text(D("10"), D("5"), "a").startswith(
        "RMS:Margin Exceeds,Required:10.00, Available:5.00"
    )


def test_order_checks_give_clear_reasons() -> None:
    assert "tick size" in (rules.tick_problem(RELIANCE, D("100.03"), "price") or "")
    assert rules.tick_problem(RELIANCE, D("100.05"), "price") is None
    assert "lot size 65" in (rules.lot_problem(NIFTY_FUT, 10) or "")
    band = rules.band_problem(RELIANCE, D("100"), D("121"), "price")
    assert band is not None and "outside the price band 80.00 - 120.00" in band
    assert rules.band_problem(RELIANCE, None, D("1000"), "price") is None
    assert "CNC" in (rules.product_problem(NIFTY_FUT, Product.CNC) or "")
    stop = rules.stop_problem(Side.SELL, OrderType.SL_M, None, D("101"), D("100"))
    assert stop is not None and "below the last traded price" in stop
    assert rules.stop_problem(Side.BUY, OrderType.SL, D("99"), D("100"), None) is not None


def test_structural_problems() -> None:
    def req(**kw: object) -> OrderRequest:
        base: dict[str, object] = dict(
            exchange="NSE",
            symbol="SBIN",
            side=Side.BUY,
            quantity=1,
            order_type=OrderType.LIMIT,
            product=Product.CNC,
            price=D("10"),
        )
        base.update(kw)
        return OrderRequest(**base)  # type: ignore[arg-type]

    assert rules.structural_problem(req()) is None
    assert rules.structural_problem(req(quantity=0)) is not None
    assert rules.structural_problem(req(price=None)) is not None
    assert rules.structural_problem(req(order_type=OrderType.SL_M, price=None)) is not None
    assert rules.structural_problem(req(tag="x" * 21)) is not None
    assert rules.structural_problem(req(tag="has space")) is not None
    assert rules.structural_problem(req(tag="TW0123456789ABCDEFGH")) is None
