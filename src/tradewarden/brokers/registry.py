"""Which brokers an account may name, and the options each accepts (BRIEF §11), checked here
and nowhere else.

An option is required or optional, secret or plain, and may have a default. Plain values are
stored as given (defaults are filled in when read, so a changed default reaches old accounts);
secret values are stored encrypted and never shown. ``adapter_ready`` says whether this build's
engine can serve accounts of the broker: an account of a broker without an adapter yet is
recorded and listed, but not served (its state shows ``error``). Wiring a new adapter means
adding its factory in ``broker_setup.py`` and setting ``adapter_ready`` here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

#: Account states (lowercase strings in the database and every answer).
READY = "ready"
LOGIN_REQUIRED = "login_required"
DISABLED = "disabled"
ERROR = "error"
STATES = (READY, LOGIN_REQUIRED, DISABLED, ERROR)


class OptionsError(ValueError):
    """Account options that do not fit the broker (unknown, missing or malformed)."""


Check = Callable[[str], str]


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if any(ch.isspace() for ch in value.strip()):
        raise ValueError("must not contain spaces")
    return value.strip()


def _url(*schemes: str) -> Check:
    def check(value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in schemes or not parts.netloc:
            raise ValueError(f"must be a {' or '.join(schemes)} URL")
        return value.strip().rstrip("/")
    return check


def _cash(value: str) -> str:
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError("must be an amount of money") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be an amount of money, not negative")
    return str(amount)


def _protection(value: str) -> str:
    try:
        percent = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError("must be -1 (automatic) or a percentage from 0 to 100") from None
    if not percent.is_finite() or not (percent == -1 or 0 <= percent <= 100):
        raise ValueError("must be -1 (automatic) or a percentage from 0 to 100")
    return str(percent)


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    help: str
    required: bool = False
    secret: bool = False
    default: str | None = None
    check: Check = _text


@dataclass(frozen=True, slots=True)
class BrokerSpec:
    name: str
    title: str
    options: tuple[OptionSpec, ...]
    #: Whether this build's engine has an adapter for the broker's accounts.
    adapter_ready: bool
    #: The secret option holding a login session; without it an account is ``login_required``.
    session_option: str | None = None

    def option(self, name: str) -> OptionSpec | None:
        return next((spec for spec in self.options if spec.name == name), None)


@dataclass(frozen=True, slots=True)
class AccountOptions:
    """Checked options of one account; ``secrets`` never appear in its ``repr``."""

    broker: str
    plain: dict[str, str]
    secrets: dict[str, str] = field(repr=False)

    def get(self, name: str) -> str | None:
        return self.plain.get(name, self.secrets.get(name))


ENDPOINT_OPTIONS = ("base_url", "ws_url", "login_url")

_BROKERS: dict[str, BrokerSpec] = {spec.name: spec for spec in (
    BrokerSpec("paper", "Paper (simulated)", (
        OptionSpec("cash", "starting cash of the simulated account", check=_cash),
    ), adapter_ready=True),
    BrokerSpec("kite", "Zerodha Kite Connect", (
        OptionSpec("api_key", "the Kite Connect app's API key", required=True),
        OptionSpec("api_secret", "the Kite Connect app's API secret", required=True,
                   secret=True),
        OptionSpec("access_token", "a session's access token (else log in)", secret=True),
        OptionSpec("base_url", "REST root", default="https://api.kite.trade",
                   check=_url("https", "http")),
        OptionSpec("ws_url", "websocket URL", default="wss://ws.kite.trade",
                   check=_url("wss", "ws")),
        OptionSpec("login_url", "browser login page",
                   default="https://kite.zerodha.com/connect/login",
                   check=_url("https", "http")),
        OptionSpec("market_protection", "MARKET/SL-M protection: -1 automatic, or 0-100 %",
                   default="-1", check=_protection),
    ), adapter_ready=False, session_option="access_token"),
)}


def brokers() -> list[str]:
    return sorted(_BROKERS)


def spec(broker: str) -> BrokerSpec:
    found = _BROKERS.get(broker)
    if found is None:
        raise OptionsError(f"unsupported broker {broker!r}; supported: {', '.join(brokers())}")
    return found


def validate(broker: str, given: Mapping[str, str], *, defaults: bool = False) -> AccountOptions:
    """``given`` checked against the broker's options (with the defaults filled in when
    ``defaults``); the first problems found raise :class:`OptionsError` (never quoting a
    secret's value)."""
    broker_spec = spec(broker)
    problems: list[str] = []
    unknown = sorted(set(given) - {option.name for option in broker_spec.options})
    if unknown:
        accepted = ", ".join(option.name for option in broker_spec.options)
        problems.append(f"unknown option(s) for {broker}: {', '.join(unknown)} "
                        f"(accepted: {accepted})")
    plain: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for option in broker_spec.options:
        value = given.get(option.name)
        if value is None:
            if option.required:
                problems.append(f"missing required option {option.name} ({option.help})")
            elif defaults and option.default is not None:
                plain[option.name] = option.default
            continue
        try:
            checked = option.check(value)
        except ValueError as exc:
            shown = "" if option.secret else f" (got {value!r})"
            problems.append(f"option {option.name} {exc}{shown}")
            continue
        (secrets if option.secret else plain)[option.name] = checked
    if problems:
        raise OptionsError("; ".join(problems))
    return AccountOptions(broker, plain, secrets)


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict; a malformed or repeated key is an OptionsError."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise OptionsError(f"--option must be KEY=VALUE, not {key or pair!r}")
        if key in result:
            raise OptionsError(f"option {key} given twice")
        result[key] = value
    return result


def initial_state(options: AccountOptions) -> tuple[str, str | None]:
    """The state a new account starts in: ``login_required`` when its broker needs a session
    and none was given, else ``ready``."""
    session = spec(options.broker).session_option
    if session is not None and not options.secrets.get(session):
        return LOGIN_REQUIRED, "no session yet: log in to the broker"
    return READY, None


def effective_state(broker: str, state: str, reason: str | None) -> tuple[str, str | None]:
    """The state to show: ``error`` for an account this build cannot serve, else as stored."""
    broker_spec = _BROKERS.get(broker)
    if broker_spec is None:
        return ERROR, f"unknown broker {broker}"
    if not broker_spec.adapter_ready and state != DISABLED:
        return ERROR, f"no adapter for broker {broker} yet"
    return state, reason


def served(broker: str, state: str) -> bool:
    """Whether the engine serves an (active) account of ``broker`` in ``state``: not when it is
    disabled or its broker has no adapter in this build."""
    broker_spec = _BROKERS.get(broker)
    return broker_spec is not None and broker_spec.adapter_ready and state != DISABLED
