"""Faults injected at the Kite fake, seen through the official SDK."""

from __future__ import annotations

import time

import pytest
import requests
from kiteconnect import KiteConnect, exceptions

from tests.brokers.kite_fake.conftest import API_KEY, FakeServer


def _place(kite: KiteConnect, tag: str) -> str:
    order_id: str = kite.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="BUY",
        quantity=1,
        product="CNC",
        order_type="LIMIT",
        price=1400,
        tag=tag,
    )
    return order_id


def _tagged(kite: KiteConnect, tag: str) -> list[dict[str, object]]:
    return [o for o in kite.orders() if o["tag"] == tag]


def test_accept_then_503_leaves_exactly_one_order(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("prices", {"prices": {"NSE:INFY": 1500}})
    fake.control("faults", {"accept_then_503": 1})
    with pytest.raises(exceptions.NetworkException) as caught:
        _place(kite, "TWFAULT503")
    assert caught.value.code == 503
    assert len(_tagged(kite, "TWFAULT503")) == 1


def test_accept_then_delay_past_the_client_timeout(fake: FakeServer) -> None:
    from tests.brokers.kite_fake.conftest import API_SECRET

    fake.control("prices", {"prices": {"NSE:INFY": 1500}})
    fake.control("faults", {"accept_then_delay": 1, "delay_s": 5})
    slow = KiteConnect(api_key=API_KEY, root=fake.url, timeout=0.5)
    slow.generate_session(fake.request_token(), api_secret=API_SECRET)
    with pytest.raises(requests.exceptions.Timeout):
        _place(slow, "TWFAULTSLOW")
    slow.timeout = 5
    assert len(_tagged(slow, "TWFAULTSLOW")) == 1


def test_a_429_burst_then_calls_pass(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("faults", {"rate_limit_burst": 2})
    for _ in range(2):
        with pytest.raises(exceptions.NetworkException) as caught:
            kite.orders()
        assert caught.value.code == 429
    assert kite.orders() == []


def test_order_book_lag_hides_a_new_order_for_a_while(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("faults", {"order_book_lag_s": 0.5})
    order_id = _place(kite, "TWLAG1")
    assert _tagged(kite, "TWLAG1") == []
    with pytest.raises(exceptions.InputException):
        kite.order_history(order_id)
    while not _tagged(kite, "TWLAG1"):
        time.sleep(0.05)
    assert [o["order_id"] for o in _tagged(kite, "TWLAG1")] == [order_id]


def test_kites_quote_limit_is_enforced_when_on(fake: FakeServer, kite: KiteConnect) -> None:
    fake.control("limits", {"enforce": True})
    fake.control("prices", {"prices": {"NSE:INFY": 1500}})
    kite.ltp("NSE:INFY")
    with pytest.raises(exceptions.NetworkException) as caught:
        kite.ltp("NSE:INFY")
    assert caught.value.code == 429
