"""The dropout cases: the training-mode forward (Philox keep mask, inverted scaling) and the
backward through the stored mask, at ``(batch, features)``."""

from __future__ import annotations

import numpy as np

from fastnn.benchmark.cases import base
from fastnn.benchmark.cases.base import CheckSpec, Context, Impl, OpSpec

__all__ = ["DropoutCase", "SHAPES", "RATE", "specs", "checks"]

SHAPES = {"small": ((32, 256),), "medium": ((1024, 1024),), "large": ((65536, 1024),)}
#: The dropped fraction timed (the kernels' cost does not depend on it).
RATE = 0.5
#: The mask's key: a fixed seed, stream and step, as a layer at one training step has.
SEED, STREAM, STEP = 7, 2**63 + 1, 3


class DropoutCase:
    """Dropout at ``shape``; the backward reads the reference's mask, so no kernel runs
    before it is timed.  PyTorch draws its own mask (another generator): only its time
    compares."""

    def __init__(self, shape, ctx: Context, rate: float = RATE):
        from fastnn import reference

        self.ctx, self.rate = ctx, rate
        self.x = ctx.normal(shape)
        self.dy = ctx.normal(shape)
        _, keep = reference.dropout_forward(self.x, rate, seed=SEED, stream=STREAM, step=STEP)
        self.keep = keep.astype(np.uint8)

    def _reference(self, mode: str):
        from fastnn import reference

        x, dy, keep, rate = self.x, self.dy, self.keep.astype(bool), self.rate
        if mode == "fwd":
            return lambda: reference.dropout_forward(x, rate, seed=SEED, stream=STREAM, step=STEP)
        return lambda: reference.dropout_backward(dy, keep, rate)

    def _torch(self, mode: str):
        ctx = self.ctx
        if ctx.torch is None:
            return None
        torch, rate = ctx.torch, self.rate
        xt = ctx.tensor(self.x, requires_grad=mode == "bwd")
        dy = ctx.tensor(self.dy) if mode == "bwd" else None
        leaves = (xt,) if mode == "bwd" else ()
        forward = lambda: torch.nn.functional.dropout(xt, rate, training=True)  # noqa: E731
        return base.torch_timed(torch, forward, dy, leaves, mode)

    def _kernel_forward(self, x, keep, y):
        kernels, rate = self.ctx.backend.dropout, self.rate
        # numpy.uint64, as the layer passes them: a Python int >= 2**63 costs 45 us to type.
        seed, stream = np.uint64(SEED), np.uint64(STREAM)

        def kernel():
            kernels.dropout_forward(x, seed, stream, STEP, rate, keep, y)

        return kernel

    def impl(self, mode: str) -> Impl:
        ctx, kernels, rate = self.ctx, self.ctx.backend.dropout, self.rate
        size = self.x.nbytes
        mask = self.keep.nbytes
        if mode == "fwd":
            x, y = ctx.device(self.x), ctx.empty(self.x.shape)
            kernel = self._kernel_forward(x, ctx.empty(self.x.shape, np.uint8), y)
            traffic = 2 * size + mask  # read x, write y and the mask
        else:
            dy, keep, dx = ctx.device(self.dy), ctx.device(self.keep), ctx.empty(self.x.shape)

            def kernel():
                kernels.dropout_backward(dy, keep, rate, dx)

            traffic = 2 * size + mask  # read dy and the mask, write dx
        return Impl(kernel, self._reference(mode), self._torch(mode), "bandwidth", traffic, size)

    def check(self) -> tuple[dict, dict]:
        """The kernels' mask, output and gradient against the reference's (they agree bitwise)."""
        from fastnn import reference

        ctx = self.ctx
        x, keep, y = ctx.device(self.x), ctx.empty(self.x.shape, np.uint8), ctx.empty(self.x.shape)
        self._kernel_forward(x, keep, y)()
        dx = ctx.empty(self.x.shape)
        ctx.backend.dropout.dropout_backward(ctx.device(self.dy), keep, self.rate, dx)
        y_ref, keep_ref = self._reference("fwd")()
        dx_ref = reference.dropout_backward(self.dy, keep_ref, self.rate)
        got = {"y": ctx.host(y), "mask": ctx.host(keep).astype(ctx.dtype), "dx": ctx.host(dx)}
        want = {"y": y_ref, "mask": keep_ref.astype(ctx.dtype), "dx": dx_ref}
        return got, want


def _make(mode: str):
    def make(shape, ctx: Context) -> Impl:
        return DropoutCase(shape, ctx).impl(mode)

    return make


def specs() -> list[OpSpec]:
    return [
        OpSpec("dropout", f"dropout {mode}", SHAPES, _make(mode), quick=SHAPES["medium"])
        for mode in ("fwd", "bwd")
    ]  # fmt: skip


def checks() -> list[CheckSpec]:
    shape = (base.CHECK_ROWS, base.CHECK_OUT)
    return [CheckSpec("dropout", "dropout forward+backward",
                      lambda ctx: DropoutCase(shape, ctx).check())]  # fmt: skip
