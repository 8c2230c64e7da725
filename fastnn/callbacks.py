"""What ``fit`` reports while and after it trains: ``History`` and the progress display.

``History`` is what ``Network.fit`` returns, as Keras's ``History`` callback
records it; ``Progress`` draws one epoch's progress bar on an interactive
terminal, or one line per epoch elsewhere.
"""

from __future__ import annotations

import sys
import time

from fastnn.warmup import compile_seconds

__all__ = ["History", "Progress", "format_logs"]


class History:
    """What ``fit`` returns: per-epoch logs, as Keras's ``History``.

    Attributes
    ----------
    history : dict[str, list[float]]
        ``"loss"`` and each metric, plus ``"val_loss"`` and ``"val_<metric>"``
        with validation data, one value per epoch.
    epoch : list[int]
        The epoch indices (0-based, counted over every ``fit`` of the network).
    params : dict
        ``epochs``, ``steps`` and ``batch_size`` of the ``fit`` call.
    """

    def __init__(self, params: dict):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params = params

    def append(self, epoch: int, logs: dict) -> None:
        """Record epoch ``epoch``'s logs (one value per key)."""
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class Progress:
    """Per-epoch progress: a bar on an interactive terminal, else one line per epoch.

    The bar is redrawn at most every 0.1 s, so it costs nothing per step.
    Samples per second leave out the time spent compiling kernels
    (``fastnn.warmup.compile_seconds``), which a first run spends mostly on that.
    """

    def __init__(self, epoch: int, epochs: int, steps: int, n: int, verbose: int):
        self.stream = sys.stdout
        self.verbose = verbose
        self.bar = verbose == 1 and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.epoch, self.epochs, self.steps, self.n = epoch, epochs, steps, n
        self.start = time.perf_counter()
        self.compile_start = compile_seconds()
        self.last_draw = 0.0
        if self.bar:
            self.stream.write(f"Epoch {epoch}/{epochs}\n")

    def _draw(self, step: int, seen: int, logs: dict, end: str) -> None:
        seconds = time.perf_counter() - self.start
        done = 30 * step // self.steps
        bar = "=" * done + "." * (30 - done)
        width = len(str(self.steps))
        rate = seen / max(self._running_seconds(seconds), 1e-9)
        # "\x1b[K" clears what a longer previous drawing left on the line.
        self.stream.write(
            f"\r{step:>{width}}/{self.steps} [{bar}] - {seconds:.2f}s - {rate:,.0f} samples/s"
            f" - {format_logs(logs)}\x1b[K{end}"
        )
        self.stream.flush()

    def _running_seconds(self, seconds: float) -> float:
        """``seconds`` since the epoch began, less the kernel compilation in them."""
        return seconds - (compile_seconds() - self.compile_start)

    def update(
        self, step: int, seen: int, total_loss: float, total_correct: float, metrics
    ) -> None:
        """Redraw the bar after ``step`` steps and ``seen`` samples (at most every 0.1 s)."""
        if not self.bar or time.perf_counter() - self.last_draw < 0.1:
            return
        self.last_draw = time.perf_counter()
        logs = {"loss": total_loss / seen}
        for metric in metrics:
            logs[metric] = total_correct / seen
        self._draw(step, seen, logs, "")

    def end(self, logs: dict) -> None:
        """Finish the epoch: the full bar, or its one line, with the epoch's ``logs``."""
        if self.verbose == 0:
            return
        if self.bar:
            self._draw(self.steps, self.n, logs, "\n")
            return
        seconds = time.perf_counter() - self.start
        self.stream.write(
            f"Epoch {self.epoch}/{self.epochs} - {self.steps} steps - {seconds:.2f}s - "
            f"{self.n / max(self._running_seconds(seconds), 1e-9):,.0f} samples/s - "
            f"{format_logs(logs)}\n"
        )
        self.stream.flush()


def format_logs(logs: dict) -> str:
    """``"loss: 0.1234 - accuracy: 0.9500"``: the logs as the progress display prints them."""
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())
