"""Data sets: MNIST (IDX files, read or downloaded) and generated classification problems.

``load_mnist`` reads MNIST-format files from a directory, and with
``download=True`` first fetches the standard files into a cache directory
(SHA-256 checked, written atomically).  ``make_moons`` and
``make_classification`` generate problems that need no file at all.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "read_idx",
    "load_mnist",
    "download_mnist",
    "default_cache_dir",
    "make_moons",
    "make_classification",
    "MNIST_URL",
    "MNIST_SHA256",
]

#: Where ``download_mnist`` fetches from unless told otherwise (the mirror
#: TensorFlow and PyTorch use; LeCun's own site often refuses scripted downloads).
#: The environment variable ``FASTNN_MNIST_URL`` overrides it.
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"

#: The published SHA-256 sums of the four standard gzip files.
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}

_KINDS = ("train", "t10k")

#: IDX element type codes (third header byte) and their big-endian dtypes.
IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: Header magic numbers of MNIST image (ubyte, 3 dims) and label (ubyte, 1 dim) files.
MNIST_IMAGES_MAGIC = 2051
MNIST_LABELS_MAGIC = 2049


def read_idx(path) -> np.ndarray:
    """Read one IDX file, raw or gzip-compressed (detected from its first bytes).

    The header is a 4-byte magic number ``0, 0, type, ndim`` followed by
    ``ndim`` big-endian uint32 dimensions; the data follow, big-endian.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ndarray
        Shape from the header, dtype from the type code (native byte order).

    Raises
    ------
    ValueError
        A bad magic number, an unknown type code, a truncated file or
        trailing data.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({err})") from err
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an IDX header ({len(data)} bytes)")
    zero0, zero1, type_code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0 or type_code not in IDX_TYPES or ndim == 0:
        magic = int.from_bytes(data[:4], "big")
        raise ValueError(
            f"{path}: not an IDX file (magic number {magic:#010x}; expected 0x0000TTDD with a "
            f"type code TT in {[hex(t) for t in IDX_TYPES]} and DD >= 1 dimensions)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) < expected:
        raise ValueError(
            f"{path}: truncated: the header promises {expected} bytes, the file has {len(data)}"
        )
    if len(data) > expected:
        raise ValueError(f"{path}: {len(data) - expected} unexpected bytes after the data")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find(directory: str, stem: str) -> str:
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"neither {stem}.gz nor {stem} is in {directory}")


def default_cache_dir() -> Path:
    """Where ``download_mnist`` stores files by default.

    ``$FASTNN_DATA/mnist`` when ``FASTNN_DATA`` is set, else
    ``$XDG_CACHE_HOME/fastnn/mnist`` (``~/.cache/fastnn/mnist``).
    """
    root = os.environ.get("FASTNN_DATA")
    if root:
        return Path(root) / "mnist"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "fastnn" / "mnist"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Bar:
    """A one-line download progress bar on a stream (silent when ``stream`` is None)."""

    def __init__(self, name: str, total: int | None, stream):
        self.name, self.total, self.stream, self.done = name, total, stream, 0

    def update(self, n: int) -> None:
        self.done += n
        if self.stream is None:
            return
        if self.total:
            filled = int(30 * self.done / self.total)
            text = f"{100 * self.done / self.total:5.1f}% [{'#' * filled}{'.' * (30 - filled)}]"
        else:
            text = f"{self.done / 1e6:.1f} MB"
        self.stream.write(f"\r{self.name}: {text}")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


def _fetch(url: str, target: Path, sha256: str, timeout: float, stream) -> None:
    """Download ``url`` to ``target`` through a temporary file; keep it only if the sum matches."""
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    bar = _Bar(target.name, int(length) if length else None, stream)
                    for block in iter(lambda: response.read(1 << 16), b""):
                        out.write(block)
                        bar.update(len(block))
                    bar.close()
            except urllib.error.HTTPError as err:
                raise ConnectionError(
                    f"could not download {url}: HTTP {err.code} {err.reason}"
                ) from err
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                reason = getattr(err, "reason", err)
                raise ConnectionError(
                    f"could not download {url} ({reason}); this machine looks offline or the "
                    f"server is unreachable. Copy the MNIST files into {target.parent} by hand, "
                    "or give another base_url (or set FASTNN_MNIST_URL)"
                ) from err
            out.flush()
            os.fsync(out.fileno())
        got = _sha256(tmp)
        if got != sha256:
            raise ValueError(
                f"{url}: SHA-256 mismatch (expected {sha256}, got {got}); the download is "
                "corrupt or not the standard file, and was discarded"
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def download_mnist(
    directory=None,
    kind: str = "t10k",
    *,
    base_url: str | None = None,
    checksums: dict | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Fetch the MNIST images and labels of ``kind`` into ``directory`` unless already there.

    A file already present is kept if its SHA-256 matches and fetched again
    otherwise.  Each download goes to a temporary file in ``directory`` and is
    renamed into place only after its SHA-256 matched, so an interrupted or
    corrupt download never leaves a file under the final name.

    Parameters
    ----------
    directory : str or path-like, optional
        The cache directory, created if needed; ``default_cache_dir()`` if None.
    kind : {"t10k", "train"}
        The test set (10,000 images) or the training set (60,000).
    base_url : str, optional
        URL prefix the file names are appended to; ``$FASTNN_MNIST_URL`` or
        ``MNIST_URL`` if None.
    checksums : dict, optional
        File name -> SHA-256 hex digest; ``MNIST_SHA256`` if None (another
        mirror serving other bytes, or a test server, gives its own).
    timeout : float
        Seconds to wait for the server on each connection.
    progress : bool
        Draw a progress bar on stderr.

    Returns
    -------
    Path
        The directory holding the two verified files.

    Raises
    ------
    ValueError
        An unknown ``kind``, no checksum for a file, or a download whose
        SHA-256 does not match (it is discarded).
    ConnectionError
        The server cannot be reached (offline) or answers with an HTTP error.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {list(_KINDS)}, got {kind!r}")
    directory = default_cache_dir() if directory is None else Path(directory)
    base_url = base_url or os.environ.get("FASTNN_MNIST_URL") or MNIST_URL
    if not base_url.endswith("/"):
        base_url += "/"
    checksums = MNIST_SHA256 if checksums is None else checksums
    directory.mkdir(parents=True, exist_ok=True)
    for stem in (f"{kind}-images-idx3-ubyte", f"{kind}-labels-idx1-ubyte"):
        name = stem + ".gz"
        if name not in checksums:
            raise ValueError(f"checksums has no SHA-256 for {name}")
        target = directory / name
        if target.exists() and _sha256(target) == checksums[name]:
            continue
        _fetch(base_url + name, target, checksums[name], timeout, sys.stderr if progress else None)
    return directory


def load_mnist(
    directory=None,
    kind: str = "t10k",
    *,
    download: bool = False,
    base_url: str | None = None,
    checksums: dict | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST images and labels from IDX files in ``directory`` (gzip or raw).

    Looks for ``{kind}-images-idx3-ubyte[.gz]`` and ``{kind}-labels-idx1-ubyte[.gz]``
    (``kind`` is ``"t10k"`` for the test set, ``"train"`` for the training set).
    With ``download=True`` the two gzip files are first fetched into
    ``directory`` (``default_cache_dir()`` if None) unless they are already
    there with the right SHA-256; see ``download_mnist``.  Without it nothing
    is fetched and the files are read as they are.

    Parameters
    ----------
    directory : str or path-like, optional
        Required unless ``download`` is True.
    kind : {"t10k", "train"}
    download : bool
        Fetch missing (or mismatching) files first.
    base_url, checksums, progress
        Passed to ``download_mnist``.

    Returns
    -------
    images : ndarray, shape (n, 784), float32
        Pixels scaled to ``[0, 1]``, one row per image.
    labels : ndarray, shape (n,), int64
        Digits 0-9.

    Raises
    ------
    FileNotFoundError
        A file is missing.
    ValueError
        A file is not an MNIST IDX file of the expected kind (magic 2051 for
        images, 2049 for labels), is truncated, or the counts differ; a
        download whose checksum does not match.
    ConnectionError
        ``download=True`` and the server cannot be reached.
    """
    if not isinstance(download, bool):
        raise TypeError(f"download must be a bool, got {type(download).__name__}")
    if download:
        directory = download_mnist(
            directory, kind, base_url=base_url, checksums=checksums, progress=progress
        )
    elif directory is None:
        raise ValueError("directory is required unless download=True")
    elif kind not in _KINDS:
        raise ValueError(f"kind must be one of {list(_KINDS)}, got {kind!r}")
    directory = os.fspath(directory)
    images_path = _find(directory, f"{kind}-images-idx3-ubyte")
    labels_path = _find(directory, f"{kind}-labels-idx1-ubyte")
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{images_path}: expected MNIST images (magic {MNIST_IMAGES_MAGIC}: ubyte, 3-D), "
            f"got dtype {images.dtype} with shape {images.shape}"
        )
    if images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path}: expected MNIST images of 28x28 pixels, got {images.shape[0]} "
            f"images of {images.shape[1]}x{images.shape[2]}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{labels_path}: expected MNIST labels (magic {MNIST_LABELS_MAGIC}: ubyte, 1-D), "
            f"got dtype {labels.dtype} with shape {labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels in {directory}")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be digits 0-9, got {labels.max()}")
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return x, labels.astype(np.int64)


def make_moons(
    n_samples: int = 200, noise: float = 0.1, seed: int = 0, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D: a small binary classification problem.

    Class 0 lies on the upper half of the unit circle, class 1 on a lower
    half circle shifted to ``(1, 0.5)``; Gaussian noise of standard deviation
    ``noise`` is added to both coordinates.

    Parameters
    ----------
    n_samples : int
        Total number of points; class 0 gets ``ceil(n/2)``, class 1 the rest.
    noise : float
        Standard deviation of the added noise, ``>= 0``.
    seed : int
        Seed of ``numpy.random.default_rng``.
    dtype : numpy dtype
        Dtype of the points.

    Returns
    -------
    x : ndarray, shape (n_samples, 2)
    y : ndarray, shape (n_samples,), int64, 0 or 1
        The points in random order.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be finite and >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    n_upper = (n_samples + 1) // 2
    n_lower = n_samples - n_upper
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n_lower)
    x = np.concatenate(
        [
            np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1),
            np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_upper, dtype=np.int64), np.ones(n_lower, dtype=np.int64)])
    x += rng.normal(scale=noise, size=x.shape)
    order = rng.permutation(n_samples)
    return x[order].astype(dtype), y[order]


def make_classification(
    n_samples: int = 2000,
    n_features: int = 64,
    n_classes: int = 10,
    *,
    n_latent: int = 10,
    clusters_per_class: int = 2,
    noise: float = 0.6,
    seed: int = 0,
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """A multi-class problem with non-linear class boundaries, generated from a seed.

    Each class is a mixture of ``clusters_per_class`` Gaussian clusters in an
    ``n_latent``-dimensional space (unit-normal centres, standard deviation
    ``noise``); the points are mapped to ``n_features`` features by a random
    linear map followed by ``tanh``.  A stand-in for a small image set
    (MNIST-like: ten classes, tens of features) when no file is available.

    Parameters
    ----------
    n_samples : int
        Number of points, ``>= n_classes``; the classes are as equal as possible.
    n_features, n_classes, n_latent, clusters_per_class : int
        Sizes, each ``>= 1`` (``n_classes >= 2``).
    noise : float
        Standard deviation of each cluster, ``>= 0``: larger is harder.
    seed : int
        Seed of ``numpy.random.default_rng``.
    dtype : numpy dtype
        Dtype of the features.

    Returns
    -------
    x : ndarray, shape (n_samples, n_features), values in (-1, 1)
    y : ndarray, shape (n_samples,), int64 in ``[0, n_classes)``
        In random order.
    """
    for name, value, low in (
        ("n_features", n_features, 1),
        ("n_classes", n_classes, 2),
        ("n_latent", n_latent, 1),
        ("clusters_per_class", clusters_per_class, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, (int, np.integer))
        or n_samples < n_classes
    ):
        raise ValueError(f"n_samples must be an int >= n_classes ({n_classes}), got {n_samples!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be finite and >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, clusters_per_class, n_latent))
    projection = rng.standard_normal((n_latent, n_features)) / np.sqrt(n_latent)
    y = np.arange(n_samples, dtype=np.int64) % n_classes
    cluster = rng.integers(0, clusters_per_class, n_samples)
    z = centres[y, cluster] + noise * rng.standard_normal((n_samples, n_latent))
    x = np.tanh(z @ projection)
    order = rng.permutation(n_samples)
    return x[order].astype(dtype), y[order]
