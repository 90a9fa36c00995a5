"""The matching engine and account model, in-process (LocalPaperBroker, manual clock)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradewarden.brokers.base import ModifyRequest, OrderRequest, SessionName
from tradewarden.brokers.errors import (
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
)
from tradewarden.brokers.paper import LocalPaperAdapter, LocalPaperBroker
from tradewarden.clock import ist_today
from tradewarden.domain.contracts import future_symbol, monthly_expiries
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import OrderType, Product, Side, Validity, Variety
from tradewarden.domain.statuses import OrderStatus as S

REL = InstrumentKey("NSE", "RELIANCE")
SBIN = InstrumentKey("NSE", "SBIN")
NIFTY = InstrumentKey("NFO", future_symbol("NIFTY", monthly_expiries(ist_today(), 1)[0]))


def order(
    side: Side = Side.BUY,
    quantity: int = 10,
    order_type: OrderType = OrderType.MARKET,
    product: Product = Product.CNC,
    *,
    key: InstrumentKey = REL,
    price: str | None = None,
    trigger: str | None = None,
    variety: Variety = Variety.REGULAR,
    validity: Validity = Validity.DAY,
    tag: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        exchange=key.exchange,
        symbol=key.symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        product=product,
        price=D(price) if price else None,
        trigger_price=D(trigger) if trigger else None,
        variety=variety,
        validity=validity,
        tag=tag,
    )


@pytest.fixture
def acct(local: LocalPaperBroker) -> LocalPaperAdapter:
    return local.adapter("paper-1")


def open_at(local: LocalPaperBroker, price: str, key: InstrumentKey = REL) -> None:
    local.exchange.set_session(SessionName.OPEN)
    local.exchange.set_prices({key: D(price)})


async def test_new_account_starts_with_ten_lakh(acct: LocalPaperAdapter) -> None:
    funds = await acct.funds()
    assert funds.cash == funds.available == D("1000000.00")


async def test_amo_waits_for_the_open_then_fills(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    oid = await acct.place(
        order(order_type=OrderType.LIMIT, price="2500", variety=Variety.AMO, tag="TWAMO1")
    )
    placed = await acct.get_order(oid)
    assert placed.raw_status == "AMO REQ RECEIVED" and placed.status is S.OPEN
    assert placed.tag == "TWAMO1"
    local.exchange.set_session(SessionName.OPEN)
    assert (await acct.get_order(oid)).raw_status == "OPEN"
    local.exchange.set_prices({REL: D("2490")})
    filled = await acct.get_order(oid)
    assert filled.raw_status == "COMPLETE" and filled.average_price == D("2490.00")
    statuses = [h.raw_status for h in await acct.order_history(oid)]
    assert statuses[:2] == ["PUT ORDER REQ RECEIVED", "AMO REQ RECEIVED"]
    assert statuses[-1] == "COMPLETE"


async def test_amo_without_funds_is_rejected_at_the_open(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    local.exchange.set_cash("paper-1", D("1000"))
    oid = await acct.place(order(order_type=OrderType.LIMIT, price="2500", variety=Variety.AMO))
    assert (await acct.get_order(oid)).raw_status == "AMO REQ RECEIVED"
    open_at(local, "2500")
    rejected = await acct.get_order(oid)
    assert rejected.status is S.REJECTED
    assert rejected.rejection_reason is not None
    assert rejected.rejection_reason.startswith("RMS:Margin Exceeds,Required:25000.00")
    assert "Available:1000.00" in rejected.rejection_reason


async def test_regular_order_while_closed_is_rejected(acct: LocalPaperAdapter) -> None:
    oid = await acct.place(order())
    rejected = await acct.get_order(oid)
    assert rejected.status is S.REJECTED
    assert "Market is closed" in (rejected.rejection_reason or "")


async def test_pre_open_accepts_and_matches_at_the_open(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    local.exchange.set_session(SessionName.PRE_OPEN)
    local.exchange.set_prices({REL: D("100")})
    oid = await acct.place(order(order_type=OrderType.LIMIT, price="101"))
    assert (await acct.get_order(oid)).raw_status == "OPEN"
    assert (await acct.get_order(oid)).filled_quantity == 0
    local.exchange.set_session(SessionName.OPEN)
    assert (await acct.get_order(oid)).raw_status == "COMPLETE"


async def test_limit_rests_until_the_price_crosses_and_fills_at_its_limit(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "2500")
    oid = await acct.place(order(order_type=OrderType.LIMIT, price="2450"))
    local.exchange.set_prices({REL: D("2460")})
    assert (await acct.get_order(oid)).raw_status == "OPEN"
    local.exchange.set_prices({REL: D("2440")})
    filled = await acct.get_order(oid)
    assert filled.status is S.FILLED and filled.average_price == D("2450.00")


async def test_marketable_limit_fills_at_the_last_price(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "2500")
    oid = await acct.place(order(order_type=OrderType.LIMIT, price="2510"))
    assert (await acct.get_order(oid)).average_price == D("2500.00")


async def test_sl_m_triggers_and_sl_rests_after_a_gap(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "100")
    await acct.place(order(quantity=20, product=Product.MIS))
    slm = await acct.place(order(Side.SELL, 10, OrderType.SL_M, Product.MIS, trigger="95"))
    sl = await acct.place(order(Side.SELL, 10, OrderType.SL, Product.MIS, price="94", trigger="95"))
    assert (await acct.get_order(slm)).raw_status == "TRIGGER PENDING"
    local.exchange.set_prices({REL: D("96")})
    assert (await acct.get_order(sl)).raw_status == "TRIGGER PENDING"
    local.exchange.set_prices({REL: D("93.5")})  # gap through trigger and limit
    done = await acct.get_order(slm)
    assert done.raw_status == "COMPLETE" and done.average_price == D("93.50")
    assert (await acct.get_order(sl)).raw_status == "OPEN"  # triggered, limit 94 not reached
    local.exchange.set_prices({REL: D("94.5")})
    assert (await acct.get_order(sl)).average_price == D("94.00")


async def test_stop_on_the_wrong_side_of_the_price_is_rejected(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "100")
    oid = await acct.place(order(Side.BUY, 1, OrderType.SL_M, Product.MIS, trigger="99"))
    assert "above the last traded price" in ((await acct.get_order(oid)).rejection_reason or "")


async def test_partial_fill_with_limited_volume_then_completion(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "100")
    oid = await acct.place(order(quantity=100, order_type=OrderType.LIMIT, price="99"))
    local.exchange.set_prices({REL: D("99")}, volume=40)
    part = await acct.get_order(oid)
    assert (part.raw_status, part.status, part.filled_quantity) == ("OPEN", S.PARTIALLY_FILLED, 40)
    second = await acct.place(order(quantity=5))  # the volume at 99 is used up
    assert (await acct.get_order(second)).filled_quantity == 0
    local.exchange.set_prices({REL: D("98.5")}, volume=1000)
    assert (await acct.get_order(oid)).status is S.FILLED
    fills = await acct.trade_book()
    assert [f.quantity for f in fills if f.broker_order_id == oid] == [40, 60]
    assert len({f.fill_id for f in fills}) == len(fills)


async def test_day_orders_expire_at_session_close(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "100")
    resting = await acct.place(order(order_type=OrderType.LIMIT, price="90"))
    partial = await acct.place(order(quantity=10, order_type=OrderType.LIMIT, price="99"))
    local.exchange.set_prices({REL: D("99")}, volume=4)
    amo = await acct.place(order(order_type=OrderType.LIMIT, price="90", variety=Variety.AMO))
    local.exchange.set_session(SessionName.CLOSED)
    expired = await acct.get_order(resting)
    assert (expired.raw_status, expired.status) == ("EXPIRED", S.EXPIRED)
    assert "end of the trading session" in (expired.status_message or "")
    part = await acct.get_order(partial)
    assert (part.status, part.filled_quantity) == (S.EXPIRED, 4)
    # an AMO placed during the open counts as regular; it expires too
    assert (await acct.get_order(amo)).status is S.EXPIRED
    assert (await acct.funds()).used_margin == 0


async def test_ioc_remainder_is_cancelled(local: LocalPaperBroker, acct: LocalPaperAdapter) -> None:
    local.exchange.set_session(SessionName.OPEN)
    local.exchange.set_prices({REL: D("100")}, volume=3)
    oid = await acct.place(order(quantity=10, validity=Validity.IOC))
    done = await acct.get_order(oid)
    assert (done.status, done.filled_quantity) == (S.CANCELLED, 3)


async def test_market_order_without_a_price_waits_then_fills(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    local.exchange.set_session(SessionName.OPEN)
    oid = await acct.place(order(key=SBIN))
    assert (await acct.get_order(oid)).raw_status == "OPEN PENDING"
    local.exchange.set_prices({SBIN: D("800")})
    assert (await acct.get_order(oid)).average_price == D("800.00")


async def test_modify_and_cancel(local: LocalPaperBroker, acct: LocalPaperAdapter) -> None:
    open_at(local, "100")
    oid = await acct.place(order(quantity=10, order_type=OrderType.LIMIT, price="90"))
    await acct.modify(oid, ModifyRequest(quantity=20, price=D("95")))
    changed = await acct.get_order(oid)
    assert (changed.quantity, changed.price, changed.raw_status) == (20, D("95"), "OPEN")
    assert "MODIFY PENDING" in [h.raw_status for h in await acct.order_history(oid)]
    with pytest.raises(OrderRejectedError, match="tick size"):
        await acct.modify(oid, ModifyRequest(price=D("95.01")))
    with pytest.raises(InsufficientFundsError, match="RMS:Margin Exceeds"):
        await acct.modify(oid, ModifyRequest(quantity=20_000))
    await acct.modify(oid, ModifyRequest(price=D("101")))  # marketable now
    filled = await acct.get_order(oid)
    assert filled.status is S.FILLED and filled.average_price == D("100.00")
    with pytest.raises(OrderRejectedError, match="cannot be modified"):
        await acct.modify(oid, ModifyRequest(price=D("99")))
    with pytest.raises(OrderRejectedError, match="cannot be cancelled"):
        await acct.cancel(oid)
    other = await acct.place(order(order_type=OrderType.LIMIT, price="90"))
    await acct.cancel(other)
    cancelled = await acct.get_order(other)
    assert cancelled.status is S.CANCELLED and cancelled.status_message == "Cancelled by user"
    with pytest.raises(OrderNotFoundError):
        await acct.cancel("999")
    with pytest.raises(OrderNotFoundError):
        await local.adapter("someone-else").get_order(other)


async def test_structural_errors_are_refused_without_an_order(acct: LocalPaperAdapter) -> None:
    with pytest.raises(OrderRejectedError, match="Unknown instrument"):
        await acct.place(order(key=InstrumentKey("NFO", "NOPE01JAN99FUT")))
    with pytest.raises(OrderRejectedError, match="needs a positive price"):
        await acct.place(order(order_type=OrderType.LIMIT))
    assert await acct.order_book() == []


async def test_off_tick_lot_and_band_rejections(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "100")
    local.exchange.set_prices({NIFTY: D("26000")})
    tick = await acct.get_order(await acct.place(order(order_type=OrderType.LIMIT, price="99.97")))
    assert "tick size" in (tick.rejection_reason or "")
    band = await acct.get_order(await acct.place(order(order_type=OrderType.LIMIT, price="130")))
    assert "outside the price band" in (band.rejection_reason or "")
    lot = await acct.get_order(
        await acct.place(order(key=NIFTY, quantity=10, product=Product.NRML))
    )
    assert "lot size 65" in (lot.rejection_reason or "")
    cnc = await acct.get_order(await acct.place(order(key=NIFTY, quantity=65)))
    assert "CNC is not allowed" in (cnc.rejection_reason or "")
    fut = await acct.get_order(
        await acct.place(order(key=NIFTY, quantity=65, product=Product.NRML))
    )
    assert fut.status is S.FILLED


async def test_mis_blocks_twenty_percent_and_realises_pnl(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "100")
    await acct.place(order(quantity=100, product=Product.MIS))
    funds = await acct.funds()
    assert funds.used_margin == D("2000.00") and funds.available == D("998000.00")
    local.exchange.set_prices({REL: D("110")})
    assert (await acct.funds()).unrealised_pnl == D("1000.00")
    await acct.place(order(Side.SELL, 100, product=Product.MIS))
    funds = await acct.funds()
    assert funds.cash == D("1001000.00") and funds.used_margin == 0
    (position,) = await acct.positions()
    assert (position.quantity, position.realised_pnl) == (0, D("1000.00"))


async def test_cnc_sell_needs_holdings_and_buys_settle_next_day(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "100")
    rejected = await acct.get_order(await acct.place(order(Side.SELL, 5)))
    assert (rejected.rejection_reason or "").startswith("RMS:Insufficient holdings")
    await acct.place(order(quantity=10))
    assert await acct.holdings() == []
    (position,) = await acct.positions()
    assert (position.product, position.quantity) == (Product.CNC, 10)
    sold = await acct.get_order(await acct.place(order(Side.SELL, 4)))  # today's buy is sellable
    assert sold.status is S.FILLED
    assert (await acct.funds()).cash == D("1000000") - D("600")
    local.exchange.set_session(SessionName.CLOSED)
    local.exchange.set_session(SessionName.OPEN)  # next trading day
    (holding,) = await acct.holdings()
    assert (holding.symbol, holding.quantity, holding.average_price) == ("RELIANCE", 6, D("100"))
    assert await acct.positions() == []
    assert await acct.trade_book() == []  # the trade book is per day
    assert await acct.order_book() == []  # so is the order book
    await acct.place(order(Side.SELL, 2))
    (holding,) = await acct.holdings()
    assert (holding.quantity, holding.used_quantity) == (6, 2)
    local.exchange.set_session(SessionName.CLOSED)
    local.exchange.set_session(SessionName.OPEN)
    (holding,) = await acct.holdings()
    assert (holding.quantity, holding.used_quantity) == (4, 0)


async def test_nrml_positions_carry_over(local: LocalPaperBroker, acct: LocalPaperAdapter) -> None:
    open_at(local, "26000", NIFTY)
    await acct.place(order(key=NIFTY, quantity=65, product=Product.NRML))
    local.exchange.set_session(SessionName.CLOSED)
    local.exchange.set_session(SessionName.OPEN)
    (position,) = await acct.positions()
    assert (position.quantity, position.average_price) == (65, D("26000.00"))


async def test_manual_order_has_no_tag_and_tags_are_found(
    local: LocalPaperBroker, acct: LocalPaperAdapter
) -> None:
    open_at(local, "100")
    ours = await acct.place(order(order_type=OrderType.LIMIT, price="90", tag="TWTAG01"))
    manual = local.exchange.place("paper-1", order(order_type=OrderType.LIMIT, price="91"))
    book = {o.broker_order_id: o for o in await acct.order_book()}
    assert book[ours].tag == "TWTAG01" and book[manual].tag is None
    assert [o.broker_order_id for o in await acct.find_by_tag("TWTAG01")] == [ours]
    assert await acct.find_by_tag("TWNOSUCH") == []


async def test_state_survives_reopening(tmp_path: object) -> None:
    from pathlib import Path

    state = Path(str(tmp_path)) / "p.db"
    first = LocalPaperBroker.open(state, clock="manual")
    a = first.adapter("x")
    open_at(first, "100")
    await a.place(order(quantity=3))
    resting = await a.place(order(order_type=OrderType.LIMIT, price="90", tag="TWKEEP"))
    first.exchange.set_holding("x", SBIN, 7)
    before = (
        await a.order_book(),
        await a.trade_book(),
        await a.positions(),
        await a.holdings(),
        await a.funds(),
    )
    await first.aclose()
    second = LocalPaperBroker.open(state, clock="manual")
    b = second.adapter("x")
    after = (
        await b.order_book(),
        await b.trade_book(),
        await b.positions(),
        await b.holdings(),
        await b.funds(),
    )
    assert after == before
    assert (await b.market_session()).session is SessionName.OPEN  # type: ignore[union-attr]
    second.exchange.set_prices({REL: D("89")})
    assert (await b.get_order(resting)).status is S.FILLED
    fills = await b.trade_book()
    assert len({f.fill_id for f in fills}) == 2
    await second.aclose()


async def test_order_and_tick_streams(local: LocalPaperBroker, acct: LocalPaperAdapter) -> None:
    updates = acct.order_updates()
    await acct.subscribe([REL])
    ticks = acct.ticks()
    open_at(local, "100")
    oid = await acct.place(order(quantity=2))
    seen = [await anext(updates) for _ in range(4)]
    assert [u.order.raw_status for u in seen] == [
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN",
        "COMPLETE",
    ]
    assert seen[-1].fill is not None and seen[-1].fill.broker_order_id == oid
    tick = await anext(ticks)
    assert (tick.symbol, tick.last_price) == ("RELIANCE", D("100"))
    local.exchange.set_prices({SBIN: D("1")})
    local.exchange.set_prices({REL: D("101")})
    assert (await anext(ticks)).last_price == D("101")  # SBIN was not subscribed
    await acct.aclose()


async def test_initial_cash_applies_only_to_a_new_account(local: LocalPaperBroker) -> None:
    local.exchange.set_cash("existing", D("123"))
    assert (await local.adapter("existing", initial_cash=D("5")).funds()).cash == D("123")
    assert (await local.adapter("fresh", initial_cash=D("5")).funds()).cash == D("5")
