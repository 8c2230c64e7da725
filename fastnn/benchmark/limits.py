"""The machine's limits that throughput is compared with, measured in the same run.

GB/s of an op's compulsory memory traffic (every input read once, every
output written once) is compared with the bandwidth of ``np.copyto`` (read +
write bytes) of main memory, or of an array of the op's size when the op fits
in the last-level cache; GFLOP/s of dense layers and the training step with the
rate of ``np.dot`` on 2048 x 2048 matrices (the BLAS GEMM rate).
"""

from __future__ import annotations

import os

import numpy as np

from fastnn.benchmark.timing import Settings, measure

__all__ = ["DRAM_COPY_BYTES", "Limits", "copy_bandwidth", "gemm_rate", "last_level_cache_bytes"]

DRAM_COPY_BYTES = 256 << 20


def last_level_cache_bytes() -> int:
    """Size of the largest CPU cache from sysfs (Linux), else 32 MiB."""
    sizes = []
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in os.listdir(root):
            with open(os.path.join(root, index, "size"), encoding="ascii") as f:
                text = f.read().strip().upper()
            scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
            sizes.append(int(text.rstrip("KMG")) * scale)
    except (OSError, ValueError):
        pass
    return max(sizes) if sizes else 32 << 20


def copy_bandwidth(settings: Settings, n_bytes: int) -> dict:
    """GB/s of ``np.copyto`` between two ``n_bytes`` arrays, counting read + write bytes."""
    src = np.ones(max(1, n_bytes // 4), dtype=np.float32)
    dst = np.empty_like(src)
    timing = measure(lambda: np.copyto(dst, src), settings)
    return {
        "array_bytes": src.nbytes,
        "GBps": 2 * src.nbytes / timing.median / 1e9,
        **timing.to_dict(),
    }


def gemm_rate(settings: Settings, n: int, dtype: str) -> dict:
    """GFLOP/s of ``np.dot`` on ``n x n`` matrices of ``dtype`` (the BLAS GEMM rate)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty_like(a)
    timing = measure(lambda: np.dot(a, b, out=c), settings)
    flops = 2.0 * n**3
    return {"n": n, "dtype": dtype, "GFLOPs": flops / timing.median / 1e9, **timing.to_dict()}


class Limits:
    """The machine limits of one run, measured once each and kept for the report.

    Memory-bound ops are compared with the copy bandwidth of main memory when
    their traffic exceeds the last-level cache, and otherwise with the copy
    bandwidth of an array as large as their own (which stays in cache, and
    also carries NumPy's per-call cost, as any one pass does).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.llc_bytes = last_level_cache_bytes()
        self.copy = copy_bandwidth(settings, DRAM_COPY_BYTES)
        self.copy_cached: dict[str, dict] = {}
        self.gemm: dict[str, dict] = {}

    def for_bandwidth(self, traffic: float, array_bytes: int) -> tuple[str, float]:
        """``(name, GB/s)`` of the copy an op moving ``traffic`` bytes is compared with."""
        if traffic > self.llc_bytes or array_bytes <= 0:
            return "copy", self.copy["GBps"]
        key = str(array_bytes)
        if key not in self.copy_cached:
            self.copy_cached[key] = copy_bandwidth(self.settings, array_bytes)
        return "cached copy", self.copy_cached[key]["GBps"]

    def for_gemm(self, dtype: str) -> tuple[str, float]:
        if dtype not in self.gemm:
            self.gemm[dtype] = gemm_rate(self.settings, 2048, dtype)
        return "GEMM", self.gemm[dtype]["GFLOPs"]

    def to_dict(self) -> dict:
        return {
            "llc_bytes": self.llc_bytes,
            "copy": self.copy,
            "copy_cached": self.copy_cached,
            **{f"gemm_{dtype}": value for dtype, value in self.gemm.items()},
        }
