"""Optimizer updates: kernels against the NumPy reference, and against hand-derived values.

Tolerance ``state_rtol(dtype, n_steps)``, norm-wise (``atol = rtol * max|expected|``):

- float64: the kernels and the reference evaluate the same formula in float64
  from the same stored values and round once per stored value, so they agree
  to an ulp or two per step; 16 ulps leave room for libm ``pow``/``sqrt``
  differences carried through 20 steps of state.
- float32: the CPU kernels compute in float32 (as PyTorch and Keras do), the
  reference in float64 rounded once per stored value.  One step's longest chain
  is Adam's parameter update, 7 float32 roundings (decay product, square
  root, epsilon sum, step-size product, quotient, decay + step sum, final
  difference; the moments' chains are shorter), plus the reference's own
  rounding when it stores: k = 8 roundings of at most u = eps/2 each, relative
  to terms no larger than the largest stored value.  An error carries into the
  next step multiplied by a factor of at most 1 (beta, rho, momentum,
  1 - lr * weight_decay), so after n steps the norm-wise difference is at most
  k * n * u = 4 * n * eps: 80 eps after the 20-step tests, 4 eps after one.  (The
  largest seen at 20 steps is about 3 eps: roundings partly cancel.)  The CUDA
  kernels still widen to float64: the float64 rule covers them, so a float32
  tolerance is the larger of the two rules.
- The one-step property test draws hyperparameters and sizes (down to one
  element, ``beta_2`` down to 0) for which a subtraction cancels in an element
  that is small against the largest stored value; there the same k roundings are
  measured against that element's own terms (``float32_term_bounds``), and
  Adam's division carries its moments' errors into the step.
"""

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn.optimizers
from fastnn import functional, reference
from tests.helpers import on_device, on_host, run_with_threads

DTYPES = [np.float32, np.float64]
# (1,) and odd sizes; 300*300 spans several CHUNKs on one thread.  PARALLEL_SHAPE,
# 1025*1025, crosses kernels.PARALLEL_MIN_SIZE (the prange path).
SHAPES = [(1,), (7,), (33, 17), (130, 65), (300, 300)]
PARALLEL_SHAPE = (1025, 1025)

# name -> (function name, number of state arrays, keyword arguments)
CONFIGS = {
    "sgd": ("sgd_update", 0, {}),
    "sgd_weight_decay": ("sgd_update", 0, {"learning_rate": 0.1, "weight_decay": 0.3}),
    "sgd_momentum": ("sgd_update", 1, {"momentum": 0.9}),
    "sgd_nesterov": ("sgd_update", 1, {"momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    "adam": ("adam_update", 2, {}),
    "adamw": ("adam_update", 2, {"learning_rate": 0.01, "weight_decay": 0.004, "beta_1": 0.5}),
    "rmsprop": ("rmsprop_update", 1, {}),
    "rmsprop_momentum": ("rmsprop_update", 2, {"momentum": 0.9, "rho": 0.5}),
    "rmsprop_weight_decay": ("rmsprop_update", 1, {"learning_rate": 0.01, "weight_decay": 0.1}),
}


#: Float32 roundings per stored value and step, the kernel's and the reference's (see the
#: module docstring).
FLOAT32_ROUNDINGS_PER_STEP = 8


def state_rtol(dtype, n_steps: int) -> float:
    """Norm-wise tolerance for parameters and state after ``n_steps`` updates (see the module
    docstring)."""
    eps = float(np.finfo(dtype).eps)
    float64_rule = 16 * eps
    if np.dtype(dtype) == np.float32:
        return max(float64_rule, FLOAT32_ROUNDINGS_PER_STEP * max(1, n_steps) * eps / 2)
    return float64_rule


def assert_state_close(
    actual: np.ndarray, expected: np.ndarray, n_steps: int = 1, slack=0.0
) -> None:
    """Shape, then dtype, then values (norm-wise, ``state_rtol``, plus a per-element ``slack``).

    ``slack`` is an absolute bound an error analysis adds where the norm-wise rule does not
    hold (``float32_term_bounds``); 0 everywhere else.
    """
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    rtol = state_rtol(expected.dtype, n_steps)
    atol = rtol * float(np.abs(expected).max())
    if np.isscalar(slack) and slack == 0:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
        return
    error = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    allowed = atol + rtol * np.abs(expected.astype(np.float64)) + slack
    assert np.all(error <= allowed), f"max error over bound {np.max(error - allowed):.3g}"


def float32_term_bounds(name, kwargs, grad, before, ref, step):
    """Per-element absolute bounds for one float32 step, measured against its own terms.

    The norm-wise rule measures each element's error against the largest stored value,
    which fails where a subtraction cancels in one element that is small against the rest
    (a momentum ``mu v - lr g`` near 0 in a one-element array; Adam's moments with
    ``beta_2`` near 0 and a small gradient).  Here each stored value gets the module
    docstring's ``k = 8`` roundings of ``u = eps/2``, relative to the sum ``T`` of the
    magnitudes of the terms that form it (``|mu v| + |lr g|`` for a velocity, ``|p| + |lr
    decay p| + |step|`` for a parameter, ...), in float64 from the inputs and the
    reference's results.

    Adam and RMSprop then divide by a root of the second moment, which carries that
    moment's relative error into the step.  RMSprop's moment is a sum of non-negative
    terms (no cancellation); Adam's is not: with ``dm = k u T_m`` and ``dv = k u T_v``,
    ``|dq| <= min(dv / (2 q), sqrt(dv))`` for ``q = sqrt(v)``, and the step ``s m / (q +
    epsilon)`` moves by at most ``s (|m| + dm) / (q + epsilon - dq) - s |m| / (q +
    epsilon)`` (unbounded where ``dq`` reaches ``q + epsilon``).  Returns the bounds for
    the parameter and each state, in the kernels' order.
    """
    defaults = {
        k: p.default
        for k, p in inspect.signature(getattr(functional, name)).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    h = {**defaults, **kwargs}
    ku = 8 * float(np.finfo(np.float32).eps) / 2
    g = np.abs(grad.astype(np.float64))
    p0, *s0 = (np.abs(a.astype(np.float64)) for a in before)
    p1, *s1 = (a.astype(np.float64) for a in ref)
    lr = h["learning_rate"]
    decay = p0 * lr * h["weight_decay"]
    step_size = np.abs(p1 - before[0].astype(np.float64))  # the step the parameter took
    t_param = p0 + decay + step_size
    if name == "sgd_update":
        if not s0:
            return (ku * (t_param + lr * g),)
        t_vel = h["momentum"] * s0[0] + lr * g
        extra = h["momentum"] * t_vel + lr * g if h["nesterov"] else t_vel
        return ku * (p0 + decay + extra), ku * t_vel
    if name == "rmsprop_update":
        t_v = h["rho"] * s0[0] + (1 - h["rho"]) * g * g
        quotient = lr * g / np.sqrt(s1[0] + h["epsilon"])
        if len(s0) == 1:
            return ku * (t_param + quotient), ku * t_v
        t_buf = h["momentum"] * s0[1] + quotient
        return ku * (p0 + decay + t_buf), ku * t_v, ku * t_buf
    # Adam.
    beta_1, beta_2, e = h["beta_1"], h["beta_2"], h["epsilon"]
    dm = ku * (s0[0] + g + s0[0])
    dv = ku * (s0[1] + g * g + s0[1])
    m1, q = np.abs(s1[0]), np.sqrt(s1[1])
    s = lr * np.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    with np.errstate(divide="ignore", invalid="ignore"):
        dq = np.minimum(np.where(q > 0, dv / (2 * q), np.inf), np.sqrt(dv))
        room = q + e - dq
        carried = np.where(room > 0, s * (m1 + dm) / room - s * m1 / (q + e), np.inf)
    return ku * t_param + carried, dm, dv


def apply(module, config: str, param, grad, states, step):
    """One update of ``config`` through ``module`` (functional or reference)."""
    name, _, kwargs = CONFIGS[config]
    if name == "adam_update":
        return module.adam_update(param, grad, *states, step, **kwargs)
    return getattr(module, name)(param, grad, *states, **kwargs)


def _kernel_arguments(backend, config: str, dtype):
    """``(kernel name, hyperparameters, pad)`` for ``config``'s kernels on ``backend``.

    The hyperparameters are ``functional``'s keyword-only ones, in its order
    (the kernels' positional order), with its defaults; ``pad`` fills a list of
    state arrays up to the kernel's number with empty arrays, as ``functional``
    passes an unused state.
    """
    name, _, kwargs = CONFIGS[config]
    signature = inspect.signature(getattr(functional, name))
    hyper = [
        kwargs.get(p.name, p.default)
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    slots = 1 if name == "sgd_update" else 2  # state arrays the kernel takes
    empty = backend.memory.empty((0,), dtype)

    def pad(states):
        return list(states) + [empty] * (slots - len(states))

    return name, hyper, pad


def apply_kernel(backend, config: str, param, grad, states, step):
    """One update of ``config`` by ``backend``'s kernel, on flat device arrays.

    The hyperparameters are ``functional``'s keyword-only ones, in its order
    (the kernels' positional order), with its defaults; an unused state is an
    empty array, as ``functional`` passes it.
    """
    name, hyper, pad = _kernel_arguments(backend, config, param.dtype)
    states = pad(states)
    kernel = getattr(backend.optimizers, name)
    if name == "adam_update":
        return kernel(param, grad, *states, step, *hyper)
    return kernel(param, grad, *states, *hyper)


def run_both(config, shape, dtype, n_steps, seed=0, backend=None):
    """``n_steps`` updates through functional (or ``backend``'s kernels) and the reference."""
    rng = np.random.default_rng(seed)
    n_states = CONFIGS[config][1]
    param = rng.standard_normal(shape).astype(dtype)
    states = [np.zeros(shape, dtype) for _ in range(n_states)]
    ref_param, ref_states = param.copy(), [s.copy() for s in states]
    if backend is not None:
        param, *states = on_device(backend, param.reshape(-1), *(s.reshape(-1) for s in states))
    for step in range(1, n_steps + 1):
        grad = rng.standard_normal(shape).astype(dtype)
        if backend is None:
            assert apply(functional, config, param, grad, states, step) is None
        else:
            (grad_dev,) = on_device(backend, grad.reshape(-1))
            assert apply_kernel(backend, config, param, grad_dev, states, step) is None
        apply(reference, config, ref_param, grad, ref_states, step)
    if backend is not None:
        param, *states = (a.reshape(shape) for a in on_host(backend, param, *states))
    return (param, *states), (ref_param, *ref_states)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_twenty_steps_match_reference(backend, config, dtype, shape):
    ours, ref = run_both(config, shape, dtype, n_steps=20, backend=backend)
    for actual, expected in zip(ours, ref, strict=True):
        assert_state_close(actual, expected, n_steps=20)
    assert not np.array_equal(ours[0], run_both(config, shape, dtype, n_steps=0)[0][0])


@pytest.mark.parametrize("config", CONFIGS)
def test_twenty_functional_steps_match_reference(config):
    """The validated entry points run the same updates (float32)."""
    ours, ref = run_both(config, (300, 300), np.float32, n_steps=20)
    for actual, expected in zip(ours, ref, strict=True):
        assert_state_close(actual, expected, n_steps=20)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_parallel_path_matches_reference(config, dtype):
    """Above PARALLEL_MIN_SIZE the chunks are split over threads: three steps (the CPU)."""
    from fastnn.kernels.cpu import optimizers as kernels

    assert PARALLEL_SHAPE[0] * PARALLEL_SHAPE[1] >= kernels.PARALLEL_MIN_SIZE
    ours, ref = run_both(config, PARALLEL_SHAPE, dtype, n_steps=3)
    for actual, expected in zip(ours, ref, strict=True):
        assert_state_close(actual, expected, n_steps=3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_contract(backend, dtype):
    """The kernels take 1-D arrays and plain scalars, update in place and return None."""
    rng = np.random.default_rng(1)
    p, g = rng.standard_normal(50).astype(dtype), rng.standard_normal(50).astype(dtype)
    m, v, b = (np.zeros(50, dtype) for _ in range(3))
    rp, rm, rv, rb = p.copy(), m.copy(), v.copy(), b.copy()
    dp, dg, dm, dv, db = on_device(backend, p, g, m, v, b)
    kernels = backend.optimizers
    assert kernels.sgd_update(dp, dg, db, 0.1, 0.5, True, 0.01) is None
    reference.sgd_update(
        rp, g, rb, learning_rate=0.1, momentum=0.5, nesterov=True, weight_decay=0.01
    )
    assert kernels.adam_update(dp, dg, dm, dv, 1, 0.01, 0.9, 0.99, 1e-7, 0.1) is None
    reference.adam_update(rp, g, rm, rv, 1, learning_rate=0.01, beta_2=0.99, weight_decay=0.1)
    assert kernels.rmsprop_update(dp, dg, dv, db, 0.01, 0.9, 0.5, 1e-7, 0.0) is None
    reference.rmsprop_update(rp, g, rv, rb, learning_rate=0.01, momentum=0.5)
    ours = on_host(backend, dp, dm, dv, db)
    for actual, expected in zip(ours, (rp, rm, rv, rb), strict=True):
        assert_state_close(actual, expected, n_steps=3)


def test_adam_first_step_moves_by_learning_rate_times_sign():
    """Hand derivation, from the Keras formulas with m = v = 0 and t = 1.

    m = (1 - b1) g, v = (1 - b2) g**2, alpha = lr sqrt(1 - b2) / (1 - b1), so
    the step is alpha m / (sqrt(v) + eps) = lr g / (|g| + eps / sqrt(1 - b2)),
    i.e. lr * sign(g) when |g| >> eps.  With weight decay wd the parameter is
    first scaled by (1 - lr wd).
    """
    lr, eps, wd = 0.01, 1e-7, 0.5
    g = np.array([3.0, -2e-3, 1e-9, 0.0, -7e5])
    p0 = np.array([1.0, -1.0, 2.0, 0.5, 0.0])
    p, m, v = p0.copy(), np.zeros(5), np.zeros(5)
    functional.adam_update(p, g, m, v, 1, learning_rate=lr, epsilon=eps, weight_decay=wd)
    expected = p0 * (1 - lr * wd) - lr * g / (np.abs(g) + eps / np.sqrt(1 - 0.999))
    np.testing.assert_allclose(p, expected, rtol=1e-14)  # a handful of float64 roundings
    step = p0 * (1 - lr * wd) - p
    np.testing.assert_allclose(
        step[[0, 1, 4]], lr * np.sign(g[[0, 1, 4]]), rtol=2e-3
    )  # eps/sqrt(1-b2)/|g| <= 1.6e-3


def test_sgd_momentum_hand_values():
    """lr = 0.1, momentum = 0.5, constant g = 1, p0 = 0, worked by hand.

    Plain: v = -0.1, -0.15, -0.175 and p = v summed: -0.1, -0.25, -0.425.
    Nesterov: p += 0.5 v - 0.1: -0.15, -0.325, -0.5125.
    """
    for nesterov, expected in ((False, [-0.1, -0.25, -0.425]), (True, [-0.15, -0.325, -0.5125])):
        p, velocity = np.zeros(1), np.zeros(1)
        for want in expected:
            functional.sgd_update(
                p, np.ones(1), velocity, learning_rate=0.1, momentum=0.5, nesterov=nesterov
            )
            assert p[0] == pytest.approx(want, rel=1e-15)  # three roundings at most


def test_sgd_plain_and_weight_decay_hand_values():
    p = np.array([1.0, 2.0])
    functional.sgd_update(p, np.array([0.0, 10.0]), learning_rate=0.1, weight_decay=0.5)
    # p (1 - 0.1 * 0.5) - 0.1 g: 0.95 and 1.9 - 1.
    np.testing.assert_allclose(p, [0.95, 0.9], rtol=1e-15)  # two roundings


def test_rmsprop_keras_docstring_example():
    """Keras' RMSprop docstring: lr=0.1, var=10, loss=var**2/2 (g = 10) -> 9.683772.

    By hand: v = 0.1 * 100 = 10, step = 0.1 * 10 / sqrt(10 + 1e-7) = 0.316228.
    """
    var, velocity = np.array([10.0], np.float32), np.zeros(1, np.float32)
    functional.rmsprop_update(var, var.copy(), velocity, learning_rate=0.1)
    assert var[0] == pytest.approx(9.683772, abs=5e-7)  # Keras prints 7 significant digits
    assert velocity[0] == pytest.approx(10.0, rel=1e-6)  # float32 rounding of 0.1 * 100


def test_momentum_zero_ignores_state():
    p, g = np.ones(3), np.ones(3)
    velocity = np.full(3, 5.0)
    functional.sgd_update(p, g, velocity, learning_rate=0.5)
    functional.rmsprop_update(p, g, np.zeros(3), velocity, learning_rate=0.5)
    np.testing.assert_array_equal(velocity, 5.0)


def test_non_contiguous_grad_is_accepted():
    rng = np.random.default_rng(4)
    g = rng.standard_normal((6, 8))[:, ::2]
    p, m, v = np.ones((6, 4)), np.zeros((6, 4)), np.zeros((6, 4))
    rp, rm, rv = p.copy(), m.copy(), v.copy()
    functional.adam_update(p, g, m, v, 3)
    reference.adam_update(rp, np.ascontiguousarray(g), rm, rv, 3)
    assert_state_close(p, rp)


@settings(max_examples=25, deadline=None)
@given(
    config=st.sampled_from(sorted(CONFIGS)),
    dtype=st.sampled_from(DTYPES),
    size=st.integers(1, 300),
    step=st.integers(1, 10_000),
    learning_rate=st.floats(0.0, 1.0),
    fraction=st.floats(0.0, 0.999),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_one_step_matches_reference(
    config, dtype, size, step, learning_rate, fraction, seed
):
    rng = np.random.default_rng(seed)
    name, n_states, kwargs = CONFIGS[config]
    kwargs = dict(kwargs, learning_rate=learning_rate)
    if name == "adam_update":
        kwargs["beta_2"] = fraction
    elif name == "rmsprop_update":
        kwargs["rho"] = fraction
    elif kwargs.get("momentum"):
        kwargs["momentum"] = fraction
    param = rng.standard_normal(size).astype(dtype)
    grad = rng.standard_normal(size).astype(dtype)
    states = [rng.random(size).astype(dtype) for _ in range(n_states)]  # non-negative, like v
    ref_param, ref_states = param.copy(), [s.copy() for s in states]
    before = (param.copy(), *(s.copy() for s in states))
    if name == "adam_update":
        functional.adam_update(param, grad, *states, step, **kwargs)
        reference.adam_update(ref_param, grad, *ref_states, step, **kwargs)
    else:
        getattr(functional, name)(param, grad, *states, **kwargs)
        getattr(reference, name)(ref_param, grad, *ref_states, **kwargs)
    if np.dtype(dtype) == np.float32:
        slacks = float32_term_bounds(name, kwargs, grad, before, (ref_param, *ref_states), step)
    else:
        slacks = (0.0,) * (1 + n_states)
    for actual, expected, slack in zip(
        (param, *states), (ref_param, *ref_states), slacks, strict=True
    ):
        assert_state_close(actual, expected, n_steps=1, slack=slack)


def _arrays(shape=(4, 3), dtype=np.float64):
    return [np.zeros(shape, dtype) for _ in range(4)]


def _read_only():
    a = np.zeros((4, 3))
    a.flags.writeable = False
    return a


P, G, M, V = _arrays()
STRIDED = np.zeros((4, 6))[:, ::2]
BAD_CALLS = [
    ("sgd_update", ([0.0], [0.0]), {}, TypeError, "param must be a numpy.ndarray"),
    ("sgd_update", (np.zeros(3, int), np.zeros(3, int)), {}, TypeError, "param must have dtype"),
    ("sgd_update", (np.zeros(0), np.zeros(0)), {}, ValueError, "param must have at least 1"),
    ("sgd_update", (STRIDED, G), {}, ValueError, "param must be C-contiguous"),
    ("sgd_update", (_read_only(), G), {}, ValueError, "param must be writeable"),
    ("sgd_update", (P, G.astype(np.float32)), {}, TypeError, "grad must have dtype float64 like"),
    ("sgd_update", (P, np.zeros((3, 4))), {}, ValueError, r"grad must have shape \(4, 3\)"),
    ("sgd_update", (P, G), {"momentum": 0.9}, ValueError, "velocity is required"),
    ("sgd_update", (P, G, STRIDED), {"momentum": 0.9}, ValueError, "velocity must be C-contig"),
    ("sgd_update", (P, G, _read_only()), {"momentum": 0.9}, ValueError, "velocity must be writea"),
    ("sgd_update", (P, G, M[:2]), {"momentum": 0.9}, ValueError, "velocity must have shape"),
    ("sgd_update", (P, G, P), {"momentum": 0.9}, ValueError, "param and velocity must not share"),
    ("sgd_update", (P, G), {"momentum": 1.5}, ValueError, "momentum must be <= 1"),
    ("sgd_update", (P, G), {"momentum": -0.1}, ValueError, "momentum must be >= 0"),
    ("sgd_update", (P, G), {"nesterov": "yes"}, TypeError, "nesterov must be a bool"),
    ("sgd_update", (P, G), {"learning_rate": -1.0}, ValueError, "learning_rate must be >= 0"),
    ("sgd_update", (P, G), {"learning_rate": np.nan}, ValueError, "learning_rate must be finite"),
    ("sgd_update", (P, G), {"learning_rate": "0.1"}, TypeError, "learning_rate must be a real"),
    ("sgd_update", (P, G), {"weight_decay": -0.1}, ValueError, "weight_decay must be >= 0"),
    ("adam_update", (P, G, M, V, 0), {}, ValueError, r"step must be in \[1, 2\*\*53\)"),
    ("adam_update", (P, G, M, V, 1.0), {}, TypeError, "step must be an int"),
    ("adam_update", (P, G, M, V, True), {}, TypeError, "step must be an int"),
    ("adam_update", (P, G, STRIDED, V, 1), {}, ValueError, "m must be C-contiguous"),
    ("adam_update", (P, G, M, _read_only(), 1), {}, ValueError, "v must be writeable"),
    ("adam_update", (P, G, M.astype(np.float32), V, 1), {}, TypeError, "m must have dtype"),
    ("adam_update", (P, G, M, V[:, :2], 1), {}, ValueError, "v must have shape"),
    ("adam_update", (P, G, M, M, 1), {}, ValueError, "m and v must not share memory"),
    ("adam_update", (P, G, M, V, 1), {"beta_1": 1.0}, ValueError, "beta_1 must be < 1"),
    ("adam_update", (P, G, M, V, 1), {"beta_2": -0.5}, ValueError, "beta_2 must be >= 0"),
    ("adam_update", (P, G, M, V, 1), {"beta_2": np.inf}, ValueError, "beta_2 must be finite"),
    ("adam_update", (P, G, M, V, 1), {"epsilon": 0.0}, ValueError, "epsilon must be > 0"),
    ("adam_update", (P, G, M, V, 1), {"weight_decay": np.nan}, ValueError, "weight_decay must be"),
    ("rmsprop_update", (P, G, STRIDED), {}, ValueError, "velocity must be C-contiguous"),
    ("rmsprop_update", (P, G, V), {"momentum": 0.5}, ValueError, "momentum_buffer is required"),
    ("rmsprop_update", (P, G, V, V), {"momentum": 0.5}, ValueError, "velocity and momentum_buffer"),
    (
        "rmsprop_update",
        (P, G, V, STRIDED),
        {"momentum": 0.5},
        ValueError,
        "momentum_buffer must be",
    ),
    ("rmsprop_update", (P, G, V), {"rho": 1.1}, ValueError, "rho must be <= 1"),
    ("rmsprop_update", (P, G, V), {"epsilon": -1e-7}, ValueError, "epsilon must be > 0"),
    ("rmsprop_update", (P, G, V), {"momentum": 2.0}, ValueError, "momentum must be <= 1"),
    ("rmsprop_update", (P, G, P), {}, ValueError, "param and velocity must not share"),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "error", "match"), BAD_CALLS)
def test_validation_errors(name, args, kwargs, error, match):
    before = [a.copy() for a in args if isinstance(a, np.ndarray)]
    with pytest.raises(error, match=match):
        getattr(functional, name)(*args, **kwargs)
    after = [a for a in args if isinstance(a, np.ndarray)]
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(after, before, strict=True))


def test_float32_updates_are_identical_on_one_and_two_threads():
    """Adam and RMSprop over 1_100_000 float32 elements (several CHUNKs, the prange path)."""
    script = """
        import hashlib
        import numpy as np
        from fastnn.kernels.cpu import optimizers
        rng = np.random.default_rng(0)
        p, g = (rng.standard_normal(1_100_000).astype(np.float32) for _ in range(2))
        m, v, b = (np.zeros(1_100_000, np.float32) for _ in range(3))
        for step in range(1, 4):
            optimizers.adam_update(p, g, m, v, step, 1e-3, 0.9, 0.999, 1e-7, 0.01)
            optimizers.rmsprop_update(p, g, v, b, 1e-3, 0.9, 0.5, 1e-7, 0.0)
        print(hashlib.sha256(b"".join(a.tobytes() for a in (p, m, v, b))).hexdigest())
    """
    one, two = run_with_threads(script, 1), run_with_threads(script, 2)
    assert one == two


def test_float32_kernels_compute_in_float32():
    """A float32 Adam step is float32 arithmetic: it matches the formula evaluated in float32
    with NumPy to an ulp or two (sqrt and division are correctly rounded in both; LLVM may
    contract a product and a sum into one rounding), and differs from float64 arithmetic."""
    from fastnn.kernels.cpu import optimizers

    rng = np.random.default_rng(5)
    f32 = np.float32
    p = rng.standard_normal(4096).astype(f32)
    g = rng.standard_normal(4096).astype(f32)
    m = (0.1 * rng.standard_normal(4096)).astype(f32)
    v = rng.random(4096).astype(f32)
    ours = [a.copy() for a in (p, m, v)]
    optimizers.adam_update(*ours[:1], g, *ours[1:], 3, 0.1, 0.9, 0.999, 1e-7, 0.0)
    step = f32(0.1 * np.sqrt(1 - 0.999**3) / (1 - 0.9**3))
    m32 = m + (g - m) * f32(1 - 0.9)
    v32 = v + (g * g - v) * f32(1 - 0.999)
    p32 = p - step * m32 / (np.sqrt(v32) + f32(1e-7))
    eps = float(np.finfo(f32).eps)
    np.testing.assert_allclose(ours[0], p32, rtol=4 * eps, atol=4 * eps)  # a few roundings
    p64 = p - 0.1 * np.sqrt(1 - 0.999**3) / (1 - 0.9**3) * (
        m.astype(np.float64) + (g.astype(np.float64) - m) * 0.1
    ) / (np.sqrt(v + (g.astype(np.float64) ** 2 - v) * 0.001) + 1e-7)
    assert not np.array_equal(ours[0], p64.astype(f32))


# ------------------------------------------------------------------------ checked updates


def _checked_call(backend, config, param, grad, states, states_out, saved, step):
    """``config``'s checked kernel on flat device arrays (unused states: empty arrays)."""
    name, hyper, pad = _kernel_arguments(backend, config, param.dtype)
    states, states_out = pad(states), pad(states_out)
    kernel = getattr(backend.optimizers, name + "_checked")
    if name == "adam_update":
        return kernel(param, grad, *states, *states_out, saved, step, *hyper)
    return kernel(param, grad, *states, *states_out, saved, *hyper)


def _checked_setup(backend, config, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    n_states = CONFIGS[config][1]
    param = rng.standard_normal(n).astype(dtype)
    grad = rng.standard_normal(n).astype(dtype)
    states = [rng.random(n).astype(dtype) for _ in range(n_states)]  # non-negative, like v
    return param, grad, states


def _length(backend, n: int) -> int:
    """``n`` on the CPU (1_100_000 crosses PARALLEL_MIN_SIZE and ends in a partial CHUNK); under
    the CUDA simulator, which runs every thread in Python, 300 still spans several blocks."""
    return n if backend.name == "cpu" else min(n, 300)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [7, 90_000, 1_100_000])
def test_checked_update_is_the_in_place_update(backend, config, dtype, n):
    """Same bits as the in-place kernel: parameter in place, new state in the outputs, the old
    parameter in ``saved``, the input state untouched, and ``True``."""
    n = _length(backend, n)
    param, grad, states = _checked_setup(backend, config, n, dtype)
    d_param, d_grad, *d_states = on_device(backend, param, grad, *states)
    assert apply_kernel(backend, config, d_param, d_grad, d_states, 3) is None
    want_param, *want_states = on_host(backend, d_param, *d_states)

    c_param, c_grad, *c_states = on_device(backend, param, grad, *states)
    outs = [backend.memory.zeros((n,), dtype) for _ in states]
    saved = backend.memory.zeros((n,), dtype)
    assert _checked_call(backend, config, c_param, c_grad, c_states, outs, saved, 3) is True
    got_param, got_saved, *rest = on_host(backend, c_param, saved, *c_states, *outs)
    np.testing.assert_array_equal(got_param, want_param)
    np.testing.assert_array_equal(got_saved, param)
    for before, after_in, after_out, want in zip(
        states, rest[: len(states)], rest[len(states) :], want_states, strict=True
    ):
        np.testing.assert_array_equal(after_in, before)
        if CONFIGS[config][2].get("momentum", 1.0) or config.startswith("rmsprop"):
            np.testing.assert_array_equal(after_out, want)


@pytest.mark.parametrize("config", ["sgd", "sgd_momentum", "adam", "rmsprop", "rmsprop_momentum"])
@pytest.mark.parametrize("where", [0, 16_383, 16_384, 89_999])  # chunk edges, the last element
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_checked_update_reports_a_non_finite_parameter(backend, config, where, bad):
    """One NaN or Inf gradient anywhere (any chunk) makes the kernel return False, with the old
    parameters in ``saved`` and the input state untouched."""
    n = _length(backend, 1_100_000)
    param, grad, states = _checked_setup(backend, config, n, np.float32, seed=1)
    grad[where % n] = bad
    d_param, d_grad, *d_states = on_device(backend, param, grad, *states)
    outs = [backend.memory.zeros((n,), np.float32) for _ in states]
    saved = backend.memory.zeros((n,), np.float32)
    assert _checked_call(backend, config, d_param, d_grad, d_states, outs, saved, 1) is False
    got_saved, *got_states = on_host(backend, saved, *d_states)
    np.testing.assert_array_equal(got_saved, param)
    for got, want in zip(got_states, states, strict=True):
        np.testing.assert_array_equal(got, want)


def test_checked_update_reports_an_overflow_from_finite_gradients():
    """Finite inputs whose update overflows float32 (a huge learning rate) are reported."""
    from fastnn.kernels.cpu import optimizers

    p, g = np.full(5, 1e38, np.float32), np.full(5, -1e3, np.float32)
    before = p.copy()
    saved = np.zeros(5, np.float32)
    empty = np.zeros(0, np.float32)
    assert not optimizers.sgd_update_checked(p, g, empty, empty, saved, 1e36, 0.0, False, 0.0)
    np.testing.assert_array_equal(saved, before)
    assert np.isinf(p).all()  # the kernel wrote the step; the caller restores from saved


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: fastnn.optimizers.Adam(learning_rate=0.01),
        lambda: fastnn.optimizers.SGD(learning_rate=0.1, momentum=0.9),
        lambda: fastnn.optimizers.SGD(learning_rate=0.1),
        lambda: fastnn.optimizers.RMSprop(momentum=0.5),
        lambda: fastnn.optimizers.RMSprop(),
    ],
)
def test_apply_checked_stands_or_undoes_exactly(optimizer):
    """``apply_checked`` equals ``apply`` when the step is finite (state swapped in, counter
    advanced), and leaves parameters, state and counter bit for bit as they were when not."""
    from fastnn.backend import get_backend

    backend = get_backend("cpu")
    rng = np.random.default_rng(2)
    n = 50_000
    checked, plain = optimizer(), optimizer()
    for opt in (checked, plain):
        opt.build(n, np.float32, backend)
    p_checked = rng.standard_normal(n).astype(np.float32)
    p_plain = p_checked.copy()
    saved = np.empty(n, np.float32)
    for _ in range(3):
        g = rng.standard_normal(n).astype(np.float32)
        assert checked.apply_checked(p_checked, g, saved) is True
        plain.apply(p_plain, g)
    np.testing.assert_array_equal(p_checked, p_plain)
    assert checked.iterations == plain.iterations == 3
    for name in checked.state_names:
        np.testing.assert_array_equal(checked.state[name], plain.state[name])

    before = p_checked.copy(), {k: a.copy() for k, a in checked.state.items()}
    g = rng.standard_normal(n).astype(np.float32)
    g[n // 2] = np.nan
    assert checked.apply_checked(p_checked, g, saved) is False
    np.testing.assert_array_equal(p_checked, before[0])
    assert checked.iterations == 3
    for name, array in checked.state.items():
        np.testing.assert_array_equal(array, before[1][name])
