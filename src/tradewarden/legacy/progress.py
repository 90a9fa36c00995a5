"""A tiny text progress bar for the terminal (no dependency)."""

from __future__ import annotations

from typing import TextIO

WIDTH = 30


class ProgressBar:
    """Redraws ``label [#####.....] done/total`` in place; a newline when a label completes."""

    def __init__(self, stream: TextIO, width: int = WIDTH) -> None:
        self.stream = stream
        self.width = width

    def __call__(self, label: str, done: int, total: int) -> None:
        filled = self.width if total <= 0 else self.width * done // total
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{label} [{bar}] {done}/{total}{end}")
        self.stream.flush()
