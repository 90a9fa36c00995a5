"""The intraday P&L curve: computed from today's fills, drawn as server-side SVG (pure).

P&L after each fill = cash flow of today's fills + today's net quantity of each instrument valued
at its latest fill price; the last point ("now") values open quantities at the broker's last
price where known. Positions carried over from earlier days are not part of the curve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from markupsafe import Markup, escape

from tradewarden.clock import IST
from tradewarden.engine.calendar import SESSION_CLOSE, SESSION_OPEN
from tradewarden.web.formatting import MINUS, inr

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class FillPoint:
    at: datetime
    instrument: str  # "NSE:RELIANCE"
    side: str  # BUY / SELL
    quantity: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class PnlPoint:
    at: datetime
    pnl: Decimal


def intraday_pnl(fills: Sequence[FillPoint], marks: Mapping[str, Decimal],
                 now: datetime) -> list[PnlPoint]:
    """The P&L after each fill, plus a final point at ``now`` (empty without fills)."""
    cash = ZERO
    position: dict[str, int] = {}
    last: dict[str, Decimal] = {}
    valued = ZERO  # sum of position x last price, kept incrementally
    points: list[PnlPoint] = []
    for fill in sorted(fills, key=lambda f: f.at):
        held = position.get(fill.instrument, 0)
        valued -= held * last.get(fill.instrument, ZERO)
        signed = fill.quantity if fill.side == "BUY" else -fill.quantity
        cash -= signed * fill.price
        position[fill.instrument] = held + signed
        last[fill.instrument] = fill.price
        valued += position[fill.instrument] * fill.price
        points.append(PnlPoint(fill.at, cash + valued))
    if points:
        final = cash + sum((qty * marks.get(key, last[key]) for key, qty in position.items()),
                           ZERO)
        points.append(PnlPoint(max(now, points[-1].at), final))
    return points


@dataclass(frozen=True, slots=True)
class Box:
    width: int = 640
    height: int = 200
    left: int = 64
    right: int = 12
    top: int = 12
    bottom: int = 26


MIN_SPAN = timedelta(minutes=30)


def axis_bounds(points: Sequence[PnlPoint]) -> tuple[datetime, datetime]:
    """The time axis: the trading session in IST (09:15 to 15:30 of the first fill's day) when
    every fill falls inside it, otherwise the data's own span (at least ``MIN_SPAN``), never
    the two joined, which squashed a day into a corner. The last point is "now"; after the
    close it is drawn at the close."""
    day = points[0].at.astimezone(IST).date()
    start = datetime.combine(day, SESSION_OPEN, IST)
    end = datetime.combine(day, SESSION_CLOSE, IST)
    fills = points[:-1] or points
    if all(start <= p.at <= end for p in fills):
        return start, end
    first, last = points[0].at, max(points[-1].at, points[0].at + MIN_SPAN)
    return first, last


def pnl_svg(points: Sequence[PnlPoint], box: Box = Box()) -> Markup:
    """A step chart of ``points`` with a zero line, value labels and an accessible summary."""
    if not points:
        return Markup('<p class="muted">No fills today yet: the curve starts with the first '
                      "fill.</p>")
    t0, t1 = axis_bounds(points)
    span = max((t1 - t0).total_seconds(), 1.0)
    values = [p.pnl for p in points]
    low, high = min(min(values), ZERO), max(max(values), ZERO)
    if low == high:
        low, high = low - 1, high + 1
    plot_w = box.width - box.left - box.right
    plot_h = box.height - box.top - box.bottom

    def x(moment: datetime) -> float:
        moment = min(max(moment, t0), t1)
        return box.left + (moment - t0).total_seconds() / span * plot_w

    def y(value: Decimal) -> float:
        return box.top + float((high - value) / (high - low)) * plot_h

    zero_y = y(ZERO)
    path = [f"M{x(t0):.1f},{zero_y:.1f}"]
    level = zero_y
    for point in points:
        path.append(f"H{x(point.at):.1f}")
        level = y(point.pnl)
        path.append(f"V{level:.1f}")
    line = " ".join(path)
    area = f"{line} V{zero_y:.1f} Z"
    final = points[-1].pnl
    summary = (f"Intraday P&L from {len(points) - 1} fill(s): now {inr(final)}, "
               f"high {inr(max(values))}, low {inr(min(values))}")
    right = box.left + plot_w
    bottom = box.top + plot_h
    parts = [
        f'<svg class="pnl-chart" viewBox="0 0 {box.width} {box.height}" role="img" '
        f'aria-label="{escape(summary)}">',
        f"<title>{escape(summary)}</title>",
        "<defs>",
        f'<clipPath id="pnl-above"><rect x="0" y="0" width="{box.width}" '
        f'height="{zero_y:.1f}"/></clipPath>',
        f'<clipPath id="pnl-below"><rect x="0" y="{zero_y:.1f}" width="{box.width}" '
        f'height="{box.height - zero_y:.1f}"/></clipPath>',
        "</defs>",
        f'<path class="pnl-area pos" clip-path="url(#pnl-above)" d="{area}"/>',
        f'<path class="pnl-area neg" clip-path="url(#pnl-below)" d="{area}"/>',
        f'<line class="pnl-zero" x1="{box.left}" x2="{right}" y1="{zero_y:.1f}" '
        f'y2="{zero_y:.1f}"/>',
        f'<path class="pnl-line pos" clip-path="url(#pnl-above)" d="{line}"/>',
        f'<path class="pnl-line neg" clip-path="url(#pnl-below)" d="{line}"/>',
        f'<line class="pnl-axis" x1="{box.left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>',
    ]
    for value in sorted({high, ZERO, low}):
        parts.append(f'<text class="pnl-label" x="{box.left - 6}" y="{y(value) + 4:.1f}" '
                     f'text-anchor="end">{escape(_short(value))}</text>')
    for tick in _hour_ticks(t0, t1):
        parts.append(f'<text class="pnl-label" x="{x(tick):.1f}" y="{box.height - 6}" '
                     f'text-anchor="middle">{tick.astimezone(IST):%H:%M}</text>')
    parts.append(f'<circle class="pnl-dot {"pos" if final >= 0 else "neg"}" '
                 f'cx="{x(points[-1].at):.1f}" cy="{level:.1f}" r="3"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _hour_ticks(t0: datetime, t1: datetime) -> list[datetime]:
    """Round IST times after ``t0`` and before ``t1``: every 15 or 30 minutes for short spans,
    every 1, 2 or 4 hours for longer ones."""
    hours = (t1 - t0).total_seconds() / 3600
    minutes = (15 if hours <= 1.5 else 30 if hours <= 3 else 60 if hours <= 8
               else 120 if hours <= 16 else 240)
    step = timedelta(minutes=minutes)
    local = t0.astimezone(IST)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    tick = midnight + step * (int((local - midnight) / step) + 1)
    ticks = []
    while tick < t1:
        ticks.append(tick)
        tick += step
    return ticks


def _short(value: Decimal) -> str:
    """Axis labels: ₹1.2L, ₹35k, ₹0."""
    sign = MINUS if value < 0 else ""
    amount = abs(value)
    if amount >= 10_000_000:
        return f"{sign}₹{amount / 10_000_000:.1f}Cr"
    if amount >= 100_000:
        return f"{sign}₹{amount / 100_000:.1f}L"
    if amount >= 1_000:
        return f"{sign}₹{amount / 1_000:.1f}k"
    return f"{sign}₹{amount:.0f}"
