"""Random valid and invalid arguments for ``fastnn.init``, ``Network`` and the CLI.

The contract: a ``ValueError``/``TypeError`` whose message names the argument,
or a valid result (an array of the asked shape and dtype, finite; a network
that trains).  The backward-cache crash of issue 12 is reproduced in a child
process, at the size where it crashed.
"""

from __future__ import annotations

import contextlib
import io
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fastnn import BatchNormalization, Dense, Network, init
from fastnn._validation import physical_memory
from tests.fuzz.harness import ROOT, child_env
from tests.fuzz.profile import fuzz_settings
from tests.fuzz.strategies import JUNK

INITIALIZERS = ["zeros", "ones", "he_normal", "he_uniform", "xavier_normal", "lecun_uniform"]

DIMENSIONS = st.one_of(st.integers(-3, 6), st.sampled_from([0, 2**31, 2**40, 2**63, 2**64]), JUNK)


@fuzz_settings(60)
@given(name=st.sampled_from(INITIALIZERS), shape=st.lists(DIMENSIONS, min_size=0, max_size=3))
def test_init_shapes(name, shape):
    dims = [d for d in shape if isinstance(d, int) and not isinstance(d, bool)]
    if len(dims) == len(shape) and all(d > 0 for d in dims):
        size = math.prod(dims)
        # A valid shape of up to this machine's memory would really be allocated:
        # only small ones, and ones beyond memory (refused before allocating), are tried.
        assume(size <= 2**20 or size * 4 > (physical_memory() or 2**62))
    function = init.get(name)
    try:
        values = function(tuple(shape), seed=1)
    except (ValueError, TypeError) as err:
        assert "shape" in str(err), err
        return
    assert values.shape == tuple(shape)
    assert np.isfinite(values).all()


@fuzz_settings(30)
@given(seed=st.one_of(st.integers(-5, 2**65), JUNK), stream=st.one_of(st.integers(-5, 5), JUNK))
def test_init_seed_and_stream(seed, stream):
    try:
        values = init.he_normal((3, 2), seed=seed, stream=stream)
    except (ValueError, TypeError) as err:
        assert "seed" in str(err) or "stream" in str(err), err
        return
    assert np.isfinite(values).all()


def _small_network():
    model = Network([Dense(3, activation="relu", input_dim=2), BatchNormalization(), Dense(2)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


FIT_ARGUMENTS = {
    # Not JUNK's 2**70: a huge epoch count is valid, and would run for ever.
    "epochs": st.one_of(st.integers(-1, 2), st.sampled_from([None, "1", 1.5, True, []])),
    "batch_size": st.one_of(st.integers(-1, 5), JUNK),
    "shuffle": st.one_of(st.booleans(), JUNK),
    "verbose": st.one_of(st.integers(-1, 3), JUNK),
    "validation_split": st.one_of(st.floats(-0.5, 1.5), JUNK),
}


@fuzz_settings(60)
@given(argument=st.sampled_from(sorted(FIT_ARGUMENTS)), data=st.data())
def test_fit_arguments(argument, data):
    value = data.draw(FIT_ARGUMENTS[argument])
    model = _small_network()
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(8, 2)
    y = np.arange(8, dtype=np.int64) % 2
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            model.fit(x, y, **{"verbose": 0, argument: value})
    except (ValueError, TypeError) as err:
        assert argument in str(err), err
        return
    for weight in model.get_weights():
        assert np.isfinite(weight).all()


@fuzz_settings(40)
@given(
    rows=st.integers(0, 4),
    columns=st.integers(0, 4),
    dtype=st.sampled_from([np.float32, np.float64, np.int64, np.bool_, object]),
    fill=st.sampled_from([0.0, np.nan, np.inf, 1e30]),
    method=st.sampled_from(["predict", "train_on_batch", "evaluate", "call", "call_training"]),
)
def test_network_methods_inputs(rows, columns, dtype, fill, method):
    model = _small_network()
    with np.errstate(invalid="ignore"):  # NaN cast to an integer dtype, on purpose
        x = np.full((rows, columns), fill).astype(dtype) if dtype is not object else [[fill]]
    y = np.zeros(rows, np.int64)
    before = model.get_weights()
    try:
        with np.errstate(all="ignore"):
            if method == "predict":
                model.predict(x)
            elif method == "train_on_batch":
                model.train_on_batch(x, y)
            elif method == "evaluate":
                model.evaluate(x, y)
            else:
                model(x, training=method == "call_training")
    except (ValueError, TypeError, FloatingPointError) as err:
        assert "x" in str(err) or "loss" in str(err), err
        after = model.get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
        return
    for weight in model.get_weights():
        assert np.isfinite(weight).all()


CLI_WORDS = st.sampled_from(
    ["check", "compare", "--seed", "-1", "0", "7", "--dtypes", "float32", "float16", "--tolerance",
     "-0.5", "0.2", "nan", "--fail-on-regression", "x.json", "--bogus"]
)  # fmt: skip


@fuzz_settings(25)
@given(argv=st.lists(CLI_WORDS, min_size=1, max_size=5))
def test_cli_never_tracebacks(argv, tmp_path_factory):
    from fastnn import cli

    directory = tmp_path_factory.mktemp("cli")
    argv = [str(directory / word) if word.endswith(".json") else word for word in argv]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = cli.main(argv)
    except SystemExit as exit_:
        status = exit_.code
    if status not in (0, None):
        assert err.getvalue().strip(), f"fastnn {argv} failed without a message"


CRASH = """
import numpy as np
from fastnn import functional as F
x = np.ones((4, 8), np.float32)
y, cache = F.batch_norm_forward(x + np.arange(4, dtype=np.float32)[:, None], np.ones(8, np.float32),
    np.zeros(8, np.float32), np.zeros(8, np.float32), np.ones(8, np.float32))
big = np.ones((2**21, 8), np.float32)
try:
    F.batch_norm_backward(big, cache._replace(y=big))
except (ValueError, TypeError) as err:
    print("refused:", err)
else:
    print("accepted")
"""


def test_batch_norm_backward_resized_cache_does_not_crash():
    """Issue 12's crash: a cache whose ``y`` was replaced by 2**21 rows read out of bounds."""
    proc = subprocess.run(
        [sys.executable, "-c", CRASH],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"the child died ({proc.returncode}): {proc.stderr[-2000:]}"
    assert proc.stdout.startswith("refused:") and "cache" in proc.stdout, proc.stdout


@pytest.mark.parametrize("dtype", [None, "float16", "int32", object, "complex64"])
def test_network_dtype(dtype):
    with pytest.raises(TypeError, match="dtype"):
        Network([Dense(2, input_dim=2)], dtype=dtype)
