"""Data sets: an IDX (MNIST format) reader and a generated two-moons set.

``load_mnist`` reads MNIST-format files from a directory the caller names
(nothing is downloaded); ``make_moons`` generates a small 2-D classification
problem that needs no file at all.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

__all__ = ["read_idx", "load_mnist", "make_moons"]

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


def load_mnist(directory, kind: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST images and labels from IDX files in ``directory`` (gzip or raw).

    Looks for ``{kind}-images-idx3-ubyte[.gz]`` and ``{kind}-labels-idx1-ubyte[.gz]``
    (``kind`` is ``"t10k"`` for the test set, ``"train"`` for the training set).

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
        images, 2049 for labels), is truncated, or the counts differ.
    """
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
