"""What every benchmark case is made of: the context it is built in (dtype, RNG, backend,
PyTorch), the sides one built case offers (``Impl``), the registry entry (``OpSpec``), and
the helpers the family modules share.

A case is built on the host and moved to the device once: inputs are drawn
with NumPy, the fastnn side gets copies made by the backend's
``memory.from_host`` and calls the backend's kernels on them, and the
reference and PyTorch sides read the host arrays.  On the CPU backend the
copies are NumPy arrays too, so the kernels run exactly as a ``Network`` calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SIDES",
    "CHECK_ROWS",
    "CHECK_IN",
    "CHECK_OUT",
    "Context",
    "Impl",
    "OpSpec",
    "CheckSpec",
    "activation_args",
    "copy_yardstick",
    "torch_activation",
    "torch_timed",
    "size_label",
]

#: The sides a case can offer, in the order the suites time them.  ``fastnn``: the backend's
#: kernels on outputs preallocated once (how a ``Network`` calls them); ``functional``: the
#: validated, allocating ``fastnn.functional`` entry; ``reference``: ``fastnn.reference``;
#: ``torch``: the PyTorch CPU equivalent; ``torch_compile``: the same under ``torch.compile``;
#: ``jax``: the same in JAX under ``jax.jit``.  The last two are optional (only the training
#: step offers them, and only when the library is installed and compiles here).  A new
#: comparison is one more name here and one more field of ``Impl``.
SIDES = ("fastnn", "functional", "reference", "torch", "torch_compile", "jax")

#: The shapes of ``fastnn check``: small and odd (67 rows: two reduction blocks of 64 and a
#: remainder; 19 and 13 columns), so every block path of a kernel runs.
CHECK_ROWS, CHECK_IN, CHECK_OUT = 67, 19, 13


@dataclass
class Context:
    """What a case needs besides its shape: dtype, RNG, backend, and PyTorch (or None).

    ``backend`` defaults to ``fastnn.backend.get_backend("cpu")``.
    """

    dtype: np.dtype
    rng: np.random.Generator
    torch: object | None = None
    backend: object | None = None

    def __post_init__(self):
        self.dtype = np.dtype(self.dtype)
        if self.backend is None:
            from fastnn.backend import get_backend

            self.backend = get_backend("cpu")

    def normal(self, shape, scale: float = 1.0, loc: float = 0.0) -> np.ndarray:
        """A host array of ``N(loc, scale**2)`` draws in the context's dtype."""
        a = self.rng.standard_normal(shape) * scale + loc
        return np.ascontiguousarray(a, dtype=self.dtype)

    def device(self, a: np.ndarray):
        """A copy of the host array ``a`` on the backend's device."""
        return self.backend.memory.from_host(a)

    def empty(self, shape, dtype=None):
        """An uninitialized device array (the context's dtype unless given)."""
        return self.backend.memory.empty(shape, self.dtype if dtype is None else dtype)

    def workspace(self, n_rows: int, n_cols: int):
        """The float64 scratch a reducing kernel needs for an ``(n_rows, n_cols)`` input."""
        return self.backend.workspace(n_rows, n_cols)

    def host(self, a) -> np.ndarray:
        """A device array back on the host, as a NumPy array."""
        return self.backend.memory.to_host(a)

    def tensor(self, a: np.ndarray, requires_grad: bool = False):
        """A PyTorch tensor of ``a`` (a copy, so the two sides never share state)."""
        t = self.torch.from_numpy(np.array(a, copy=True))
        return t.requires_grad_(True) if requires_grad else t


@dataclass
class Impl:
    """The sides of one case at one shape, and the work one call does.

    Every side is a no-argument callable, or None where the case has no such side.
    """

    fastnn: Callable[[], object]
    reference: Callable[[], object] | None
    torch: Callable[[], object] | None
    limit: str | None  # "bandwidth" (work = bytes), "gemm" (work = flops) or None
    work: float
    #: Bytes of the op's main array: the size of the copy its bandwidth is compared with
    #: when the whole op fits in the last-level cache.
    array_bytes: int = 0
    #: Other callables timed beside it (e.g. the GEMMs of a dense layer alone).
    baselines: dict = field(default_factory=dict)
    functional: Callable[[], object] | None = None
    torch_compile: Callable[[], object] | None = None
    jax: Callable[[], object] | None = None
    #: Why an optional side (``torch_compile``, ``jax``) the case would offer is missing.
    unavailable: dict = field(default_factory=dict)
    #: Time the sides interleaved (``timing.interleaved``): their ratios are the result.
    interleave: bool = False
    #: Plain NumPy doing comparable work (a copy of the same bytes, NumPy's own generator),
    #: timed by the bench/ suites beside the op; ``fastnn bench`` compares with the limits it
    #: measures instead.
    yardsticks: dict = field(default_factory=dict)

    def sides(self) -> dict:
        """Every side, baseline and yardstick by name (None where the case has no such side)."""
        return {**{name: getattr(self, name) for name in SIDES}, **self.baselines,
                **self.yardsticks}  # fmt: skip


def copy_yardstick(a: np.ndarray) -> Callable[[], None]:
    """``np.copyto`` of ``a`` into an array allocated at the first call (not when a case that
    is never timed by the suites is built)."""
    out = []

    def copy():
        if not out:
            out.append(np.empty_like(a))
        np.copyto(out[0], a)

    return copy


def size_label(shape) -> str:
    """``"32x256"`` for ``(32, 256)``."""
    return "x".join(map(str, shape))


@dataclass(frozen=True)
class OpSpec:
    """One benchmarked operation: its shapes per size class and how to build it.

    ``make(shape, ctx)`` returns the ``Impl`` at one shape.  ``quick`` names the
    shapes ``fastnn bench --quick`` runs when no ``--sizes`` is given;
    ``suite_shapes`` those the ``bench/`` suites time (default: the small and
    medium classes).
    """

    family: str
    name: str
    shapes: dict  # size class -> tuple of shapes
    make: Callable[[tuple, Context], Impl]
    quick: tuple = ()
    label: Callable[[tuple], str] = size_label
    suite_shapes: tuple | None = None

    def suite(self) -> tuple:
        """The shapes the pytest-benchmark suites time."""
        if self.suite_shapes is not None:
            return self.suite_shapes
        return (*self.shapes.get("small", ()), *self.shapes.get("medium", ()))


@dataclass(frozen=True)
class CheckSpec:
    """One row of ``fastnn check``: build a case and compare its fastnn and reference outputs.

    ``run(ctx)`` returns ``(got, want)``, two dicts of host arrays with the same
    names.  ``tolerance`` overrides the check's per-dtype one; ``absolute``
    judges the absolute error (outputs already in units of their own scale).
    """

    family: str
    op: str
    run: Callable[[Context], tuple[dict, dict]]
    tolerance: float | None = None
    absolute: bool = False


def activation_args(name: str) -> tuple[int, float, dict]:
    """``(kernel code, negative slope, keyword parameters)`` of an activation name.

    The kernels take the slope positionally (0.0 where it is not used); the
    functional and reference entries take it as ``negative_slope``.
    """
    from fastnn.kernels.scalar import ACTIVATIONS, NEGATIVE_SLOPE

    if name == "leaky_relu":
        return ACTIVATIONS[name], NEGATIVE_SLOPE, {"negative_slope": NEGATIVE_SLOPE}
    return ACTIVATIONS[name], 0.0, {}


def torch_activation(torch, name: str):
    """The PyTorch function of an activation name (``torch.nn.functional`` where it has one)."""
    F = torch.nn.functional
    _, slope, _ = activation_args(name)
    return {
        "linear": torch.clone,
        "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, slope),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softmax": lambda t: F.softmax(t, dim=1),
    }[name]


def torch_timed(torch, forward: Callable, dy, leaves: Sequence, mode: str) -> Callable:
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
