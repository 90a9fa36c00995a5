"""Position sizing: fixed quantity, fixed value and percent of the unused allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradewarden.domain.sizing import SizingError, size_quantity
from tradewarden.domain.strategy import StrategySettings


def _settings(**values: object) -> StrategySettings:
    return StrategySettings.model_validate(values)


def test_fixed_quantity_ignores_the_price() -> None:
    settings = _settings(sizing="fixed_quantity", sizing_value="15")
    assert size_quantity(settings, price=None) == 15


def test_fixed_value_rounds_down_to_whole_lots() -> None:
    settings = _settings(sizing="fixed_value", sizing_value="10000")
    assert size_quantity(settings, price=Decimal("333")) == 30
    assert size_quantity(settings, price=Decimal("333"), lot_size=25) == 25
    assert size_quantity(settings, price=Decimal("101"), lot_size=50) == 50  # 99 -> 1 lot


def test_percent_of_allocation_uses_only_funds_not_in_use() -> None:
    settings = _settings(sizing="percent_of_allocation", sizing_value="50",
                         allocated_funds="100000")
    assert size_quantity(settings, price=Decimal("1000")) == 50
    assert size_quantity(settings, price=Decimal("1000"), funds_in_use=Decimal("60000")) == 20


@pytest.mark.parametrize(("values", "price", "message"), [
    ({"sizing": "fixed_value", "sizing_value": "500"}, Decimal("1000"), "less than one lot"),
    ({"sizing": "fixed_value", "sizing_value": "500"}, None, "no price"),
    ({"sizing": "percent_of_allocation", "sizing_value": "10", "allocated_funds": "5000"},
     Decimal("600"), "less than one lot"),
    ({}, Decimal("100"), "no fixed quantity"),
])
def test_what_cannot_be_sized_says_why(values: dict[str, object], price: Decimal | None,
                                       message: str) -> None:
    with pytest.raises(SizingError, match=message):
        size_quantity(_settings(**values), price=price)
