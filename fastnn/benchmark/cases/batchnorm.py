"""The batch-normalization cases, plain and fused with an activation before (``act-bn``) or
after it (``bn-act``): training forward, inference forward, backward, and forward+backward, at
``(batch, features)``.

Momentum and epsilon are those of ``fastnn.BatchNormalization()`` (Keras's
defaults); PyTorch's momentum weights the new batch value, so it gets ``1 - momentum``.
"""

from __future__ import annotations

from fastnn.benchmark.cases import base
from fastnn.benchmark.cases.base import CheckSpec, Context, Impl, OpSpec

__all__ = ["BatchNormCase", "SHAPES", "layer_defaults", "specs", "checks"]

SHAPES = {
    "small": ((32, 256),),
    "medium": ((1024, 1024), (4096, 1024)),
    "large": ((65536, 1024),),
}
#: The bench/ suites add the shapes of the issue targets (60x100, 128x256); the fused
#: placements stop at 4096x1024, where they add little to the plain case.
SUITE_SHAPES = ((60, 100), (128, 256), (32, 256), (1024, 1024), (4096, 1024), (65536, 1024))
FUSED_SUITE_SHAPES = SUITE_SHAPES[:-1]
MODES = ("fwd-train", "fwd-infer", "bwd", "fwd+bwd")
POINTWISE = ("linear", "relu", "leaky_relu", "sigmoid", "tanh")
#: placement -> the fastnn.functional / fastnn.reference names of its forward and backward.
FUNCTIONS = {
    "bn": ("batch_norm_forward", "batch_norm_backward"),
    "bn-act": ("batch_norm_act_forward", "batch_norm_act_backward"),
    "act-bn": ("act_batch_norm_forward", "act_batch_norm_backward"),
}


def layer_defaults() -> tuple[float, float]:
    """``(momentum, epsilon)`` of a default ``fastnn.BatchNormalization`` layer."""
    from fastnn import BatchNormalization

    layer = BatchNormalization()
    return layer.momentum, layer.epsilon


class BatchNormCase:
    """Batch normalization at ``shape``; ``placement`` "bn", "bn-act" or "act-bn" with
    ``activation`` fused before or after it."""

    def __init__(self, shape, ctx: Context, placement: str = "bn", activation: str = "relu"):
        from fastnn.kernels.scalar import LINEAR

        n, m = shape
        self.ctx, self.placement = ctx, placement
        code, self.slope, params = base.activation_args(activation)
        self.pre = code if placement == "act-bn" else LINEAR
        self.post = code if placement == "bn-act" else LINEAR
        self.activation = None if placement == "bn" else activation
        self.extra = {} if placement == "bn" else {"activation": activation, **params}
        self.momentum, self.epsilon = layer_defaults()
        self.x = ctx.normal(shape, scale=2.0, loc=0.5)
        self.gamma = ctx.normal((m,), scale=0.2, loc=1.0)
        self.beta = ctx.normal((m,), scale=0.2)
        self.running_mean = ctx.normal((m,), scale=0.1)
        self.running_var = abs(ctx.normal((m,), scale=0.1, loc=1.0))
        self.dy = ctx.normal(shape)

    def _forward(self, module, running, training=True):
        forward = getattr(module, FUNCTIONS[self.placement][0])
        return forward(
            self.x, self.gamma, self.beta, *running, training=training,
            momentum=self.momentum, epsilon=self.epsilon, **self.extra,
        )  # fmt: skip

    def _module(self, module, mode: str):
        """``fastnn.functional`` or ``fastnn.reference``, each on its own running statistics."""
        backward = getattr(module, FUNCTIONS[self.placement][1])
        running = (self.running_mean.copy(), self.running_var.copy())
        cache = []  # the forward's cache, made by the first backward call (nothing runs at build)

        def backward_only():
            if not cache:
                cache.append(self._forward(module, running)[1])
            return backward(self.dy, cache[0])

        return {
            "fwd-train": lambda: self._forward(module, running),
            "fwd-infer": lambda: self._forward(module, running, training=False),
            "bwd": backward_only,
            "fwd+bwd": lambda: backward(self.dy, self._forward(module, running)[1]),
        }[mode]

    def _fastnn(self, mode: str):
        """The backend's kernels on device buffers allocated once."""
        from fastnn import reference
        from fastnn.kernels.scalar import LINEAR

        ctx, kernels = self.ctx, self.ctx.backend.batchnorm
        n, m = self.x.shape
        x, gamma, beta, dy = (ctx.device(v) for v in (self.x, self.gamma, self.beta, self.dy))
        rm, rv = ctx.device(self.running_mean), ctx.device(self.running_var)
        a = ctx.empty((n, m)) if self.pre != LINEAR else x
        y, dx = ctx.empty((n, m)), ctx.empty((n, m))
        mean, invstd, dgamma, dbeta = (ctx.empty((m,)) for _ in range(4))
        if mode == "bwd":
            # The forward's results come from the reference, so no kernel runs before timing.
            saved = self._forward(reference, (self.running_mean.copy(), self.running_var.copy()))
            for out, value in ((a, saved[1].a), (y, saved[1].y), (mean, saved[1].mean),
                               (invstd, saved[1].invstd)):  # fmt: skip
                ctx.backend.memory.copy(value, out)
        work = ctx.workspace(n, m)
        pre, post, slope, momentum, epsilon = (
            self.pre, self.post, self.slope, self.momentum, self.epsilon,
        )  # fmt: skip

        def forward_train():
            kernels.batch_norm_forward_train(
                x, gamma, beta, rm, rv, momentum, epsilon, pre, post, slope, a, y, mean, invstd,
                work,
            )  # fmt: skip

        def forward_infer():
            kernels.batch_norm_forward_infer(
                x, gamma, beta, rm, rv, epsilon, pre, post, slope, y, work
            )

        def backward():
            kernels.batch_norm_backward(
                dy, a, y, gamma, mean, invstd, pre, post, slope, dx, dgamma, dbeta, work
            )

        def both():
            forward_train()
            backward()

        return {"fwd-train": forward_train, "fwd-infer": forward_infer, "bwd": backward,
                "fwd+bwd": both}[mode]  # fmt: skip

    def _torch(self, mode: str):
        ctx = self.ctx
        if ctx.torch is None:
            return None
        F = ctx.torch.nn.functional
        xt = ctx.tensor(self.x, requires_grad=True)
        gt, bt = ctx.tensor(self.gamma, requires_grad=True), ctx.tensor(self.beta, True)
        rmt, rvt = ctx.tensor(self.running_mean), ctx.tensor(self.running_var)
        act = None if self.activation is None else base.torch_activation(ctx.torch, self.activation)
        training = mode != "fwd-infer"
        momentum = 1 - self.momentum  # PyTorch's momentum weights the new batch value

        def forward():
            inp = act(xt) if self.placement == "act-bn" else xt
            out = F.batch_norm(inp, rmt, rvt, gt, bt, training, momentum, self.epsilon)
            return act(out) if self.placement == "bn-act" else out

        torch_mode = "fwd" if mode.startswith("fwd-") else mode
        return base.torch_timed(ctx.torch, forward, ctx.tensor(self.dy), (xt, gt, bt), torch_mode)

    def impl(self, mode: str) -> Impl:
        from fastnn import functional, reference
        from fastnn.kernels.scalar import LINEAR

        # Compulsory traffic in (n, m) arrays: forward reads x, writes y (and a when an
        # activation precedes BN); backward reads dy and a (and y when an activation follows)
        # and writes dx.
        fwd_arrays = 2 + (self.pre != LINEAR)
        bwd_arrays = 3 + (self.post != LINEAR)
        arrays = {"fwd-train": fwd_arrays, "fwd-infer": 2, "bwd": bwd_arrays,
                  "fwd+bwd": fwd_arrays + bwd_arrays}[mode]  # fmt: skip
        nbytes = self.x.nbytes
        return Impl(
            self._fastnn(mode), self._module(reference, mode), self._torch(mode), "bandwidth",
            arrays * nbytes, nbytes, functional=self._module(functional, mode),
            yardsticks={"copy": base.copy_yardstick(self.x)},
        )  # fmt: skip

    def check(self) -> tuple[dict, dict]:
        """Training forward, backward, then inference with the updated running statistics."""
        from fastnn import functional, reference

        outputs = []
        for module in (functional, reference):
            running = (self.running_mean.copy(), self.running_var.copy())
            y, cache = self._forward(module, running)
            dx, dgamma, dbeta = getattr(module, FUNCTIONS[self.placement][1])(self.dy, cache)
            y_infer, _ = self._forward(module, running, training=False)
            outputs.append(
                {"y": y, "dx": dx, "dgamma": dgamma, "dbeta": dbeta, "running_mean": running[0],
                 "running_var": running[1], "y (inference)": y_infer}
            )  # fmt: skip
        return outputs[0], outputs[1]


def _make(mode: str, placement: str):
    def make(shape, ctx: Context) -> Impl:
        return BatchNormCase(shape, ctx, placement, "relu").impl(mode)

    return make


def specs() -> list[OpSpec]:
    plain = [
        OpSpec("batchnorm", f"bn {mode}", SHAPES, _make(mode, "bn"),
               quick=((4096, 1024),) if mode == "fwd+bwd" else (), suite_shapes=SUITE_SHAPES)
        for mode in MODES
    ]  # fmt: skip
    fused = [
        OpSpec("batchnorm", f"{name} fwd+bwd", SHAPES, _make("fwd+bwd", placement),
               suite_shapes=FUSED_SUITE_SHAPES)
        for placement, name in (("bn-act", "bn-relu"), ("act-bn", "relu-bn"))
    ]  # fmt: skip
    return plain + fused


def checks() -> list[CheckSpec]:
    shape = (base.CHECK_ROWS, base.CHECK_OUT)

    def spec(op, placement, activation="relu"):
        return CheckSpec(
            "batchnorm", op, lambda ctx: BatchNormCase(shape, ctx, placement, activation).check()
        )

    rows = [spec("batch_norm forward (train, inference)+backward", "bn")]
    for name in POINTWISE:
        rows.append(spec(f"batch_norm -> {name} forward+backward", "bn-act", name))
        rows.append(spec(f"{name} -> batch_norm forward+backward", "act-bn", name))
    return rows
