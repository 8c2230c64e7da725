"""Tests of ``fit(callbacks=[...])`` and the learning-rate schedules, against Keras's rules.

The rules of EarlyStopping and ReduceLROnPlateau are checked by feeding a
callback a scripted sequence of monitored values through a stand-in model,
with the expected epochs worked out by hand from Keras's rule (in each
comment); a few integration tests run them inside ``fit``.
"""

import math
import os
import warnings

import numpy as np
import pytest

from fastnn import Dense, Network
from fastnn.callbacks import (
    Callback,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from fastnn.optimizers import SGD, Adam
from fastnn.schedules import CosineDecay, ExponentialDecay


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def model(optimizer=None, seed=1):
    net = Network([Dense(6, "tanh", input_dim=4), Dense(2, "softmax")], seed=seed)
    net.compile(optimizer=optimizer or SGD(0.1), loss="cross_entropy", metrics=["accuracy"])
    return net


class StandIn:
    """The part of a Network a callback touches: weights, the stop flag, an optimizer."""

    def __init__(self, learning_rate=1.0):
        self.stop_training = False
        self.weights = 0
        self.optimizer = SGD(learning_rate)

    def get_weights(self):
        return [np.array(self.weights)]

    def set_weights(self, weights):
        self.weights = int(weights[0])


def drive(callback, values, monitor="val_loss", stand_in=None):
    """Feed ``values`` as epochs 0, 1, ...; weights = epoch; returns the epochs that ran."""
    stand_in = stand_in or StandIn()
    callback.set_model(stand_in)
    callback.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        stand_in.weights = epoch
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {monitor: value})
        ran.append(epoch)
        if stand_in.stop_training:
            break
    callback.on_train_end()
    return ran, stand_in


# --------------------------------------------------------------------- hooks


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, dict(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_hooks_are_called_in_keras_order_with_running_batch_logs():
    x, y = data(24)
    net = model()
    recorder = Recorder()
    history = net.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[recorder])
    names = [call[0] for call in recorder.calls]
    assert names == ["train_begin"] + [
        "epoch_begin", "batch_begin", "batch_end", "batch_begin", "batch_end", "epoch_end"
    ] * 2 + ["train_end"]  # fmt: skip
    assert recorder.model is net
    assert recorder.params == {"epochs": 2, "steps": 2, "batch_size": 16, "verbose": 0}
    # The last batch's running means over all 24 rows are the epoch's logs.
    last_batch, epoch_end = recorder.calls[5][2], recorder.calls[6][2]
    assert last_batch == epoch_end
    assert recorder.calls[3][2]["loss"] != last_batch["loss"]  # 16 rows, then 24
    assert history.history["loss"] == [recorder.calls[6][2]["loss"], recorder.calls[12][2]["loss"]]
    assert isinstance(history, History) and history.epoch == [0, 1]
    net.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[recorder])
    assert recorder.calls[-2][1] == 2  # epochs continue over fit calls, as History.epoch


def test_stop_training_from_a_batch_hook_ends_the_fit_after_that_step():
    class StopAfterThree(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    x, y = data(80)
    net = model()
    history = net.fit(x, y, epochs=3, batch_size=10, verbose=0, callbacks=[StopAfterThree()])
    assert net.optimizer.iterations == 3 and history.epoch == [0]


def test_callbacks_must_be_callback_instances():
    x, y = data(8)
    with pytest.raises(TypeError, match="callbacks must be instances"):
        model().fit(x, y, verbose=0, callbacks=[lambda: None])
    with pytest.raises(TypeError, match="callbacks must be a list"):
        model().fit(x, y, verbose=0, callbacks=EarlyStopping())


# ------------------------------------------------------------- EarlyStopping


def test_early_stopping_patience_counts_epochs_since_the_best():
    # best 1.0 (e0), 0.9 (e1); e2 wait 1, e3 wait 2 >= patience 2: stop after epoch 3.
    ran, _ = drive(EarlyStopping(patience=2), [1.0, 0.9, 0.95, 0.97, 0.5])
    assert ran == [0, 1, 2, 3]
    # patience 0 never stops on the first epoch, then stops at the first non-improvement.
    ran, _ = drive(EarlyStopping(patience=0), [1.0, 0.9, 0.9, 0.8])
    assert ran == [0, 1, 2]


def test_early_stopping_min_delta_mode_baseline_and_start_from_epoch():
    # 0.95 is 0.05 better than 1.0: less than min_delta 0.1, so no improvement.
    ran, _ = drive(EarlyStopping(patience=1, min_delta=0.1), [1.0, 0.95, 0.5])
    assert ran == [0, 1]
    # "auto" maximizes accuracy: 0.6, 0.7 improve; 0.65 waits 1 >= 1 and stops.
    ran, _ = drive(
        EarlyStopping(monitor="val_accuracy", patience=1), [0.6, 0.7, 0.65, 0.9], "val_accuracy"
    )
    assert ran == [0, 1, 2]
    ran, _ = drive(EarlyStopping(monitor="x", mode="max", patience=1), [1, 2, 1], "x")
    assert ran == [0, 1, 2]
    # baseline 0.5: 0.9 and 0.8 improve on the best but not on the baseline, so the
    # wait is not reset (e0 wait 1, e1 wait 2; an improving epoch never stops);
    # e2 is no improvement, wait 3 >= 2: stop.  Without a baseline e2 only waits 1.
    ran, _ = drive(EarlyStopping(patience=2, baseline=0.5), [0.9, 0.8, 0.85, 0.7])
    assert ran == [0, 1, 2]
    ran, _ = drive(EarlyStopping(patience=2), [0.9, 0.8, 0.85, 0.7])
    assert ran == [0, 1, 2, 3]
    # Monitoring starts at the fit's third epoch: e2 is the first best, e3 waits 1, stops.
    ran, _ = drive(EarlyStopping(patience=1, start_from_epoch=2), [5.0, 6.0, 7.0, 8.0, 9.0])
    assert ran == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        EarlyStopping(mode="up")


def test_early_stopping_restores_the_best_weights_at_the_end():
    # Best at epoch 1; stops after epoch 3; the stand-in's weights are the epoch number.
    ran, stand_in = drive(
        EarlyStopping(patience=2, restore_best_weights=True), [1.0, 0.5, 0.7, 0.8]
    )
    assert ran == [0, 1, 2, 3] and stand_in.weights == 1
    _, stand_in = drive(EarlyStopping(patience=5), [1.0, 0.5, 0.7])
    assert stand_in.weights == 2  # without restore_best_weights, the last weights stay


def test_early_stopping_warns_when_its_quantity_is_missing():
    with pytest.warns(RuntimeWarning, match="monitors 'val_loss', which is not in the logs"):
        ran, _ = drive(EarlyStopping(patience=0), [1.0, 1.0], monitor="loss")
    assert ran == [0, 1]


def test_early_stopping_in_fit_like_kerass_example():
    # Keras's docstring example: a loss that cannot improve (here a zero learning
    # rate, no shuffling: the same loss every epoch) and patience 3 run 4 epochs.
    x, y = data(20)
    net = model(SGD(0.0))
    history = net.fit(
        x, y, epochs=10, batch_size=5, shuffle=False, verbose=0,
        callbacks=[EarlyStopping(monitor="loss", patience=3)],
    )  # fmt: skip
    assert len(history.history["loss"]) == 4


def test_early_stopping_restore_in_fit_sets_the_weights_of_the_best_epoch():
    x, y = data(40)
    net = model(SGD(0.5))
    snapshots = []

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    stopper = EarlyStopping(monitor="loss", patience=100, restore_best_weights=True)
    history = net.fit(x, y, epochs=6, batch_size=8, verbose=0, callbacks=[Snapshot(), stopper])
    best = int(np.argmin(history.history["loss"]))
    for got, want in zip(net.get_weights(), snapshots[best], strict=True):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------ ModelCheckpoint


def test_model_checkpoint_saves_every_epoch_with_formatted_names(tmp_path):
    x, y = data(20)
    net = model()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{loss:.3f}.npz")
    history = net.fit(
        x, y, epochs=3, batch_size=10, verbose=0, callbacks=[ModelCheckpoint(pattern)]
    )
    names = sorted(os.listdir(tmp_path))
    losses = history.history["loss"]
    assert names == [f"ckpt-{e + 1:02d}-{losses[e]:.3f}.npz" for e in range(3)]
    last = Network.load(tmp_path / names[-1])
    for got, want in zip(last.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_model_checkpoint_save_best_only(tmp_path):
    saved = []

    class Saving(StandIn):
        def save(self, path):
            saved.append(path)

    checkpoint = ModelCheckpoint(str(tmp_path / "m-{epoch}.npz"), save_best_only=True)
    drive(checkpoint, [1.0, 0.8, 0.9, 0.7], stand_in=Saving())
    assert [os.path.basename(p) for p in saved] == ["m-1.npz", "m-2.npz", "m-4.npz"]
    saved.clear()
    threshold = ModelCheckpoint(
        str(tmp_path / "t.npz"), save_best_only=True, initial_value_threshold=0.85
    )
    drive(threshold, [1.0, 0.8, 0.9], stand_in=Saving())
    assert len(saved) == 1


def test_model_checkpoint_refuses_other_formats():
    with pytest.raises(ValueError, match=r"filepath must end with \.npz"):
        ModelCheckpoint("model-{epoch}.h5")
    with pytest.raises(ValueError, match="save_weights_only=True is not supported"):
        ModelCheckpoint("w.npz", save_weights_only=True)
    with pytest.raises(ValueError, match="save_freq must be 'epoch'"):
        ModelCheckpoint("w.npz", save_freq=10)


# ---------------------------------------------------- learning-rate callbacks


def test_learning_rate_scheduler_sets_the_rate_before_each_epoch():
    x, y = data(20)
    net = model(SGD(0.2))
    scheduler = LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    history = net.fit(x, y, epochs=3, batch_size=10, verbose=0, callbacks=[scheduler])
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025]
    assert net.optimizer.learning_rate == 0.025
    one_argument = LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    history = net.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[one_argument])
    # Epochs 3 and 4 of this network; 0.01 * 5 rounds once in float64.
    assert history.history["learning_rate"] == pytest.approx([0.04, 0.05], rel=1e-15)


def test_a_zero_scheduled_rate_reaches_the_kernel():
    x, y = data(20)
    net = model(SGD(0.5))
    before = net.get_weights()
    net.fit(
        x, y, epochs=2, batch_size=5, verbose=0, callbacks=[LearningRateScheduler(lambda e: 0.0)]
    )
    for got, want in zip(net.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)  # p - 0 * g == p exactly


def test_learning_rate_scheduler_errors():
    x, y = data(8)
    with pytest.raises(ValueError, match="must be >= 0"):
        model().fit(x, y, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: -1.0)])
    scheduled = model(SGD(ExponentialDecay(0.1, 10, 0.5)))
    with pytest.raises(TypeError, match="cannot be set"):
        scheduled.fit(x, y, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: 0.1)])


def test_reduce_lr_on_plateau_follows_kerass_rule():
    # factor 0.5, patience 2, cooldown 1, min_lr 0.3, start at 1.0; values by epoch:
    # e0 1.0 best; e1 1.0 wait 1; e2 1.0 wait 2 -> lr 0.5, cooldown 1;
    # e3 cooldown 1 -> 0, wait 0, no improvement, in cooldown before the check? Keras
    #    decrements first, so the counter is 0 and e3 counts: wait 1;
    # e4 wait 2 -> lr max(0.25, 0.3) = 0.3, cooldown 1; e5: counter -> 0, wait 1;
    # e6 wait 2 but lr 0.3 is not above min_lr: unchanged.
    callback = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.3, min_delta=0.0)
    stand_in = StandIn(learning_rate=1.0)
    callback.set_model(stand_in)
    callback.on_train_begin()
    rates = []
    for epoch in range(7):
        logs = {"val_loss": 1.0}
        callback.on_epoch_end(epoch, logs)
        rates.append(stand_in.optimizer.learning_rate)
        assert logs["learning_rate"] == (rates[-2] if epoch else 1.0)
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.3, 0.3, 0.3]
    # An improvement larger than min_delta resets the wait.
    callback = ReduceLROnPlateau(patience=1, min_delta=0.1)
    _, stand_in = drive(callback, [1.0, 0.85, 0.8])  # 0.85 improves by 0.15; 0.8 by 0.05 only
    assert math.isclose(stand_in.optimizer.learning_rate, 0.1)
    with pytest.raises(ValueError, match="factor must be < 1"):
        ReduceLROnPlateau(factor=1.0)


# ------------------------------------------------------------------ schedules


def test_exponential_decay_is_kerass_formula():
    schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert schedule(0) == 0.1
    assert schedule(10) == 0.05
    assert math.isclose(schedule(5), 0.1 * 0.5**0.5, rel_tol=1e-15)  # float64 rounding only
    stairs = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert [stairs(t) for t in (0, 9, 10, 19, 20)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    with pytest.raises(ValueError, match="decay_steps must be > 0"):
        ExponentialDecay(0.1, 0, 0.5)


def test_cosine_decay_is_kerass_formula():
    schedule = CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert schedule(0) == 1.0
    assert math.isclose(schedule(50), 0.1 + 0.9 * 0.5, rel_tol=1e-15)  # cos(pi/2) = 6e-17
    assert schedule(100) == pytest.approx(0.1, abs=1e-16) and schedule(500) == schedule(100)
    warm = CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
    assert [warm(t) for t in (0, 1, 2, 4)] == [0.0, 0.25, 0.5, 1.0]
    assert warm(14) == pytest.approx(0.0, abs=1e-16) and warm(9) == pytest.approx(0.5)


def test_optimizer_evaluates_its_schedule_once_per_step_from_its_step_count():
    x, y = data(40)
    schedule = ExponentialDecay(0.3, decay_steps=2, decay_rate=0.5)
    scheduled = model(Adam(schedule))
    by_hand = model(Adam(0.3))
    rates = []
    for step in range(4):
        rows = slice(10 * step, 10 * step + 10)
        assert scheduled.optimizer.learning_rate == schedule(step)
        by_hand.optimizer.learning_rate = schedule(step)  # Keras: schedule(iterations)
        rates.append(schedule(step))
        assert scheduled.train_on_batch(x[rows], y[rows]) == by_hand.train_on_batch(
            x[rows], y[rows]
        )
    for got, want in zip(scheduled.get_weights(), by_hand.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert rates[0] == 0.3 and rates[2] == 0.15


def test_a_scheduled_optimizer_saves_and_loads(tmp_path):
    x, y = data(20)
    net = model(SGD(CosineDecay(0.2, decay_steps=8), momentum=0.9))
    net.fit(x, y, epochs=1, batch_size=5, verbose=0)
    net.save(tmp_path / "m.npz")
    loaded = Network.load(tmp_path / "m.npz")
    assert loaded.optimizer.get_config() == net.optimizer.get_config()
    assert loaded.optimizer.learning_rate == net.optimizer.learning_rate  # step 4 of 8
    net.fit(x, y, epochs=1, batch_size=5, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=5, verbose=0)
    for got, want in zip(loaded.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_no_warning_when_every_monitored_quantity_is_there():
    x, y = data(20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model().fit(
            x, y, epochs=2, batch_size=10, verbose=0, validation_split=0.2,
            callbacks=[EarlyStopping(), ReduceLROnPlateau(), EarlyStopping(monitor="val_accuracy")],
        )  # fmt: skip
