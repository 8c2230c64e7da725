"""GPU inputs and fit's data staging, checked without a GPU (no numba-cuda needed).

``fastnn.device_arrays`` reads what a GPU array says about itself (its
``__cuda_array_interface__``); stand-in objects with such an interface show
that the checks recognize GPU inputs, read shape, dtype and contiguity
right, and that a CPU network refuses them with a clear message.
``fastnn.staging`` streams host data in chunks when they exceed the
backend's data budget; on the CPU backend with a tiny budget, training is
bit for bit the same as with the data uploaded whole.
"""

import dataclasses

import numpy as np
import pytest

from fastnn import BatchNormalization, Dense, Network
from fastnn.device_arrays import describe, is_device_array
from fastnn.staging import TrainingData, chunk_rows


class StandIn:
    """An object that says it lives on a GPU, as CuPy arrays and CUDA tensors do."""

    def __init__(self, shape, typestr="<f4", strides=None):
        self.__cuda_array_interface__ = {
            "shape": shape,
            "typestr": typestr,
            "strides": strides,
            "data": (0, False),
            "version": 3,
        }


def test_gpu_arrays_are_recognized_by_their_attributes():
    assert is_device_array(StandIn((3, 2)))
    assert not is_device_array(np.zeros((3, 2)))
    assert not is_device_array([[1.0]])


def test_describe_reads_shape_dtype_and_contiguity():
    assert describe(StandIn((5, 3))) == ((5, 3), np.dtype(np.float32), True)
    # Explicit C strides are contiguous; a column slice (row stride of 8 floats) is not;
    # a dimension of length 1 may carry any stride.
    assert describe(StandIn((5, 3), "<f8", (24, 8)))[2]
    assert not describe(StandIn((5, 3), "<f4", (32, 4)))[2]
    assert not describe(StandIn((5, 3), "<f4", (4, 20)))[2]  # Fortran order
    assert describe(StandIn((1, 3), "<f4", (999, 4)))[2]
    assert describe(StandIn((7,), "<i8"))[:2] == ((7,), np.dtype(np.int64))


def test_cpu_network_refuses_gpu_inputs_with_a_clear_message():
    model = Network([Dense(2, input_dim=3)], device="cpu")
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match=r"x is a GPU array but the network runs on device='cpu'"):
        model.predict(StandIn((4, 3)))
    with pytest.raises(TypeError, match="y is a GPU array"):
        model.fit(np.zeros((4, 3), np.float32), StandIn((4, 2)), verbose=0)


def test_chunk_rows_fit_whole_or_whole_batches():
    assert chunk_rows(100, 10, 16, None) == 100
    assert chunk_rows(100, 10, 16, 1000) == 100
    assert chunk_rows(100, 10, 16, 999) == 96  # six batches of 16 rows fit in 999 bytes
    assert chunk_rows(100, 10, 16, 350) == 32
    assert chunk_rows(100, 10, 16, 1) == 16  # at least one batch


def test_streamed_fit_equals_whole_upload_bit_for_bit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((83, 5)).astype(np.float32)
    y = rng.integers(0, 3, 83)
    results = []
    for budget in (None, 40 * (5 * 4 + 8 + 8)):  # whole; chunks of two batches of 16 rows
        model = Network([Dense(8, "relu", input_dim=5), BatchNormalization(), Dense(3)], seed=1)
        model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
        model._backend = dataclasses.replace(model._backend, data_budget=lambda b=budget: b)
        staged = TrainingData(model._backend, x, y.astype(np.int64), 16)
        assert staged.streamed == (budget is not None) and staged.chunk in (83, 32)
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history
        results.append((history, model.get_weights()))
    assert results[0][0] == results[1][0]
    for got, want in zip(results[1][1], results[0][1], strict=True):
        np.testing.assert_array_equal(got, want)


def test_check_and_bench_on_cuda_say_why_they_cannot_run(monkeypatch, capsys):
    import fastnn.backend
    from fastnn import cli

    monkeypatch.setattr(fastnn.backend, "cuda_unavailable_reason", lambda: "no GPU (stand-in)")
    for command in ("check", "bench"):
        assert cli.main([command, "--device", "cuda"]) == 1
        err = capsys.readouterr().err
        assert f"fastnn {command}: skipping cuda: no GPU (stand-in)" in err


def test_cuda_unavailable_reason_names_the_missing_piece(monkeypatch):
    import importlib.util

    from fastnn import backend

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numba_cuda" else real(name)
    )
    assert "numba-cuda is not installed" in backend.cuda_unavailable_reason()
    with pytest.raises(RuntimeError, match="device='cuda' cannot be used: numba-cuda"):
        Network(device="cuda")
    assert Network(device="auto").device == "cpu"
