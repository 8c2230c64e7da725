"""Timing one callable: how long to sample (``Settings``), what was measured (``Timing``), and
``measure`` itself.

The first call is timed on its own, which for a kernel includes Numba's
compilation (or loading it from the cache); then the number of calls per
sample is grown until a sample lasts ``sample_time`` (as ``timeit.autorange``
does), and samples are repeated; each sample is divided by its call count.  The
median is the figure, the interquartile range the spread; compile time is
reported as ``first call - median``, never mixed into the run time.  The
garbage collector is off while sampling.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Settings", "Timing", "measure"]


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
