"""The loss cases: value and gradient of the logits in one fused pass (softmax cross-entropy,
binary cross-entropy on logits, mean squared error), at ``(batch, outputs)``."""

from __future__ import annotations

from fastnn.benchmark.cases.base import CHECK_OUT, CHECK_ROWS, CheckSpec, Context, Impl, OpSpec

__all__ = ["LossCase", "NAMES", "SHAPES", "specs", "checks"]

SHAPES = {"small": ((32, 256),), "medium": ((1024, 1024),), "large": ((65536, 1024),)}
NAMES = ("softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error")
#: The bench/ suites time softmax cross-entropy at class counts a classifier has (10, 1000).
SUITE_SHAPES = {"softmax_cross_entropy": ((32, 10), (1024, 1000))}
#: The PyTorch equivalent of each loss, by name in ``torch.nn.functional``.
TORCH_NAMES = {
    "softmax_cross_entropy": "cross_entropy",
    "binary_cross_entropy": "binary_cross_entropy_with_logits",
    "mean_squared_error": "mse_loss",
}


class LossCase:
    """Loss ``name`` of ``(batch, outputs)`` logits: integer labels for softmax cross-entropy,
    soft targets in ``[0, 1)`` for binary cross-entropy, normal targets for mean squared error.
    """

    def __init__(self, shape, ctx: Context, name: str, scale: float = 2.0):
        import numpy as np

        n, k = shape
        self.ctx, self.name = ctx, name
        self.logits = ctx.normal(shape, scale=scale)
        if name == "softmax_cross_entropy":
            self.targets = ctx.rng.integers(0, k, size=n).astype(np.int64)
        elif name == "binary_cross_entropy":
            self.targets = ctx.rng.uniform(0, 1, shape).astype(ctx.dtype)
        else:
            self.targets = ctx.normal(shape)

    def _module(self, module):
        loss = getattr(module, self.name)
        return lambda: loss(self.logits, self.targets)

    def _torch(self):
        ctx = self.ctx
        if ctx.torch is None:
            return None
        lt, tt = ctx.tensor(self.logits, requires_grad=True), ctx.tensor(self.targets)
        loss_t = getattr(ctx.torch.nn.functional, TORCH_NAMES[self.name])

        def value_and_grad():
            # The fused kernels return value and gradient, so PyTorch does forward + backward.
            lt.grad = None
            loss = loss_t(lt, tt)
            loss.backward()
            return loss.item()

        return value_and_grad

    def impl(self) -> Impl:
        import numpy as np

        from fastnn import functional, reference

        ctx = self.ctx
        kernel = getattr(ctx.backend.losses, self.name)
        logits, targets = ctx.device(self.logits), ctx.device(self.targets)
        grad, loss_out = ctx.empty(self.logits.shape), ctx.backend.zeros((1,), np.float64)
        work = ctx.workspace(self.logits.shape[0], 1)

        def fastnn():
            kernel(logits, targets, grad, loss_out, work)

        # Read the logits and the targets, write the gradient.
        nbytes = 2 * self.logits.nbytes + self.targets.nbytes
        return Impl(
            fastnn, self._module(reference), self._torch(), "bandwidth", nbytes,
            self.logits.nbytes, functional=self._module(functional),
        )  # fmt: skip

    def check(self) -> tuple[dict, dict]:
        from fastnn import functional, reference

        outputs = []
        for module in (functional, reference):
            loss, grad = self._module(module)()
            outputs.append({"loss": loss, "gradient": grad})
        return outputs[0], outputs[1]


def _make(name: str):
    def make(shape, ctx: Context) -> Impl:
        return LossCase(shape, ctx, name).impl()

    return make


def specs() -> list[OpSpec]:
    return [
        OpSpec("losses", name, SHAPES, _make(name),
               quick=SHAPES["medium"] if name == "softmax_cross_entropy" else (),
               suite_shapes=SUITE_SHAPES.get(name))
        for name in NAMES
    ]  # fmt: skip


def checks() -> list[CheckSpec]:
    shape = (CHECK_ROWS, CHECK_OUT)
    return [
        CheckSpec("losses", f"{name} value+gradient",
                  lambda ctx, name=name: LossCase(shape, ctx, name, scale=3.0).check())
        for name in NAMES
    ]  # fmt: skip
