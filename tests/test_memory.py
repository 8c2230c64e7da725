"""The backends' array helpers and metric kernels against NumPy, on every backend."""

import numpy as np
import pytest


def test_empty_zeros_fill_copy(backend):
    m = backend.memory
    a = m.zeros((3, 4), np.float32)
    assert m.to_host(a).shape == (3, 4)
    assert m.to_host(a).dtype == np.float32
    assert not m.to_host(a).any()
    m.fill(a, 2.5)
    np.testing.assert_array_equal(m.to_host(a), np.full((3, 4), 2.5, np.float32))
    b = m.empty((3, 4), np.float32)
    src = np.arange(12, dtype=np.float32).reshape(3, 4)
    m.copy(m.from_host(src), b)
    np.testing.assert_array_equal(m.to_host(b), src)
    m.copy(src, a)  # a host source is accepted on every backend
    np.testing.assert_array_equal(m.to_host(a), src)


@pytest.mark.parametrize("shape", [(7,), (7, 3)])
def test_gather_rows(backend, shape):
    m = backend.memory
    src = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    index = np.array([6, 0, 3, 3], dtype=np.int64)
    out = m.empty((4, *shape[1:]), np.float64)
    m.gather_rows(m.from_host(src), m.from_host(index), out)
    np.testing.assert_array_equal(m.to_host(out), src[index])


def test_read_scalar_and_all_finite(backend):
    m = backend.memory
    a = m.from_host(np.array([1.5, -2.0, 3.25]))
    assert m.read_scalar(a, 2) == 3.25
    assert m.all_finite(a)
    for bad in (np.nan, np.inf, -np.inf):
        values = np.ones((4, 5), np.float32)
        values[3, 4] = bad
        assert not m.all_finite(m.from_host(values))


def test_count_correct_classes(backend):
    m = backend.memory
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((50, 4)).astype(np.float32)
    logits[0] = [1.0, 1.0, 0.0, 0.0]  # a tie: the first maximal index wins, as np.argmax
    labels = rng.integers(0, 4, 50).astype(np.int64)
    labels[0] = 0
    out = m.zeros((1,), np.float64)
    backend.metrics.count_correct_classes(m.from_host(logits), m.from_host(labels), out)
    assert m.read_scalar(out, 0) == np.count_nonzero(np.argmax(logits, axis=1) == labels)


def test_count_correct_binary(backend):
    m = backend.memory
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((30, 3))
    targets = rng.uniform(0, 1, (30, 3))
    out = m.zeros((1,), np.float64)
    backend.metrics.count_correct_binary(m.from_host(logits), m.from_host(targets), out)
    want = np.count_nonzero((logits > 0) == (targets > 0.5)) / 3
    assert m.read_scalar(out, 0) == want


def test_stage_input(backend):
    """The batch the kernels read: its values on every backend; on the CPU the array itself
    when it can be, a copy into the buffer otherwise."""
    m = backend.memory
    buffer = m.empty((4, 3), np.float32)
    src = np.arange(12, dtype=np.float32).reshape(4, 3)
    staged = m.stage_input(src, buffer)
    np.testing.assert_array_equal(m.to_host(staged), src)
    if backend.name != "cpu":
        assert staged is buffer
        return
    assert staged is src  # C-contiguous, writeable, the buffer's dtype: no copy
    read_only = src.copy()
    read_only.flags.writeable = False
    wide = np.arange(24, dtype=np.float32).reshape(4, 6)
    for other in (read_only, wide[:, ::2], src.astype(np.float64)):
        staged = m.stage_input(other, buffer)
        assert staged is buffer
        np.testing.assert_array_equal(staged, other.astype(np.float32))


def test_from_host_for_reading_and_fit_data_are_not_copied_on_the_cpu(backend):
    """Data only read (fit's training set): the CPU reads the host array itself, CUDA a copy."""
    from fastnn.staging import TrainingData

    m = backend.memory
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.arange(4, dtype=np.int64)
    staged = m.from_host_for_reading(x)
    np.testing.assert_array_equal(m.to_host(staged), x)
    data = TrainingData(backend, x, y, batch_size=2)
    assert not data.streamed
    if backend.name == "cpu":
        assert staged is x
        assert data._x_all is x and data._y_all is y
    else:
        assert staged is not x
        np.testing.assert_array_equal(m.to_host(data._x_all), x)
