"""Keras code ports by changing the import: the inputs, names and behaviours shared with Keras.

Each test is one idiom of issue 11, section 3: array-like inputs converted
to the network's dtype, class labels as whole floats, one-hot targets for
``categorical_crossentropy``, a last batch of one row with
BatchNormalization, ``Sequential``, ``input_shape``, ``kernel_initializer``,
``Dense(init="constant")``, Keras 3's ``validation_split`` rule, the
``summary`` columns, ``predict(verbose=1)``, the save format, ``Dropout``
(tests/test_dropout.py has the kernels), ``elu``/``selu`` with
``lecun_normal``, and Keras's initializer names.
"""

import io
import math
import os
import sys

import numpy as np
import pytest

import fastnn
from fastnn import BatchNormalization, Dense, Dropout, Network, Sequential
from fastnn.inputs import validation_split_index
from fastnn.optimizers import SGD


def blobs(n=64, n_features=5, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, n)
    return centers[y] + rng.normal(size=(n, n_features)), y  # float64 features


def classifier(seed=3, bn=True):
    layers = [Dense(8, "relu", input_dim=5)]
    if bn:
        layers.append(BatchNormalization())
    layers.append(Dense(3, "softmax"))
    model = Network(layers, seed=seed)
    model.compile(optimizer=SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    return model


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


# ------------------------------------------------------------------ array-likes


def test_lists_and_float64_and_int_inputs_train_as_their_float32_conversion():
    x, y = blobs()
    x32 = x.astype(np.float32)  # what Keras's floatx cast gives
    reference = classifier()
    reference.fit(x32, y, epochs=2, batch_size=16, verbose=0)
    for features in (x, x.tolist(), x32.tolist()):
        model = classifier()
        model.fit(features, y.tolist(), epochs=2, batch_size=16, verbose=0)
        assert_same_weights(model, reference)
    np.testing.assert_array_equal(reference.predict(x.tolist()), reference.predict(x32))
    assert reference.evaluate(x, y) == reference.evaluate(x32, y)
    ints = np.round(x).astype(np.int64)
    assert reference.predict(ints).dtype == np.float32
    np.testing.assert_array_equal(reference.predict(ints), reference.predict(ints.astype("f4")))


def test_train_on_batch_accepts_lists():
    x, y = blobs(16)
    a, b = classifier(), classifier()
    loss_a = a.train_on_batch(x.tolist(), y.tolist())
    loss_b = b.train_on_batch(x.astype(np.float32), y)
    assert loss_a == loss_b
    assert_same_weights(a, b)


def test_ragged_and_non_numeric_inputs_are_clear_errors():
    model = classifier()
    with pytest.raises(ValueError, match="x must be a rectangular array-like"):
        model.predict([[1.0, 2.0, 3.0, 4.0, 5.0], [1.0]])
    with pytest.raises(TypeError, match="x must be an array-like of numbers, got NoneType"):
        model.predict(None)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        model.predict(np.array([["a"] * 5]))


class FakeDeviceArray:
    """A stand-in CUDA array: it has ``__cuda_array_interface__``; reading it on the host fails."""

    shape = (4, 5)
    dtype = np.dtype(np.float32)

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": "<f4", "data": (0, False), "version": 3}

    def __array__(self, *args, **kwargs):
        raise AssertionError("a device array was converted through NumPy")


def test_device_arrays_are_recognized_and_never_converted_through_numpy():
    x, y = blobs(4)
    model = classifier()
    for call in (
        lambda: model.predict(FakeDeviceArray()),
        lambda: model.fit(FakeDeviceArray(), y, verbose=0),
        lambda: model.fit(x, FakeDeviceArray(), verbose=0),
        lambda: model.train_on_batch(FakeDeviceArray(), y),
    ):
        with pytest.raises(TypeError, match="is a GPU array but the network runs on device='cpu'"):
            call()


def test_functional_stays_strict():
    # fastnn.functional is the kernel contract: no list, no silent float64 -> float32 cast.
    from fastnn.functional.dense import dense_forward

    w = np.ones((5, 2), np.float32)
    b = np.zeros(2, np.float32)
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):
        dense_forward(np.ones((3, 5), np.float32).tolist(), w, b)
    with pytest.raises(TypeError, match="dtype"):
        dense_forward(np.ones((3, 5)), w, b)


# ---------------------------------------------------------------------- labels


def test_whole_float_class_labels_train_as_integers_and_fractions_are_refused():
    x, y = blobs()
    a, b = classifier(), classifier()
    a.fit(x, y, epochs=1, batch_size=16, verbose=0)
    b.fit(x, y.astype(np.float32), epochs=1, batch_size=16, verbose=0)
    assert_same_weights(a, b)
    with pytest.raises(ValueError, match="whole-number class indices"):
        b.fit(x, y + 0.25, verbose=0)
    with pytest.raises(ValueError, match="whole-number class indices"):
        b.fit(x, np.where(y == 0, np.nan, y), verbose=0)


def test_categorical_crossentropy_with_one_hot_targets_is_the_sparse_loss():
    x, y = blobs()
    sparse = classifier()
    sparse.compile(optimizer=SGD(learning_rate=0.1), loss="cross_entropy", metrics=["accuracy"])
    one_hot = classifier()
    one_hot.compile(
        optimizer=SGD(learning_rate=0.1), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    targets = np.eye(3, dtype=np.float32)[y]
    h_sparse = sparse.fit(x, y, epochs=2, batch_size=16, verbose=0)
    h_one_hot = one_hot.fit(x, targets, epochs=2, batch_size=16, verbose=0)
    assert h_sparse.history == h_one_hot.history
    assert_same_weights(sparse, one_hot)
    assert one_hot.evaluate(x, targets.astype(np.int64)) == sparse.evaluate(x, y)
    assert one_hot.train_on_batch(x[:8], targets[:8].tolist()) == sparse.train_on_batch(
        x[:8], y[:8]
    )


def test_categorical_crossentropy_refuses_soft_labels_and_wrong_shapes():
    x, y = blobs(8)
    model = classifier()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    soft = np.full((8, 3), 1 / 3)
    with pytest.raises(ValueError, match="one-hot rows .* row 0 .* Soft labels"):
        model.fit(x, soft, verbose=0)
    two_ones = np.eye(3)[y]
    two_ones[5, (y[5] + 1) % 3] = 1.0
    with pytest.raises(ValueError, match="row 5"):
        model.fit(x, two_ones, verbose=0)
    with pytest.raises(ValueError, match="use loss='sparse_categorical_crossentropy'"):
        model.fit(x, y, verbose=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="use loss='categorical_crossentropy'"):
        model.fit(x, np.eye(3)[y], verbose=0)


# ------------------------------------------------- a last batch of one row


def test_last_batch_of_one_row_trains_with_batch_normalization_as_keras():
    # 33 rows at batch 32: a 32-row step, then a 1-row step.  Keras trains on
    # the single row: its batch variance is 0, so BatchNormalization outputs
    # beta, its gradient to gamma and to the layers below is exactly 0, and
    # the moving variance becomes momentum * moving variance.
    x, y = blobs(33)
    model = classifier()
    model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    first_step = classifier()
    first_step.train_on_batch(x[:32], y[:32])
    kernel, bias, gamma, beta, moving_mean, moving_var, out_kernel, out_bias = model.get_weights()
    before = first_step.get_weights()
    # SGD without momentum: a zero gradient leaves a weight exactly as it was.
    np.testing.assert_array_equal(kernel, before[0])
    np.testing.assert_array_equal(bias, before[1])
    np.testing.assert_array_equal(gamma, before[2])
    assert not np.array_equal(beta, before[3])  # dbeta = the gradient reaching BN's output
    assert not np.array_equal(out_kernel, before[6])
    # The kernel forms momentum * v + (1 - momentum) * 0 in float64 and stores it as float32.
    np.testing.assert_array_equal(moving_var, np.float32(0.99 * before[5].astype(np.float64)))
    assert np.isfinite(model.get_weights()[4]).all()
    with pytest.raises(ValueError, match="BatchNormalization cannot train on one row"):
        model.train_on_batch(x[:1], y[:1])


# ---------------------------------------------------------------- Keras names


def test_sequential_is_network():
    assert Sequential is Network and fastnn.Sequential is Network
    model = Sequential([Dense(4, "relu", input_shape=(3,)), Dense(2, "softmax")])
    assert model.input_dim == 3 and model.built


def test_input_shape_and_keras_initializer_names_are_the_fastnn_arguments():
    keras_style = Network(
        [
            Dense(
                6,
                "tanh",
                input_shape=(4,),
                kernel_initializer="glorot_uniform",
                bias_initializer="ones",
            )
        ],
        seed=9,
    )
    fastnn_style = Network(
        [Dense(6, "tanh", input_dim=4, init="xavier_uniform", bias_init="ones")], seed=9
    )
    assert_same_weights(keras_style, fastnn_style)
    np.testing.assert_array_equal(keras_style.get_weights()[1], np.ones(6, np.float32))
    with pytest.raises(TypeError, match="give init or its Keras spelling kernel_initializer"):
        Dense(3, init="he_normal", kernel_initializer="he_normal")
    with pytest.raises(TypeError, match="give bias_init or its Keras spelling bias_initializer"):
        Dense(3, bias_init="zeros", bias_initializer="zeros")
    with pytest.raises(TypeError, match="give input_dim or its Keras spelling input_shape"):
        Dense(3, input_dim=4, input_shape=(4,))
    with pytest.raises(ValueError, match=r"input_shape must be a tuple \(n_features,\)"):
        Dense(3, input_shape=(4, 2))


def test_initializer_missing_a_parameter_fails_at_construction():
    with pytest.raises(ValueError, match="init='constant' needs value"):
        Dense(3, init="constant")
    with pytest.raises(ValueError, match="bias_init='normal' needs std"):
        Dense(3, bias_init="normal")
    with pytest.raises(ValueError, match="init='constant' needs value"):
        Dense(3, kernel_initializer="constant")
    model = Network([Dense(3, init=fastnn.init.get("constant", value=0.25), input_dim=2)])
    np.testing.assert_array_equal(model.get_weights()[0], np.full((2, 3), 0.25, np.float32))


# ----------------------------------------------------------- validation_split

# Keras 3 (keras/src/trainers/data_adapters/array_slicing.py,
# train_validation_split) trains on the first split_at = floor(n * (1.0 - s))
# rows, the product in float64, and refuses split_at == 0 or split_at == n.
# The table is worked out by hand from that rule:
#   (100, 0.2): 1 - 0.2 = 0.8, 100 * 0.8 = 80.0 -> 80 (fastnn agreed before)
#   (3, 0.1): 3 * 0.9 = 2.7 -> 2: one row held out (fastnn refused before)
#   (2, 0.25): 2 * 0.75 = 1.5 -> 1
#   (33, 0.1): 33 * 0.9 = 29.7 -> 29 (fastnn held out 3 before, Keras 4)
#   (10, 0.8): 1 - 0.8 = 0.19999999999999996, 10 * that = 1.9999999999999996 -> 1
#   (90, 0.3): 1 - 0.3 = 0.7 (0.6999999999999999556), 90 * 0.7 = 62.99999999999999 -> 62
#   (20, 0.9): 1 - 0.9 = 0.09999999999999998, 20 * that = 1.9999999999999996 -> 1
#   (7, 0.5): 3.5 -> 3
VALIDATION_SPLIT_TABLE = [
    (100, 0.2, 80),
    (3, 0.1, 2),
    (2, 0.25, 1),
    (33, 0.1, 29),
    (10, 0.8, 1),
    (90, 0.3, 62),
    (20, 0.9, 1),
    (7, 0.5, 3),
]
# Refused: no training row, (5, 0.8): 5 * 0.19999999999999996 = 0.9999999999999998 -> 0,
# and (1, 0.5): 0.5 -> 0; no validation row, (1000, 1e-17): 1.0 - 1e-17 rounds to 1.0,
# so split_at = 1000 = n.
REFUSED_SPLITS = [(5, 0.8), (1, 0.5), (1000, 1e-17)]


@pytest.mark.parametrize(("n", "split", "split_at"), VALIDATION_SPLIT_TABLE)
def test_validation_split_holds_out_what_keras_3_holds_out(n, split, split_at):
    assert validation_split_index(n, split) == split_at


@pytest.mark.parametrize(("n", "split"), REFUSED_SPLITS)
def test_validation_split_refuses_what_keras_3_refuses(n, split):
    with pytest.raises(ValueError, match="leaves no (training|validation) rows"):
        validation_split_index(n, split)


def test_fit_validation_split_uses_the_last_rows_before_shuffling():
    x, y = blobs(33)
    model = classifier(bn=False)
    history = model.fit(x, y, epochs=1, batch_size=8, validation_split=0.1, verbose=0)
    held_out = classifier(bn=False)
    held_out.set_weights(model.get_weights())
    assert history.history["val_loss"][0] == held_out.evaluate(x[29:], y[29:], batch_size=8)
    with pytest.raises(ValueError, match="leaves no training rows"):
        model.fit(x[:1], y[:1], validation_split=0.5, verbose=0)


# ---------------------------------------------------------------- summary etc.


def test_summary_has_keras_param_column_and_the_device(capsys):
    model = Network([Dense(4, "relu", input_dim=3), BatchNormalization(), Dense(2)])
    summary = model.summary()
    out = capsys.readouterr().out
    # Dense 3->4: 12 + 4; BN over 4: gamma, beta (trainable) + two moving stats; Dense 4->2: 8 + 2.
    assert [row["params"] for row in summary["rows"]] == [16, 16, 10]
    assert [row["trainable"] for row in summary["rows"]] == [16, 8, 10]
    assert [row["non_trainable"] for row in summary["rows"]] == [0, 8, 0]
    assert "Param #" in out and "device=cpu" in out
    header = next(line for line in out.splitlines() if "Param #" in line)
    bn_line = next(line for line in out.splitlines() if "BatchNormalization" in line)
    column = header.index("Param #") + len("Param #")
    assert bn_line[:column].rstrip().endswith("16")  # right-aligned under "Param #"


def test_predict_verbose_shows_progress(capsys, monkeypatch):
    x, _ = blobs(100)
    model = classifier()
    model.predict(x, batch_size=10)
    assert capsys.readouterr().out == ""
    model.predict(x, batch_size=10, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("predict: 10/10 [=====")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    model.predict(x, batch_size=10, verbose="auto")
    text = terminal.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and "10/10" in text


@pytest.mark.parametrize("name", ["model.h5", "model.keras", "model.hdf5", "model", "model.npy"])
def test_save_refuses_every_name_but_npz(tmp_path, name):
    model = classifier()
    with pytest.raises(ValueError, match=r"fastnn writes one format, a \.npz archive"):
        model.save(tmp_path / name)
    assert os.listdir(tmp_path) == []
    model.save(tmp_path / "model.NPZ")
    assert os.listdir(tmp_path) == ["model.NPZ"]


def test_float_and_int_targets_for_binary_and_mse_are_converted():
    x, y = blobs(16)
    model = Network([Dense(1, "sigmoid", input_dim=5)], seed=1)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    labels = (y > 0).astype(np.int64)
    loss_int = model.evaluate(x, labels.tolist())
    assert loss_int == model.evaluate(x, labels.astype(np.float32))
    assert math.isfinite(loss_int)


def test_a_keras_mlp_with_dropout_elu_and_selu_ports_by_changing_the_import():
    """The Keras model, written as in Keras: trains, predicts deterministically, saves."""
    x, y = blobs(n=256)
    model = Sequential(
        [
            Dense(32, activation="selu", input_shape=(5,)),
            Dropout(0.2),
            Dense(16, activation="elu", kernel_initializer="he_normal"),
            Dropout(0.1, seed=7),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    # Separable blobs: the loss falls from ln 3 = 1.10 and predict sees no dropout.
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    # Chance is 1/3; 0.87 measured on these overlapping blobs.
    assert model.evaluate(x, y)[1] > 0.75
    rows = model.summary(print_fn=lambda line: None)["rows"]
    assert [r["initializer"] for r in rows] == [
        "lecun_normal", "-", "he_normal", "-", "xavier_uniform"
    ]  # fmt: skip


def test_selu_defaults_to_lecun_normal_and_keras_initializer_names_are_truncated():
    """Keras's selu pairing; Keras's names give Keras's truncated normals (std / 0.8796)."""
    assert Dense(4, "selu").init == "lecun_normal"
    assert Dense(4, "elu").init == "xavier_uniform"  # Keras's glorot_uniform
    assert Dense(4, "relu").init == "kaiming_normal"  # fastnn's default, a plain normal
    shape = (400, 300)
    for name, variance in (("lecun_normal", 1 / 400), ("he_normal", 2 / 400),
                           ("glorot_normal", 2 / 700)):  # fmt: skip
        w = fastnn.init.get(name)(shape, seed=0, dtype=np.float64)
        bound = 2 * math.sqrt(variance) / 0.87962566103423978
        assert np.abs(w).max() <= bound  # truncated at 2 stds of the untruncated normal
        # 1.2e5 draws: the sample variance is within 1% (about 2.5 standard errors).
        assert w.var() == pytest.approx(variance, rel=0.01)
