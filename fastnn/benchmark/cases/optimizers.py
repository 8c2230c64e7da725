"""The optimizer cases: one in-place update of a flat parameter array by SGD, Adam or RMSprop,
with the hyperparameters of ``fastnn.optimizers`` (Keras's defaults) unless a case overrides
them."""

from __future__ import annotations

import numpy as np

from fastnn.benchmark.cases.base import CHECK_OUT, CHECK_ROWS, CheckSpec, Context, Impl, OpSpec

__all__ = ["OptimizerCase", "SHAPES", "specs", "checks"]

SHAPES = {"small": ((32, 256),), "medium": ((1024, 1024),), "large": ((65536, 1024),)}
SUITE_SHAPES = ((256, 256), (1024, 1024))
#: optimizer -> (its class in fastnn.optimizers, the kernel's scalar arguments in order,
#: the number of state arrays).
OPTIMIZERS = {
    "sgd": ("SGD", ("learning_rate", "momentum", "nesterov", "weight_decay"), 1),
    "adam": ("Adam", ("learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay"), 2),
    "rmsprop": ("RMSprop", ("learning_rate", "rho", "momentum", "epsilon", "weight_decay"), 2),
}
#: Any Adam step count: the kernel's cost does not depend on it.
STEP = 10


def hyperparameters(name: str, **overrides) -> dict:
    """The kernel's scalar arguments by name, in order: the optimizer class's defaults
    (``weight_decay=None`` is 0) with ``overrides``."""
    import fastnn.optimizers

    class_name, order, _ = OPTIMIZERS[name]
    config = {**getattr(fastnn.optimizers, class_name)().get_config(), **overrides}
    config["weight_decay"] = config["weight_decay"] or 0.0
    return {key: config[key] for key in order}


class OptimizerCase:
    """Optimizer ``name`` on ``prod(shape)`` parameters, with ``steps`` gradients."""

    def __init__(self, shape, ctx: Context, name: str, steps: int = 1, **overrides):
        self.ctx, self.name = ctx, name
        self.hyper = hyperparameters(name, **overrides)
        size = int(np.prod(shape))
        self.param = ctx.normal(size, scale=0.5)
        self.grads = [ctx.normal(size, scale=0.1) for _ in range(steps)]
        n_state = OPTIMIZERS[name][2]
        self.state = [np.zeros(size, dtype=ctx.dtype) for _ in range(n_state)]
        if name in ("adam", "rmsprop"):
            # The second moment (Adam's v, RMSprop's velocity) starts positive, so no side
            # divides by a square root of zero at the first call.
            self.state[-1 if name == "adam" else 0].fill(1e-4)

    def _args(self, param, grad, state, step):
        return (param, grad, *state, step) if self.name == "adam" else (param, grad, *state)

    def _module(self, module, step: int = STEP):
        """``fastnn.functional`` or ``fastnn.reference`` on its own copies."""
        update = getattr(module, f"{self.name}_update")
        param, state = self.param.copy(), [s.copy() for s in self.state]
        args = self._args(param, self.grads[0], state, step)
        return lambda: update(*args, **self.hyper)

    def _torch(self):
        ctx = self.ctx
        if ctx.torch is None:
            return None
        torch, h = ctx.torch, self.hyper
        if h["weight_decay"]:
            return None  # PyTorch's SGD and Adam decay is coupled: not the same update
        p = torch.nn.Parameter(ctx.tensor(self.param))
        p.grad = ctx.tensor(self.grads[0])
        if self.name == "sgd":
            opt = torch.optim.SGD([p], lr=h["learning_rate"], momentum=h["momentum"],
                                  nesterov=h["nesterov"])  # fmt: skip
        elif self.name == "adam":
            opt = torch.optim.Adam([p], lr=h["learning_rate"], betas=(h["beta_1"], h["beta_2"]),
                                   eps=h["epsilon"])  # fmt: skip
        else:
            opt = torch.optim.RMSprop([p], lr=h["learning_rate"], alpha=h["rho"],
                                      eps=h["epsilon"], momentum=h["momentum"])  # fmt: skip
        return opt.step

    def impl(self) -> Impl:
        from fastnn import functional, reference

        ctx = self.ctx
        kernel = getattr(ctx.backend.optimizers, f"{self.name}_update")
        p, g = ctx.device(self.param), ctx.device(self.grads[0])
        state = [ctx.device(s) for s in self.state]
        # Spelled out per kernel, as a network's optimizer calls it (no argument unpacking).
        if self.name == "sgd":
            (velocity,) = state
            lr, momentum, nesterov, decay = self.hyper.values()

            def fastnn():
                kernel(p, g, velocity, lr, momentum, nesterov, decay)

        elif self.name == "adam":
            m, v = state
            lr, beta_1, beta_2, epsilon, decay = self.hyper.values()

            def fastnn():
                kernel(p, g, m, v, STEP, lr, beta_1, beta_2, epsilon, decay)

        else:
            velocity, buffer = state
            lr, rho, momentum, epsilon, decay = self.hyper.values()

            def fastnn():
                kernel(p, g, velocity, buffer, lr, rho, momentum, epsilon, decay)

        has_momentum = self.hyper.get("momentum", 0.0) > 0
        used = {"sgd": int(has_momentum), "adam": 2, "rmsprop": 1 + int(has_momentum)}[self.name]
        arrays = 3 + 2 * used  # read p, g and the used state; write p and that state
        return Impl(
            fastnn, self._module(reference), self._torch(), "bandwidth",
            arrays * self.param.nbytes, self.param.nbytes, functional=self._module(functional),
        )  # fmt: skip

    def check(self) -> tuple[dict, dict]:
        """``len(grads)`` steps from step 1; the change of the parameter and the new state.

        The change, not the parameter, is compared, so a wrong update is not
        hidden by the size of the parameter.
        """
        from fastnn import functional, reference

        outputs = []
        for module in (functional, reference):
            update = getattr(module, f"{self.name}_update")
            param, state = self.param.copy(), [s.copy() for s in self.state]
            for step, grad in enumerate(self.grads, start=1):
                update(*self._args(param, grad, state, step), **self.hyper)
            change = param.astype(np.float64) - self.param.astype(np.float64)
            outputs.append(
                {"param change": change, **{f"state {i}": s for i, s in enumerate(state)}}
            )
        return outputs[0], outputs[1]


def _make(name: str, overrides: dict):
    def make(shape, ctx: Context) -> Impl:
        return OptimizerCase(shape, ctx, name, **overrides).impl()

    return make


#: The benchmarked updates: SGD with momentum (plain SGD is a single axpy), Adam, RMSprop.
BENCHED = (("sgd_momentum", "sgd", {"momentum": 0.9}), ("adam", "adam", {}),
           ("rmsprop", "rmsprop", {}))  # fmt: skip
#: The checked variants: each code path of each kernel.
CHECKED = (
    ("sgd", "sgd", {}),
    ("sgd momentum", "sgd", {"momentum": 0.9}),
    ("sgd nesterov", "sgd", {"momentum": 0.9, "nesterov": True}),
    ("adam", "adam", {}),
    ("adam weight_decay", "adam", {"weight_decay": 0.01}),
    ("rmsprop", "rmsprop", {}),
    ("rmsprop momentum", "rmsprop", {"momentum": 0.9}),
)
CHECK_STEPS = 3


def specs() -> list[OpSpec]:
    return [
        OpSpec("optimizers", f"{label} update", SHAPES, _make(name, overrides),
               quick=SHAPES["medium"] if name == "adam" else (), suite_shapes=SUITE_SHAPES)
        for label, name, overrides in BENCHED
    ]  # fmt: skip


def checks() -> list[CheckSpec]:
    shape = (CHECK_ROWS, CHECK_OUT)

    def run(ctx, name, overrides):
        return OptimizerCase(shape, ctx, name, steps=CHECK_STEPS, **overrides).check()

    return [
        CheckSpec("optimizers", f"{label} update ({CHECK_STEPS} steps)",
                  lambda ctx, n=name, o=overrides: run(ctx, n, o))
        for label, name, overrides in CHECKED
    ]  # fmt: skip
