"""The dense-layer case, ``y = f(x W + b)``: forward, backward, and both, at ``(batch, n_in,
n_out)``, with a dense layer's GEMMs alone as the baseline."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from fastnn.benchmark.cases import base
from fastnn.benchmark.cases.base import CheckSpec, Context, Impl, OpSpec

__all__ = ["DenseCase", "SHAPES", "specs", "checks"]

SHAPES = {
    "small": ((32, 256, 256),),
    "medium": ((1024, 1024, 1024),),
    "large": ((4096, 1024, 1024),),
}
MODES = ("fwd", "bwd", "fwd+bwd")
ALL_ACTIVATIONS = ("linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")


def label(shape) -> str:
    n, n_in, n_out = shape
    return f"{n}x{n_in}->{n_out}"


@njit(cache=True)
def _forward_gemm(x, W, y):
    """A dense layer's forward GEMM alone (the BLAS the kernels use: np.dot inside @njit)."""
    np.dot(x, W, y)


@njit(cache=True)
def _backward_gemms(x, W, dz, dW, dx):
    """A dense layer's two backward GEMMs alone."""
    np.dot(x.T, dz, dW)
    np.dot(dz, W.T, dx)


class DenseCase:
    """A dense layer with activation ``activation`` at ``shape = (batch, n_in, n_out)``."""

    def __init__(self, shape, ctx: Context, activation: str = "relu", weight_scale=None):
        n, n_in, n_out = shape
        self.ctx, self.activation = ctx, activation
        self.code, self.slope, self.params = base.activation_args(activation)
        scale = math.sqrt(2.0 / n_in) if weight_scale is None else weight_scale
        self.x = ctx.normal((n, n_in))
        self.W = ctx.normal((n_in, n_out), scale=scale)
        self.b = ctx.normal((n_out,), scale=0.1)
        self.dy = ctx.normal((n, n_out))
        self.flops = 2.0 * n * n_in * n_out

    def _fastnn(self, mode: str):
        """The backend's kernels on device buffers allocated once."""
        from fastnn import reference

        ctx, kernels = self.ctx, self.ctx.backend.dense
        x, W, b, dy = (ctx.device(a) for a in (self.x, self.W, self.b, self.dy))
        n, n_out = self.dy.shape
        # y for the backward-only timing comes from NumPy, so no kernel runs before it is timed.
        y_host, _ = reference.dense_forward(self.x, self.W, self.b, self.activation, **self.params)
        y = ctx.device(y_host)
        dz, dx, dW = ctx.device(self.dy), ctx.empty(self.x.shape), ctx.empty(self.W.shape)
        db, work = ctx.empty((n_out,)), ctx.workspace(n, n_out)
        code, slope = self.code, self.slope

        def forward():
            kernels.dense_forward(x, W, b, code, slope, y)

        def backward():
            kernels.dense_backward(dy, x, W, y, code, slope, dz, dx, dW, db, work, True)

        def both():
            forward()
            backward()

        def gemm_forward():
            _forward_gemm(x, W, y)

        def gemm_backward():
            _backward_gemms(x, W, dz, dW, dx)

        def gemm_both():
            _forward_gemm(x, W, y)
            _backward_gemms(x, W, dz, dW, dx)

        kernel = {"fwd": forward, "bwd": backward, "fwd+bwd": both}[mode]
        gemm = {"fwd": gemm_forward, "bwd": gemm_backward, "fwd+bwd": gemm_both}[mode]
        return kernel, gemm

    def _module(self, module, mode: str):
        """``fastnn.functional`` or ``fastnn.reference``: returns ``(y, dx, dW, db)`` for
        fwd+bwd."""
        x, W, b, dy, act, params = self.x, self.W, self.b, self.dy, self.activation, self.params
        cache = []  # the forward's cache, made by the first backward call (nothing runs at build)

        def forward():
            return module.dense_forward(x, W, b, act, **params)

        def backward():
            if not cache:
                cache.append(forward()[1])
            return module.dense_backward(dy, cache[0])

        def both():
            y, fresh = module.dense_forward(x, W, b, act, **params)
            return (y, *module.dense_backward(dy, fresh))

        return {"fwd": forward, "bwd": backward, "fwd+bwd": both}[mode]

    def _torch(self, mode: str):
        ctx = self.ctx
        if ctx.torch is None:
            return None
        F = ctx.torch.nn.functional
        xt, Wt, bt = (ctx.tensor(a, requires_grad=True) for a in (self.x, self.W, self.b))
        if self.activation == "linear":
            act = lambda t: t  # noqa: E731 (a clone would add a pass nn.Linear does not make)
        else:
            act = base.torch_activation(ctx.torch, self.activation)

        def forward():
            # F.linear wants the weight (out, in): pass our (in, out) one transposed (a view).
            return act(F.linear(xt, Wt.T, bt))

        return base.torch_timed(ctx.torch, forward, ctx.tensor(self.dy), (xt, Wt, bt), mode)

    def impl(self, mode: str) -> Impl:
        from fastnn import functional, reference

        kernel, gemm = self._fastnn(mode)
        flops = {"fwd": 1, "bwd": 2, "fwd+bwd": 3}[mode] * self.flops
        return Impl(
            kernel, self._module(reference, mode), self._torch(mode), "gemm", flops,
            baselines={"gemm_only": gemm}, functional=self._module(functional, mode),
        )  # fmt: skip

    def check(self) -> tuple[dict, dict]:
        """Forward+backward through ``fastnn.functional`` and ``fastnn.reference``."""
        from fastnn import functional, reference

        names = ("y", "dx", "dW", "db")
        got = dict(zip(names, self._module(functional, "fwd+bwd")(), strict=True))
        want = dict(zip(names, self._module(reference, "fwd+bwd")(), strict=True))
        return got, want


def _make(mode: str):
    def make(shape, ctx: Context) -> Impl:
        return DenseCase(shape, ctx, "relu").impl(mode)

    return make


def specs() -> list[OpSpec]:
    medium = SHAPES["medium"]
    return [
        OpSpec("dense", f"dense {mode} relu", SHAPES, _make(mode),
               quick=medium if mode == "fwd+bwd" else (), label=label)
        for mode in MODES
    ]  # fmt: skip


def checks() -> list[CheckSpec]:
    shape = (base.CHECK_ROWS, base.CHECK_IN, base.CHECK_OUT)

    def run(ctx, name):
        return DenseCase(shape, ctx, name, weight_scale=1 / math.sqrt(base.CHECK_IN)).check()

    return [
        CheckSpec("dense", f"dense {name} forward+backward", lambda ctx, n=name: run(ctx, n))
        for name in ALL_ACTIVATIONS
    ]
