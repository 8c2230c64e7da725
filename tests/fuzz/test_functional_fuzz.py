"""``fastnn.functional`` against ``fastnn.reference`` on awkward layouts and non-finite values.

Valid-but-awkward inputs (Fortran order, negative strides, offset views,
strided and read-only arrays, one column) must give the reference's result;
hostile ones (junk objects, empty arrays) a ValueError/TypeError naming the
argument.  Tolerances: float32 results within ``100 eps32`` relative (sums of
at most 6 terms and one transcendental function), float64 within ``1e-12``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastnn import functional as F
from fastnn import reference as R
from tests.fuzz.profile import fuzz_settings
from tests.fuzz.strategies import JUNK, NON_FINITE, matrices

ACTIVATIONS = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"]


def _tolerance(dtype):
    # float32: 100 ulps covers a 6-term float64 sum rounded once and one exp; float64: 1e-12.
    return (
        {"rtol": 100 * np.finfo(np.float32).eps, "atol": 1e-6}
        if dtype == np.float32
        else {
            "rtol": 1e-12,
            "atol": 1e-12,
        }
    )


def _close(got, want, *, equal_nan=False):
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, equal_nan=equal_nan, **_tolerance(got.dtype))


@fuzz_settings(40)
@given(x=matrices(), name=st.sampled_from(ACTIVATIONS))
def test_activation_layouts_match_reference(x, name):
    got = F.activation_forward(x, name)
    _close(got, R.activation_forward(np.ascontiguousarray(x), name))
    dy = np.ones_like(got)
    _close(F.activation_backward(dy, got, name), R.activation_backward(dy, got, name))


@fuzz_settings(40)
@given(
    data=st.data(),
    name=st.sampled_from(ACTIVATIONS + ["leaky_relu0"]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_activation_non_finite_matches_reference(data, name, dtype):
    x = data.draw(matrices(dtype=dtype, elements=NON_FINITE))
    params = {"negative_slope": 0.0} if name == "leaky_relu0" else {}
    name = "leaky_relu" if name == "leaky_relu0" else name
    with np.errstate(all="ignore"):  # the reference computes inf - inf on purpose
        want = R.activation_forward(np.ascontiguousarray(x), name, **params)
        got = F.activation_forward(x, name, **params)
        _close(got, want, equal_nan=True)
        dy = data.draw(matrices(dtype=dtype, elements=NON_FINITE, shape=x.shape))
        _close(
            F.activation_backward(dy, got, name, **params),
            R.activation_backward(np.ascontiguousarray(dy), got, name, **params),
            equal_nan=True,
        )


@fuzz_settings(30)
@given(data=st.data(), name=st.sampled_from(ACTIVATIONS), bias=st.booleans())
def test_dense_layouts_match_reference(data, name, bias):
    x = data.draw(matrices())
    W = data.draw(matrices(dtype=x.dtype, shape=(x.shape[1], data.draw(st.integers(1, 4)))))
    b = data.draw(matrices(dtype=x.dtype, shape=(1, W.shape[1])))[0] if bias else None
    y, cache = F.dense_forward(x, W, b, name)
    want_y, _ = R.dense_forward(np.ascontiguousarray(x), np.ascontiguousarray(W), b, name)
    _close(y, want_y)
    dy = data.draw(matrices(dtype=x.dtype, shape=y.shape))
    got = F.dense_backward(dy, cache)
    want = R.dense_backward(np.ascontiguousarray(dy), R.dense_forward(x, W, b, name)[1])
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None
        else:
            _close(g, w)


@fuzz_settings(30)
@given(
    data=st.data(),
    forward=st.sampled_from(
        ["batch_norm_forward", "batch_norm_act_forward", "act_batch_norm_forward"]
    ),
    training=st.booleans(),
)
def test_batch_norm_layouts_match_reference(data, forward, training):
    x = data.draw(matrices(min_rows=2, dtype=np.float64))
    m = x.shape[1]
    gamma = data.draw(matrices(dtype=x.dtype, shape=(1, m)))[0]
    beta = data.draw(matrices(dtype=x.dtype, shape=(1, m)))[0]
    kwargs = {} if forward == "batch_norm_forward" else {"activation": "tanh"}
    mean, var = np.zeros(m), np.full(m, 0.5)
    ref_mean, ref_var = mean.copy(), var.copy()
    y, cache = getattr(F, forward)(x, gamma, beta, mean, var, training=training, **kwargs)
    want, ref_cache = getattr(R, forward)(
        np.ascontiguousarray(x), gamma, beta, ref_mean, ref_var, training=training, **kwargs
    )
    _close(y, want)
    _close(mean, ref_mean)
    _close(var, ref_var)
    if training:
        dy = data.draw(matrices(dtype=x.dtype, shape=y.shape))
        backward = forward.replace("forward", "backward")
        got = getattr(F, backward)(dy, cache)
        ref = getattr(R, backward)(np.ascontiguousarray(dy), ref_cache)
        for g, w in zip(got, ref, strict=True):
            # Tolerance: the backward subtracts nearly equal sums; 1e-9 absolute in float64.
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)


@fuzz_settings(30)
@given(junk=JUNK, position=st.integers(0, 2), name=st.sampled_from(ACTIVATIONS))
def test_dense_forward_junk_names_the_argument(junk, position, name):
    args = [np.ones((2, 3)), np.ones((3, 2)), np.ones(2)]
    label = ["x", "W", "b"][position]
    if junk is None and label == "b":
        return  # b=None means no bias
    args[position] = junk
    with pytest.raises((TypeError, ValueError), match=label):
        F.dense_forward(*args, name)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)])
def test_size_zero_is_a_clear_error(shape):
    with pytest.raises(ValueError, match="x"):
        F.activation_forward(np.ones(shape), "relu")
    with pytest.raises(ValueError, match="x"):
        F.dense_forward(np.ones(shape), np.ones((shape[1], 2)), None)


@fuzz_settings(30)
@given(
    data=st.data(),
    optimizer=st.sampled_from(["sgd", "adam", "rmsprop"]),
    how=st.sampled_from(["fortran", "reversed_rows", "offset_view", "readonly", "strided"]),
)
def test_optimizer_grad_layouts_match_reference(data, optimizer, how):
    from tests.fuzz.strategies import layout

    shape = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    grad_values = data.draw(matrices(dtype=np.float64, shape=shape))
    grad = layout(np.ascontiguousarray(grad_values), how)
    param = np.linspace(-1.0, 1.0, shape[0] * shape[1]).reshape(shape)
    expected = param.copy()
    states = [np.zeros(shape), np.zeros(shape)]
    ref_states = [np.zeros(shape), np.zeros(shape)]
    if optimizer == "sgd":
        F.sgd_update(param, grad, learning_rate=0.1)
        R.sgd_update(expected, np.ascontiguousarray(grad), learning_rate=0.1)
    elif optimizer == "adam":
        F.adam_update(param, grad, *states, 3)
        R.adam_update(expected, np.ascontiguousarray(grad), *ref_states, 3)
    else:
        F.rmsprop_update(param, grad, states[0])
        R.rmsprop_update(expected, np.ascontiguousarray(grad), ref_states[0])
    _close(param, expected)
