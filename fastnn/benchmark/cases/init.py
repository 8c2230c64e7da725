"""The initializer cases: filling a ``(fan_in, fan_out)`` weight array with random draws,
through the public ``fastnn.init`` writing into a preallocated array (``out=``).

fastnn draws from Philox, the reference from NumPy's generator, so ``fastnn
check`` compares them by their moments, in units of the reference's standard
deviation: means, standard deviations and kurtoses / 5 of ``n`` draws must
agree within 6 standard errors of a difference of two samples, ``6 sqrt(2 / n)``.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn.benchmark.cases.base import CheckSpec, Context, Impl, OpSpec

__all__ = ["InitCase", "SHAPES", "specs", "checks"]

SHAPES = {"small": ((256, 256),), "medium": ((1024, 1024),), "large": ((4096, 4096),)}
SUITE_SHAPES = ((4096, 4096),)
#: Initializer parameters beyond the shape, where one needs them (the bench and the check).
PARAMS = {
    "constant": {"value": 0.5},
    "normal": {"std": 0.05, "mean": 0.1},
    "truncated_normal": {"std": 0.05, "mean": -0.1},
    "uniform": {"low": -0.2, "high": 0.3},
    "variance_scaling": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
}
#: The benchmarked initializers, and the parameters they are timed with: variance_scaling is
#: Keras's default, a truncated normal (here He's scale).
BENCHED = {"he_normal": {}, "xavier_uniform": {}, "variance_scaling": {"scale": 2.0}}
CHECK_SHAPE = (512, 256)


def _moments(a: np.ndarray, sigma: float) -> dict:
    """Mean and std in units of ``sigma``, and the kurtosis / 5 (which tells the distributions
    apart: normal 3, truncated normal 2.4, uniform 1.8).

    The standard error of the sample kurtosis of a normal is ``sqrt(24 / n)``, about 5x that
    of the standardized mean, so dividing it by 5 puts all three under the same tolerance.
    """
    a = a.astype(np.float64)
    centered = a - a.mean()
    variance = float(np.mean(centered**2))
    kurtosis = float(np.mean(centered**4)) / variance**2 if variance > 0 else 0.0
    return {
        "mean / std": a.mean() / sigma,
        "std / std": a.std() / sigma,
        "kurtosis / 5": kurtosis / 5,
    }


class InitCase:
    """Initializer ``name`` (a key of ``fastnn.init.INITIALIZERS``) at ``shape``."""

    def __init__(self, shape, ctx: Context, name: str, params: dict | None = None):
        self.ctx, self.name, self.shape = ctx, name, tuple(shape)
        self.params = PARAMS.get(name, {}) if params is None else params

    def _torch(self):
        ctx = self.ctx
        if ctx.torch is None:
            return None
        from fastnn.init import TRUNCATED_NORMAL_STD

        torch, nn_init = ctx.torch, ctx.torch.nn.init
        # PyTorch stores weights (out, in) and takes fan_in from shape[1]: the transposed
        # shape gives it our fan_in, shape[0].
        wt = torch.empty(self.shape[::-1], dtype=getattr(torch, ctx.dtype.name))
        # Keras's names are truncated normals of std sigma: a normal of std sigma / 0.8796 cut
        # at 2 of its stds; PyTorch's kaiming_normal_ is a plain normal (fastnn's kaiming_normal).
        scale = {"variance_scaling": self.params.get("scale"), "he_normal": 2.0}.get(self.name)
        if scale is not None:
            std = math.sqrt(scale / self.shape[0]) / TRUNCATED_NORMAL_STD
            return lambda: nn_init.trunc_normal_(wt, std=std, a=-2 * std, b=2 * std)
        return {
            "kaiming_normal": lambda: nn_init.kaiming_normal_(wt, nonlinearity="relu"),
            "he_uniform": lambda: nn_init.kaiming_uniform_(wt, nonlinearity="relu"),
            "xavier_normal": lambda: nn_init.xavier_normal_(wt),
            "xavier_uniform": lambda: nn_init.xavier_uniform_(wt),
        }.get(self.name)

    def _numpy(self):
        """NumPy's own generator filling an array of draws of the same kind (a yardstick); the
        array is allocated at the first call."""
        rng, out = np.random.default_rng(0), []
        draw = rng.random if "uniform" in self.name else rng.standard_normal

        def fill():
            if not out:
                out.append(np.empty(self.shape, dtype=self.ctx.dtype))
            draw(out=out[0], dtype=self.ctx.dtype)

        return fill

    def impl(self) -> Impl:
        from fastnn import init
        from fastnn.reference import init as reference_init

        ctx = self.ctx
        # The public initializer writing into a preallocated array (out=): its argument checks
        # cost microseconds against milliseconds of drawing.
        fastnn_init, ref_init = init.get(self.name), getattr(reference_init, self.name)
        out, shape, params = ctx.empty(self.shape), self.shape, self.params
        seeds = iter(range(1, 1 << 62))

        def fastnn():
            fastnn_init(shape, seed=next(seeds), out=out, **params)

        def reference():
            return ref_init(shape, seed=next(seeds), dtype=ctx.dtype, **params)

        return Impl(
            fastnn, reference, self._torch(), "bandwidth", out.nbytes, out.nbytes,
            yardsticks={"numpy": self._numpy()},
        )  # fmt: skip

    def check(self) -> tuple[dict, dict]:
        from fastnn import init
        from fastnn.reference import init as reference_init

        kwargs = {"dtype": self.ctx.dtype, **self.params}
        # On another backend fastnn.init fills a device array there: it is read back.
        got = self.ctx.host(
            init.get(self.name)(self.shape, seed=1, device=self.ctx.backend.name, **kwargs)
        )
        want = getattr(reference_init, self.name)(self.shape, seed=2, **kwargs)
        if got.dtype != want.dtype:
            raise AssertionError(f"dtype {got.dtype}, expected {want.dtype}")
        sigma = float(want.std()) or 1.0
        return _moments(got, sigma), _moments(want, sigma)


def _make(name: str, params: dict):
    def make(shape, ctx: Context) -> Impl:
        return InitCase(shape, ctx, name, params).impl()

    return make


def specs() -> list[OpSpec]:
    return [
        OpSpec("init", name, SHAPES, _make(name, params),
               quick=SHAPES["large"] if name == "he_normal" else (), suite_shapes=SUITE_SHAPES)
        for name, params in BENCHED.items()
    ]  # fmt: skip


def checks() -> list[CheckSpec]:
    from fastnn import init

    n = CHECK_SHAPE[0] * CHECK_SHAPE[1]
    # Six standard errors of a difference of two independent sample moments.
    tolerance = 6 * math.sqrt(2.0 / n)
    return [
        CheckSpec("init", f"init {name} moments ({CHECK_SHAPE[0]}x{CHECK_SHAPE[1]})",
                  lambda ctx, name=name: InitCase(CHECK_SHAPE, ctx, name).check(),
                  tolerance=tolerance, absolute=True)
        for name in init.INITIALIZERS
    ]  # fmt: skip
