"""A table of hand-made hostile calls, one per case, each tagged with its issue-12 class.

Every case is a function that makes one call into fastnn's public API and
either returns ``None`` (the call behaved: a result equal to the reference,
or state left intact) or a string saying what went wrong silently; it may
raise.  ``Case.expect`` lists the exception types that count as a clean
refusal and ``Case.names`` a word the message must contain (the argument, or
the file and field).  ``worker.py`` runs the cases in a child process.

Classes (issue 12): 1 backward caches, 2 silent wrong results, 3 wrong
exception types, 4 unclear messages.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

ERRORS = ("ValueError", "TypeError")


@dataclass(frozen=True)
class Case:
    """One hostile call: its issue class, the entry point, and what a clean outcome is."""

    name: str
    klass: int
    entry: str
    run: object
    expect: tuple = ERRORS  # exception type names that count as a clean refusal
    names: str | None = None  # a word the message must contain
    may_return: bool = False  # returning None (no problem found) is also clean


CASES: dict[str, Case] = {}


def _add(name, klass, entry, run, expect=ERRORS, names=None, may_return=False):
    if name in CASES:
        raise ValueError(f"duplicate case {name}")
    CASES[name] = Case(name, klass, entry, run, tuple(expect), names, may_return)


def _rng():
    return np.random.default_rng(12)


# ------------------------------------------------------------- class 1: caches


def _dense_cache(activation, dtype=np.float64):
    from fastnn import functional as F

    rng = _rng()
    x = rng.standard_normal((5, 3)).astype(dtype)
    W = rng.standard_normal((3, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    y, cache = F.dense_forward(x, W, b, activation)
    return cache


def _bn_cache(forward, dtype=np.float64):
    from fastnn import functional as F

    rng = _rng()
    x = rng.standard_normal((6, 4)).astype(dtype)
    layer = (np.ones(4, dtype), np.zeros(4, dtype), np.zeros(4, dtype), np.ones(4, dtype))
    if forward == "batch_norm_forward":
        return F.batch_norm_forward(x, *layer)[1]
    return getattr(F, forward)(x, *layer, activation="leaky_relu")[1]


def _tampered(array, how):
    """A replacement for a cache array: the ways a user (or a bug) can swap one."""
    rows = array.shape[0]
    other = np.float32 if array.dtype == np.float64 else np.float64
    if how == "more_rows":
        return np.zeros((rows + 3,) + array.shape[1:], array.dtype)
    if how == "fewer_rows":
        return np.zeros((max(rows - 1, 1) if rows > 1 else 2,) + array.shape[1:], array.dtype)
    if how == "more_columns" and array.ndim == 2:
        return np.zeros((rows, array.shape[1] + 2), array.dtype)
    if how == "more_columns":
        return np.zeros((rows + 2,), array.dtype)
    if how == "other_float":
        return array.astype(other)
    if how == "int":
        return array.astype(np.int64)
    if how == "fortran" and array.ndim == 2:
        return np.asfortranarray(array)
    if how == "fortran":
        return np.repeat(array, 2)[::2]
    if how == "strided":
        wide = np.zeros(array.shape[:-1] + (array.shape[-1] * 2,), array.dtype)
        view = wide[..., ::2]
        view[...] = array
        return view
    if how == "list":
        return array.tolist()
    if how == "none":
        return None
    if how == "flat":
        return array.reshape(-1) if array.ndim == 2 else array.reshape(1, -1)
    raise AssertionError(how)


TAMPERS = (
    "more_rows",
    "fewer_rows",
    "more_columns",
    "other_float",
    "int",
    "fortran",
    "strided",
    "list",
    "none",
    "flat",
)


def _dense_tamper(activation, field, how):
    def run():
        from fastnn import functional as F

        cache = _dense_cache(activation)
        bad = cache._replace(**{field: _tampered(getattr(cache, field), how)})
        dy = np.ones(cache.y.shape, cache.y.dtype)
        F.dense_backward(dy, bad)

    return run


for _activation in ("relu", "softmax"):
    for _field in ("x", "W", "y"):
        for _how in TAMPERS:
            _add(
                f"dense_cache_{_activation}_{_field}_{_how}",
                1,
                "functional.dense_backward",
                _dense_tamper(_activation, _field, _how),
                names="cache",
            )


def _dense_scalar(field, value):
    def run():
        from fastnn import functional as F

        cache = _dense_cache("leaky_relu")
        F.dense_backward(np.ones(cache.y.shape), cache._replace(**{field: value}))

    return run


for _label, _field, _value in (
    ("code_99", "code", 99),
    ("code_minus1", "code", -1),
    ("code_str", "code", "relu"),
    ("code_float", "code", 1.5),
    ("code_bool", "code", True),
    ("slope_nan", "negative_slope", float("nan")),
    ("slope_inf", "negative_slope", float("inf")),
    ("slope_negative", "negative_slope", -0.5),
    ("slope_str", "negative_slope", "0.2"),
    ("slope_none", "negative_slope", None),
    ("has_bias_str", "has_bias", "yes"),
):
    _add(
        f"dense_cache_{_label}",
        1,
        "functional.dense_backward",
        _dense_scalar(_field, _value),
        names="cache",
    )


BN_FORWARDS = ("batch_norm_forward", "batch_norm_act_forward", "act_batch_norm_forward")


def _bn_tamper(forward, field, how):
    def run():
        from fastnn import functional as F

        cache = _bn_cache(forward)
        bad = cache._replace(**{field: _tampered(getattr(cache, field), how)})
        backward = getattr(F, forward.replace("forward", "backward"))
        backward(np.ones(cache.y.shape, cache.y.dtype), bad)

    return run


for _forward in BN_FORWARDS:
    for _field in ("a", "y", "gamma", "mean", "invstd"):
        for _how in TAMPERS:
            _add(
                f"{_forward}_cache_{_field}_{_how}",
                1,
                f"functional.{_forward.replace('forward', 'backward')}",
                _bn_tamper(_forward, _field, _how),
                names="cache",
            )


def _bn_scalar(forward, field, value):
    def run():
        from fastnn import functional as F

        cache = _bn_cache(forward)
        backward = getattr(F, forward.replace("forward", "backward"))
        backward(np.ones(cache.y.shape), cache._replace(**{field: value}))

    return run


for _forward in BN_FORWARDS:
    for _label, _field, _value in (
        ("pre_code_99", "pre_code", 99),
        ("post_code_99", "post_code", 99),
        ("post_code_softmax", "post_code", 5),
        ("pre_code_str", "pre_code", "relu"),
        ("slope_nan", "negative_slope", float("nan")),
        ("slope_negative", "negative_slope", -1.0),
        ("slope_str", "negative_slope", "x"),
        ("training_str", "training", "yes"),
    ):
        _add(
            f"{_forward}_cache_{_label}",
            1,
            f"functional.{_forward.replace('forward', 'backward')}",
            _bn_scalar(_forward, _field, _value),
            names="cache",
        )


# ---------------------------------------------- class 2: silent wrong results


def _bn_layer(m=4, dtype=np.float64):
    return np.ones(m, dtype), np.zeros(m, dtype), np.zeros(m, dtype), np.ones(m, dtype)


def _bn_bad_var(value, training):
    def run():
        from fastnn import functional as F

        gamma, beta, mean, var = _bn_layer()
        var[1] = value
        x = _rng().standard_normal((6, 4))
        y, _ = F.batch_norm_forward(x, gamma, beta, mean, var, training=training)
        if not np.isfinite(y).all():
            return f"running_var[1] = {value} accepted, output has NaN"
        return "running_var with a bad value accepted"

    return run


for _value in (-1.0, float("nan"), float("inf")):
    for _training in (True, False):
        _add(
            f"bn_running_var_{_value}_{'train' if _training else 'infer'}",
            2,
            "functional.batch_norm_forward",
            _bn_bad_var(_value, _training),
            names="running_var",
        )


def _bn_bad_mean(value):
    def run():
        from fastnn import functional as F

        gamma, beta, mean, var = _bn_layer()
        mean[0] = value
        F.batch_norm_forward(_rng().standard_normal((6, 4)), gamma, beta, mean, var, training=False)
        return "non-finite running_mean accepted in inference"

    return run


for _value in (float("nan"), float("inf")):
    _add(
        f"bn_running_mean_{_value}_infer",
        2,
        "functional.batch_norm_forward",
        _bn_bad_mean(_value),
        names="running_mean",
    )


def _bn_nonfinite_x(forward, value, dtype):
    def run():
        from fastnn import functional as F

        gamma, beta, mean, var = _bn_layer(dtype=dtype)
        mean0, var0 = mean.copy(), var.copy()
        x = _rng().standard_normal((6, 4)).astype(dtype)
        x[2, 1] = value
        kwargs = {} if forward == "batch_norm_forward" else {"activation": "tanh"}
        if forward == "act_batch_norm_forward" and not np.isnan(value):
            # tanh maps +-inf and huge values to +-1: a valid batch, whose statistics are finite.
            getattr(F, forward)(x, gamma, beta, mean, var, training=True, **kwargs)
            if not (np.isfinite(mean).all() and np.isfinite(var).all()):
                return f"tanh(x) with x = {value} gave non-finite running statistics"
            return None
        error = None
        try:
            getattr(F, forward)(x, gamma, beta, mean, var, training=True, **kwargs)
        except ValueError as err:
            error = err
        if not (np.array_equal(mean, mean0) and np.array_equal(var, var0)):
            return f"x[2, 1] = {value} changed the running statistics to {mean}, {var}"
        if error is not None:
            raise error
        return None

    return run


for _forward in BN_FORWARDS:
    for _value in (float("nan"), float("inf"), -float("inf")):
        _add(
            f"{_forward}_train_x_{_value}",
            2,
            f"functional.{_forward}",
            _bn_nonfinite_x(_forward, _value, np.float64),
            names="x",
            may_return=True,
        )
    _add(
        f"{_forward}_train_x_huge_float32",
        2,
        f"functional.{_forward}",
        _bn_nonfinite_x(_forward, 3e38, np.float32),
        names="x",
        may_return=True,
    )


def _bn_alias(what):
    def run():
        from fastnn import functional as F

        base = np.ones(4 * 8)
        x = _rng().standard_normal((6, 4))
        gamma, beta = np.ones(4), np.zeros(4)
        mean, var = np.zeros(4), np.ones(4)
        if what == "gamma_is_running_var":
            gamma = var
        elif what == "beta_is_running_mean":
            beta = mean
        elif what == "gamma_overlaps_running_mean":
            gamma, mean = base[0:4], base[2:6]
            mean[...] = 0.0
        elif what == "x_row_is_running_var":
            x = np.ones((6, 4))
            x[:3] = _rng().standard_normal((3, 4))
            var = x[5]
        elif what == "running_mean_is_running_var":
            mean = var
        F.batch_norm_forward(x, gamma, beta, mean, var, training=True)
        return f"{what}: aliasing accepted"

    return run


for _what in (
    "gamma_is_running_var",
    "beta_is_running_mean",
    "gamma_overlaps_running_mean",
    "x_row_is_running_var",
    "running_mean_is_running_var",
):
    _add(
        f"bn_alias_{_what}",
        2,
        "functional.batch_norm_forward",
        _bn_alias(_what),
        names="share memory",
    )


def _optimizer_alias(optimizer, offset):
    def run():
        from fastnn import functional as F

        flat = np.linspace(0.0, 1.0, 12)
        param = flat[:8]
        grad = flat[offset : offset + 8]
        state = [np.zeros(8), np.zeros(8)]
        if optimizer == "sgd":
            F.sgd_update(param, grad, learning_rate=0.1)
        elif optimizer == "adam":
            F.adam_update(param, grad, *state, 1)
        else:
            F.rmsprop_update(param, grad, state[0])
        return f"{optimizer}: grad overlapping param at offset {offset} accepted"

    return run


for _optimizer in ("sgd", "adam", "rmsprop"):
    for _offset in (0, 2):
        _add(
            f"{_optimizer}_grad_overlaps_param_{_offset}",
            2,
            f"functional.{_optimizer}_update",
            _optimizer_alias(_optimizer, _offset),
            names="share memory",
        )


def _activation_nonfinite(name, value, backward=False):
    def run():
        from fastnn import functional as F
        from fastnn import reference as R

        x = np.array([[value, 1.0, -2.0]])
        kwargs = {"negative_slope": 0.0} if name == "leaky_relu0" else {}
        act = "leaky_relu" if name == "leaky_relu0" else name
        with np.errstate(all="ignore"):
            if backward:
                y = np.array([[value, 0.5, -0.5]])
                got = F.activation_backward(np.ones_like(y), y, act, **kwargs)
                want = R.activation_backward(np.ones_like(y), y, act, **kwargs)
            else:
                got = F.activation_forward(x, act, **kwargs)
                want = R.activation_forward(x, act, **kwargs)
        # Tolerance: a few ulps of float64 for the transcendental activations.
        if not np.allclose(got, want, rtol=1e-14, atol=0.0, equal_nan=True):
            return f"{name}({value}) = {got.tolist()}, reference {want.tolist()}"
        if name in ("relu", "leaky_relu0") and not backward and value == -np.inf and got[0, 0] != 0:
            return f"{name}(-inf) = {got[0, 0]}, expected 0"
        if not backward and np.isnan(value) and not np.isnan(got[0, 0]):
            return f"{name}(nan) = {got[0, 0]}, expected NaN (NaN propagates)"
        return None

    return run


for _name in ("linear", "relu", "leaky_relu", "leaky_relu0", "sigmoid", "tanh", "softmax"):
    for _value in (float("nan"), float("inf"), -float("inf")):
        _add(
            f"activation_forward_{_name}_{_value}",
            2,
            "functional.activation_forward",
            _activation_nonfinite(_name, _value),
            expect=(),
            may_return=True,
        )
        _add(
            f"activation_backward_{_name}_{_value}",
            2,
            "functional.activation_backward",
            _activation_nonfinite(_name, _value, backward=True),
            expect=(),
            may_return=True,
        )


def _network(bn=True, seed=0):
    from fastnn import BatchNormalization, Dense, Network

    layers = [Dense(4, activation="relu", input_dim=3)]
    if bn:
        layers.append(BatchNormalization())
    layers.append(Dense(2))
    model = Network(layers, seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _network_call_nonfinite(value):
    def run():
        model = _network()
        before = [w.copy() for w in model.get_weights()]
        x = np.ones((4, 3), np.float32)
        x[1, 2] = value
        error = None
        try:
            model(x, training=True)
        except (ValueError, FloatingPointError) as err:
            error = err
        after = model.get_weights()
        if not all(np.array_equal(a, b) for a, b in zip(before, after, strict=True)):
            return f"model(x with {value}, training=True) changed the running statistics"
        if error is not None:
            raise error
        return None

    return run


for _value in (float("nan"), float("inf")):
    _add(
        f"network_call_training_x_{_value}",
        2,
        "Network.__call__",
        _network_call_nonfinite(_value),
        expect=("ValueError", "FloatingPointError"),
        names="x",
        may_return=True,
    )


def _network_fit_huge():
    model = _network()
    x = np.full((8, 3), 1e18, np.float32)
    x[::2] *= -1
    y = np.zeros(8, np.int64)
    before = [w.copy() for w in model.get_weights()]
    error = None
    try:
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    except FloatingPointError as err:
        error = err
    weights = model.get_weights()
    if not all(np.isfinite(w).all() for w in weights):
        return "fit on huge finite x left non-finite weights or statistics"
    if error is not None:
        if not all(np.array_equal(a, b) for a, b in zip(before, weights, strict=True)):
            return "the guard raised but did not restore the network"
        raise error
    return None


_add(
    "network_fit_huge_x_running_var",
    2,
    "Network.fit",
    _network_fit_huge,
    expect=("FloatingPointError",),
    may_return=True,
)


def _network_fit_validation_nan():
    model = _network()
    x = np.ones((8, 3), np.float32)
    y = np.zeros(8, np.int64)
    x_val = x.copy()
    x_val[3, 0] = np.nan
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, validation_data=(x_val, y))
    return "validation_data with NaN accepted"


_add(
    "network_fit_validation_nan",
    2,
    "Network.fit",
    _network_fit_validation_nan,
    names="validation_data",
)


def _network_fit_shuffle(value):
    def run():
        model = _network()
        model.fit(np.ones((4, 3), np.float32), np.zeros(4, np.int64), verbose=0, shuffle=value)
        return f"shuffle={value!r} accepted"

    return run


for _value in ("no", 0, None, [False]):
    _add(
        f"network_fit_shuffle_{_value!r}",
        2,
        "Network.fit",
        _network_fit_shuffle(_value),
        names="shuffle",
    )


def _network_dtype_none():
    from fastnn import Dense, Network

    Network([Dense(2, input_dim=2)], dtype=None)
    return "dtype=None accepted (silently float64)"


_add("network_dtype_none", 2, "Network", _network_dtype_none, names="dtype")


def _initializer_returns(kind):
    def run():
        from fastnn import Dense, Network

        def init(shape, **kwargs):
            if kind == "nan":
                return np.full(shape, np.nan)
            if kind == "inf":
                return np.full(shape, np.inf)
            if kind == "shape":
                return np.zeros((shape[0] + 1, shape[1]))
            if kind == "str":
                return "zeros"
            return np.zeros(shape, dtype=object)

        model = Network([Dense(3, init=init, input_dim=2)])
        if not np.isfinite(model.get_weights()[0]).all():
            return f"an initializer returning {kind} accepted"
        return f"an initializer returning {kind} accepted"

    return run


for _kind in ("nan", "inf", "shape", "str", "object"):
    _add(
        f"initializer_returns_{_kind}",
        2,
        "Network.build",
        _initializer_returns(_kind),
        names="init",
    )


def _set_weights_bad_var(value):
    def run():
        model = _network()
        weights = model.get_weights()
        weights[5][0] = value  # gamma, beta, mean, var of the BN layer are 2..5
        model.set_weights(weights)
        return f"set_weights with moving variance {value} accepted"

    return run


_add(
    "set_weights_negative_variance",
    2,
    "Network.set_weights",
    _set_weights_bad_var(-1.0),
    names="variance",
)


def _optimizer_guard_param_overflow():
    from fastnn import Dense, Network, optimizers

    model = Network([Dense(2, input_dim=3)], seed=0)
    model.compile(optimizer=optimizers.SGD(learning_rate=1e38), loss="mse")
    before = [w.copy() for w in model.get_weights()]
    x = np.full((4, 3), 1e3, np.float32)
    y = np.full((4, 2), -1e3, np.float32)
    error = None
    try:
        model.train_on_batch(x, y)
    except FloatingPointError as err:
        error = err
    after = model.get_weights()
    if not all(np.isfinite(w).all() for w in after):
        return "an update writing inf into the weights with a finite loss went unnoticed"
    if error is not None:
        if not all(np.array_equal(a, b) for a, b in zip(before, after, strict=True)):
            return "the guard raised but did not restore the weights"
        raise error
    return None


_add(
    "train_on_batch_update_overflows",
    2,
    "Network.train_on_batch",
    _optimizer_guard_param_overflow,
    expect=("FloatingPointError",),
    may_return=True,
)


# --------------------------------------------------------- saved-file helpers


def _saved(model=None, compiled=True):
    """A saved network's (meta, arrays), to edit and write back."""
    model = model or _network()
    if compiled:
        model.train_on_batch(np.ones((4, 3), np.float32), np.zeros(4, np.int64))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.npz")
        model.save(path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    return meta, arrays


def _write(meta, arrays, directory):
    path = os.path.join(directory, "hostile.npz")
    payload = dict(arrays)
    if meta is not None:
        payload["meta"] = np.array(json.dumps(meta) if not isinstance(meta, str) else meta)
    np.savez(path, **payload)
    return path


def _load_edited(edit, names="hostile.npz"):
    def run():
        from fastnn import Network

        meta, arrays = _saved()
        meta, arrays = edit(meta, arrays)
        with tempfile.TemporaryDirectory() as directory:
            path = _write(meta, arrays, directory)
            model = Network.load(path)
            return f"loaded a hostile file: {model!r}"

    return run


def _set(path, value):
    def edit(meta, arrays):
        node = meta
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return meta, arrays

    return edit


def _drop(path):
    def edit(meta, arrays):
        node = meta
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return meta, arrays

    return edit


def _array(name, value):
    def edit(meta, arrays):
        arrays[name] = value(arrays[name]) if callable(value) else value
        return meta, arrays

    return edit


def _nan_in(array):
    array = array.copy()
    array.reshape(-1)[0] = np.nan
    return array


LOAD_EDITS = {
    # class 2: values the arrays must not hold
    "optimizer_m_nan": (2, _array("optimizer_m", _nan_in)),
    "optimizer_v_nan": (2, _array("optimizer_v", _nan_in)),
    "optimizer_v_negative": (2, _array("optimizer_v", lambda a: -np.abs(a) - 1)),
    "iterations_negative": (2, _set(("compile", "iterations"), -5)),
    "moving_variance_negative": (2, _array("weight_5", lambda a: -np.abs(a) - 1)),
    "weight_nan": (2, _array("weight_0", _nan_in)),
    # class 3: missing or wrong keys, wrong types
    "no_network": (3, _drop(("network",))),
    "no_input_dim": (3, _drop(("network", "input_dim"))),
    "no_layers": (3, _drop(("network", "layers"))),
    "no_epochs_seen": (3, _drop(("epochs_seen",))),
    "no_compile": (3, _drop(("compile",))),
    "no_iterations": (3, _drop(("compile", "iterations"))),
    "no_optimizer": (3, _drop(("compile", "optimizer"))),
    "unknown_optimizer": (3, _set(("compile", "optimizer"), "Lion")),
    "optimizer_not_str": (3, _set(("compile", "optimizer"), 3)),
    "optimizer_config_bad_key": (3, _set(("compile", "optimizer_config"), {"lr": 1.0})),
    "optimizer_config_list": (3, _set(("compile", "optimizer_config"), [1, 2])),
    "iterations_str": (3, _set(("compile", "iterations"), "many")),
    "iterations_huge": (3, _set(("compile", "iterations"), 2**70)),
    "iterations_float": (3, _set(("compile", "iterations"), 2.5)),
    "epochs_seen_str": (3, _set(("epochs_seen",), "ten")),
    "epochs_seen_negative": (3, _set(("epochs_seen",), -1)),
    "network_list": (3, _set(("network",), [1])),
    "layers_not_list": (3, _set(("network", "layers"), 7)),
    "layer_not_dict": (3, _set(("network", "layers", 0), "Dense")),
    "layer_unknown_class": (3, _set(("network", "layers", 0, "class_name"), "Conv2D")),
    "layer_config_bad_key": (3, _set(("network", "layers", 0, "config", "bogus"), 1)),
    "layer_units_str": (3, _set(("network", "layers", 0, "config", "units"), "4")),
    "input_dim_str": (3, _set(("network", "input_dim"), "3")),
    "input_dim_negative": (3, _set(("network", "input_dim"), -3)),
    "input_dim_huge": (3, _set(("network", "input_dim"), 2**40)),
    "units_huge": (3, _set(("network", "layers", 2, "config", "units"), 2**45)),
    "dtype_bad": (3, _set(("network", "dtype"), "complex128")),
    "dtype_int": (3, _set(("network", "dtype"), 5)),
    "seed_negative": (3, _set(("network", "seed"), -1)),
    "seed_str": (3, _set(("network", "seed"), "0")),
    "device_bad": (3, _set(("network", "device"), "tpu")),
    "loss_bad": (3, _set(("compile", "loss"), "hinge")),
    "metrics_bad": (3, _set(("compile", "metrics"), "accuracy!")),
    "meta_not_json": (3, lambda meta, arrays: ("{not json", arrays)),
    "meta_list": (3, lambda meta, arrays: (json.dumps([1, 2]), arrays)),
    "weight_object": (3, _array("weight_0", np.array([object()] * 12, dtype=object).reshape(3, 4))),
    "weight_wrong_shape": (3, _array("weight_0", np.zeros((4, 3), np.float32))),
    "weight_complex": (3, _array("weight_0", lambda a: a.astype(np.complex64))),
    "weight_str": (3, _array("weight_0", np.array([["a"] * 4] * 3))),
    "optimizer_state_wrong_shape": (3, _array("optimizer_m", np.zeros(3, np.float32))),
    "optimizer_state_str": (3, _array("optimizer_m", lambda a: a.astype(str))),
    "extra_weight": (3, lambda meta, arrays: (meta, {**arrays, "weight_99": np.zeros(1)})),
    "missing_weight": (
        3,
        lambda meta, arrays: (meta, {k: v for k, v in arrays.items() if k != "weight_1"}),
    ),
}

for _label, (_klass, _edit) in LOAD_EDITS.items():
    _add(f"load_{_label}", _klass, "Network.load", _load_edited(_edit), names="hostile.npz")


def _load_message_names_field(label, edit, field):
    def run():
        return _load_edited(edit)()

    return run


for _label, _field in (
    ("no_epochs_seen", "epochs_seen"),
    ("iterations_negative", "iterations"),
    ("optimizer_m_nan", "optimizer_m"),
    ("weight_wrong_shape", "weight_0"),
    ("layer_unknown_class", "layers"),
    ("input_dim_str", "input_dim"),
):
    _add(
        f"load_names_field_{_label}",
        4,
        "Network.load",
        _load_edited(LOAD_EDITS[_label][1]),
        names=_field,
    )


# ----------------------------------------------- class 3: exception types


def _adam_step(step):
    def run():
        from fastnn import functional as F

        p = np.zeros(4)
        F.adam_update(p, np.ones(4), np.zeros(4), np.zeros(4), step)
        if not np.isfinite(p).all():
            return f"step={step} gave non-finite parameters"
        return f"step={step} accepted"

    return run


for _step in (2**53, 2**63, 2**64, 2**100):
    _add(f"adam_update_step_{_step}", 3, "functional.adam_update", _adam_step(_step), names="step")


def _adam_iterations(value):
    def run():
        from fastnn import Dense, Network

        model = Network([Dense(2, input_dim=3)])
        model.compile(optimizer="adam", loss="mse")
        model.build(3)
        model.optimizer.iterations = value
        model.train_on_batch(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32))
        return f"optimizer.iterations={value!r} accepted"

    return run


for _value in (2**63 - 1, 2**64, -3, "7"):
    _add(
        f"adam_iterations_{_value!r}",
        3,
        "Network.train_on_batch",
        _adam_iterations(_value),
        names="iterations",
    )


def _huge_shape(entry):
    def run():
        from fastnn import functional as F
        from fastnn import init

        if entry == "init.zeros":
            init.zeros((2**40, 2**30))
        elif entry == "init.he_normal":
            init.he_normal((2**62, 2**10), seed=0)
        elif entry == "init.uniform_overflow":
            init.uniform((2**63, 4), limit=1.0, seed=0)
        elif entry == "functional.strided_x":
            x = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2**28, 2**28), strides=(0, 0))
            F.activation_forward(x, "relu")
        elif entry == "functional.dense_huge_out":
            x = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2**40, 2), strides=(0, 0))
            W = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2, 2**40), strides=(0, 0))
            F.dense_forward(np.ascontiguousarray(x[:4]), W, None)
        elif entry == "Network.build":
            from fastnn import Dense, Network

            Network([Dense(2**36, input_dim=2**20)])
        elif entry == "Network.build_overflow":
            from fastnn import Dense, Network

            Network([Dense(2**62, input_dim=2**10)])
        return f"{entry} allocated a huge array"

    return run


for _entry in (
    "init.zeros",
    "init.he_normal",
    "init.uniform_overflow",
    "functional.strided_x",
    "functional.dense_huge_out",
    "Network.build",
    "Network.build_overflow",
):
    _add(f"huge_shape_{_entry}", 3, _entry, _huge_shape(_entry), names="shape")


def _corrupt_gzip(how):
    def run():
        from fastnn import datasets

        raw = bytes([0, 0, 8, 1, 0, 0, 0, 16]) + bytes(range(16))
        packed = bytearray(gzip.compress(raw))
        if how == "flip_middle":
            packed[len(packed) // 2] ^= 0xFF
        elif how == "flip_crc":
            packed[-6] ^= 0x01
        elif how == "truncated":
            packed = packed[: len(packed) - 5]
        elif how == "header_only":
            packed = packed[:10]
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "corrupt-idx1-ubyte.gz")
            with open(path, "wb") as f:
                f.write(bytes(packed))
            datasets.read_idx(path)
        return f"corrupt gzip ({how}) read without error"

    return run


for _how in ("flip_middle", "flip_crc", "truncated", "header_only"):
    _add(
        f"read_idx_gzip_{_how}",
        3,
        "datasets.read_idx",
        _corrupt_gzip(_how),
        expect=("ValueError",),
        names="corrupt-idx1-ubyte.gz",
    )


def _mnist_shape(shape):
    def run():
        from fastnn import datasets

        with tempfile.TemporaryDirectory() as directory:
            n = shape[0]
            header = bytes([0, 0, 8, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
            with open(os.path.join(directory, "t10k-images-idx3-ubyte"), "wb") as f:
                f.write(header + bytes(int(np.prod(shape))))
            with open(os.path.join(directory, "t10k-labels-idx1-ubyte"), "wb") as f:
                f.write(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + bytes(n))
            x, _ = datasets.load_mnist(directory)
            return f"images of shape {shape} accepted as {x.shape}"

    return run


for _shape in ((2, 27, 28), (2, 28, 27), (2, 1, 784)):
    _add(
        f"load_mnist_images_{'x'.join(map(str, _shape))}",
        2,
        "datasets.load_mnist",
        _mnist_shape(_shape),
        expect=("ValueError",),
        names="28",
    )


def _cli(argv_of, setup=None, forbid_bench=False):
    def run():
        import contextlib

        from fastnn import benchmark, cli

        with tempfile.TemporaryDirectory() as directory:
            argv = argv_of(directory)
            if setup is not None:
                setup(directory)
            if forbid_bench:

                def refuse(*args, **kwargs):
                    raise RuntimeError("the benchmark ran before the output paths were checked")

                benchmark.run = refuse
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    status = cli.main(argv)
            except SystemExit as exit_:
                status = exit_.code
            if status in (0, None):
                return f"fastnn {' '.join(argv)} exited 0"
            if not err.getvalue().strip():
                return f"fastnn {' '.join(argv)} exited {status} without a message"
            return None

    return run


def _json_file(content):
    def setup(directory):
        for name in ("new.json", "old.json"):
            with open(os.path.join(directory, name), "w") as f:
                f.write(content if name == "old.json" else json.dumps({"results": []}))

    return setup


BAD_REPORTS = {
    "results_not_list": json.dumps({"results": 5}),
    "entry_not_dict": json.dumps({"results": [3]}),
    "entry_missing_keys": json.dumps({"results": [{"op": "dense"}]}),
    "fastnn_not_dict": json.dumps(
        {"results": [{"op": "d", "shape": "s", "dtype": "f", "fastnn": "fast"}]}
    ),
    "median_str": json.dumps(
        {"results": [{"op": "d", "shape": "s", "dtype": "f", "fastnn": {"median_s": "1"}}]}
    ),
    "median_zero": json.dumps(
        {"results": [{"op": "d", "shape": "s", "dtype": "f", "fastnn": {"median_s": 0}}]}
    ),
}


def _compare_new_first(content):
    def setup(directory):
        with open(os.path.join(directory, "old.json"), "w") as f:
            f.write(content)
        with open(os.path.join(directory, "new.json"), "w") as f:
            f.write(content)

    return setup


for _label, _content in BAD_REPORTS.items():
    _add(
        f"cli_compare_{_label}",
        3,
        "cli compare",
        _cli(
            lambda d: ["compare", os.path.join(d, "new.json"), os.path.join(d, "old.json")],
            _compare_new_first(_content),
        ),
        expect=(),
        may_return=True,
    )
    _add(
        f"cli_bench_compare_{_label}",
        3,
        "cli bench --compare",
        _cli(
            lambda d: [
                "bench",
                "--quick",
                "--ops",
                "activations",
                "--no-torch",
                "--no-startup",
                "--compare",
                os.path.join(d, "old.json"),
            ],
            _compare_new_first(_content),
            forbid_bench=True,
        ),  # fmt: skip
        expect=(),
        may_return=True,
    )

for _flag in ("--json", "--plot"):
    _add(
        f"cli_bench_{_flag[2:]}_missing_directory",
        3,
        f"cli bench {_flag}",
        _cli(
            lambda d, flag=_flag: [
                "bench",
                "--quick",
                "--no-torch",
                "--no-startup",
                flag,
                os.path.join(d, "missing", "out.file"),
            ],
            forbid_bench=True,
        ),  # fmt: skip
        expect=(),
        may_return=True,
    )

for _seed in ("-1", "-5", "2**70"):
    _add(
        f"cli_check_seed_{_seed}",
        3,
        "cli check",
        _cli(lambda d, s=_seed: ["check", "--seed", s]),
        expect=(),
        may_return=True,
    )


# ----------------------------------------------------------- class 4: messages


def _dense_shape_message():
    from fastnn import functional as F

    F.dense_forward(np.ones((2, 3)), np.ones((4, 2)), None)


_add("dense_forward_shape_message", 4, "functional.dense_forward", _dense_shape_message, names="W")


def _load_not_zip_member():
    from fastnn import Network

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "hostile.npz")
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("meta.npy", b"\x93NUMPY garbage")
        Network.load(path)


_add("load_bad_npy_member", 4, "Network.load", _load_not_zip_member, names="hostile.npz")
