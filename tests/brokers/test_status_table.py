"""The paper broker's status table: every variant maps, case-insensitively; unknown is safe."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradewarden.brokers.base import BrokerOrder
from tradewarden.brokers.paper.statuses import PAPER_STATUS_TABLE, PaperStatus, map_paper_status
from tradewarden.domain.orders import OrderType, Product, Side, Validity, Variety
from tradewarden.domain.statuses import OrderStatus as S


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AMO REQ RECEIVED", S.OPEN),
        ("OPEN", S.OPEN),
        ("OPEN PENDING", S.OPEN),
        ("TRIGGER PENDING", S.OPEN),
        ("VALIDATION PENDING", S.OPEN),
        ("PUT ORDER REQ RECEIVED", S.OPEN),
        ("MODIFY PENDING", S.OPEN),
        ("MODIFY VALIDATION PENDING", S.OPEN),
        ("CANCEL PENDING", S.OPEN),
        ("COMPLETE", S.FILLED),
        ("CANCELLED", S.CANCELLED),
        ("CANCELED", S.CANCELLED),
        ("cancelled after market order", S.CANCELLED),
        ("REJECTED", S.REJECTED),
        ("EXPIRED", S.EXPIRED),
        ("  trigger   pending ", S.OPEN),
        ("Complete", S.FILLED),
        ("amo_req_received", S.OPEN),
    ],
)
def test_known_strings_map_case_insensitively(raw: str, expected: S) -> None:
    assert map_paper_status(raw) is expected


def test_working_status_with_fills_is_partially_filled() -> None:
    assert map_paper_status("OPEN", filled_quantity=40, quantity=100) is S.PARTIALLY_FILLED
    assert map_paper_status("TRIGGER PENDING", filled_quantity=1, quantity=2) is S.PARTIALLY_FILLED


def test_final_statuses_keep_their_meaning_with_fills() -> None:
    assert map_paper_status("CANCELLED", filled_quantity=40, quantity=100) is S.CANCELLED
    assert map_paper_status("EXPIRED", filled_quantity=40, quantity=100) is S.EXPIRED
    assert map_paper_status("COMPLETE", filled_quantity=100, quantity=100) is S.FILLED


def test_unknown_string_is_none_and_the_order_counts_as_working() -> None:
    assert map_paper_status("ONGOING") is None
    assert "ONGOING" not in PAPER_STATUS_TABLE
    now = datetime.now(UTC)
    order = BrokerOrder(
        broker_order_id="1",
        tag=None,
        exchange="NSE",
        symbol="SBIN",
        side=Side.BUY,
        quantity=1,
        filled_quantity=0,
        average_price=Decimal(0),
        price=None,
        trigger_price=None,
        order_type=OrderType.MARKET,
        product=Product.CNC,
        variety=Variety.REGULAR,
        validity=Validity.DAY,
        raw_status="ONGOING",
        status=None,
        rejection_reason=None,
        status_message=None,
        placed_at=now,
        updated_at=now,
    )
    assert order.is_working and not order.is_final


def test_every_string_the_simulator_emits_is_in_the_table() -> None:
    for status in PaperStatus:
        assert status.value in PAPER_STATUS_TABLE
