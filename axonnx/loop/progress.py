"""Progress display: a bar redrawn in place on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

__all__ = ["Progress", "format_metrics"]


def format_metrics(metrics: dict[str, float]) -> str:
    """`loss: 0.1234  accuracy: 0.9000`."""
    return "  ".join(f"{name}: {value:.4f}" for name, value in metrics.items())


class Progress:
    """Draws the loop's progress; `update` is throttled, so it rarely syncs the device.

    On a terminal (`stream.isatty()`) one line per epoch is redrawn with `\\r`: a bar
    when the epoch length is known, the loss and metrics, and the speed. Otherwise
    one plain line is written per completed epoch.
    """

    def __init__(self, stream: IO[str] | None = None, *, interval: float = 0.1):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.started = self.drawn = 0.0

    def epoch_started(self, state: Any) -> None:
        self.started = self.drawn = time.perf_counter()

    def due(self) -> bool:
        """Whether `update` would draw now (only on a terminal, at most every interval)."""
        return self.tty and time.perf_counter() - self.drawn >= self.interval

    def update(self, state: Any) -> None:
        self.drawn = time.perf_counter()
        self.stream.write("\r" + self._line(state) + "\033[K")
        self.stream.flush()

    def epoch_ended(self, state: Any) -> None:
        if self.tty:
            self.stream.write("\r" + self._line(state) + "\033[K\n")
        else:
            self.stream.write(self._line(state) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        self.stream.write(("\n" if self.tty else "") + text + "\n")
        self.stream.flush()

    def _line(self, state: Any) -> str:
        done, total = state.epoch_iteration, state.epoch_length
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        where = f"Epoch {state.epoch}/{state.epochs}"
        if total:
            filled = int(30 * min(done / total, 1.0))
            where += f" [{'=' * filled}{'.' * (30 - filled)}] {done}/{total}"
        else:
            where += f" {done} iterations"
        speed = f"{done / elapsed:.1f} it/s"
        return f"{where}  {format_metrics(state.metrics)}  ({speed})"
