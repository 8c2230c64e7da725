"""The harness and the op registry behind ``fastnn bench``.

Every benchmarked operation is an ``OpSpec`` in ``REGISTRY``: a family, a name,
the shapes it runs at for each size class, and a ``make`` function that
allocates the arrays for one shape and returns the callables to time:

- **fastnn**: the CPU kernel itself (``fastnn.kernels.cpu``) writing into
  outputs preallocated once, which is how a ``Network`` calls it and the fair
  figure for the kernel (the validated, allocating ``fastnn.functional`` wrappers
  add a few microseconds of argument checks and allocation per call).  Two
  exceptions: initializers run ``fastnn.init`` with ``out=`` (its checks cost
  microseconds against milliseconds of drawing), and the training step is
  ``Network.train_on_batch``;
- **reference**: ``fastnn.reference``, the plain NumPy oracle, as a user calls it;
- **torch**: the PyTorch CPU equivalent through its public API
  (``torch.nn.functional`` + autograd, ``torch.nn.init``, ``torch.optim``,
  ``torch.nn`` modules), only when PyTorch is already installed: it is never a
  dependency.  Its thread count is set to Numba's;
- **baselines** where one says something: a dense layer's GEMMs alone.

Timing (``measure``): the first call is timed on its own, which for a kernel
includes Numba's compilation (or loading it from the cache); then the number of
calls per sample is grown until a sample lasts ``sample_time`` (as
``timeit.autorange`` does), and samples are repeated; each sample is divided by
its call count.  The median is the figure, the interquartile range the spread;
compile time is reported as ``first call - median``, never mixed into the run
time.  The garbage collector is off while sampling.

Throughput is compared with limits measured in the same run (``Limits``): GB/s
of the compulsory memory traffic (every input read once, every output written
once) against the bandwidth of ``np.copyto`` (read + write bytes) of main memory,
or of an array of the op's size when the op fits in the last-level cache; and
GFLOP/s of dense layers and the training step against the rate of ``np.dot`` on
2048 x 2048 matrices (the BLAS GEMM rate).
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TextIO

import numpy as np
from numba import njit

__all__ = [
    "FAMILIES",
    "SIZES",
    "REGISTRY",
    "OpSpec",
    "Settings",
    "Timing",
    "measure",
    "select",
    "run",
    "format_table",
    "compare",
    "format_comparison",
    "plot_speedups",
    "write_json",
    "read_json",
    "machine_info",
    "startup_latency",
    "format_startup",
    "build_network",
    "train_step",
]

FAMILIES = ("dense", "activations", "batchnorm", "losses", "optimizers", "init", "network")
SIZES = ("small", "medium", "large")
SCHEMA = "fastnn-bench/1"

#: The leaky-relu slope used throughout (Keras's default).
LEAKY_SLOPE = 0.2
#: BatchNorm hyperparameters (Keras defaults; PyTorch's momentum is ``1 - momentum``).
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3


# --------------------------------------------------------------------------- timing


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
    """Time ``fn()``: first call alone, then autoranged samples (see the module docstring)."""
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


# --------------------------------------------------------------------------- registry


@dataclass
class Context:
    """What a ``make`` function needs besides the shape: dtype, RNG, PyTorch (or None)."""

    dtype: np.dtype
    rng: np.random.Generator
    torch: object | None

    def normal(self, shape, scale: float = 1.0, loc: float = 0.0) -> np.ndarray:
        a = self.rng.standard_normal(shape) * scale + loc
        return np.ascontiguousarray(a, dtype=self.dtype)

    def tensor(self, a: np.ndarray, requires_grad: bool = False):
        """A PyTorch tensor of ``a`` (a copy, so the two sides never share state)."""
        t = self.torch.from_numpy(np.array(a, copy=True))
        return t.requires_grad_(True) if requires_grad else t


@dataclass
class Impl:
    """The callables to time for one op at one shape, and the work one call does."""

    fastnn: Callable[[], object]
    reference: Callable[[], object] | None
    torch: Callable[[], object] | None
    limit: str | None  # "bandwidth" (work = bytes), "gemm" (work = flops) or None
    work: float
    #: Bytes of the op's main array: the size of the copy its bandwidth is compared with
    #: when the whole op fits in the last-level cache.
    array_bytes: int = 0
    #: Other callables worth timing beside it (e.g. the GEMMs of a dense layer alone).
    baselines: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OpSpec:
    """One benchmarked operation: its shapes per size class and how to build it."""

    family: str
    name: str
    shapes: dict  # size class -> tuple of shapes
    make: Callable[[tuple, Context], Impl]
    quick: tuple = ()  # the shapes ``--quick`` runs when no ``--sizes`` is given
    label: Callable[[tuple], str] = lambda shape: "x".join(map(str, shape))


ELEMENTWISE_SHAPES = {"small": ((32, 256),), "medium": ((1024, 1024),), "large": ((65536, 1024),)}
BN_SHAPES = {
    "small": ((32, 256),),
    "medium": ((1024, 1024), (4096, 1024)),
    "large": ((65536, 1024),),
}
DENSE_SHAPES = {
    "small": ((32, 256, 256),),
    "medium": ((1024, 1024, 1024),),
    "large": ((4096, 1024, 1024),),
}
INIT_SHAPES = {"small": ((256, 256),), "medium": ((1024, 1024),), "large": ((4096, 4096),)}
NETWORK_BATCHES = {"small": ((32,),), "medium": ((128,),), "large": ((1024,),)}
NETWORK_LAYERS = (784, 256, 256, 10)


def _dense_label(shape) -> str:
    n, n_in, n_out = shape
    return f"{n}x{n_in}->{n_out}"


def _torch_timed(torch, forward: Callable, dy, leaves: Sequence, mode: str) -> Callable:
    """The PyTorch callable to time: "fwd" (no autograd graph), "bwd" (backward through a
    graph built once, kept with ``retain_graph``) or "fwd+bwd".

    The leaves' gradients are cleared before each backward, so PyTorch never spends a pass
    accumulating into an old gradient.
    """

    def clear():
        for leaf in leaves:
            leaf.grad = None

    if mode == "fwd":

        def run_forward():
            with torch.no_grad():
                return forward()

        return run_forward
    if mode == "bwd":
        out = forward()

        def run_backward():
            clear()
            out.backward(dy, retain_graph=True)

        return run_backward

    def run_both():
        clear()
        forward().backward(dy)

    return run_both


# dense ----------------------------------------------------------------------


@njit(cache=True)
def _forward_gemm(x, W, y):
    """A dense layer's forward GEMM alone (the BLAS the kernels use: np.dot inside @njit)."""
    np.dot(x, W, y)


@njit(cache=True)
def _backward_gemms(x, W, dz, dW, dx):
    """A dense layer's two backward GEMMs alone."""
    np.dot(x.T, dz, dW)
    np.dot(dz, W.T, dx)


def _make_dense(mode: str):
    def make(shape, ctx: Context) -> Impl:
        from fastnn import reference
        from fastnn.kernels.cpu import dense as kernels
        from fastnn.kernels.cpu.reduce import reduction_workspace
        from fastnn.kernels.scalar import RELU

        n, n_in, n_out = shape
        x = ctx.normal((n, n_in))
        W = ctx.normal((n_in, n_out), scale=math.sqrt(2.0 / n_in))
        b = ctx.normal((n_out,), scale=0.1)
        dy = ctx.normal((n, n_out))
        # y for the backward-only timing comes from NumPy, so no kernel runs before it is timed.
        y = np.maximum(x @ W + b, 0).astype(ctx.dtype)
        dz, dx, dW = dy.copy(), np.empty_like(x), np.empty_like(W)
        db = np.empty(n_out, dtype=ctx.dtype)
        work = reduction_workspace(n, n_out)

        def fastnn_forward():
            kernels.dense_forward(x, W, b, RELU, 0.0, y)

        def fastnn_backward():
            kernels.dense_backward(dy, x, W, y, RELU, 0.0, dz, dx, dW, db, work, True)

        def fastnn_both():
            fastnn_forward()
            fastnn_backward()

        ref_cache = reference.dense_forward(x, W, b, "relu")[1]

        def ref_forward():
            return reference.dense_forward(x, W, b, "relu")

        def ref_backward():
            return reference.dense_backward(dy, ref_cache)

        def ref_both():
            return reference.dense_backward(dy, reference.dense_forward(x, W, b, "relu")[1])

        torch_fn = None
        if ctx.torch is not None:
            F = ctx.torch.nn.functional
            xt, Wt, bt = (ctx.tensor(a, requires_grad=True) for a in (x, W, b))

            def forward_t():
                # F.linear wants the weight (out, in): pass our (in, out) one transposed (a view).
                return F.relu(F.linear(xt, Wt.T, bt))

            torch_fn = _torch_timed(ctx.torch, forward_t, ctx.tensor(dy), (xt, Wt, bt), mode)

        def gemm_forward():
            _forward_gemm(x, W, y)

        def gemm_backward():
            _backward_gemms(x, W, dz, dW, dx)

        def gemm_both():
            _forward_gemm(x, W, y)
            _backward_gemms(x, W, dz, dW, dx)

        gemm = 2.0 * n * n_in * n_out
        fastnn_fn, ref_fn, gemm_fn, flops = {
            "fwd": (fastnn_forward, ref_forward, gemm_forward, gemm),
            "bwd": (fastnn_backward, ref_backward, gemm_backward, 2 * gemm),
            "fwd+bwd": (fastnn_both, ref_both, gemm_both, 3 * gemm),
        }[mode]
        return Impl(fastnn_fn, ref_fn, torch_fn, "gemm", flops, baselines={"gemm_only": gemm_fn})

    return make


# activations ----------------------------------------------------------------

ACTIVATION_NAMES = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax")


def _torch_activation(ctx, name):
    F = ctx.torch.nn.functional
    return {
        "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, LEAKY_SLOPE),
        "sigmoid": ctx.torch.sigmoid,
        "tanh": ctx.torch.tanh,
        "softmax": lambda t: F.softmax(t, dim=1),
    }[name]


def _activation_output(x: np.ndarray, name: str) -> np.ndarray:
    from fastnn import reference

    params = {"negative_slope": LEAKY_SLOPE} if name == "leaky_relu" else {}
    return reference.activation_forward(x, name, **params)


def _make_activation(name: str, mode: str):
    def make(shape, ctx: Context) -> Impl:
        from fastnn import reference
        from fastnn.kernels.cpu import activations as kernels
        from fastnn.kernels.scalar import ACTIVATIONS

        code = ACTIVATIONS[name]
        alpha = LEAKY_SLOPE if name == "leaky_relu" else 0.0
        params = {"negative_slope": LEAKY_SLOPE} if name == "leaky_relu" else {}
        x = ctx.normal(shape, scale=2.0)
        size = x.size * x.itemsize
        torch_fn = None
        if mode == "fwd":
            y = np.empty_like(x)

            def fastnn_fn():
                kernels.activation_forward(x, code, alpha, y)

            def ref_fn():
                return reference.activation_forward(x, name, **params)

            if ctx.torch is not None:
                f, xt = _torch_activation(ctx, name), ctx.tensor(x)
                torch_fn = _torch_timed(ctx.torch, lambda: f(xt), None, (), "fwd")

            return Impl(fastnn_fn, ref_fn, torch_fn, "bandwidth", 2 * size, size)

        y = _activation_output(x, name)
        dy = ctx.normal(shape)
        dx = np.empty_like(x)

        def fastnn_fn():
            kernels.activation_backward(dy, y, code, alpha, dx)

        def ref_fn():
            return reference.activation_backward(dy, y, name, **params)

        if ctx.torch is not None:
            f, xt = _torch_activation(ctx, name), ctx.tensor(x, requires_grad=True)
            torch_fn = _torch_timed(ctx.torch, lambda: f(xt), ctx.tensor(dy), (xt,), "bwd")

        return Impl(fastnn_fn, ref_fn, torch_fn, "bandwidth", 3 * size, size)

    return make


# batch normalization --------------------------------------------------------


def _make_batchnorm(mode: str, placement: str = "bn"):
    """``mode``: fwd-train, fwd-infer, bwd, fwd+bwd; ``placement``: bn, bn-relu, relu-bn."""

    def make(shape, ctx: Context) -> Impl:
        from fastnn import reference
        from fastnn.kernels.cpu import batchnorm as kernels
        from fastnn.kernels.cpu.reduce import reduction_workspace
        from fastnn.kernels.scalar import LINEAR, RELU

        n, m = shape
        pre = RELU if placement == "relu-bn" else LINEAR
        post = RELU if placement == "bn-relu" else LINEAR
        x = ctx.normal(shape, scale=2.0, loc=0.5)
        gamma = ctx.normal((m,), scale=0.1, loc=1.0)
        beta = ctx.normal((m,), scale=0.1)
        running_mean = np.zeros(m, dtype=ctx.dtype)
        running_var = np.ones(m, dtype=ctx.dtype)
        dy = ctx.normal(shape)
        a = np.empty_like(x) if pre != LINEAR else x
        y, dx = np.empty_like(x), np.empty_like(x)
        mean, invstd = np.empty(m, dtype=ctx.dtype), np.empty(m, dtype=ctx.dtype)
        dgamma, dbeta = np.empty_like(mean), np.empty_like(mean)
        work = reduction_workspace(n, m)

        # Forward results for the backward-only timing, from NumPy (no kernel call before timing).
        a_np = np.maximum(x, 0) if pre != LINEAR else x
        a[...] = a_np
        mean[...] = a_np.mean(axis=0)
        invstd[...] = 1.0 / np.sqrt(a_np.var(axis=0) + BN_EPSILON)
        y_np = (a_np - mean) * invstd * gamma + beta
        y[...] = np.maximum(y_np, 0) if post != LINEAR else y_np

        def forward_train():
            kernels.batch_norm_forward_train(
                x, gamma, beta, running_mean, running_var, BN_MOMENTUM, BN_EPSILON,
                pre, post, 0.0, a, y, mean, invstd, work,
            )  # fmt: skip

        def forward_infer():
            kernels.batch_norm_forward_infer(
                x, gamma, beta, running_mean, running_var, BN_EPSILON, pre, post, 0.0, y
            )

        def backward():
            kernels.batch_norm_backward(
                dy, a, y, gamma, mean, invstd, pre, post, 0.0, dx, dgamma, dbeta, work
            )

        def both():
            forward_train()
            backward()

        if placement == "bn":
            ref_fwd, ref_bwd, extra = (
                reference.batch_norm_forward,
                reference.batch_norm_backward,
                {},
            )
        elif placement == "bn-relu":
            ref_fwd, ref_bwd = reference.batch_norm_act_forward, reference.batch_norm_act_backward
            extra = {"activation": "relu"}
        else:
            ref_fwd, ref_bwd = reference.act_batch_norm_forward, reference.act_batch_norm_backward
            extra = {"activation": "relu"}
        ref_running = (running_mean.copy(), running_var.copy())

        def ref_forward(training=True):
            return ref_fwd(
                x, gamma, beta, *ref_running, training=training,
                momentum=BN_MOMENTUM, epsilon=BN_EPSILON, **extra,
            )  # fmt: skip

        ref_cache = ref_forward()[1]
        ref_fns = {
            "fwd-train": ref_forward,
            "fwd-infer": lambda: ref_forward(training=False),
            "bwd": lambda: ref_bwd(dy, ref_cache),
            "fwd+bwd": lambda: ref_bwd(dy, ref_forward()[1]),
        }

        torch_fn = None
        if ctx.torch is not None:
            F = ctx.torch.nn.functional
            xt = ctx.tensor(x, requires_grad=True)
            gt, bt = ctx.tensor(gamma, requires_grad=True), ctx.tensor(beta, requires_grad=True)
            rmt, rvt = ctx.tensor(running_mean), ctx.tensor(running_var)

            def forward_t(training=True):
                inp = F.relu(xt) if pre != LINEAR else xt
                # PyTorch's momentum weights the new batch value: 1 - Keras's momentum.
                out = F.batch_norm(inp, rmt, rvt, gt, bt, training, 1 - BN_MOMENTUM, BN_EPSILON)
                return F.relu(out) if post != LINEAR else out

            training = mode != "fwd-infer"
            torch_mode = "fwd" if mode.startswith("fwd-") else mode
            torch_fn = _torch_timed(
                ctx.torch, lambda: forward_t(training), ctx.tensor(dy), (xt, gt, bt), torch_mode
            )

        # Compulsory traffic in (n, m) arrays: forward reads x, writes y (and a when an
        # activation precedes BN); backward reads dy and a (and y when an activation follows)
        # and writes dx.
        fwd_arrays = 2 + (pre != LINEAR)
        bwd_arrays = 3 + (post != LINEAR)
        arrays = {
            "fwd-train": fwd_arrays,
            "fwd-infer": 2,
            "bwd": bwd_arrays,
            "fwd+bwd": fwd_arrays + bwd_arrays,
        }[mode]
        fastnn_fn = {"fwd-train": forward_train, "fwd-infer": forward_infer, "bwd": backward}.get(
            mode, both
        )
        nbytes = arrays * x.nbytes
        return Impl(fastnn_fn, ref_fns[mode], torch_fn, "bandwidth", nbytes, x.nbytes)

    return make


# losses ---------------------------------------------------------------------


def _make_loss(name: str):
    def make(shape, ctx: Context) -> Impl:
        from fastnn import reference
        from fastnn.kernels.cpu import losses as kernels
        from fastnn.kernels.cpu.reduce import reduction_workspace

        n, k = shape
        logits = ctx.normal(shape, scale=2.0)
        grad = np.empty_like(logits)
        loss_out = np.zeros(1, dtype=np.float64)
        work = reduction_workspace(n, 1)
        if name == "softmax_cross_entropy":
            targets = ctx.rng.integers(0, k, size=n).astype(np.int64)
            nbytes = 2 * logits.nbytes + targets.nbytes
        elif name == "binary_cross_entropy":
            targets = ctx.rng.integers(0, 2, size=shape).astype(ctx.dtype)
            nbytes = 3 * logits.nbytes
        else:
            targets = ctx.normal(shape)
            nbytes = 3 * logits.nbytes
        kernel, ref = getattr(kernels, name), getattr(reference, name)

        def fastnn_fn():
            kernel(logits, targets, grad, loss_out, work)

        def ref_fn():
            return ref(logits, targets)

        torch_fn = None
        if ctx.torch is not None:
            F = ctx.torch.nn.functional
            lt, tt = ctx.tensor(logits, requires_grad=True), ctx.tensor(targets)
            loss_t = {
                "softmax_cross_entropy": F.cross_entropy,
                "binary_cross_entropy": F.binary_cross_entropy_with_logits,
                "mean_squared_error": F.mse_loss,
            }[name]

            def torch_fn():
                # The fused kernels return value and gradient, so PyTorch does forward + backward.
                lt.grad = None
                loss = loss_t(lt, tt)
                loss.backward()
                return loss.item()

        return Impl(fastnn_fn, ref_fn, torch_fn, "bandwidth", nbytes, logits.nbytes)

    return make


# optimizers -----------------------------------------------------------------


def _make_optimizer(name: str):
    def make(shape, ctx: Context) -> Impl:
        from fastnn import reference
        from fastnn.kernels.cpu import optimizers as kernels

        size = int(np.prod(shape))
        param = ctx.normal(size, scale=0.1)
        grad = ctx.normal(size, scale=0.01)
        state_a = np.zeros(size, dtype=ctx.dtype)
        # Adam's second moment must stay positive in the reference's sqrt: start it positive.
        state_b = np.full(size, 1e-4, dtype=ctx.dtype)
        ref_param, ref_a, ref_b = param.copy(), state_a.copy(), state_b.copy()
        empty = np.empty(0, dtype=ctx.dtype)
        if name == "sgd_momentum":

            def fastnn_fn():
                kernels.sgd_update(param, grad, state_a, 0.01, 0.9, False, 0.0)

            def ref_fn():
                reference.sgd_update(ref_param, grad, ref_a, learning_rate=0.01, momentum=0.9)

            arrays = 5  # read p, g, velocity; write p, velocity
        elif name == "adam":

            def fastnn_fn():
                kernels.adam_update(param, grad, state_a, state_b, 10, 1e-3, 0.9, 0.999, 1e-7, 0.0)

            def ref_fn():
                reference.adam_update(ref_param, grad, ref_a, ref_b, 10)

            arrays = 7  # read p, g, m, v; write p, m, v
        else:

            def fastnn_fn():
                kernels.rmsprop_update(param, grad, state_b, empty, 1e-3, 0.9, 0.0, 1e-7, 0.0)

            def ref_fn():
                reference.rmsprop_update(ref_param, grad, ref_b)

            arrays = 5  # read p, g, velocity; write p, velocity

        torch_fn = None
        if ctx.torch is not None:
            torch = ctx.torch
            p = torch.nn.Parameter(ctx.tensor(param))
            p.grad = ctx.tensor(grad)
            opt = {
                "sgd_momentum": lambda: torch.optim.SGD([p], lr=0.01, momentum=0.9),
                "adam": lambda: torch.optim.Adam([p], lr=1e-3, eps=1e-7),
                "rmsprop": lambda: torch.optim.RMSprop([p], lr=1e-3, alpha=0.9, eps=1e-7),
            }[name]()
            torch_fn = opt.step

        nbytes = arrays * param.nbytes
        return Impl(fastnn_fn, ref_fn, torch_fn, "bandwidth", nbytes, param.nbytes)

    return make


# initializers ---------------------------------------------------------------


def _make_initializer(name: str):
    def make(shape, ctx: Context) -> Impl:
        from fastnn import init
        from fastnn.reference import init as reference_init

        # The public initializer writing into a preallocated array (out=): its argument checks
        # cost microseconds against milliseconds of drawing.
        fastnn_init, ref_init = init.get(name), getattr(reference_init, name)
        out = np.empty(shape, dtype=ctx.dtype)
        seeds = iter(range(1, 1 << 62))

        def fastnn_fn():
            fastnn_init(shape, seed=next(seeds), out=out)

        def ref_fn():
            return ref_init(shape, seed=next(seeds), dtype=ctx.dtype)

        torch_fn = None
        if ctx.torch is not None:
            torch = ctx.torch
            # PyTorch stores weights (out, in) and takes fan_in from shape[1]: the transposed
            # shape gives it our fan_in, shape[0].
            wt = torch.empty(shape[::-1], dtype=getattr(torch, np.dtype(ctx.dtype).name))
            nn_init = torch.nn.init
            torch_fn = {
                "he_normal": lambda: nn_init.kaiming_normal_(wt, nonlinearity="relu"),
                "he_uniform": lambda: nn_init.kaiming_uniform_(wt, nonlinearity="relu"),
                "xavier_normal": lambda: nn_init.xavier_normal_(wt),
                "xavier_uniform": lambda: nn_init.xavier_uniform_(wt),
            }.get(name)

        return Impl(fastnn_fn, ref_fn, torch_fn, "bandwidth", out.nbytes, out.nbytes)

    return make


# network --------------------------------------------------------------------


def build_network(dtype: str = "float32", seed: int = 0):
    """The 784-256-256-10 network of the training-step figures: BN after each hidden relu, Adam."""
    import fastnn

    net = fastnn.Network(
        [
            fastnn.Dense(256, activation="relu", input_dim=NETWORK_LAYERS[0]),
            fastnn.BatchNormalization(),
            fastnn.Dense(256, activation="relu"),
            fastnn.BatchNormalization(),
            fastnn.Dense(NETWORK_LAYERS[-1]),
        ],
        seed=seed,
        dtype=dtype,
    )
    net.compile(optimizer="adam", loss="cross_entropy")
    return net


def train_step(net, x: np.ndarray, labels: np.ndarray) -> float:
    """One training step of ``build_network``'s network (softmax cross-entropy, Adam)."""
    return net.train_on_batch(x, labels)


def _network_flops(batch: int) -> float:
    """GEMM flops of one training step: forward, dW of every layer, dx of all but the first."""
    pairs = list(zip(NETWORK_LAYERS[:-1], NETWORK_LAYERS[1:], strict=False))
    forward = sum(2.0 * batch * n_in * n_out for n_in, n_out in pairs)
    return forward + forward + (forward - 2.0 * batch * pairs[0][0] * pairs[0][1])


def _make_network(shape, ctx: Context) -> Impl:
    from fastnn import reference
    from fastnn.optimizers import Adam

    (batch,) = shape
    x = ctx.normal((batch, NETWORK_LAYERS[0]))
    labels = ctx.rng.integers(0, NETWORK_LAYERS[-1], size=batch).astype(np.int64)
    net = build_network(dtype=np.dtype(ctx.dtype).name)

    def fastnn_fn():
        return train_step(net, x, labels)

    # The reference network runs the same layers one reference op at a time, from the same weights.
    ref_net = reference.Network(
        net.layers, input_dim=NETWORK_LAYERS[0], loss="cross_entropy", optimizer=Adam(),
        dtype=ctx.dtype,
    )  # fmt: skip
    ref_net.set_weights(net.get_weights())

    def ref_fn():
        return ref_net.train_on_batch(x, labels)

    torch_fn = None
    if ctx.torch is not None:
        torch = ctx.torch
        nn = torch.nn
        # BatchNorm1d momentum is PyTorch's convention: 1 - Keras's momentum.
        model = nn.Sequential(
            nn.Linear(784, 256), nn.ReLU(), nn.BatchNorm1d(256, eps=BN_EPSILON, momentum=0.01),
            nn.Linear(256, 256), nn.ReLU(), nn.BatchNorm1d(256, eps=BN_EPSILON, momentum=0.01),
            nn.Linear(256, 10),
        )  # fmt: skip
        model.to(getattr(torch, np.dtype(ctx.dtype).name))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        xt, lt = ctx.tensor(x), ctx.tensor(labels)
        cross_entropy = nn.functional.cross_entropy

        def torch_fn():
            opt.zero_grad(set_to_none=True)
            loss = cross_entropy(model(xt), lt)
            loss.backward()
            opt.step()
            return loss.item()

    return Impl(fastnn_fn, ref_fn, torch_fn, "gemm", _network_flops(batch))


def _build_registry() -> list[OpSpec]:
    specs = []
    medium_dense = (1024, 1024, 1024)
    for mode in ("fwd", "bwd", "fwd+bwd"):
        specs.append(
            OpSpec("dense", f"dense {mode} relu", DENSE_SHAPES, _make_dense(mode),
                   quick=(medium_dense,) if mode == "fwd+bwd" else (), label=_dense_label)
        )  # fmt: skip
    for name in ACTIVATION_NAMES:
        for mode in ("fwd", "bwd"):
            quick = ((1024, 1024),) if name in ("relu", "softmax") else ()
            specs.append(
                OpSpec("activations", f"{name} {mode}", ELEMENTWISE_SHAPES,
                       _make_activation(name, mode), quick=quick)
            )  # fmt: skip
    for placement in ("bn", "bn-relu", "relu-bn"):
        modes = ("fwd-train", "fwd-infer", "bwd", "fwd+bwd") if placement == "bn" else ("fwd+bwd",)
        for mode in modes:
            quick = ((4096, 1024),) if (placement, mode) == ("bn", "fwd+bwd") else ()
            label = "bn" if placement == "bn" else placement
            specs.append(
                OpSpec("batchnorm", f"{label} {mode}", BN_SHAPES,
                       _make_batchnorm(mode, placement), quick=quick)
            )  # fmt: skip
    for name in ("softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error"):
        quick = ((1024, 1024),) if name == "softmax_cross_entropy" else ()
        specs.append(OpSpec("losses", name, ELEMENTWISE_SHAPES, _make_loss(name), quick=quick))
    for name in ("sgd_momentum", "adam", "rmsprop"):
        quick = ((1024, 1024),) if name == "adam" else ()
        specs.append(
            OpSpec("optimizers", f"{name} update", ELEMENTWISE_SHAPES, _make_optimizer(name),
                   quick=quick)
        )  # fmt: skip
    for name in ("he_normal", "xavier_uniform"):
        quick = ((4096, 4096),) if name == "he_normal" else ()
        specs.append(OpSpec("init", name, INIT_SHAPES, _make_initializer(name), quick=quick))
    specs.append(
        OpSpec("network", "train step 784-256-256-10", NETWORK_BATCHES, _make_network,
               quick=((32,), (128,), (1024,)), label=lambda shape: f"batch {shape[0]}")
    )  # fmt: skip
    return specs


REGISTRY: list[OpSpec] = _build_registry()


@dataclass(frozen=True)
class Task:
    """One op at one shape and dtype."""

    spec: OpSpec
    size: str
    shape: tuple
    dtype: str

    @property
    def key(self) -> str:
        return f"{self.spec.name} | {self.spec.label(self.shape)} | {self.dtype}"


def select(
    families: Sequence[str] | None = None,
    sizes: Sequence[str] | None = None,
    dtypes: Sequence[str] = ("float32",),
    quick: bool = False,
) -> list[Task]:
    """The tasks to run, in registry order.

    ``quick`` keeps only the ops marked quick: at their quick shapes when
    ``sizes`` is None, otherwise at every shape of the given size classes.
    """
    families = FAMILIES if families is None else tuple(families)
    tasks = []
    for spec in REGISTRY:
        if spec.family not in families or (quick and not spec.quick):
            continue
        for size in SIZES:
            for shape in spec.shapes.get(size, ()):
                if sizes is None and quick and shape not in spec.quick:
                    continue
                if sizes is not None and size not in sizes:
                    continue
                tasks.extend(Task(spec, size, shape, dtype) for dtype in dtypes)
    return tasks


# --------------------------------------------------------------------------- limits

#: Bytes per array of the main-memory copy measurement: far beyond any last-level cache.
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


# --------------------------------------------------------------------------- startup

_IMPORT_SCRIPT = """
import time
start = time.perf_counter()
import fastnn
print(time.perf_counter() - start)
"""

_FIRST_STEP_SCRIPT = """
import time
start = time.perf_counter()
import numpy as np
import fastnn
from fastnn.benchmark import build_network, train_step
net = build_network()
rng = np.random.default_rng(0)
x = rng.standard_normal((128, 784)).astype(np.float32)
labels = rng.integers(0, 10, size=128).astype(np.int64)
train_step(net, x, labels)
print(time.perf_counter() - start)
"""


def _run_script(script: str, env: dict, timeout: float) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"exit status {proc.returncode}: {last[0]}")
    return float(proc.stdout.strip().splitlines()[-1])


def startup_latency(import_runs: int = 3, timeout: float = 600) -> dict:
    """Seconds to ``import fastnn`` and to the first training step, in fresh processes.

    The first step (batch 128, the 784-256-256-10 network with Adam) runs
    twice with ``NUMBA_CACHE_DIR`` pointing at a new, empty directory: the
    first run compiles every kernel it needs ("cold"), the second loads them
    from that cache ("warm").  Each figure counts from before ``import fastnn``.
    """
    env = dict(os.environ)
    result: dict = {}
    try:
        times = [_run_script(_IMPORT_SCRIPT, env, timeout) for _ in range(import_runs)]
        result["import_s"] = float(np.median(times))
        result["import_runs_s"] = times
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as err:
        result["import_error"] = str(err)
    script = _FIRST_STEP_SCRIPT
    with tempfile.TemporaryDirectory(prefix="fastnn-numba-cache-") as cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
        for label in ("cold", "warm"):
            try:
                result[f"first_step_{label}_s"] = _run_script(script, env, timeout)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as err:
                result[f"first_step_{label}_error"] = str(err)
                break
    return result


# --------------------------------------------------------------------------- machine


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info(torch=None) -> dict:
    """CPU, cores, threads and library versions, for the JSON output."""
    import numba

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": numba.config.THREADING_LAYER,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "versions": {
            "python": platform.python_version(),
            "fastnn": _version("fastnn"),
            "numpy": np.__version__,
            "numba": numba.__version__,
            "scipy": _version("scipy"),
            # Read from the package metadata when PyTorch was not imported (--no-torch).
            "torch": _version("torch") if torch is None else torch.__version__,
        },
        "environment": {
            name: os.environ[name]
            for name in (
                "NUMBA_NUM_THREADS",
                "NUMBA_THREADING_LAYER",
                "OMP_WAIT_POLICY",
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "OPENBLAS_CORETYPE",
                "OPENBLAS_L2_SIZE",
                "NUMBA_CACHE_DIR",
            )
            if name in os.environ
        },  # fmt: skip
    }
    return info


# --------------------------------------------------------------------------- running


def _progress(stream: TextIO | None, text: str) -> None:
    if stream is None:
        return
    if stream.isatty():
        stream.write("\r\033[K" + text)
    else:
        stream.write(text + "\n")
    stream.flush()


@dataclass
class Result:
    """Timings of one task: fastnn, reference, PyTorch (``None`` when absent), baselines."""

    task: Task
    limit: str | None = None
    work: float = 0.0
    fastnn: Timing | None = None
    reference: Timing | None = None
    torch: Timing | None = None
    torch_status: str = "ok"  # "ok", "not installed", "skipped" (--no-torch), "n/a" (no twin)
    baselines: dict = field(default_factory=dict)
    error: str | None = None
    limit_name: str | None = None
    limit_rate: float | None = None

    def to_dict(self) -> dict:
        t = self.task
        entry = {
            "op": t.spec.name,
            "family": t.spec.family,
            "size": t.size,
            "shape": t.spec.label(t.shape),
            "dims": list(t.shape),
            "dtype": t.dtype,
            "limit": self.limit,
            "bytes": self.work if self.limit == "bandwidth" else None,
            "flops": self.work if self.limit == "gemm" else None,
            "fastnn": None if self.fastnn is None else self.fastnn.to_dict(),
            "reference": None if self.reference is None else self.reference.to_dict(),
            "torch": None if self.torch is None else self.torch.to_dict(),
            "torch_status": self.torch_status,
            "baselines": {name: timing.to_dict() for name, timing in self.baselines.items()},
            "speedup_vs_reference": self.speedup(self.reference),
            "speedup_vs_torch": self.speedup(self.torch),
            "error": self.error,
        }
        entry.update(self.throughput())
        return entry

    def speedup(self, theirs: Timing | None) -> float | None:
        if self.fastnn is None or theirs is None:
            return None
        return theirs.median / self.fastnn.median

    def throughput(self) -> dict:
        """Achieved GB/s or GFLOP/s and the fraction of the limit it is compared with."""
        if self.fastnn is None or self.limit is None:
            return {
                "throughput": None,
                "throughput_unit": None,
                "limit_name": None,
                "limit_rate": None,
                "fraction_of_limit": None,
            }
        rate = self.work / self.fastnn.median / 1e9
        return {
            "throughput": rate,
            "throughput_unit": "GB/s" if self.limit == "bandwidth" else "GFLOP/s",
            "limit_name": self.limit_name,
            "limit_rate": self.limit_rate,
            "fraction_of_limit": rate / self.limit_rate if self.limit_rate else None,
        }


def _run_task(
    task: Task, settings: Settings, torch, torch_absent: str, limits: Limits, seed: int, progress
) -> Result:
    """Build one task and time its sides; ``torch_absent`` says why ``torch`` is None."""
    ctx = Context(np.dtype(task.dtype), np.random.default_rng(seed), torch)
    result = Result(task)
    try:
        impl = task.spec.make(task.shape, ctx)
    except Exception as err:  # a family that has not landed, or a missing API
        result.error = f"setup failed: {type(err).__name__}: {err}"
        return result
    result.limit, result.work = impl.limit, impl.work
    if impl.limit == "bandwidth":
        result.limit_name, result.limit_rate = limits.for_bandwidth(impl.work, impl.array_bytes)
    elif impl.limit == "gemm":
        result.limit_name, result.limit_rate = limits.for_gemm(task.dtype)
    sides = [("fastnn", impl.fastnn), ("reference", impl.reference), ("torch", impl.torch)]
    sides += [(f"baseline {name}", fn) for name, fn in impl.baselines.items()]
    for side, fn in sides:
        if fn is None:
            continue
        progress(side)
        try:
            timing = measure(fn, settings)
        except Exception as err:
            message = f"{side} failed: {type(err).__name__}: {err}"
            result.error = message if result.error is None else f"{result.error}; {message}"
            continue
        if side.startswith("baseline "):
            result.baselines[side.split(" ", 1)[1]] = timing
        else:
            setattr(result, side, timing)
    if torch is None:
        result.torch_status = torch_absent
    elif impl.torch is None:
        result.torch_status = "n/a"
    return result


def import_torch(threads: int):
    """PyTorch with ``threads`` intra-op threads, or None when it is not installed."""
    try:
        import torch
    except (ImportError, OSError):  # OSError: an installation whose libraries do not load
        return None
    torch.set_num_threads(threads)
    return torch


def run(
    tasks: Sequence[Task],
    settings: Settings,
    *,
    use_torch: bool = True,
    startup: bool = True,
    seed: int = 0,
    progress_stream: TextIO | None = sys.stderr,
) -> dict:
    """Measure the limits, every task, and the startup figures; return the JSON-able report."""
    import numba

    threads = numba.get_num_threads()
    torch = import_torch(threads) if use_torch else None
    torch_absent = "not installed" if use_torch else "skipped"
    n_steps = len(tasks) + 1 + int(startup)
    step = 0

    def announce(text: str) -> None:
        _progress(progress_stream, f"[{step}/{n_steps}] {text}")

    step += 1
    announce("measuring the copy bandwidth")
    limits = Limits(Settings(sample_time=0.02, repeats=7, budget=0.5))
    results = []
    for task in tasks:
        step += 1
        left = n_steps - step

        def progress(side: str, task=task, left=left) -> None:
            announce(f"{task.key}: {side} ({left} left)")

        results.append(_run_task(task, settings, torch, torch_absent, limits, seed, progress))
    startup_figures = None
    if startup:
        step += 1
        announce("startup latency: import, first training step (empty, then warm kernel cache)")
        startup_figures = startup_latency(import_runs=3)
    if progress_stream is not None and progress_stream.isatty():
        progress_stream.write("\r\033[K")
        progress_stream.flush()
    info = machine_info(torch)
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel kernel ran
        info["numba_threading_layer"] = None
    return {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {
            "sample_time_s": settings.sample_time,
            "repeats": settings.repeats,
            "budget_s": settings.budget,
            "seed": seed,
        },
        "machine": info,
        "limits": limits.to_dict(),
        "startup": startup_figures,
        "results": [r.to_dict() for r in results],
    }


# --------------------------------------------------------------------------- output


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}x"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = []
    for row in (header, *rows):
        cells = [
            str(c).rjust(w) if i >= right_from else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _side_cell(entry: dict, side: str) -> str:
    timing = entry[side]
    if timing is not None:
        return format_seconds(timing["median_s"])
    if side == "torch" and entry["torch_status"] != "ok":
        return entry["torch_status"]
    return "failed" if entry.get("error") else "-"


def format_table(report: dict) -> str:
    """The results as one text table, with the limits, notes and startup figures underneath."""
    header = ["op", "shape", "dtype", "fastnn", "spread", "reference", "torch",
              "vs ref", "vs torch", "throughput", "of limit", "compile"]  # fmt: skip
    rows, notes, errors = [], [], []
    for entry in report["results"]:
        fast = entry["fastnn"]
        what = f"{entry['op']} {entry['shape']} {entry['dtype']}"
        if entry.get("error"):
            errors.append(f"{what}: {entry['error']}")
        rate, fraction = entry["throughput"], entry["fraction_of_limit"]
        rows.append([
            entry["op"], entry["shape"], entry["dtype"],
            _side_cell(entry, "fastnn"),
            "-" if fast is None else f"±{50 * fast['iqr_s'] / fast['median_s']:.0f}%",
            _side_cell(entry, "reference"), _side_cell(entry, "torch"),
            _ratio(entry["speedup_vs_reference"]), _ratio(entry["speedup_vs_torch"]),
            "-" if rate is None else f"{rate:.3g} {entry['throughput_unit']}",
            "-" if fraction is None else f"{100 * fraction:.0f}% {entry['limit_name']}",
            "-" if fast is None else format_seconds(fast["compile_s"]),
        ])  # fmt: skip
        gemm_only = entry.get("baselines", {}).get("gemm_only")
        if fast is not None and gemm_only is not None:
            notes.append(
                f"{what}: its GEMMs alone (np.dot in @njit) take "
                f"{format_seconds(gemm_only['median_s'])}; "
                f"fastnn takes {fast['median_s'] / gemm_only['median_s']:.2f}x that"
            )
    lines = [_table(header, rows, right_from=3), ""]
    machine = report["machine"]
    torch_version = machine["versions"]["torch"]
    if machine["torch_threads"] is not None:
        torch_text = (
            f"PyTorch {torch_version} CPU ({machine['torch_threads']} threads; functional + "
            "autograd, nn.init, optim)"
        )
    else:
        torch_text = (
            "PyTorch (not timed: --no-torch)" if torch_version else "PyTorch (not installed)"
        )
    lines.append(
        "fastnn = the CPU kernels writing into preallocated outputs (initializers: fastnn.init "
        "with out=; train step: Network.train_on_batch); reference = fastnn.reference (NumPy); "
        f"torch = {torch_text}; Numba threads: {machine['numba_threads']}."
    )
    if "numba_threading_layer" in machine:
        lines.append(f"Numba threading layer: {machine['numba_threading_layer']}.")
    lines.append(
        "Medians per call; spread = half the interquartile range; vs = their time / fastnn's; "
        "compile = first call minus median (compilation or cache load), not in the median."
    )
    limits = report["limits"]
    parts = [f"copy {limits['copy']['GBps']:.1f} GB/s (np.copyto of 2x256 MiB, read+write)"]
    if limits.get("copy_cached"):
        parts.append("cached copy: the same for one array of the op's size, when the op fits in "
                     f"the {limits['llc_bytes'] >> 20} MiB last-level cache")  # fmt: skip
    for key, value in limits.items():
        if key.startswith("gemm_"):
            parts.append(
                f"GEMM {value['GFLOPs']:.0f} GFLOP/s (np.dot {value['n']}^3 {value['dtype']})"
            )
    lines.append("Limits: " + "; ".join(parts) + ".")
    lines.extend(notes)
    startup = report.get("startup")
    if startup:
        lines.append("Startup: " + format_startup(startup) + ".")
    if errors:
        lines.append("")
        lines.append("errors:")
        lines.extend(f"  {e}" for e in errors)
    return "\n".join(lines)


def format_startup(startup: dict) -> str:
    parts = []
    for key, label, target in (
        ("import", "import fastnn", 1.0),
        ("first_step_warm", "first training step, warm cache", 3.0),
        ("first_step_cold", "first training step, empty cache", None),
    ):
        value = startup.get(f"{key}_s")
        if value is None:
            parts.append(f"{label}: failed ({startup.get(f'{key}_error', 'not measured')})")
            continue
        verdict = "" if target is None else f" (target < {target:g} s)"
        parts.append(f"{label} {value:.2f} s{verdict}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- comparing


def _relative_spread(timing: dict) -> float:
    return timing["iqr_s"] / timing["median_s"] if timing["median_s"] > 0 else 0.0


def compare(new: dict, old: dict, min_tolerance: float = 0.10) -> list[dict]:
    """Ratio new/old of the fastnn medians of every op present in both reports.

    A change is flagged when the ratio leaves ``[1 / (1 + tol), 1 + tol]`` with
    ``tol = max(min_tolerance, 2 * (IQR/median of old + IQR/median of new))``:
    a change larger than both runs' own noise.  ``verdict`` is "regression"
    (slower), "improvement" (faster) or "same".
    """
    old_by_key = {(e["op"], e["shape"], e["dtype"]): e for e in old.get("results", [])}
    rows = []
    for entry in new.get("results", []):
        before = old_by_key.get((entry["op"], entry["shape"], entry["dtype"]))
        if before is None or entry["fastnn"] is None or before["fastnn"] is None:
            continue
        ratio = entry["fastnn"]["median_s"] / before["fastnn"]["median_s"]
        tol = max(
            min_tolerance,
            2 * (_relative_spread(entry["fastnn"]) + _relative_spread(before["fastnn"])),
        )
        if ratio > 1 + tol:
            verdict = "regression"
        elif ratio < 1 / (1 + tol):
            verdict = "improvement"
        else:
            verdict = "same"
        rows.append({
            "op": entry["op"], "shape": entry["shape"], "dtype": entry["dtype"],
            "old_s": before["fastnn"]["median_s"], "new_s": entry["fastnn"]["median_s"],
            "ratio": ratio, "tolerance": tol, "verdict": verdict,
        })  # fmt: skip
    return rows


def format_comparison(rows: list[dict], new: dict, old: dict) -> str:
    header = ["op", "shape", "dtype", "old", "new", "new/old", "noise", "verdict"]
    table_rows = [
        [r["op"], r["shape"], r["dtype"], format_seconds(r["old_s"]), format_seconds(r["new_s"]),
         f"{r['ratio']:.2f}", f"±{100 * r['tolerance']:.0f}%",
         {"regression": "REGRESSION", "improvement": "improvement"}.get(r["verdict"], "")]
        for r in rows
    ]  # fmt: skip
    lines = []
    if not rows:
        lines.append("no op in common with the earlier run")
    else:
        lines.append(_table(header, table_rows, right_from=3))
    n_reg = sum(r["verdict"] == "regression" for r in rows)
    n_imp = sum(r["verdict"] == "improvement" for r in rows)
    lines.append(
        f"{n_reg} regression(s), {n_imp} improvement(s) beyond noise, of {len(rows)} compared"
    )
    old_m, new_m = old.get("machine", {}), new.get("machine", {})
    for key in ("cpu_model", "numba_threads"):
        if old_m.get(key) != new_m.get(key):
            lines.append(
                f"note: {key} differs ({old_m.get(key)!r} then, {new_m.get(key)!r} now); "
                "ratios compare machines, not code"
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------- plotting


def plot_speedups(report: dict, path: str) -> None:
    """A PNG bar chart of fastnn's speedup over the reference and PyTorch (log scale).

    Bars start at 1x: to the right where fastnn is faster, to the left where it
    is slower.  Raises ImportError when matplotlib is missing (it is in the
    ``bench`` extra).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    entries = [e for e in report["results"] if e["fastnn"] is not None]
    labels = [f"{e['op']} {e['shape']} {e['dtype']}" for e in entries]
    fig, ax = plt.subplots(figsize=(10, 1.5 + 0.3 * max(1, len(entries))))
    positions = np.arange(len(entries))
    for offset, key, name in ((-0.2, "speedup_vs_reference", "vs NumPy reference"),
                              (0.2, "speedup_vs_torch", "vs PyTorch")):  # fmt: skip
        values = np.array([np.nan if e[key] is None else e[key] for e in entries])
        ax.barh(positions + offset, values - 1.0, left=1.0, height=0.4, label=name)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%gx"))
    ax.set_yticks(positions, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("speedup of fastnn: their time / fastnn's (right of 1x: fastnn is faster)")
    machine = report["machine"]
    ax.set_title(f"fastnn speedups, {machine['cpu_model']}, {machine['numba_threads']} threads")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_json(report: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
        f.write("\n")


def read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    if not isinstance(report, dict) or "results" not in report:
        raise ValueError(f"{path} is not a fastnn bench JSON file (no 'results')")
    return report
