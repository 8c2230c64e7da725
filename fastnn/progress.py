"""The progress display of ``fit`` and ``predict``: a bar on a terminal, one line elsewhere.

``Progress`` draws one epoch of ``fit``; ``StepProgress`` the batches of
``predict``.  Both redraw at most every 0.1 s, so they cost nothing per step,
and print one closing line when the output is not an interactive terminal.
"""

from __future__ import annotations

import sys
import time

from fastnn.warmup import compile_seconds

__all__ = ["Progress", "StepProgress", "format_logs"]


def _interactive(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


class Progress:
    """Per-epoch progress: a bar on an interactive terminal, else one line per epoch.

    The bar is redrawn at most every 0.1 s, so it costs nothing per step.
    Samples per second leave out the time spent compiling kernels
    (``fastnn.warmup.compile_seconds``), which a first run spends mostly on that.
    """

    def __init__(self, epoch: int, epochs: int, steps: int, n: int, verbose: int):
        self.stream = sys.stdout
        self.verbose = verbose
        self.bar = verbose == 1 and _interactive(self.stream)
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


class StepProgress:
    """Progress over the batches of ``predict``.

    With ``verbose=1`` on an interactive terminal, a bar redrawn at most every
    0.1 s; otherwise (``verbose`` 1 or 2) one line at the end.  ``verbose=0``
    prints nothing.
    """

    def __init__(self, title: str, steps: int, n: int, verbose: int):
        self.stream = sys.stdout
        self.title, self.steps, self.n, self.verbose = title, steps, n, verbose
        self.bar = verbose == 1 and _interactive(self.stream)
        self.start = time.perf_counter()
        self.last_draw = 0.0

    def _line(self, step: int, seen: int) -> str:
        seconds = time.perf_counter() - self.start
        done = 30 * step // self.steps
        width = len(str(self.steps))
        return (
            f"{self.title}: {step:>{width}}/{self.steps} [{'=' * done}{'.' * (30 - done)}] - "
            f"{seconds:.2f}s - {seen / max(seconds, 1e-9):,.0f} samples/s"
        )

    def update(self, step: int, seen: int) -> None:
        """Redraw the bar after ``step`` batches and ``seen`` rows (at most every 0.1 s)."""
        if not self.bar or time.perf_counter() - self.last_draw < 0.1:
            return
        self.last_draw = time.perf_counter()
        self.stream.write(f"\r{self._line(step, seen)}\x1b[K")
        self.stream.flush()

    def end(self) -> None:
        """The full bar, or the one closing line."""
        if self.verbose == 0:
            return
        line = self._line(self.steps, self.n)
        self.stream.write(f"\r{line}\x1b[K\n" if self.bar else f"{line}\n")
        self.stream.flush()


def format_logs(logs: dict) -> str:
    """``"loss: 0.1234 - accuracy: 0.9500"``: the logs as the progress display prints them."""
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())
