"""Tests of fastnn.datasets: the IDX reader on files written here, MNIST if present, the
MNIST download against a local HTTP server, and the generated data sets."""

import functools
import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from fastnn import datasets
from fastnn.datasets import (
    default_cache_dir,
    download_mnist,
    load_mnist,
    make_classification,
    make_moons,
    read_idx,
)

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


def test_make_classification():
    x, y = make_classification(500, n_features=20, n_classes=5, seed=3)
    assert x.shape == (500, 20) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100] * 5
    assert np.abs(x).max() <= 1.0  # tanh features (float32 rounds values near 1 to 1)
    again, y_again = make_classification(500, n_features=20, n_classes=5, seed=3)
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(y, y_again)
    # The classes are separable to a useful degree: a nearest-class-mean rule on half the data
    # beats chance (0.2) on the other half by a wide margin (it reaches about 0.6-0.8 here).
    means = np.stack([x[:250][y[:250] == c].mean(axis=0) for c in range(5)])
    guess = np.argmin(((x[250:, None, :] - means) ** 2).sum(axis=2), axis=1)
    assert (guess == y[250:]).mean() > 0.4
    with pytest.raises(ValueError, match="n_samples"):
        make_classification(3, n_classes=5)
    with pytest.raises(ValueError, match="n_classes"):
        make_classification(10, n_classes=1)
    with pytest.raises(ValueError, match="noise"):
        make_classification(10, n_classes=2, noise=float("nan"))


# --- download, against a server on 127.0.0.1 started and stopped here ---------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list  # paths asked for, shared with the test

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def mnist_server(tmp_path):
    """Serve small MNIST-format fixture files from ``tmp_path/served`` on 127.0.0.1.

    Yields ``(base_url, checksums, arrays, requests)``: the good files'
    SHA-256 sums, the arrays they hold, and the list of paths requested.  A
    third file, ``t10k-labels-idx1-ubyte.gz`` under ``corrupt/``, has the
    right name but other bytes.
    """
    served = tmp_path / "served"
    (served / "corrupt").mkdir(parents=True)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    labels = np.array([5, 0, 4, 1, 9, 2], dtype=np.uint8)
    write_mnist(served, images, labels, compress=True, kind="t10k")
    good = (served / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (served / "corrupt" / "t10k-images-idx3-ubyte.gz").write_bytes(
        (served / "t10k-images-idx3-ubyte.gz").read_bytes()
    )
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF  # one flipped byte: same name and size, other bytes
    (served / "corrupt" / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(corrupt))
    checksums = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in served.glob("*.gz")
    }
    requests = []
    handler = type("Handler", (_QuietHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", checksums, (images, labels), requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_verifies_and_caches(tmp_path, mnist_server, capsys):
    base_url, checksums, (images, labels), requests = mnist_server
    cache = tmp_path / "cache"
    x, y = load_mnist(cache, download=True, base_url=base_url, checksums=checksums)
    np.testing.assert_array_equal(x, images.reshape(6, 784) / np.float32(255))
    np.testing.assert_array_equal(y, labels)
    assert sorted(p.name for p in cache.iterdir()) == sorted(checksums)  # no temporary left
    assert "100.0%" in capsys.readouterr().err  # the progress bar reached the end
    assert len(requests) == 2
    # Verified files already in the cache are not fetched again.
    load_mnist(cache, download=True, base_url=base_url, checksums=checksums, progress=False)
    assert len(requests) == 2
    # A cached file whose sum no longer matches is fetched again.
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(b"stale")
    download_mnist(cache, base_url=base_url, checksums=checksums, progress=False)
    assert requests[2:] == ["/t10k-labels-idx1-ubyte.gz"]
    np.testing.assert_array_equal(load_mnist(cache)[1], labels)


def test_download_rejects_a_corrupt_file(tmp_path, mnist_server):
    base_url, checksums, _, _ = mnist_server
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        download_mnist(cache, base_url=base_url + "corrupt/", checksums=checksums, progress=False)
    # The good images file was kept; the corrupt labels left nothing behind, not even a temporary.
    assert [p.name for p in cache.iterdir()] == ["t10k-images-idx3-ubyte.gz"]


def test_download_http_error_and_missing_checksum(tmp_path, mnist_server):
    base_url, checksums, _, _ = mnist_server
    cache = tmp_path / "cache"
    with pytest.raises(ConnectionError, match="HTTP 404"):
        download_mnist(cache, "train", base_url=base_url, progress=False)
    assert list(cache.iterdir()) == []
    with pytest.raises(ValueError, match="no SHA-256 for train-images"):
        download_mnist(cache, "train", base_url=base_url, checksums=checksums)


def test_download_offline_is_a_clear_error(tmp_path):
    # A port nobody listens on: bind one, note it, close it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionError, match="offline"):
        download_mnist(tmp_path, base_url=f"http://127.0.0.1:{port}/", progress=False, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_download_arguments_and_cache_dir(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="kind must be one of"):
        download_mnist(tmp_path, kind="validation")
    with pytest.raises(ValueError, match="directory is required"):
        load_mnist()
    with pytest.raises(TypeError, match="download must be a bool"):
        load_mnist(tmp_path, download="yes")
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    assert default_cache_dir() == tmp_path / "data" / "mnist"
    monkeypatch.delenv("FASTNN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "fastnn" / "mnist"
    # The published sums are 64 hex digits for each of the four standard files.
    assert sorted(datasets.MNIST_SHA256) == sorted(
        f"{kind}-{what}-ubyte.gz"
        for kind in ("train", "t10k")
        for what in ("images-idx3", "labels-idx1")
    )
    assert all(len(v) == 64 and int(v, 16) >= 0 for v in datasets.MNIST_SHA256.values())
