"""Tests of fastnn.Network: the Keras-style API, its errors, saving, determinism, and the reference.

The reference tests train ``fastnn.Network`` and ``fastnn.reference.Network``
(unfused NumPy operations, one optimizer call per weight) from the same
weights on the same batches and compare losses and weights.
"""

import os

import numpy as np
import pytest

import fastnn
from fastnn import Activation, BatchNormalization, Dense, Network, reference
from fastnn.datasets import make_moons
from fastnn.kernels.scalar import LINEAR, RELU, SIGMOID
from fastnn.optimizers import SGD, Adam, RMSprop
from tests.helpers import run_with_threads


def issue_model(seed=0, dtype=np.float32):
    """The model of the issue's example: 2-3-2-1 with BatchNormalization after each hidden layer."""
    model = Network(seed=seed, device="cpu", dtype=dtype)
    model.add(Dense(3, activation="relu", input_dim=2, init="he_normal"))
    model.add(BatchNormalization())
    model.add(Dense(2, activation="relu"))
    model.add(BatchNormalization())
    model.add(Dense(1, activation="sigmoid"))
    return model


def classifier_layers(placement="act_bn"):
    """Layers of a 20-32-16-4 softmax classifier with BN in either placement."""
    if placement == "act_bn":
        return [
            Dense(32, "relu", input_dim=20),
            BatchNormalization(),
            Dense(16, "tanh"),
            BatchNormalization(momentum=0.9),
            Dense(4, "softmax"),
        ]
    # A bias right before BN has a mathematically zero gradient, so its value is
    # rounding noise that Adam amplifies; users drop it, and so do we.
    return [
        Dense(32, use_bias=False, input_dim=20),
        BatchNormalization(),
        Activation("relu"),
        Dense(16, use_bias=False),
        BatchNormalization(),
        Activation("leaky_relu"),
        Dense(4, "softmax"),
    ]


def classifier(seed=0, dtype=np.float32, placement="act_bn", optimizer="adam"):
    """The ``classifier_layers`` network, compiled with softmax cross-entropy and accuracy."""
    model = Network(classifier_layers(placement), seed=seed, dtype=dtype)
    model.compile(optimizer=optimizer, loss="cross_entropy", metrics=["accuracy"])
    return model


def blobs(n=320, n_features=20, n_classes=4, dtype=np.float32, seed=0):
    """Gaussian blobs: a learnable n_classes problem."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, n)
    x = centers[y] + rng.normal(size=(n, n_features))
    return x.astype(dtype), y


# --------------------------------------------------------------------------- the API


def test_issue_example_runs_as_written(capsys):
    X, y = make_moons(400, noise=0.15, seed=1)
    Xv, yv = make_moons(100, noise=0.15, seed=2)
    model = issue_model()
    summary = model.summary()
    model.compile(
        optimizer=Adam(learning_rate=1e-3), loss="binary_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(X, y, epochs=10, batch_size=32, validation_data=(Xv, yv), shuffle=True)
    probs = model.predict(X)
    loss, accuracy = model.evaluate(X, y)

    assert (summary["trainable"], summary["non_trainable"], summary["total"]) == (30, 10, 40)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 10 for values in history.history.values())
    assert history.epoch == list(range(10))
    assert probs.shape == (400, 1) and probs.dtype == np.float32
    assert np.all((probs > 0) & (probs < 1))
    assert np.isfinite(loss)
    # evaluate's accuracy (a kernel on the logits, logit > 0) is the share of
    # predicted probabilities on the right side of 0.5, counted here from predict.
    assert accuracy == np.mean((probs[:, 0] > 0.5) == (y > 0.5))
    assert history.history["accuracy"][-1] > history.history["accuracy"][0]
    out = capsys.readouterr().out
    assert "Trainable: 30" in out and "Non-trainable: 10" in out
    assert out.count("Epoch ") == 10  # one line per epoch off a terminal


def test_fit_learns_moons():
    X, y = make_moons(512, noise=0.1, seed=3)
    model = Network(
        [
            Dense(32, "relu", input_dim=2),
            BatchNormalization(),
            Dense(32, "relu"),
            Dense(1, "sigmoid"),
        ],
        seed=1,
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(X, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.evaluate(X, y)[1] > 0.95


def test_list_constructor_equals_add():
    by_list = Network([Dense(4, "relu", input_dim=3), BatchNormalization(), Dense(2)], seed=5)
    by_add = Network(seed=5)
    for layer in [Dense(4, "relu", input_dim=3), BatchNormalization(), Dense(2)]:
        by_add.add(layer)
    for a, b in zip(by_list.get_weights(), by_add.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [layer.name for layer in by_list.layers] == ["dense", "batch_normalization", "dense_1"]


def test_summary_rows_show_default_initializers(capsys):
    model = Network(
        [
            Dense(5, "relu", input_dim=3),
            Dense(4, "leaky_relu"),
            Dense(3, "tanh"),
            Dense(2, "softmax"),
        ]
    )
    summary = model.summary()
    assert [row["initializer"] for row in summary["rows"]] == [
        "kaiming_normal",
        "kaiming_normal",
        "xavier_uniform",
        "xavier_uniform",
    ]
    assert [row["trainable"] for row in summary["rows"]] == [20, 24, 15, 8]
    assert summary["rows"][0]["output_shape"] == (None, 5)
    assert "xavier_uniform" in capsys.readouterr().out


def test_weight_counts_without_bias_center_scale():
    model = Network(
        [
            Dense(4, use_bias=False, input_dim=3),
            BatchNormalization(center=False, scale=False),
            Dense(2),
        ]
    )
    summary = model.summary(print_fn=lambda *_: None)
    assert [row["trainable"] for row in summary["rows"]] == [12, 0, 10]
    assert [row["non_trainable"] for row in summary["rows"]] == [0, 8, 0]
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4,), (4,), (4, 2), (2,)]


def test_network_builds_from_first_data():
    model = Network([Dense(3, "relu"), BatchNormalization(), Dense(2, "softmax")])
    with pytest.raises(ValueError, match="not built"):
        model.summary()
    model.compile(optimizer="sgd", loss="cross_entropy")
    x, y = blobs(64, n_features=6, n_classes=2)
    model.fit(x, y, verbose=0)
    assert model.input_dim == 6
    assert model.get_weights()[0].shape == (6, 3)


def test_get_set_weights_keras_order_round_trip():
    model = issue_model()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [
        (2, 3), (3,), (3,), (3,), (3,), (3,),
        (3, 2), (2,), (2,), (2,), (2,), (2,),
        (2, 1), (1,),
    ]  # fmt: skip
    np.testing.assert_array_equal(weights[2], 1.0)  # gamma
    np.testing.assert_array_equal(weights[5], 1.0)  # moving variance
    rng = np.random.default_rng(0)
    new = [rng.uniform(0.5, 1.5, w.shape) for w in weights]  # float64 in, cast to float32
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new, strict=True):
        np.testing.assert_array_equal(got, want.astype(np.float32))
    # The layers see the same memory.
    np.testing.assert_array_equal(model.layers[0].kernel, new[0].astype(np.float32))
    # get_weights returns copies.
    model.get_weights()[0][...] = 0
    assert np.all(model.get_weights()[0] != 0)


def test_set_weights_errors():
    model = issue_model()
    weights = model.get_weights()
    with pytest.raises(ValueError, match="expected 14 weight arrays, got 13"):
        model.set_weights(weights[:-1])
    bad = list(weights)
    bad[0] = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"dense/kernel must have shape \(2, 3\)"):
        model.set_weights(bad)
    bad[0] = np.full((2, 3), np.nan)
    with pytest.raises(ValueError, match="must be finite"):
        model.set_weights(bad)
    with pytest.raises(TypeError, match="list of arrays"):
        model.set_weights(weights[0])


def test_predict_returns_probabilities_and_logits_without_softmax():
    x, y = blobs(100)
    model = classifier()
    model.fit(x, y, epochs=2, verbose=0)
    probs = model.predict(x)
    # float32, u = 6e-8: four probabilities sum to 1 within a few u (2.4e-7), and
    # the same rows in batches of another size may round differently in the
    # GEMM's blocking by a few ulps: 1e-6 bounds both.
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert probs.shape == (100, 4)
    # predict_on_batch and __call__ agree with predict (inference mode).
    np.testing.assert_allclose(model.predict_on_batch(x), probs, rtol=1e-6)
    np.testing.assert_allclose(model(x[:7]), probs[:7], rtol=1e-6)

    logits_model = Network([Dense(8, "relu", input_dim=20), Dense(4)], seed=0)
    logits_model.compile(optimizer="adam", loss="cross_entropy")
    logits = logits_model.predict(x)
    assert np.any(logits < 0) and not np.allclose(logits.sum(axis=1), 1.0)


def test_call_in_training_mode_updates_moving_statistics():
    x, _ = blobs(64)
    model = classifier()
    before = model.get_weights()
    model(x, training=False)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    model(x, training=True)
    after = model.get_weights()
    assert not np.array_equal(after[4], before[4])  # first BN moving mean
    np.testing.assert_array_equal(after[0], before[0])  # kernels untouched


def test_forward_backward_step_equals_train_on_batch():
    x, y = blobs(64)
    first, second = classifier(seed=3), classifier(seed=3)
    for _ in range(3):
        first.forward(x, training=True)
        loss = first.backward(y)
        first.step()
        assert loss == second.train_on_batch(x, y)[0]
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="step needs gradients"):
        first.step()


def test_train_on_batch_returns_loss_or_loss_and_metrics():
    x, y = blobs(64)
    model = Network([Dense(4, "softmax", input_dim=20)])
    model.compile(optimizer="sgd", loss="cross_entropy")
    assert isinstance(model.train_on_batch(x, y), float)
    model.compile(optimizer="sgd", loss="cross_entropy", metrics=["accuracy"])
    # Without BatchNormalization the training forward equals predict's, so the
    # accuracy of the batch before the update is the share of argmax hits now.
    want = np.mean(np.argmax(model.predict(x), axis=1) == y)
    loss, accuracy = model.train_on_batch(x, y)
    assert isinstance(loss, float) and accuracy == want


def test_fused_placements():
    ops, _ = classifier(placement="act_bn")._make_ops("cross_entropy")
    assert [type(op).__name__ for op in ops] == ["DenseOp", "BatchNormOp"] * 2 + ["DenseOp"]
    assert (ops[0].code, ops[1].pre, ops[1].post) == (LINEAR, RELU, LINEAR)
    ops, _ = classifier(placement="bn_act")._make_ops("cross_entropy")
    assert len(ops) == 5  # both Activation layers ride on the BN kernel
    assert (ops[0].code, ops[1].pre, ops[1].post) == (LINEAR, LINEAR, RELU)
    ops, output_code = issue_model()._make_ops("binary_crossentropy")
    assert ops[-1].code == LINEAR and output_code == SIGMOID
    ops, output_code = issue_model()._make_ops("mse")
    assert ops[-1].code == SIGMOID and output_code == LINEAR


def test_mse_regression_trains():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3)).astype(np.float64)
    y = np.sin(x[:, :1]) + 0.5 * x[:, 1:2]
    model = Network([Dense(16, "tanh", input_dim=3), Dense(1)], seed=0, dtype=np.float64)
    model.compile(optimizer=Adam(learning_rate=0.01), loss="mse")
    history = model.fit(x, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    # evaluate (y given as (n,) for the one output) is the mean squared error of
    # predict's outputs.  This replaces a comparison with the last epoch's
    # training loss at rel=0.5, which no derivation supported: that loss is a
    # mean over weights that change during the epoch.  Both sides sum 256
    # float64 squares (fixed blocks vs NumPy's pairwise sum), each within
    # 256 u = 2.8e-14 of exact (u = 1.1e-16), so they agree to 5.7e-14: 1e-13.
    want = np.mean((model.predict(x) - y) ** 2)
    assert model.evaluate(x, y[:, 0]) == pytest.approx(want, rel=1e-13)


def test_validation_split_and_verbose_two(capsys):
    x, y = blobs(100)
    model = classifier()
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=2)
    assert "val_accuracy" in history.history
    assert history.params == {"epochs": 2, "steps": 5, "batch_size": 16, "verbose": 2}
    assert capsys.readouterr().out.count("Epoch ") == 2


def test_optimizer_strings_have_keras_defaults():
    model = issue_model()
    for name, cls, rate in (("sgd", SGD, 0.01), ("adam", Adam, 0.001), ("RMSprop", RMSprop, 0.001)):
        model.compile(optimizer=name, loss="binary_crossentropy")
        assert type(model.optimizer) is cls and model.optimizer.learning_rate == rate
    assert Adam().epsilon == 1e-7 and RMSprop().rho == 0.9 and SGD().momentum == 0.0


# --------------------------------------------------------------------- validation


def test_input_validation_errors():
    model = issue_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.zeros((8, 2), np.float32)
    y = np.array([0, 1] * 4)
    with pytest.raises(TypeError, match="x must be an array-like of numbers, got str"):
        model.fit("not an array", y)
    with pytest.raises(TypeError, match="x must hold real numbers .* got dtype complex128"):
        model.fit(x.astype(np.complex128), y)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\), got \(8, 3\)"):
        model.fit(np.zeros((8, 3), np.float32), y)
    with pytest.raises(ValueError, match=r"y must have shape \(8, 1\) or \(8,\)"):
        model.fit(x, y[:5])
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        model.fit(x, y * 2)
    with pytest.raises(TypeError, match="y must hold real numbers"):
        model.fit(x, y.astype(str))
    with pytest.raises(ValueError, match="x must be finite; row 3"):
        bad = x.copy()
        bad[3, 1] = np.inf
        model.fit(bad, y)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        model.fit(x, y, batch_size=0)
    with pytest.raises(ValueError, match="BatchNormalization cannot train on one row"):
        model.train_on_batch(x[:1], y[:1])
    with pytest.raises(TypeError, match="validation_data must be a tuple"):
        model.fit(x, y, validation_data=x)


def test_label_validation_for_cross_entropy():
    model = classifier()
    x, y = blobs(16)
    with pytest.raises(ValueError, match="whole-number class indices"):
        model.fit(x, y + 0.5)
    with pytest.raises(TypeError, match="integer class indices"):
        model.fit(x, y.astype(str))
    with pytest.raises(
        ValueError,
        match=r"class indices in \[0, 4\) for the 4-unit output layer, got values from 0 to 4",
    ):
        model.fit(x, np.where(y == 1, 4, y))
    with pytest.raises(ValueError, match=r"y must have shape \(16,\)"):
        model.fit(x, np.stack([y, y], axis=1))
    model.fit(x, y[:, None], verbose=0)  # (n, 1) integer labels are fine


def test_compile_and_state_errors():
    model = issue_model()
    with pytest.raises(ValueError, match="not compiled"):
        model.fit(np.zeros((4, 2), np.float32), np.zeros(4))
    with pytest.raises(ValueError, match="loss must be one of"):
        model.compile(optimizer="adam", loss="hinge")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        model.compile(optimizer="adagrad", loss="mse")
    with pytest.raises(TypeError, match="optimizer must be an Optimizer"):
        model.compile(optimizer=3, loss="mse")
    with pytest.raises(ValueError, match="metrics must be among"):
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["auc"])
    with pytest.raises(
        ValueError, match="needs the last layer's activation to be 'softmax' or None"
    ):
        model.compile(optimizer="adam", loss="cross_entropy")
    relu_out = Network([Dense(2, "relu", input_dim=2)])
    with pytest.raises(ValueError, match="'sigmoid' or None"):
        relu_out.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match="backward needs a preceding forward"):
        classifier().backward(np.zeros(4, np.int64))


def test_failed_compile_leaves_the_network_as_it_was():
    model = issue_model()
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(ValueError, match="'softmax' or None"):
        model.compile(optimizer="adam", loss="cross_entropy")
    assert type(model.optimizer) is SGD and model.loss == "binary_crossentropy"
    model.train_on_batch(np.zeros((4, 2), np.float32), np.zeros(4))


def test_add_to_a_built_network_keeps_its_weights():
    model = Network([Dense(4, "relu", input_dim=3), BatchNormalization()], seed=2)
    before = model.get_weights()
    model.add(Dense(2, "softmax"))
    after = model.get_weights()
    assert len(after) == len(before) + 2
    for a, b in zip(before, after, strict=False):
        np.testing.assert_array_equal(a, b)
    model.compile(optimizer="adam", loss="cross_entropy")
    model.train_on_batch(np.ones((4, 3), np.float32), np.array([0, 1, 1, 0]))


def test_layer_and_network_argument_errors():
    with pytest.raises(ValueError, match="activation must be one of"):
        Dense(3, activation="gelu")
    with pytest.raises(TypeError, match="units must be an int"):
        Dense(3.0)
    with pytest.raises(ValueError, match="units must be >= 1"):
        Dense(0)
    with pytest.raises(ValueError, match="momentum must be <= 1"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        BatchNormalization(epsilon=0.0)
    with pytest.raises(ValueError):
        Dense(3, init="no_such_initializer")
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        Network(dtype=np.int32)
    with pytest.raises(TypeError, match="layer must be a Dense"):
        Network().add("dense")
    with pytest.raises(ValueError, match="device must be one of"):
        Network(device="tpu")
    with pytest.raises(ValueError, match="learning_rate must be >= 0"):
        Adam(learning_rate=-1.0)
    with pytest.raises(ValueError, match="beta_1 must be < 1"):
        Adam(beta_1=1.0)


def test_cuda_device_without_gpu_is_a_clear_error():
    from fastnn.backend import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is None:
        pytest.skip("a CUDA device is available here")
    with pytest.raises(RuntimeError, match="device='cuda' cannot be used"):
        Network(device="cuda")
    assert Network(device="auto")._backend.name == "cpu"


# ------------------------------------------------------------------ NaN and Inf


def test_non_finite_loss_stops_before_the_update():
    x, y = blobs(64)
    model = classifier()
    model.train_on_batch(x, y)
    before = model.get_weights()
    bad = x.copy()
    bad[5, 3] = np.inf
    with pytest.raises(
        FloatingPointError, match=r"loss is nan at train_on_batch \(optimizer step 2\)"
    ):
        model.train_on_batch(bad, y)
    after = model.get_weights()
    for a, b in zip(after, before, strict=True):  # moving statistics included
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 1
    model.train_on_batch(x, y)  # training can go on


def test_diverging_fit_names_epoch_and_step_and_keeps_finite_weights():
    x, y = blobs(256, seed=1)
    # No BatchNormalization to hold the activations in range: a huge step makes
    # the logits overflow float32 and the loss non-finite within a few steps.
    model = Network(
        [Dense(64, "relu", input_dim=20), Dense(64, "relu"), Dense(4, "softmax")], seed=0
    )
    model.compile(optimizer=Adam(learning_rate=1e12), loss="cross_entropy")
    with pytest.raises(FloatingPointError, match=r"at epoch \d+/50, step \d+/8"):
        model.fit(x, y, epochs=50, batch_size=32, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


# -------------------------------------------------------------------- save/load


def test_save_load_round_trip(tmp_path):
    x, y = blobs(96)
    model = classifier(seed=7, optimizer=Adam(learning_rate=0.01, weight_decay=0.001))
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = Network.load(path)

    assert loaded.seed == 7 and loaded.dtype == np.float32
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert [layer.get_config() for layer in loaded.layers] == [
        layer.get_config() for layer in model.layers
    ]
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 6
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for name in ("m", "v"):
        np.testing.assert_array_equal(loaded.optimizer.state[name], model.optimizer.state[name])
    # Training on from the file is training on from the original, bit for bit
    # (optimizer state, step count and the shuffling's epoch count all restored).
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=32, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_save_load_uncompiled_float64(tmp_path):
    model = Network([Dense(3, "tanh", input_dim=2), Dense(2)], seed=4, dtype=np.float64)
    model.save(tmp_path / "plain.npz")
    loaded = Network.load(tmp_path / "plain.npz")
    assert loaded.optimizer is None and loaded.dtype == np.float64
    x = np.ones((3, 2))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    issue_model(seed=1).save(path)
    original = path.read_bytes()

    def crash_midway(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        issue_model(seed=2).save(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_load_rejects_other_formats_and_truncated_files(tmp_path):
    good = tmp_path / "good.npz"
    issue_model().save(good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "text.npz"
    text.write_text("not a network")
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))

    for path in (truncated, text):
        with pytest.raises(ValueError, match="not a readable fastnn network file"):
            Network.load(path)
    with pytest.raises(ValueError, match="no 'meta' entry"):
        Network.load(other)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, meta=np.array('{"format": "something else"}'))
    with pytest.raises(ValueError, match="its format is not 'fastnn.Network'"):
        Network.load(foreign)
    with pytest.raises(ValueError, match="not a fastnn network file"):
        Network.load(single)
    with pytest.raises(FileNotFoundError):
        Network.load(tmp_path / "missing.npz")


# ------------------------------------------------------------------ determinism


def test_same_seed_same_weights_bit_for_bit():
    x, y = blobs(200)

    def train(seed):
        model = classifier(seed=seed)
        model.fit(x, y, epochs=3, batch_size=32, verbose=0)
        return model.get_weights()

    first, second, other = train(11), train(11), train(12)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


TRAIN_AND_DIGEST = """
import hashlib
import numpy as np
from fastnn import BatchNormalization, Dense, Network
rng = np.random.default_rng(0)
x = rng.standard_normal((700, 64)).astype(np.float32)
y = rng.integers(0, 10, 700)
model = Network([Dense(256, "relu", input_dim=64), BatchNormalization(), Dense(128, "tanh"),
                 BatchNormalization(), Dense(10, "softmax")], seed=3)
model.compile(optimizer="adam", loss="cross_entropy")
model.fit(x, y, epochs=2, batch_size=128, verbose=0)
print(hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest())
"""


def test_trained_weights_do_not_depend_on_the_thread_count():
    # Stronger than the issue asks (same threads): every batch reduction uses
    # fixed row blocks, and the GEMMs split no sum over threads.
    digests = {run_with_threads(TRAIN_AND_DIGEST, n_threads) for n_threads in (1, 2)}
    assert len(digests) == 1, digests


def test_initial_weights_depend_on_seed_and_tensor():
    a = Network([Dense(8, "relu", input_dim=8), Dense(8, "relu")], seed=0).get_weights()
    b = Network([Dense(8, "relu", input_dim=8), Dense(8, "relu")], seed=1).get_weights()
    assert not np.array_equal(a[0], a[2])  # each tensor has its own stream
    assert not np.array_equal(a[0], b[0])


# -------------------------------------------------------------------- reference


def train_both(dtype, placement, optimizer_class, steps=50):
    """Train the Network and the reference network on the same 50 batches."""
    x, y = blobs(640, dtype=dtype, seed=2)
    model = classifier(dtype=dtype, placement=placement, optimizer=optimizer_class())
    ref = reference.Network(
        classifier_layers(placement), 20, "cross_entropy", optimizer_class(), dtype=dtype
    )
    ref.set_weights(model.get_weights())
    rng = np.random.default_rng(0)
    losses, ref_losses = [], []
    for _ in range(steps):
        rows = rng.integers(0, len(x), 64)
        losses.append(model.train_on_batch(x[rows], y[rows])[0])
        ref_losses.append(ref.train_on_batch(x[rows], y[rows]))
    return model, ref, np.array(losses), np.array(ref_losses), x


def assert_weights_close(model, ref, rtol):
    """Each tensor agrees elementwise to ``rtol``, with ``rtol * max|w|`` as the floor near zero."""
    for got, want in zip(model.get_weights(), ref.get_weights(), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("placement", ["act_bn", "bn_act"])
@pytest.mark.parametrize("optimizer_class", [Adam, SGD, RMSprop])
def test_matches_reference_float64(placement, optimizer_class):
    # float64 unit roundoff is u = 1.1e-16.  As in the float32 test below, the
    # two implementations round each value differently by a few ulps per step
    # (summation orders, fused vs separate passes) and 50 steps add those up
    # roughly linearly: 50 x 4 ulps = 200 u = 2e-14.  1e-13 leaves a factor 5
    # on that (observed: about 1e-15 for losses, weights and outputs).  The
    # value was 1e-8, which no derivation supported; it would have let a
    # float32 accumulation (errors near 1e-7) on the float64 path go unseen.
    # The outputs are probabilities <= 1: below atol = 1e-14 (100 u) a
    # relative error says nothing.
    model, ref, losses, ref_losses, x = train_both(np.float64, placement, optimizer_class)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-13)
    assert_weights_close(model, ref, rtol=1e-13)
    np.testing.assert_allclose(model.predict(x[:50]), ref.predict(x[:50]), rtol=1e-13, atol=1e-14)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("placement", ["act_bn", "bn_act"])
def test_matches_reference_float32(placement):
    # float32 unit roundoff is 6e-8.  Each step rounds differently in the two
    # implementations (BLAS vs NumPy summation order, fused vs separate passes),
    # a few ulps per value, and 50 Adam steps accumulate those differences
    # roughly linearly: 50 steps x a few ulps ~ 1e-5 relative to the tensor's
    # scale bounds them with room (observed: about 4e-7).  The loss is one
    # float64 reduction of float32 values: 1e-6.
    model, ref, losses, ref_losses, _ = train_both(np.float32, placement, Adam)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-6)
    assert_weights_close(model, ref, rtol=1e-5)


def test_reference_network_exports():
    assert fastnn.reference.Network is reference.Network
    assert {"Network", "Dense", "BatchNormalization", "Activation"} <= set(fastnn.__all__)


def test_train_on_batch_reads_the_batch_in_place_and_keeps_no_reference():
    """A C-contiguous batch of the network's dtype is read where it is (no copy into the
    plan); the result is bit for bit that of a copied batch, and afterwards no bound call
    refers to the user's array, also after a step that raised."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((24, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 24)

    def model():
        net = Network([Dense(5, "relu", input_dim=6), BatchNormalization(), Dense(3)], seed=2,
                      dtype="float32")  # fmt: skip
        net.compile(optimizer="adam", loss="cross_entropy")
        return net

    in_place, copied = model(), model()
    wide = np.zeros((24, 12), np.float32)
    wide[:, ::2] = x  # a strided view holding the same values: staged by a copy
    for _ in range(3):
        assert in_place.train_on_batch(x, labels) == copied.train_on_batch(wide[:, ::2], labels)
    for got, want in zip(in_place.get_weights(), copied.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)

    plan = in_place._plans.get(24, True)
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(FloatingPointError):
        in_place.train_on_batch(bad, labels)
    for calls in (plan.forward, plan.loss, plan.backward):
        for _, args in calls:
            assert not any(arg is x or arg is bad for arg in args)
    assert plan.bound_input is plan.x
