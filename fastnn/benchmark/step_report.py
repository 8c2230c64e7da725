"""The training step against the machine's limits, from one process: ``python -m
fastnn.benchmark.step_report [--batches 32,1024] [--json PATH]``.

For each batch size of the benchmarked network (784-256-256-10, relu -> BN
twice, Adam, float32) it prints the per-call breakdown of the step
(``breakdown.step_breakdown``), the rate of each of the step's GEMMs through
NumPy and through ``@njit`` (``gemm.gemm_rates``) and the step's time over
its GEMMs' time at the best of the two; then the optimizer updates' bandwidth
(float32 and float64, a state that fits in the last-level cache and one that
does not) against the copy bandwidth of the same bytes, timed interleaved
with it.  ``fastnn bench --ops network`` prints the side-by-side table with
PyTorch and JAX; this is the detail behind it.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from fastnn.benchmark.breakdown import format_breakdown, step_breakdown
from fastnn.benchmark.gemm import gemm_rates
from fastnn.benchmark.limits import last_level_cache_bytes
from fastnn.benchmark.timing import Settings, interleaved

__all__ = ["optimizer_bandwidth", "step_report", "main"]

#: Adam reads the parameter, gradient and two moments and writes three of them back.
ADAM_ARRAYS_READ, ADAM_ARRAYS_WRITTEN = 4, 3


def optimizer_bandwidth(n: int, dtype, settings: Settings) -> dict:
    """GB/s of ``adam_update`` on ``n`` elements against ``np.copyto`` of the same traffic.

    The copy moves as many bytes as the update (read + written), between arrays
    of the update's total size, so both stay in cache or both do not.
    """
    from fastnn.kernels.cpu.optimizers import adam_update

    rng = np.random.default_rng(0)
    p, g = (rng.standard_normal(n).astype(dtype) for _ in range(2))
    m, v = np.zeros(n, dtype), np.full(n, 1e-4, dtype)
    traffic = (ADAM_ARRAYS_READ + ADAM_ARRAYS_WRITTEN) * p.nbytes
    src = np.ones(traffic // 2 // np.dtype(dtype).itemsize, dtype)
    dst = np.empty_like(src)
    timings = interleaved(
        {
            "adam": lambda: adam_update(p, g, m, v, 10, 1e-3, 0.9, 0.999, 1e-7, 0.0),
            "copy": lambda: np.copyto(dst, src),
        },
        settings,
    )
    adam_s, copy_s = timings["adam"].median, timings["copy"].median
    return {
        "n": n, "dtype": np.dtype(dtype).name, "traffic_bytes": traffic,
        "in_cache": bool(traffic <= last_level_cache_bytes()),
        "adam_s": adam_s, "adam_GBps": traffic / adam_s / 1e9,
        "copy_GBps": traffic / copy_s / 1e9, "fraction_of_copy": copy_s / adam_s,
    }  # fmt: skip


def step_report(batches=(32, 1024), optimizer_sizes=(270_000, 16 << 20)) -> dict:
    """Breakdown and GEMM rates per batch size, and the optimizer bandwidths."""
    from fastnn.benchmark.cases.network import LAYERS, build_network

    settings = Settings(sample_time=0.01, repeats=11, budget=3.0)
    out = {"steps": [], "optimizer": []}
    rng = np.random.default_rng(0)
    for batch in batches:
        net = build_network()
        x = rng.standard_normal((batch, LAYERS[0])).astype(np.float32)
        labels = rng.integers(0, LAYERS[-1], size=batch).astype(np.int64)
        rows = step_breakdown(net, x, labels, settings)
        rates = gemm_rates(batch, LAYERS, "float32", settings)
        step_s = rows[-1]["median_s"]
        out["steps"].append({
            "batch": batch, "breakdown": rows, "gemm": rates,
            "step_over_best_gemms": step_s / rates["total"]["best_s"],
        })  # fmt: skip
    for n in optimizer_sizes:
        for dtype in ("float32", "float64"):
            out["optimizer"].append(optimizer_bandwidth(n, dtype, settings))
    return out


def format_report(report: dict) -> str:
    lines = []
    for step in report["steps"]:
        lines.append(format_breakdown(step["breakdown"], f"batch {step['batch']}: per call"))
        lines.append(f"batch {step['batch']}: GEMMs (GFLOP/s, NumPy matmul vs np.dot in @njit)")
        for r in step["gemm"]["products"]:
            lines.append(
                f"  {r['name']:<6} {r['m']:>5}x{r['k']:<5}@{r['n']:<5} "
                f"numpy {r['numpy_GFLOPs']:6.1f}  njit {r['njit_GFLOPs']:6.1f}"
            )
        t = step["gemm"]["total"]
        lines.append(
            f"  all    numpy {1e6 * t['numpy_s']:.0f} us ({t['numpy_GFLOPs']:.1f}), njit "
            f"{1e6 * t['njit_s']:.0f} us ({t['njit_GFLOPs']:.1f}), best {1e6 * t['best_s']:.0f} us;"
            f" step / best GEMMs = {step['step_over_best_gemms']:.2f}x"
        )
    lines.append("Adam update: GB/s of its traffic (7 arrays) vs np.copyto of the same bytes")
    for r in report["optimizer"]:
        where = "in cache" if r["in_cache"] else "beyond cache"
        lines.append(
            f"  {r['n']:>9} {r['dtype']}  {where:<12} {1e6 * r['adam_s']:9.1f} us  "
            f"{r['adam_GBps']:6.1f} GB/s  copy {r['copy_GBps']:6.1f} GB/s  "
            f"{100 * r['fraction_of_copy']:.0f}% of copy"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fastnn.benchmark.step_report")
    parser.add_argument("--batches", default="32,1024")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    report = step_report(tuple(int(b) for b in args.batches.split(",")))
    print(format_report(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
