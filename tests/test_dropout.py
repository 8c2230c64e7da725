"""Dropout: the kernels (on every backend) against the NumPy reference, bit for bit, and the layer.

The reference draws the keep mask through its own Philox4x32-10 (written
again in NumPy, pinned here by the published known-answer vectors), so the
kernels' masks are checked exactly, not in distribution.  The layer tests
check Keras's behaviour: inverted scaling in training only, identity in
``predict``/``evaluate``, a fresh mask each optimizer step, the same bits
for a seed on any thread count, and save/load.
"""

import numpy as np
import pytest

from fastnn import Dense, Network, reference
from fastnn.layers import Dropout, from_config
from tests.helpers import on_device, on_host, run_with_threads
from tests.test_philox import KAT_10

DTYPES = [np.float32, np.float64]
# One element, a partial chunk, exactly one chunk (1024), chunks plus a tail.
SHAPES = [(1, 1), (7, 13), (32, 32), (33, 65), (257, 129)]
# Above the CPU kernel's PARALLEL_MIN_ELEMENTS (the prange path), ending in a
# partial chunk: 1025 * 1031 = 1032 chunks of 1024 and 7 more elements.
PARALLEL_SHAPE = (1025, 1031)


def kernel_forward(backend, x, seed, stream, step, rate):
    (x_dev,) = on_device(backend, x)
    keep = backend.memory.empty(x.shape, np.uint8)
    y = backend.memory.empty(x.shape, x.dtype)
    backend.dropout.dropout_forward(x_dev, seed, stream, step, rate, keep, y)
    return on_host(backend, y, keep)


@pytest.mark.parametrize(("counter", "key", "expected"), KAT_10)
def test_reference_philox_known_answers(counter, key, expected):
    words = reference.philox4x32_10([np.array([c]) for c in counter], key)
    assert tuple(int(w[0]) for w in words) == expected


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_forward_matches_reference_bitwise(backend, shape, dtype, rate):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    args = dict(seed=2**40 + 7, stream=2**63 + 3, step=5)
    y, keep = kernel_forward(backend, x, *args.values(), rate)
    y_ref, keep_ref = reference.dropout_forward(x, rate, **args)
    np.testing.assert_array_equal(keep, keep_ref.astype(np.uint8))
    np.testing.assert_array_equal(y, y_ref)
    assert y.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_parallel_path_matches_reference_bitwise(dtype):
    """Above PARALLEL_MIN_ELEMENTS the chunks are split over threads (the CPU kernels)."""
    from fastnn.kernels.cpu import dropout as kernels

    assert PARALLEL_SHAPE[0] * PARALLEL_SHAPE[1] >= kernels.PARALLEL_MIN_ELEMENTS
    assert PARALLEL_SHAPE[0] * PARALLEL_SHAPE[1] % kernels._CHUNK != 0
    rng = np.random.default_rng(4)
    x = rng.standard_normal(PARALLEL_SHAPE).astype(dtype)
    args = dict(seed=2**40 + 7, stream=2**63 + 3, step=5)
    keep = np.empty(x.shape, np.uint8)
    y = np.empty_like(x)
    kernels.dropout_forward(x, *args.values(), 0.3, keep, y)
    y_ref, keep_ref = reference.dropout_forward(x, 0.3, **args)
    np.testing.assert_array_equal(keep, keep_ref.astype(np.uint8))
    np.testing.assert_array_equal(y, y_ref)
    dx = np.empty_like(x)
    kernels.dropout_backward(x, keep, 0.3, dx)
    np.testing.assert_array_equal(dx, reference.dropout_backward(x, keep_ref, 0.3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_matches_reference_and_may_alias(backend, dtype):
    shape, rate = (257, 129), 0.3
    rng = np.random.default_rng(2)
    dy = rng.standard_normal(shape).astype(dtype)
    keep = (rng.random(shape) > rate).astype(np.uint8)
    expected = reference.dropout_backward(dy, keep.astype(bool), rate)
    dy_dev, keep_dev = on_device(backend, dy, keep)
    dx_dev = backend.memory.empty(shape, dtype)
    backend.dropout.dropout_backward(dy_dev, keep_dev, rate, dx_dev)
    backend.dropout.dropout_backward(dy_dev, keep_dev, rate, dy_dev)  # in place
    dx, dy_out = on_host(backend, dx_dev, dy_dev)
    np.testing.assert_array_equal(dx, expected)
    np.testing.assert_array_equal(dy_out, expected)


def test_mask_depends_on_seed_stream_and_step_and_keeps_one_minus_rate(backend):
    x = np.ones((500, 400), np.float32)
    base = dict(seed=0, stream=2**63, step=0)
    _, keep = kernel_forward(backend, x, *base.values(), 0.25)
    # 2e5 Bernoulli(0.75) draws: std of the kept fraction 9.7e-4; 5 stds.
    assert abs(keep.mean() - 0.75) < 5e-3
    for change in ({"seed": 1}, {"stream": 2**63 + 1}, {"step": 1}, {"step": 2**32 - 1}):
        _, other = kernel_forward(backend, x, *{**base, **change}.values(), 0.25)
        # Independent masks agree on 0.75**2 + 0.25**2 = 62.5% of the entries.
        assert abs((other == keep).mean() - 0.625) < 5e-3


def test_dropped_non_finite_inputs_become_zero(backend):
    """A select, not a product: a dropped inf or NaN is 0, as Keras's ``where`` gives."""
    x = np.full((64, 64), np.inf)
    x[::2] = np.nan
    y, keep = kernel_forward(backend, x, 3, 2**63, 0, 0.5)
    assert (keep == 0).any() and (keep == 1).any()
    assert (y[keep == 0] == 0).all()
    assert not np.isfinite(y[keep == 1]).any()


def test_forward_is_the_same_on_any_thread_count():
    script = """
        import hashlib
        import numpy as np
        from fastnn.kernels.cpu import dropout
        x = np.random.default_rng(0).standard_normal((1025, 1031))  # PARALLEL_SHAPE
        keep = np.empty(x.shape, np.uint8)
        y = np.empty_like(x)
        dropout.dropout_forward(x, 11, 2**63 + 2, 9, 0.4, keep, y)
        print(hashlib.sha256(keep.tobytes() + y.tobytes()).hexdigest())
    """
    one, two = run_with_threads(script, 1), run_with_threads(script, 2)
    assert len(one.strip()) == 64
    assert one == two


# --- the layer ------------------------------------------------------------------------


def dropout_net(rate=0.5, seed=None, net_seed=0, dtype=np.float64):
    model = Network(seed=net_seed, dtype=dtype)
    model.add(Dense(40, "relu", input_dim=6))
    model.add(Dropout(rate, seed=seed))
    model.add(Dense(3))
    model.compile(optimizer="sgd", loss="mse")
    return model


def data(n=64):
    rng = np.random.default_rng(5)
    return rng.standard_normal((n, 6)), rng.standard_normal((n, 3))


def test_layer_passes_the_argument_types_warmup_compiles(monkeypatch):
    """The layer's kernel call has warmup's argument types, with a numpy.uint64 key and stream.

    A Python int of 2**63 or more (every dropout stream is one) cost 45 us of Numba's
    argument typing per call; a type warmup does not use would compile on the first step.
    """
    import numba

    from fastnn import warmup
    from fastnn.kernels.cpu import dropout as kernels

    seen = []
    real = kernels.dropout_forward

    def recording(*args):
        seen.append(args)
        return real(*args)

    monkeypatch.setattr(kernels, "dropout_forward", recording)
    model = dropout_net(dtype=np.float32, seed=2**64 - 1)
    x, y = data()
    model.train_on_batch(x, y)
    call = dict(warmup._kernel_calls("float32"))["dropout"]
    call()
    assert len(seen) == 2
    layer_args, warmup_args = seen
    assert [numba.typeof(a) for a in layer_args] == [numba.typeof(a) for a in warmup_args]
    # The Numba types alone do not tell: typeof(2**63) is uint64 too, by the slow path.
    assert type(layer_args[1]) is type(layer_args[2]) is np.uint64


def test_layer_validates_its_arguments():
    for rate, error in ((1.0, ValueError), (-0.1, ValueError), ("0.5", TypeError)):
        with pytest.raises(error, match="rate"):
            Dropout(rate)
    with pytest.raises(ValueError, match="seed"):
        Dropout(0.5, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        Dropout(0.5, seed=1.5)


def test_inference_is_the_identity_and_training_drops_and_scales():
    x, _ = data()
    model = dropout_net(rate=0.5)
    hidden = Network(seed=0, dtype=np.float64)
    hidden.add(Dense(40, "relu", input_dim=6))
    hidden.set_weights(model.get_weights()[:2])
    h = hidden.predict(x)
    W, b = model.get_weights()[2:]
    # predict: no dropout, the network without the layer (the same products,
    # float64 rounding of 40-term sums at most; a dropped unit would move it by O(1)).
    np.testing.assert_allclose(model.predict(x), h @ W + b, rtol=1e-12, atol=1e-12)
    # forward(training=True): h / (1 - rate) where kept, 0 where dropped, with
    # the mask of the layer's stream at the optimizer's step 0.
    keep = reference.dropout_mask((64, 40), 0.5, seed=0, stream=2**63 + 1, step=0)
    expected = np.where(keep, h * 2.0, 0.0) @ W + b
    # The same products in another order (BLAS): float64 rounding of 40-term sums.
    np.testing.assert_allclose(model.forward(x, training=True), expected, rtol=1e-12, atol=1e-12)


def test_each_step_draws_a_fresh_mask_and_a_layer_seed_is_its_key():
    x, y = data()
    model = dropout_net()
    first = model.forward(x, training=True)
    np.testing.assert_array_equal(model.forward(x, training=True), first)  # same step
    model.backward(y)
    model.step()
    assert not np.array_equal(model.forward(x, training=True), first)
    seeded = dropout_net(seed=123)
    seeded.set_weights(dropout_net().get_weights())
    other = seeded.forward(x, training=True)
    assert not np.array_equal(other, first)
    reseeded = dropout_net(seed=123, net_seed=9)
    reseeded.set_weights(dropout_net().get_weights())
    np.testing.assert_array_equal(reseeded.forward(x, training=True), other)


def test_rate_zero_trains_exactly_as_without_the_layer():
    x, y = data()
    with_layer = dropout_net(rate=0.0)
    without = Network(seed=0, dtype=np.float64)
    without.add(Dense(40, "relu", input_dim=6))
    without.add(Dense(3))
    without.compile(optimizer="sgd", loss="mse")
    # Weight streams do not move when a Dropout layer is added.
    for a, b in zip(with_layer.get_weights(), without.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with_layer.fit(x, y, epochs=2, batch_size=16, verbose=0)
    without.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(with_layer.get_weights(), without.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_backward_matches_numpy_through_the_reference_mask():
    """Every gradient of Dense(relu) -> Dropout -> Dense with mse, written out in NumPy."""
    x, y = data(8)
    model = dropout_net(rate=0.5)
    W1, b1, W2, b2 = model.get_weights()
    out = model.forward(x, training=True)
    model.backward(y)
    keep = reference.dropout_mask((8, 40), 0.5, seed=0, stream=2**63 + 1, step=0)
    z1 = x @ W1 + b1
    hd = np.where(keep, 2.0 * np.maximum(z1, 0), 0.0)
    np.testing.assert_allclose(out, hd @ W2 + b2, rtol=1e-12, atol=1e-12)
    dout = 2.0 * (out - y) / out.size  # mse: the mean over every entry
    dz1 = np.where(keep, 2.0 * (dout @ W2.T), 0.0) * (z1 > 0)
    expected = [x.T @ dz1, dz1.sum(axis=0), hd.T @ dout, dout.sum(axis=0)]
    # float64 sums of at most 40 terms in another order: rounding far below 1e-12.
    for got, want in zip(model.get_gradients(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_fit_is_reproducible_on_any_thread_count_and_learns():
    script = """
        import hashlib
        import numpy as np
        from fastnn import Dense, Network
        from fastnn.layers import Dropout
        from fastnn.optimizers import Adam
        rng = np.random.default_rng(0)
        x = rng.standard_normal((600, 6)).astype(np.float32)
        y = (x[:, :1] > 0).astype(np.float32)
        model = Network(seed=4)
        model.add(Dense(64, "relu", input_dim=6))
        model.add(Dropout(0.3))
        model.add(Dense(1, "sigmoid"))
        model.compile(Adam(learning_rate=0.01), "binary_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=3, batch_size=32, verbose=0)
        digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights()))
        print(digest.hexdigest(), model.evaluate(x, y)[1] > 0.9)
    """
    one, two = run_with_threads(script, 1), run_with_threads(script, 2)
    # A linearly separable target: 0.99 measured; 0.9 is far above chance (0.5).
    assert one.split()[1] == "True"
    assert one == two


def test_save_load_round_trips_and_resumes_the_masks(tmp_path):
    x, y = data()
    model = dropout_net(rate=0.4, seed=77)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "dropout.npz"
    model.save(path)
    loaded = Network.load(path)
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "Dropout", "Dense"]
    assert loaded.layers[1].get_config() == {"rate": 0.4, "seed": 77, "name": "dropout"}
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # The optimizer step is saved, so training continues with the same masks.
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    layer = from_config("Dropout", {"rate": 0.2, "seed": None, "name": "d"})
    assert isinstance(layer, Dropout) and layer.rate == 0.2


def test_dropout_after_the_output_activation_is_refused_with_a_logits_loss():
    model = Network(seed=0)
    model.add(Dense(3, "softmax", input_dim=4))
    model.add(Dropout(0.5))
    with pytest.raises(ValueError, match="Dropout"):
        model.compile(optimizer="sgd", loss="cross_entropy")


def test_summary_and_no_weights():
    model = dropout_net()
    rows = model.summary(print_fn=lambda line: None)["rows"]
    assert [r["type"] for r in rows] == ["Dense", "Dropout", "Dense"]
    assert rows[1]["params"] == 0
    assert len(model.get_weights()) == 4
