"""The network cases: one training step of a whole ``Network`` (forward, softmax
cross-entropy, backward, optimizer update) beside ``fastnn.reference.Network`` from the same
weights and, for the benchmarked model, the same model in PyTorch eager, under
``torch.compile``, and in JAX under ``jax.jit`` (the last three only when installed).

Two models: the 784-256-256-10 network of the training-step figures (relu
then BatchNormalization twice, Adam), timed at batch 32, 128 and 1024; and a
small one for ``fastnn check`` whose layers run as both fused BatchNorm
placements (Dense(relu) -> BN as one pre-activation kernel, BN -> Activation
as one post-activation kernel), trained with SGD.
"""

from __future__ import annotations

import warnings

import numpy as np

from fastnn.benchmark.cases import base
from fastnn.benchmark.cases.base import CheckSpec, Context, Impl, OpSpec

__all__ = [
    "NetworkCase", "LAYERS", "build_network", "train_step", "jax_train_step", "specs", "checks",
]  # fmt: skip

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
        #: Why an optional side (``torch_compile``, ``jax``) is missing, by side name.
        self.unavailable: dict[str, str] = {}

    def _torch_model(self):
        """The benchmarked model in PyTorch: ``(model, Adam optimizer)``."""
        from fastnn.benchmark.cases.batchnorm import layer_defaults
        from fastnn.benchmark.cases.optimizers import hyperparameters

        torch, nn = self.ctx.torch, self.ctx.torch.nn
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
        model.to(getattr(torch, self.ctx.dtype.name))
        betas = (adam["beta_1"], adam["beta_2"])
        opt = torch.optim.Adam(
            model.parameters(), lr=adam["learning_rate"], betas=betas, eps=adam["epsilon"]
        )
        return model, opt

    def _torch(self):
        if self.ctx.torch is None or self.model != "benchmark":
            return None
        model, opt = self._torch_model()
        xt, lt = self.ctx.tensor(self.x), self.ctx.tensor(self.labels)
        cross_entropy = self.ctx.torch.nn.functional.cross_entropy

        def step():
            opt.zero_grad(set_to_none=True)
            loss = cross_entropy(model(xt), lt)
            loss.backward()
            opt.step()
            return loss.item()

        return step

    def _compiled_step(self):
        """The ``torch.compile`` step, compiled by one call here."""
        torch = self.ctx.torch
        model, opt = self._torch_model()
        xt, lt = self.ctx.tensor(self.x), self.ctx.tensor(self.labels)
        cross_entropy = torch.nn.functional.cross_entropy

        @torch.compile
        def forward_loss():
            return cross_entropy(model(xt), lt)

        @torch.compile
        def optimizer_step():
            opt.step()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = forward_loss()
            loss.backward()
            optimizer_step()
            return loss.item()

        step()  # compile here, so a failure is a missing side, not a failed row
        return step

    def _torch_compile(self):
        """The PyTorch step with the model's forward+loss (and so its backward, by AOTAutograd)
        and the optimizer step each under ``torch.compile``, as PyTorch's tutorials compile a
        training step; None when PyTorch is absent or the compile fails here (no C++ compiler,
        an unsupported platform).  The failure's reason is kept in ``unavailable``."""
        torch = self.ctx.torch
        if torch is None or self.model != "benchmark":
            return None
        try:
            with warnings.catch_warnings():
                # torch.compile's imports warn (torch.jit deprecations); the suites turn
                # warnings into errors, which would make a working compile look failed.
                warnings.simplefilter("ignore", DeprecationWarning)
                step = self._compiled_step()
        except Exception as err:  # inductor's failures have no common base class
            self.unavailable["torch_compile"] = f"{type(err).__name__}: {err}"[:200]
            return None
        return step

    def _jax(self):
        """The same step in JAX, the whole of it (forward, loss, gradient, BN statistics, Adam)
        one ``jax.jit`` function with its buffers donated; None when JAX is not installed (or
        the dtype is float64 without ``jax_enable_x64``)."""
        if self.model != "benchmark":
            return None
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            self.unavailable["jax"] = "not installed"
            return None
        if self.ctx.dtype == np.float64 and not jax.config.jax_enable_x64:
            self.unavailable["jax"] = "float64 needs jax_enable_x64"
            return None
        return jax_train_step(jax, jnp, self.net.get_weights(), self.x, self.labels)

    def impl(self) -> Impl:
        net, ref_net, x, labels = self.net, self.ref_net, self.x, self.labels

        def fastnn():
            return train_step(net, x, labels)

        def reference():
            return ref_net.train_on_batch(x, labels)

        return Impl(
            fastnn, reference, self._torch(), "gemm", network_flops(len(x)),
            torch_compile=self._torch_compile(), jax=self._jax(), unavailable=self.unavailable,
            baselines=step_gemm_baselines(len(x), self.ctx), interleave=True,
        )  # fmt: skip

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


def jax_train_step(jax, jnp, weights: list, x: np.ndarray, labels: np.ndarray):
    """A no-argument callable running one training step of the benchmarked model in JAX.

    ``weights`` are ``Network.get_weights()`` of the fastnn network (Keras order: per Dense
    kernel and bias, per BatchNormalization gamma, beta, moving mean and variance), so both
    start from the same point.  The step is Keras's: BN with batch statistics (biased
    variance to normalize, moving averages with momentum 0.99), softmax cross-entropy, Adam
    with epsilon outside the square root.  Parameters, moving statistics and Adam state are
    donated to the jitted function, which returns them updated; the callable keeps them and
    returns the loss as a Python float (which waits for the result).
    """
    from fastnn.benchmark.cases.batchnorm import layer_defaults
    from fastnn.benchmark.cases.optimizers import hyperparameters

    bn_momentum, bn_epsilon = layer_defaults()
    adam = hyperparameters("adam")
    lr, beta_1, beta_2, eps = (adam[k] for k in ("learning_rate", "beta_1", "beta_2", "epsilon"))
    w = [jnp.asarray(a) for a in weights]
    params = {"W1": w[0], "b1": w[1], "g1": w[2], "be1": w[3],
              "W2": w[6], "b2": w[7], "g2": w[8], "be2": w[9],
              "W3": w[12], "b3": w[13]}  # fmt: skip
    moving = {"m1": w[4], "v1": w[5], "m2": w[10], "v2": w[11]}

    def batch_norm(h, gamma, beta, mean_key, var_key, moving, new_moving):
        mean = h.mean(axis=0)
        var = ((h - mean) ** 2).mean(axis=0)
        new_moving[mean_key] = moving[mean_key] * bn_momentum + mean * (1 - bn_momentum)
        new_moving[var_key] = moving[var_key] * bn_momentum + var * (1 - bn_momentum)
        return (h - mean) * jax.lax.rsqrt(var + bn_epsilon) * gamma + beta

    def loss_fn(p, moving, xb, yb):
        new_moving = {}
        h = jax.nn.relu(xb @ p["W1"] + p["b1"])
        h = batch_norm(h, p["g1"], p["be1"], "m1", "v1", moving, new_moving)
        h = jax.nn.relu(h @ p["W2"] + p["b2"])
        h = batch_norm(h, p["g2"], p["be2"], "m2", "v2", moving, new_moving)
        logits = h @ p["W3"] + p["b3"]
        logp = jax.nn.log_softmax(logits, axis=1)
        loss = -jnp.take_along_axis(logp, yb[:, None], axis=1).mean()
        return loss, new_moving

    def step(p, moving, m, v, t, xb, yb):
        (loss, new_moving), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, moving, xb, yb)
        t = t + 1
        step_size = lr * jnp.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = jax.tree.map(lambda mi, g: mi + (g - mi) * (1 - beta_1), m, grads)
        v = jax.tree.map(lambda vi, g: vi + (g * g - vi) * (1 - beta_2), v, grads)
        p = jax.tree.map(lambda pi, mi, vi: pi - step_size * mi / (jnp.sqrt(vi) + eps), p, m, v)
        return loss, p, new_moving, m, v, t

    jitted = jax.jit(step, donate_argnums=(0, 1, 2, 3))
    dtype = weights[0].dtype
    state = [params, moving, jax.tree.map(jnp.zeros_like, params),
             jax.tree.map(jnp.zeros_like, params), jnp.asarray(0, dtype=dtype)]  # fmt: skip
    xb, yb = jnp.asarray(x), jnp.asarray(labels.astype(np.int32))

    def run():
        loss, *updated = jitted(*state, xb, yb)
        state[:] = updated
        return float(loss)

    return run


def step_gemm_baselines(batch: int, ctx: Context) -> dict:
    """The step's GEMMs alone (``fastnn.benchmark.gemm``), through NumPy and through ``@njit``."""
    from fastnn.benchmark.gemm import gemm_callables, step_products

    sides = gemm_callables(step_products(batch, LAYERS), ctx.dtype)
    return {f"gemms {name}": fn for name, fn in sides.items()}


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
