"""Timing one callable: how long to sample (``Settings``), what was measured (``Timing``), and
``measure`` itself.

The first call is timed on its own, which for a kernel includes Numba's
compilation (or loading it from the cache); then the number of calls per
sample is grown until a sample lasts ``sample_time`` (as ``timeit.autorange``
does), and samples are repeated; each sample is divided by its call count.  The
median is the figure, the interquartile range the spread; compile time is
reported as ``first call - median``, never mixed into the run time.  The
garbage collector is off while sampling.

``interleaved`` times several callables in turns (one sample of each, then the
next round), so that the load of a shared machine falls on all of them alike and
their ratios mean something even when the absolute times do not.  Before
each sample it sleeps ``settle`` seconds (``SETTLE_S`` for sides with thread
pools of their own): a BLAS or OpenMP pool keeps its threads spinning for a
while after a call, and on a 2-core machine the next side's sample then runs
against them.  Measured here: a batch-32 training step took 1.10 ms alone,
2.9-4.7 ms right after a loop of NumPy matmuls, and 1.66 ms, 1.15 ms and
1.23 ms when 0.1, 0.2 and 0.4 s of sleep separated them (numpy's OpenBLAS spins
about 0.1 s by default).  After the sleep one untimed call puts the side's
data back in cache and wakes its own threads: without it a batch-1024 step,
one call per sample, measured 1.4x its time in a loop.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Settings", "Timing", "measure", "interleaved", "SETTLE_S"]

#: Seconds ``interleaved`` sleeps before each sample when its sides own thread pools
#: (NumPy's OpenBLAS, PyTorch's OpenMP, XLA's): twice the spin time measured above.
SETTLE_S = 0.25


@dataclass(frozen=True)
class Settings:
    """How long to time: seconds per sample, samples per measurement, a time cap."""

    sample_time: float
    repeats: int
    budget: float
    min_repeats: int = 3

    @classmethod
    def quick(cls) -> Settings:
        return cls(sample_time=0.005, repeats=11, budget=0.3)

    @classmethod
    def full(cls) -> Settings:
        return cls(sample_time=0.02, repeats=15, budget=2.0)


@dataclass
class Timing:
    """Per-call times (seconds) of one callable, with its first-call time."""

    samples: list[float]
    number: int
    first_call: float

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def q25(self) -> float:
        return float(np.percentile(self.samples, 25))

    @property
    def q75(self) -> float:
        return float(np.percentile(self.samples, 75))

    @property
    def iqr(self) -> float:
        return self.q75 - self.q25

    @property
    def compile_time(self) -> float:
        """First call minus a steady call: compilation or cache loading (kernels only)."""
        return max(0.0, self.first_call - self.median)

    def to_dict(self) -> dict:
        return {
            "median_s": self.median,
            "q25_s": self.q25,
            "q75_s": self.q75,
            "iqr_s": self.iqr,
            "repeats": len(self.samples),
            "number": self.number,
            "first_call_s": self.first_call,
            "compile_s": self.compile_time,
            "samples_s": list(self.samples),
        }


def _time_loop(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def measure(fn: Callable[[], object], settings: Settings) -> Timing:
    """Time ``fn()``: the first call alone, then autoranged samples (see the module docstring)."""
    start = time.perf_counter()
    fn()
    first_call = time.perf_counter() - start
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        number = 1
        elapsed = _time_loop(fn, number)
        while elapsed < settings.sample_time and number < 10**7:
            # Aim straight at the target, but never grow more than 10x per step,
            # so one unlucky fast sample cannot make the next loop enormous.
            grow = settings.sample_time / max(elapsed, 1e-9)
            number = max(number + 1, int(number * min(10.0, 1.2 * grow)))
            elapsed = _time_loop(fn, number)
        samples = [elapsed / number]
        wanted = min(settings.repeats, int(settings.budget / elapsed) + 1)
        for _ in range(max(wanted, settings.min_repeats) - 1):
            samples.append(_time_loop(fn, number) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(samples=samples, number=number, first_call=first_call)


def _autorange(fn: Callable[[], object], sample_time: float) -> tuple[int, float]:
    number = 1
    elapsed = _time_loop(fn, number)
    while elapsed < sample_time and number < 10**7:
        grow = sample_time / max(elapsed, 1e-9)
        number = max(number + 1, int(number * min(10.0, 1.2 * grow)))
        elapsed = _time_loop(fn, number)
    return number, elapsed


def interleaved(callables: dict, settings: Settings, settle: float = 0.0) -> dict:
    """Time every callable of ``{name: fn}`` in rounds: one sample of each per round.

    Each is called once first (compilation), then autoranged on its own; then
    ``settings.repeats`` rounds (fewer when the budget, counted per round, runs
    out; at least ``min_repeats``) take one sample of each in turn, each after
    ``settle`` seconds of sleep and one untimed call (neither counted in the
    budget).  Returns
    ``{name: Timing}``.
    """
    first, numbers = {}, {}
    for name, fn in callables.items():
        start = time.perf_counter()
        fn()
        first[name] = time.perf_counter() - start
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        round_time = 0.0
        for name, fn in callables.items():
            if settle:
                time.sleep(settle)
            numbers[name], elapsed = _autorange(fn, settings.sample_time)
            round_time += elapsed
        wanted = min(settings.repeats, int(settings.budget / max(round_time, 1e-9)) + 1)
        samples = {name: [] for name in callables}
        for _ in range(max(wanted, settings.min_repeats)):
            for name, fn in callables.items():
                if settle:
                    time.sleep(settle)
                    fn()  # untimed: back into cache, its own thread pool awake
                samples[name].append(_time_loop(fn, numbers[name]) / numbers[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        name: Timing(samples=samples[name], number=numbers[name], first_call=first[name])
        for name in callables
    }
