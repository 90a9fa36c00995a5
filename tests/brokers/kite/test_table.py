"""The Kite table: every status string, every error type, the tag rule, enums and limits."""

from __future__ import annotations

import pytest

from tradewarden.brokers.errors import (
    AmbiguousError,
    BrokerResponseError,
    BrokerServerError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    SessionExpiredError,
)
from tradewarden.brokers.kite import table
from tradewarden.domain.orders import OrderType, Product, Validity, Variety, new_client_order_id
from tradewarden.domain.statuses import OrderStatus as S

WORKING = [
    "PUT ORDER REQ RECEIVED",
    "VALIDATION PENDING",
    "OPEN PENDING",
    "OPEN",
    "TRIGGER PENDING",
    "MODIFY VALIDATION PENDING",
    "MODIFY PENDING",
    "MODIFIED",
    "CANCEL PENDING",
    "AMO REQ RECEIVED",
    "UPDATE",
]


@pytest.mark.parametrize("raw", WORKING)
def test_working_statuses_are_open(raw: str) -> None:
    assert table.map_status(raw) is S.OPEN
    assert table.map_status(raw, filled_quantity=3, quantity=10) is S.PARTIALLY_FILLED


@pytest.mark.parametrize(
    ("raw", "ours"),
    [("COMPLETE", S.FILLED), ("CANCELLED", S.CANCELLED), ("REJECTED", S.REJECTED)],
)
def test_final_statuses(raw: str, ours: S) -> None:
    assert table.map_status(raw) is ours
    assert table.map_status(raw.lower()) is ours


def test_every_documented_status_is_in_the_table() -> None:
    assert set(table.KITE_STATUSES) == {*WORKING, "COMPLETE", "CANCELLED", "REJECTED"}


def test_unknown_status_is_kept_as_working() -> None:
    assert table.map_status("SOMETHING NEW") is None
    assert "SOMETHING NEW" not in table.KITE_STATUS_TABLE


def test_cancelled_after_partial_fill_stays_cancelled() -> None:
    assert table.map_status("CANCELLED", filled_quantity=4, quantity=10) is S.CANCELLED


@pytest.mark.parametrize(
    ("error_type", "status", "message", "expected"),
    [
        ("TokenException", 403, "Incorrect `api_key` or `access_token`.", SessionExpiredError),
        ("InputException", 400, "Invalid `price`.", OrderRejectedError),
        ("OrderException", 400, "Order cannot be modified.", OrderRejectedError),
        ("UserException", 400, "Account blocked.", OrderRejectedError),
        ("PermissionException", 403, "Insufficient permission.", OrderRejectedError),
        ("MarginException", 400, "Insufficient funds.", InsufficientFundsError),
        ("HoldingException", 400, "Insufficient stock holding.", OrderRejectedError),
        (
            "InputException",
            400,
            "Insufficient funds. Required margin is 95417.84 but available margin is 74251.80.",
            InsufficientFundsError,
        ),
        ("OrderException", 400, "RMS:Margin Exceeds,Required:100", InsufficientFundsError),
        ("NetworkException", 503, "Request failed (kitetrade-oms).", BrokerServerError),
        ("DataException", 502, "Couldn't parse the OMS response.", BrokerServerError),
        ("GeneralException", 500, "Something went wrong.", BrokerServerError),
        (None, 503, "HTTP 503", BrokerServerError),
        (None, 403, "HTTP 403", SessionExpiredError),
        (None, 418, "HTTP 418", BrokerResponseError),
        ("BrandNewException", 400, "New.", OrderRejectedError),
    ],
)
def test_error_types(
    error_type: str | None, status: int, message: str, expected: type[Exception]
) -> None:
    for placement in (False, True):
        error = table.error_for(
            http_status=status, error_type=error_type, message=message, placement=placement
        )
        assert type(error) is expected
        assert error.message == message or message in error.message


def test_uncertain_errors_are_ambiguous_on_placement() -> None:
    for kind in ("NetworkException", "DataException", "GeneralException"):
        error = table.error_for(http_status=200, error_type=kind, message="x", placement=True)
        assert isinstance(error, AmbiguousError)


def test_rate_limit_is_back_off_on_reads_and_ambiguous_on_placement() -> None:
    read = table.error_for(
        http_status=429, error_type="NetworkException", message="Too many requests",
        retry_after=2.5,
    )
    assert isinstance(read, RateLimitedError)
    assert read.retry_after == 2.5
    placed = table.error_for(
        http_status=429, error_type="NetworkException", message="Too many requests",
        placement=True,
    )
    assert isinstance(placed, AmbiguousError)
    assert not isinstance(placed, RateLimitedError)


def test_not_found_only_on_an_order_lookup() -> None:
    found = table.error_for(
        http_status=400, error_type="GeneralException", message="x", order_lookup=True
    )
    assert not isinstance(found, OrderNotFoundError)
    missing = table.error_for(
        http_status=400, error_type="InputException",
        message="Couldn't find that `order_id`.", order_lookup=True,
    )
    assert isinstance(missing, OrderNotFoundError)
    assert isinstance(
        table.error_for(http_status=404, error_type=None, message="x", order_lookup=True),
        OrderNotFoundError,
    )


def test_tag_rule_and_our_client_order_ids_fit() -> None:
    for _ in range(200):
        assert table.valid_tag(new_client_order_id())
    assert table.valid_tag("A" * 20)
    assert not table.valid_tag("A" * 21)
    assert not table.valid_tag("")
    assert not table.valid_tag("TW-1")
    assert not table.valid_tag("TW 1")


def test_enum_mappings() -> None:
    assert table.PRODUCTS == {Product.CNC: "CNC", Product.MIS: "MIS", Product.NRML: "NRML"}
    assert table.ORDER_TYPES[OrderType.SL_M] == "SL-M"
    assert table.VARIETIES == {Variety.REGULAR: "regular", Variety.AMO: "amo"}
    assert table.VALIDITIES == {Validity.DAY: "DAY", Validity.IOC: "IOC"}
    for ours, theirs in table.ORDER_TYPES.items():
        assert table.order_type_from_kite(theirs) is ours
    assert table.product_from_kite("MTF") is Product.CNC
    assert table.product_from_kite("CO") is Product.MIS
    assert table.variety_from_kite("amo") is Variety.AMO
    assert table.variety_from_kite("iceberg") is Variety.REGULAR
    assert table.validity_from_kite("TTL") is Validity.DAY
    assert table.validity_from_kite("IOC") is Validity.IOC
    assert {OrderType.MARKET, OrderType.SL_M} == table.PROTECTED_ORDER_TYPES


def test_rate_limits_per_endpoint() -> None:
    assert table.endpoint_of("POST", "/orders/regular") is table.Endpoint.ORDERS
    assert table.endpoint_of("PUT", "/orders/amo/123") is table.Endpoint.ORDERS
    assert table.endpoint_of("DELETE", "/orders/regular/123") is table.Endpoint.ORDERS
    assert table.endpoint_of("GET", "/orders") is table.Endpoint.OTHER
    assert table.endpoint_of("GET", "/quote/ltp") is table.Endpoint.QUOTES
    assert table.RATE_LIMITS[table.Endpoint.ORDERS].per_second == 10
    assert table.RATE_LIMITS[table.Endpoint.QUOTES].per_second == 1
    assert table.RATE_LIMITS[table.Endpoint.OTHER].per_second == 10


def test_not_found_text_of_any_error_type_on_a_lookup() -> None:
    message = "Couldn't find that `order_id`."
    looked_up = table.error_for(
        http_status=400, error_type="GeneralException", message=message, order_lookup=True
    )
    assert isinstance(looked_up, OrderNotFoundError)
    elsewhere = table.error_for(http_status=400, error_type="GeneralException", message=message)
    assert not isinstance(elsewhere, OrderNotFoundError)
    server = table.error_for(
        http_status=503, error_type="NetworkException", message="not found", order_lookup=True
    )
    assert isinstance(server, AmbiguousError)


def test_client_tag_ignores_tags_kite_adds() -> None:
    assert table.client_tag("TW1", ["mktp", "mktp:2.00"]) == "TW1"
    assert table.client_tag("", ["mktp", "mktp:2.00"]) is None
    assert table.client_tag(None, ["mktp:2.00", "mktp", "TW2"]) == "TW2"
    assert table.client_tag(None, None) is None
