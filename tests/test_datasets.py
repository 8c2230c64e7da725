"""Tests of fastnn.datasets: the IDX reader on files written here, MNIST if present, make_moons."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from fastnn.datasets import load_mnist, make_moons, read_idx

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file's bytes for ``array``: magic ``0, 0, type, ndim``, big-endian dims, data."""
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(
    directory: Path, images: np.ndarray, labels: np.ndarray, compress: bool, kind="t10k"
):
    for stem, array in (
        (f"{kind}-images-idx3-ubyte", images),
        (f"{kind}-labels-idx1-ubyte", labels),
    ):
        data = idx_bytes(array)
        if compress:
            (directory / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / stem).write_bytes(data)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_raw_and_gzip(tmp_path, compress):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes(array)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    got = read_idx(path)
    assert got.shape == (2, 3, 4) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, array)


def test_read_idx_other_types(tmp_path):
    array = np.array([[1.5, -2.0], [3.25, 1e30]], dtype=np.float32)
    path = tmp_path / "f.idx"
    path.write_bytes(idx_bytes(array, 0x0D))
    got = read_idx(path)
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, array)
    ints = np.array([-5, 70000], dtype=np.int32)
    path.write_bytes(idx_bytes(ints, 0x0C))
    np.testing.assert_array_equal(read_idx(path), ints)


def test_read_idx_errors(tmp_path):
    good = idx_bytes(np.zeros((3, 4), np.uint8))
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)
    path.write_bytes(good[:-1])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)
    path.write_bytes(good[:6])
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(path)
    path.write_bytes(good + b"\x00")
    with pytest.raises(ValueError, match="unexpected bytes"):
        read_idx(path)
    path.write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_from_written_files(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 0, 9, 1, 7], dtype=np.uint8)
    write_mnist(tmp_path, images, labels, compress, kind="train")
    x, y = load_mnist(tmp_path, kind="train")
    assert x.shape == (5, 784) and x.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64
    np.testing.assert_array_equal(x, images.reshape(5, 784) / np.float32(255))
    np.testing.assert_array_equal(y, labels)


def test_load_mnist_errors(tmp_path):
    images = np.zeros((4, 28, 28), np.uint8)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path)
    write_mnist(tmp_path, images, np.zeros(3, np.uint8), compress=False)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        load_mnist(tmp_path)
    write_mnist(tmp_path, images, np.zeros((4, 2), np.uint8), compress=False)
    with pytest.raises(ValueError, match="magic 2049"):
        load_mnist(tmp_path)
    write_mnist(tmp_path, np.zeros((4, 784), np.uint8), np.zeros(4, np.uint8), compress=False)
    with pytest.raises(ValueError, match="magic 2051"):
        load_mnist(tmp_path)
    write_mnist(tmp_path, images, np.full(4, 10, np.uint8), compress=False)
    with pytest.raises(ValueError, match="digits 0-9"):
        load_mnist(tmp_path)


def test_load_real_mnist_test_set():
    if not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST test set not found at {MNIST_DIR}")
    x, y = load_mnist(MNIST_DIR)
    assert x.shape == (10000, 784) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    # The label counts published with the data (shared/data/mnist/README.md).
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    np.testing.assert_array_equal(np.bincount(y, minlength=10), counts)


def test_make_moons():
    x, y = make_moons(101, noise=0.0, seed=0)
    assert x.shape == (101, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [51, 50]
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, rtol=1e-6)
    assert upper[:, 1].min() >= -1e-7 and lower[:, 1].max() <= 0.5 + 1e-7
    again, _ = make_moons(101, noise=0.0, seed=0)
    np.testing.assert_array_equal(x, again)
    noisy, _ = make_moons(101, noise=0.2, seed=1, dtype=np.float64)
    assert noisy.dtype == np.float64 and not np.allclose(
        noisy, make_moons(101, 0.2, 2, np.float64)[0]
    )
    with pytest.raises(ValueError, match="n_samples"):
        make_moons(1)
    with pytest.raises(ValueError, match="noise"):
        make_moons(10, noise=-1.0)
