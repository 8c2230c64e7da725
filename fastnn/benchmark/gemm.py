"""The GEMMs of one training step, alone: their shapes, and the rate two BLAS calls reach on them.

A step of the dense network ``layers`` (e.g. 784-256-256-10) at batch ``n``
runs, per layer ``x @ W`` forward, ``x.T @ dz`` for the weight gradient and,
for all but the first layer, ``dz @ W.T`` for the input gradient.  Each product
is timed here with the operands laid out as the kernels pass them (C-ordered
activations and weights, the transposes as views), through two calls:

- ``numpy``: ``np.matmul(a, b, out=c)`` from Python (NumPy's own OpenBLAS);
- ``njit``: ``np.dot(a, b, c)`` inside ``@njit`` (Numba's BLAS binding, which
  calls SciPy's OpenBLAS: a different build, possibly an older version).

The best of the two rates on a step's shapes is the yardstick the training
step is compared with: "the step within 1.25x of its GEMMs' time".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from fastnn.benchmark.timing import SETTLE_S, Settings, interleaved

__all__ = ["Product", "step_products", "gemm_callables", "gemm_rates", "step_gemm_flops"]


@dataclass(frozen=True)
class Product:
    """One product ``a @ b`` of a step: its role, ``(m, k, n)`` and the operands' layouts."""

    name: str  # e.g. "fwd 1", "dW 2", "dx 3"
    m: int
    k: int
    n: int
    a_transposed: bool
    b_transposed: bool

    @property
    def flops(self) -> float:
        return 2.0 * self.m * self.k * self.n

    def operands(self, dtype, rng: np.random.Generator) -> tuple:
        """``(a, b, out)`` as the kernels pass them: transposes are views of C-ordered arrays."""

        def draw(rows, cols, transposed):
            if transposed:
                return np.ascontiguousarray(rng.standard_normal((cols, rows)), dtype=dtype).T
            return np.ascontiguousarray(rng.standard_normal((rows, cols)), dtype=dtype)

        a = draw(self.m, self.k, self.a_transposed)
        b = draw(self.k, self.n, self.b_transposed)
        return a, b, np.empty((self.m, self.n), dtype=dtype)


def step_products(batch: int, layers: Sequence[int]) -> list[Product]:
    """The GEMMs of one training step of the dense network ``layers`` at ``batch`` rows."""
    products = []
    pairs = list(zip(layers[:-1], layers[1:], strict=False))
    for i, (n_in, n_out) in enumerate(pairs, start=1):
        products.append(Product(f"fwd {i}", batch, n_in, n_out, False, False))
    for i, (n_in, n_out) in reversed(list(enumerate(pairs, start=1))):
        products.append(Product(f"dW {i}", n_in, batch, n_out, True, False))
        if i > 1:
            products.append(Product(f"dx {i}", batch, n_out, n_in, False, True))
    return products


def step_gemm_flops(batch: int, layers: Sequence[int]) -> float:
    return sum(p.flops for p in step_products(batch, layers))


@njit(cache=True)
def _njit_dot(a, b, out):
    np.dot(a, b, out)


def _numpy_call(a, b, out) -> Callable[[], None]:
    return lambda: np.matmul(a, b, out=out)


def _njit_call(a, b, out) -> Callable[[], None]:
    return lambda: _njit_dot(a, b, out)


def gemm_callables(products: Sequence[Product], dtype, seed: int = 0) -> dict:
    """``{"numpy": f, "njit": g}``: each runs every product once with its own operands."""
    rng = np.random.default_rng(seed)
    operands = [p.operands(dtype, rng) for p in products]
    sides = {}
    for name, make in (("numpy", _numpy_call), ("njit", _njit_call)):
        calls = [make(*ops) for ops in operands]

        def run_all(calls=calls):
            for call in calls:
                call()

        sides[name] = run_all
    return sides


def gemm_rates(
    batch: int, layers: Sequence[int], dtype="float32", settings: Settings | None = None
) -> dict:
    """GFLOP/s of each product of a step through NumPy and ``@njit``, timed interleaved.

    Returns ``{"products": [{name, m, k, n, numpy_s, njit_s, numpy_GFLOPs,
    njit_GFLOPs}, ...], "total": {...}}``; ``total`` has the sum of each call's
    medians, and ``best_s``, the sum over products of the faster of the two.
    """
    settings = settings or Settings(sample_time=0.01, repeats=9, budget=1.0)
    products = step_products(batch, layers)
    rng = np.random.default_rng(0)
    callables = {}
    for p in products:
        ops = p.operands(dtype, rng)
        callables[f"{p.name} numpy"] = _numpy_call(*ops)
        callables[f"{p.name} njit"] = _njit_call(*ops)
    # NumPy's and SciPy's OpenBLAS are two thread pools: let each go idle before the other runs.
    timed = interleaved(callables, settings, settle=SETTLE_S)
    medians = {name: t.median for name, t in timed.items()}
    rows = []
    for p in products:
        numpy_s, njit_s = medians[f"{p.name} numpy"], medians[f"{p.name} njit"]
        rows.append({
            "name": p.name, "m": p.m, "k": p.k, "n": p.n,
            "numpy_s": numpy_s, "njit_s": njit_s,
            "numpy_GFLOPs": p.flops / numpy_s / 1e9, "njit_GFLOPs": p.flops / njit_s / 1e9,
        })  # fmt: skip
    flops = sum(p.flops for p in products)
    total = {
        "flops": flops,
        "numpy_s": sum(r["numpy_s"] for r in rows),
        "njit_s": sum(r["njit_s"] for r in rows),
        "best_s": sum(min(r["numpy_s"], r["njit_s"]) for r in rows),
    }
    for key in ("numpy", "njit", "best"):
        total[f"{key}_GFLOPs"] = flops / total[f"{key}_s"] / 1e9
    return {"batch": batch, "dtype": str(np.dtype(dtype)), "products": rows, "total": total}
