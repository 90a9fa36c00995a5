"""Prometheus metrics without a dependency: counters, gauges and histograms, rendered in the
text exposition format at ``GET /metrics``."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

Labels = tuple[tuple[str, str], ...]

ACCOUNT_STATE = "tradewarden_account_state"
ACCOUNT_STATE_HELP = ("1 for each active broker account in its state (ready, login_required, "
                      "disabled, error).")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _render_labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    inner = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                     for k, v in pairs)
    return "{" + inner + "}"


class Metrics:
    """One registry per process; thread-safe (DB threads and the event loop both record)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}
        self._counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._gauges: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._histograms: dict[str, dict[Labels, list[float]]] = defaultdict(dict)

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._gauges[name][_labels(labels)] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record one observation (seconds) into ``LATENCY_BUCKETS``."""
        key = _labels(labels)
        with self._lock:
            series = self._histograms[name]
            state = series.get(key)
            if state is None:
                # one slot per bucket, one overflow (> last bound), then sum and count
                state = series[key] = [0.0] * (len(LATENCY_BUCKETS) + 3)
            state[bisect.bisect_left(LATENCY_BUCKETS, value)] += 1
            state[-2] += value
            state[-1] += 1

    def render(self, extra_gauges: dict[str, dict[Labels, float]] | None = None) -> str:
        """The exposition text; ``extra_gauges`` are computed at scrape time by the caller."""
        lines: list[str] = []
        with self._lock:
            gauges = {**{k: dict(v) for k, v in self._gauges.items()}, **(extra_gauges or {})}
            counters = {k: dict(v) for k, v in self._counters.items()}
            histograms = {k: {lk: list(s) for lk, s in v.items()}
                          for k, v in self._histograms.items()}
        for kind, family in (("counter", counters), ("gauge", gauges)):
            for name, series in sorted(family.items()):
                self._header(lines, name, kind)
                for labels, value in sorted(series.items()):
                    lines.append(f"{name}{_render_labels(labels)} {value:g}")
        for name, hseries in sorted(histograms.items()):
            self._header(lines, name, "histogram")
            for labels, state in sorted(hseries.items()):
                cumulative = 0.0
                for bound, count in zip(LATENCY_BUCKETS, state, strict=False):
                    cumulative += count
                    lines.append(f"{name}_bucket{_render_labels(labels, (('le', f'{bound:g}'),))}"
                                 f" {cumulative:g}")
                lines.append(f"{name}_bucket{_render_labels(labels, (('le', '+Inf'),))} "
                             f"{state[-1]:g}")
                lines.append(f"{name}_sum{_render_labels(labels)} {state[-2]:g}")
                lines.append(f"{name}_count{_render_labels(labels)} {state[-1]:g}")
        return "\n".join(lines) + "\n"

    def _header(self, lines: list[str], name: str, kind: str) -> None:
        described = self._help.get(name)
        if described is not None:
            lines.append(f"# HELP {name} {described[1]}")
        lines.append(f"# TYPE {name} {described[0] if described else kind}")


class _HasState(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def broker(self) -> str: ...
    @property
    def state(self) -> str: ...


def account_state_series(accounts: Iterable[_HasState]) -> dict[Labels, float]:
    """``tradewarden_account_state{account=…,broker=…,state=…} 1`` per account."""
    return {_labels({"account": a.name, "broker": a.broker, "state": a.state}): 1.0
            for a in accounts}
