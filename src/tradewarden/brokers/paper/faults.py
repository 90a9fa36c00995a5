"""Fault injection for broker-facing calls (never for control calls).

Probabilities are per call. Decisions come from one seeded ``random.Random`` so a run with the
same seed and the same sequence of calls sees the same faults. For mutating calls (place,
modify, cancel) a timeout or 5xx happens *after* the operation either took effect or not — a
seeded coin flip — which is exactly the ambiguity a real broker produces.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

DEFAULT_SEED = 20_000
_KNOWN_KEYS = frozenset(
    {
        "timeout",
        "error_5xx",
        "rate_limit",
        "not_found_lag_s",
        "latency_ms",
        "drop_stream",
        "seed",
        "retry_after_s",
        "timeout_hang_s",
    }
)


class Outcome(StrEnum):
    OK = "ok"
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    ERROR_5XX = "error_5xx"


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """The active faults; the default value means "no faults"."""

    timeout: float = 0.0
    error_5xx: float = 0.0
    rate_limit: float = 0.0
    not_found_lag_s: float = 0.0
    latency_ms: tuple[float, float] | None = None
    drop_stream: bool = False
    seed: int | None = None
    retry_after_s: float = 1.0
    timeout_hang_s: float = 30.0

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> FaultConfig:
        """Validate a ``/control/faults`` body; raises ``ValueError`` with a clear message."""
        unknown = sorted(set(body) - _KNOWN_KEYS)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        latency = body.get("latency_ms")
        latency_range: tuple[float, float] | None = None
        if latency is not None:
            if (
                not isinstance(latency, list | tuple)
                or len(latency) != 2
                or not all(_is_number(x) and x >= 0 for x in latency)
                or latency[0] > latency[1]
            ):
                raise ValueError("latency_ms must be [min, max] with 0 <= min <= max")
            latency_range = (float(latency[0]), float(latency[1]))
        drop = body.get("drop_stream", False)
        if not isinstance(drop, bool):
            raise ValueError("drop_stream must be true or false")
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer")
        return cls(
            timeout=_probability(body, "timeout"),
            error_5xx=_probability(body, "error_5xx"),
            rate_limit=_probability(body, "rate_limit"),
            not_found_lag_s=_non_negative(body, "not_found_lag_s", 0.0),
            latency_ms=latency_range,
            drop_stream=drop,
            seed=seed,
            retry_after_s=_non_negative(body, "retry_after_s", 1.0),
            timeout_hang_s=_non_negative(body, "timeout_hang_s", 30.0),
        )

    @property
    def affects_calls(self) -> bool:
        """True when calls may be delayed or fail."""
        return bool(self.timeout or self.error_5xx or self.rate_limit or self.latency_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "error_5xx": self.error_5xx,
            "rate_limit": self.rate_limit,
            "not_found_lag_s": self.not_found_lag_s,
            "latency_ms": list(self.latency_ms) if self.latency_ms else None,
            "drop_stream": self.drop_stream,
            "seed": self.seed,
            "retry_after_s": self.retry_after_s,
            "timeout_hang_s": self.timeout_hang_s,
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _probability(body: Mapping[str, Any], key: str) -> float:
    value = body.get(key, 0.0)
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{key} must be a probability between 0 and 1")
    return float(value)


def _non_negative(body: Mapping[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if not _is_number(value) or value < 0:
        raise ValueError(f"{key} must be a non-negative number")
    return float(value)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What happens to one broker call."""

    latency_s: float = 0.0
    outcome: Outcome = Outcome.OK
    #: For mutating calls that time out or fail: whether the operation took effect first.
    apply_first: bool = False


NO_FAULT = FaultPlan()


class FaultInjector:
    """Draws a :class:`FaultPlan` per broker call from the active :class:`FaultConfig`."""

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self._base_seed = seed
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.config = FaultConfig()

    def configure(self, config: FaultConfig) -> None:
        """Replace the active faults; a ``seed`` in the config restarts the random sequence."""
        with self._lock:
            self.config = config
            if config.seed is not None:
                self._rng = random.Random(config.seed)

    def reset(self) -> None:
        """No faults, random sequence restarted from the base seed."""
        with self._lock:
            self.config = FaultConfig()
            self._rng = random.Random(self._base_seed)

    def plan(self, *, mutating: bool) -> FaultPlan:
        """Decide the fate of one call."""
        with self._lock:
            c = self.config
            if not c.affects_calls:
                return NO_FAULT
            rng = self._rng
            latency = rng.uniform(*c.latency_ms) / 1000.0 if c.latency_ms else 0.0
            outcome = Outcome.OK
            if c.rate_limit and rng.random() < c.rate_limit:
                outcome = Outcome.RATE_LIMIT
            elif c.timeout and rng.random() < c.timeout:
                outcome = Outcome.TIMEOUT
            elif c.error_5xx and rng.random() < c.error_5xx:
                outcome = Outcome.ERROR_5XX
            apply_first = (
                mutating and outcome in (Outcome.TIMEOUT, Outcome.ERROR_5XX) and rng.random() < 0.5
            )
            return FaultPlan(latency_s=latency, outcome=outcome, apply_first=apply_first)
