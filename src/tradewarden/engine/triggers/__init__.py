"""Tick trigger engine: stop-loss, target and trailing-stop exits of managed trades (BRIEF §3.5,
§8; requirements 1, 2 and 10).

Pure and in-memory. :class:`TriggerEngine` is the fast implementation;
:class:`~tradewarden.engine.triggers.naive.NaiveTriggerEngine` is the plain per-trade loop it is
tested and benchmarked against.
"""

from tradewarden.engine.triggers.engine import TriggerEngine
from tradewarden.engine.triggers.model import ExitReason, TradeLevels, TrailKind, Trigger

__all__ = ["ExitReason", "TradeLevels", "TrailKind", "Trigger", "TriggerEngine"]
