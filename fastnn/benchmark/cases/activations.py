"""The activation cases: ``y = f(x)`` forward and ``dx = dy f'(y)`` backward, elementwise
(softmax: per row), at ``(batch, features)``."""

from __future__ import annotations

from fastnn.benchmark.cases import base
from fastnn.benchmark.cases.base import CheckSpec, Context, Impl, OpSpec

__all__ = ["ActivationCase", "NAMES", "SHAPES", "specs", "checks"]

SHAPES = {"small": ((32, 256),), "medium": ((1024, 1024),), "large": ((65536, 1024),)}
#: The activations ``fastnn bench`` times (``linear`` is a copy; ``fastnn check`` adds it).
NAMES = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax")
QUICK = ("relu", "softmax")


class ActivationCase:
    """Activation ``name`` at ``shape``; the backward takes the reference's forward output."""

    def __init__(self, shape, ctx: Context, name: str, scale: float = 2.0):
        from fastnn import reference

        self.ctx, self.name = ctx, name
        self.code, self.slope, self.params = base.activation_args(name)
        self.x = ctx.normal(shape, scale=scale)
        self.dy = ctx.normal(shape)
        # The backward's y comes from NumPy, so no kernel runs before it is timed.
        self.y = reference.activation_forward(self.x, name, **self.params)

    def _module(self, module, mode: str):
        """``fastnn.functional`` or ``fastnn.reference``, allocating its output."""
        x, dy, y, name, params = self.x, self.dy, self.y, self.name, self.params
        if mode == "fwd":
            return lambda: module.activation_forward(x, name, **params)
        return lambda: module.activation_backward(dy, y, name, **params)

    def _torch(self, mode: str):
        ctx = self.ctx
        if ctx.torch is None:
            return None
        torch = ctx.torch
        f = base.torch_activation(torch, self.name)
        xt = ctx.tensor(self.x, requires_grad=mode == "bwd")
        dy = ctx.tensor(self.dy) if mode == "bwd" else None
        return base.torch_timed(torch, lambda: f(xt), dy, (xt,) if mode == "bwd" else (), mode)

    def impl(self, mode: str) -> Impl:
        from fastnn import functional, reference

        ctx, kernels, code, slope = self.ctx, self.ctx.backend.activations, self.code, self.slope
        x = ctx.device(self.x)
        size = self.x.nbytes
        if mode == "fwd":
            y = ctx.empty(self.x.shape)

            def kernel():
                kernels.activation_forward(x, code, slope, y)

            arrays = 2  # read x, write y
        else:
            dy, y, dx = ctx.device(self.dy), ctx.device(self.y), ctx.empty(self.x.shape)

            def kernel():
                kernels.activation_backward(dy, y, code, slope, dx)

            arrays = 3  # read dy and y, write dx
        return Impl(
            kernel, self._module(reference, mode), self._torch(mode), "bandwidth",
            arrays * size, size, functional=self._module(functional, mode),
        )  # fmt: skip

    def check(self) -> tuple[dict, dict]:
        """Forward and backward; both backward passes take the reference's y, so each is
        checked on its own."""
        from fastnn import functional, reference

        got = {"y": self._module(functional, "fwd")(), "dx": self._module(functional, "bwd")()}
        want = {"y": self._module(reference, "fwd")(), "dx": self._module(reference, "bwd")()}
        return got, want


def _make(name: str, mode: str):
    def make(shape, ctx: Context) -> Impl:
        return ActivationCase(shape, ctx, name).impl(mode)

    return make


def specs() -> list[OpSpec]:
    return [
        OpSpec("activations", f"{name} {mode}", SHAPES, _make(name, mode),
               quick=SHAPES["medium"] if name in QUICK else ())
        for name in NAMES
        for mode in ("fwd", "bwd")
    ]  # fmt: skip


def checks() -> list[CheckSpec]:
    shape = (base.CHECK_ROWS, base.CHECK_OUT)
    return [
        CheckSpec("activations", f"activation {name} forward+backward",
                  lambda ctx, name=name: ActivationCase(shape, ctx, name, scale=3.0).check())
        for name in ("linear", *NAMES)
    ]  # fmt: skip
