"""Order ids and client order ids (broker tags): shape, uniqueness, time order, encoding."""

from __future__ import annotations

import random
import re
import time

from tradewarden.domain.orders import (
    CLIENT_ORDER_ID_PREFIX,
    _base32,
    new_client_order_id,
    new_order_id,
)

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _reference_base32(value: int, length: int) -> str:
    """One character (5 bits) at a time, least significant last."""
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(length)))


def test_base32_matches_the_bit_by_bit_encoding() -> None:
    rng = random.Random(7)
    cases = [(0, 1), (31, 1), (32, 2), (2**50 - 1, 10), (2**80 - 1, 16)]
    cases += [(rng.getrandbits(140), rng.randrange(1, 28)) for _ in range(5000)]
    for value, length in cases:
        assert _base32(value, length) == _reference_base32(value, length), (value, length)


def test_order_ids_are_unique_time_ordered_ulids() -> None:
    first = new_order_id()
    time.sleep(0.002)
    ids = [new_order_id() for _ in range(20000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", order_id) for order_id in ids)
    assert all(first[:10] < order_id[:10] for order_id in ids)  # millisecond prefix


def test_client_order_ids_fit_every_broker_tag() -> None:
    tags = [new_client_order_id() for _ in range(20000)]
    assert len(set(tags)) == len(tags)
    for tag in tags:
        assert len(tag) == 20 and tag.isalnum() and tag.startswith(CLIENT_ORDER_ID_PREFIX)
