"""The network cases: one training step of a whole ``Network`` (forward, softmax
cross-entropy, backward, optimizer update) beside ``fastnn.reference.Network`` from the same
weights and, for the benchmarked model, the same model in PyTorch eager.

Two models: the 784-256-256-10 network of the training-step figures (relu
then BatchNormalization twice, Adam), timed at batch 32, 128 and 1024; and a
small one for ``fastnn check`` whose layers run as both fused BatchNorm
placements (Dense(relu) -> BN as one pre-activation kernel, BN -> Activation
as one post-activation kernel), trained with SGD.
"""

from __future__ import annotations

import numpy as np

from fastnn.benchmark.cases import base
from fastnn.benchmark.cases.base import CheckSpec, Context, Impl, OpSpec

__all__ = ["NetworkCase", "LAYERS", "build_network", "train_step", "specs", "checks"]

SHAPES = {"small": ((32,),), "medium": ((128,),), "large": ((1024,),)}
#: Widths of the benchmarked model.
LAYERS = (784, 256, 256, 10)
NAME = "train step 784-256-256-10"


def _benchmark_layers() -> list:
    import fastnn

    return [
        fastnn.Dense(LAYERS[1], activation="relu", input_dim=LAYERS[0]),
        fastnn.BatchNormalization(),
        fastnn.Dense(LAYERS[2], activation="relu"),
        fastnn.BatchNormalization(),
        fastnn.Dense(LAYERS[3]),
    ]


def _check_layers() -> list:
    import fastnn

    return [
        fastnn.Dense(17, activation="relu", input_dim=base.CHECK_IN),
        fastnn.BatchNormalization(),
        fastnn.Dense(11),
        fastnn.BatchNormalization(),
        fastnn.Activation("tanh"),
        fastnn.Dense(base.CHECK_OUT),
    ]


def build_network(dtype: str = "float32", seed: int = 0, device: str = "cpu"):
    """The 784-256-256-10 network of the training-step figures: BN after each hidden relu, Adam."""
    import fastnn

    net = fastnn.Network(_benchmark_layers(), seed=seed, dtype=dtype, device=device)
    net.compile(optimizer="adam", loss="cross_entropy")
    return net


def train_step(net, x: np.ndarray, labels: np.ndarray) -> float:
    """One training step of ``build_network``'s network (softmax cross-entropy, Adam)."""
    return net.train_on_batch(x, labels)


def network_flops(batch: int) -> float:
    """GEMM flops of one training step: forward, dW of every layer, dx of all but the first."""
    pairs = list(zip(LAYERS[:-1], LAYERS[1:], strict=False))
    forward = sum(2.0 * batch * n_in * n_out for n_in, n_out in pairs)
    return forward + forward + (forward - 2.0 * batch * pairs[0][0] * pairs[0][1])


class NetworkCase:
    """A compiled ``Network`` and a reference network with its weights, at ``(batch,)``.

    ``model`` is "benchmark" (the 784-256-256-10 Adam network) or "check" (the
    small fused-placement network, SGD: Adam's first steps are about
    sign(gradient), which turns rounding differences of near-zero gradients into
    full-size steps).
    """

    def __init__(self, shape, ctx: Context, model: str = "benchmark"):
        import fastnn
        from fastnn import reference
        from fastnn.optimizers import SGD

        (batch,) = shape
        self.ctx, self.model = ctx, model
        dtype = ctx.dtype.name
        if model == "benchmark":
            self.net = build_network(dtype=dtype, device=ctx.backend.name)
        else:
            self.net = fastnn.Network(_check_layers(), seed=0, dtype=dtype,
                                      device=ctx.backend.name)  # fmt: skip
            self.net.compile(optimizer=SGD(learning_rate=0.1, momentum=0.9), loss="cross_entropy")
        if model == "benchmark":
            n_in, n_classes = LAYERS[0], LAYERS[-1]
        else:
            n_in, n_classes = base.CHECK_IN, base.CHECK_OUT
        self.x = ctx.normal((batch, n_in))
        self.labels = ctx.rng.integers(0, n_classes, size=batch).astype(np.int64)
        # The reference runs the same layers one reference op at a time, from the same weights.
        self.ref_net = reference.Network(
            self.net.layers, input_dim=n_in, loss="cross_entropy", optimizer=self.net.optimizer,
            dtype=ctx.dtype,
        )  # fmt: skip
        self.ref_net.set_weights(self.net.get_weights())

    def _torch(self):
        ctx = self.ctx
        if ctx.torch is None or self.model != "benchmark":
            return None
        from fastnn.benchmark.cases.batchnorm import layer_defaults
        from fastnn.benchmark.cases.optimizers import hyperparameters

        torch, nn = ctx.torch, ctx.torch.nn
        bn_momentum, bn_epsilon = layer_defaults()
        adam = hyperparameters("adam")

        def bn(width):
            # BatchNorm1d momentum is PyTorch's convention: 1 - Keras's momentum.
            return nn.BatchNorm1d(width, eps=bn_epsilon, momentum=1 - bn_momentum)

        model = nn.Sequential(
            nn.Linear(LAYERS[0], LAYERS[1]), nn.ReLU(), bn(LAYERS[1]),
            nn.Linear(LAYERS[1], LAYERS[2]), nn.ReLU(), bn(LAYERS[2]),
            nn.Linear(LAYERS[2], LAYERS[3]),
        )  # fmt: skip
        model.to(getattr(torch, ctx.dtype.name))
        betas = (adam["beta_1"], adam["beta_2"])
        opt = torch.optim.Adam(
            model.parameters(), lr=adam["learning_rate"], betas=betas, eps=adam["epsilon"]
        )
        xt, lt = ctx.tensor(self.x), ctx.tensor(self.labels)
        cross_entropy = nn.functional.cross_entropy

        def step():
            opt.zero_grad(set_to_none=True)
            loss = cross_entropy(model(xt), lt)
            loss.backward()
            opt.step()
            return loss.item()

        return step

    def impl(self) -> Impl:
        net, ref_net, x, labels = self.net, self.ref_net, self.x, self.labels

        def fastnn():
            return train_step(net, x, labels)

        def reference():
            return ref_net.train_on_batch(x, labels)

        return Impl(fastnn, reference, self._torch(), "gemm", network_flops(len(x)))

    def check(self, steps: int = 2) -> tuple[dict, dict]:
        """``steps`` training steps, then all weights and the predictions."""
        nets = (self.net, self.ref_net)
        got, want = (
            {"loss": np.array([net.train_on_batch(self.x, self.labels) for _ in range(steps)])}
            for net in nets
        )
        # All weights as one vector, normwise: a bias whose gradient is zero (it feeds BN)
        # stays near zero and would make its own relative error meaningless.
        got["weights"], want["weights"] = (
            np.concatenate([w.ravel() for w in net.get_weights()]) for net in nets
        )
        got["predict"], want["predict"] = (net.predict(self.x) for net in nets)
        return got, want


def _make(shape, ctx: Context) -> Impl:
    return NetworkCase(shape, ctx).impl()


def specs() -> list[OpSpec]:
    all_batches = tuple(shape for shapes in SHAPES.values() for shape in shapes)
    return [
        OpSpec("network", NAME, SHAPES, _make, quick=all_batches,
               label=lambda shape: f"batch {shape[0]}")
    ]  # fmt: skip


def checks() -> list[CheckSpec]:
    return [
        CheckSpec("network", "network train step (2 SGD steps) + predict",
                  lambda ctx: NetworkCase((base.CHECK_ROWS,), ctx, model="check").check(steps=2))
    ]  # fmt: skip
