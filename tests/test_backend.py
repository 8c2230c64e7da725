"""The backend contract: a Network needs nothing of a backend but its modules.

A Network trains through a fake second backend whose buffers NumPy refuses
to compute on, which shows that the network, the optimizers and the
training loop reach their arrays only through ``backend.memory`` and the
kernels.  (That both backend packages export the same functions is
``tests/test_cuda_names.py``.)
"""

import collections
import types

import numpy as np
import pytest

import fastnn.network
from fastnn import BatchNormalization, Dense, Network
from fastnn.backend import KERNEL_MODULES, Backend, get_backend
from fastnn.optimizers import Adam

# ------------------------------------------------------------ a fake second backend


class DeviceArray(np.ndarray):
    """Stands for a buffer on another device: NumPy refuses to compute on it or read it.

    Kernels take it (Numba sees an ordinary array); views by slicing and
    ``reshape`` are allowed, as they are on a CUDA device array.  Everything
    else raises, so a NumPy call on a buffer anywhere outside the fake
    ``memory`` module fails the test that runs it.
    """

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise AssertionError(f"numpy.{ufunc.__name__} on a device buffer")

    def __array_function__(self, func, types, args, kwargs):
        raise AssertionError(f"numpy.{func.__name__} on a device buffer")

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)) and self.ndim == 1:
            raise AssertionError("reading an element of a device buffer")
        return super().__getitem__(index)

    def __setitem__(self, index, value):
        raise AssertionError("writing into a device buffer with NumPy")

    def _refuse(self, *args, **kwargs):
        raise AssertionError("a NumPy method on a device buffer")

    copy = fill = astype = tolist = item = sum = __array__ = __float__ = _refuse


def _plain(a):
    return a.view(np.ndarray) if isinstance(a, np.ndarray) else a


def fake_backend(calls: collections.Counter) -> Backend:
    """The CPU kernels on ``DeviceArray`` buffers, with a memory module that counts its calls."""
    cpu = get_backend("cpu")
    m = cpu.memory

    def device(a):
        return a.view(DeviceArray)

    functions = {
        "empty": lambda shape, dtype: device(m.empty(shape, dtype)),
        "zeros": lambda shape, dtype: device(m.zeros(shape, dtype)),
        "fill": lambda out, value: m.fill(_plain(out), value),
        "copy": lambda src, out: m.copy(_plain(src), _plain(out)),
        # A device backend copies the batch into its buffer (the CPU may return src).
        "stage_input": lambda src, out: (m.copy(_plain(src), _plain(out)), out)[1],
        "gather_rows": lambda src, index, out: m.gather_rows(
            _plain(src), _plain(index), _plain(out)
        ),
        "read_scalar": lambda a, index: m.read_scalar(_plain(a), index),
        "to_host": lambda a: m.to_host(_plain(a)),
        "from_host": lambda a: device(m.from_host(_plain(a))),
        # A device backend copies data it only reads too (the CPU returns them as they are).
        "from_host_for_reading": lambda a: device(m.from_host(_plain(a))),
        "all_finite": lambda a: m.all_finite(_plain(a)),
    }
    memory = types.ModuleType("fake_memory")
    for name, function in functions.items():

        def counted(*args, _name=name, _function=function):
            calls[_name] += 1
            return _function(*args)

        setattr(memory, name, counted)
    reduce = types.ModuleType("fake_reduce")
    reduce.__dict__.update(vars(cpu.reduce))
    reduce.reduction_workspace = lambda n_rows, n_cols: device(
        cpu.reduce.reduction_workspace(n_rows, n_cols)
    )
    families = {family: getattr(cpu, family) for family in KERNEL_MODULES}
    return Backend(name="fake", **{**families, "memory": memory, "reduce": reduce})


def _network(seed=0):
    model = Network(
        [Dense(16, "relu", input_dim=5), BatchNormalization(), Dense(3, "softmax")], seed=seed
    )
    model.compile(optimizer=Adam(learning_rate=0.01), loss="cross_entropy", metrics=["accuracy"])
    return model


def test_device_array_refuses_numpy():
    buffer = np.zeros(3).view(DeviceArray)
    for attempt in (
        lambda: np.copyto(buffer, 1.0),
        lambda: buffer + 1,
        lambda: buffer.copy(),
        lambda: float(buffer[0]),
        lambda: np.take(np.arange(3.0), [0, 1, 2], out=buffer),
    ):
        with pytest.raises(AssertionError, match="device buffer"):
            attempt()


def test_network_trains_through_a_second_backend(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((70, 5)).astype(np.float32)
    y = rng.integers(0, 3, 70)
    reference = _network()
    calls = collections.Counter()
    backend = fake_backend(calls)
    monkeypatch.setattr(fastnn.network, "get_backend", lambda device: backend)
    model = _network()
    assert model.device == "fake" and isinstance(model._params, DeviceArray)
    # The first fit allocates the plans of batch sizes 32 and 6; the second
    # reuses them.
    histories = []
    for network in (reference, model):
        network.fit(x, y, epochs=1, batch_size=32, verbose=0)
        calls.clear()
        histories.append(network.fit(x, y, epochs=2, batch_size=32, verbose=0).history)
    # What crossed the memory module in the second fit: x and y put on the device
    # once, each epoch's order uploaded; per step two row gathers, the running statistics'
    # backup and their finiteness reduction, and two scalars read back (the loss
    # and the correct count); nothing else.  The update guards itself: the
    # checked kernel saves the parameters and counts non-finite ones in its own
    # pass, so no copy or reduction over the parameters crosses this module.
    steps = 2 * 3
    assert calls == {
        "from_host_for_reading": 2,
        "from_host": 2,
        "gather_rows": 2 * steps,
        "copy": steps,
        "all_finite": steps,
        "read_scalar": 2 * steps,
    }
    # The same kernels on the same data: the same bits as on the CPU backend.
    assert histories[0] == histories[1]
    for got, want in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)

    # The other entry points run through it too, with the same results.
    assert model.train_on_batch(x[:10], y[:10]) == reference.train_on_batch(x[:10], y[:10])
    np.testing.assert_array_equal(model.predict(x), reference.predict(x))
    assert model.evaluate(x, y) == reference.evaluate(x, y)
    for network in (model, reference):
        network.forward(x[:8], training=True)
    assert model.backward(y[:8]) == reference.backward(y[:8])
    for got, want in zip(model.get_gradients(), reference.get_gradients(), strict=True):
        np.testing.assert_array_equal(got, want)
    model.step()
    reference.step()
    model.set_weights(model.get_weights())
    model.save(tmp_path / "fake.npz")
    loaded = Network.load(tmp_path / "fake.npz")
    assert loaded.device == "fake"
    for got, want in zip(loaded.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
