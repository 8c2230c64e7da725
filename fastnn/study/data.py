"""The study's data: one classification task, chosen by name and split into train and test.

``load("auto")`` never downloads: it takes MNIST when its files are already on
disk (``$FASTNN_MNIST_DIR``, the download cache, or ``shared/data/mnist`` beside
the repository), else scikit-learn's bundled 8x8 digits (the ``study`` extra),
else ``fastnn.datasets.make_classification``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastnn import datasets

__all__ = ["Dataset", "load", "find_mnist", "standardized", "DATA_CHOICES"]

#: Names ``load`` accepts (besides a directory holding MNIST IDX files).
DATA_CHOICES = ("auto", "mnist", "digits", "synthetic")


@dataclass(frozen=True)
class Dataset:
    """A classification task: float32 features, int64 labels, a train and a test split."""

    name: str
    description: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)

    @property
    def chance(self) -> float:
        """Test accuracy of always predicting the most frequent test class."""
        return float(np.bincount(self.y_test).max() / self.y_test.size)

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` training and ``n_test`` test rows (all when None)."""
        return Dataset(
            self.name,
            self.description,
            self.x_train[:n_train],
            self.y_train[:n_train],
            self.x_test[:n_test],
            self.y_test[:n_test],
        )


def find_mnist() -> Path | None:
    """A directory holding the MNIST test files, or None; nothing is downloaded.

    Looks at ``$FASTNN_MNIST_DIR``, ``fastnn.datasets.default_cache_dir()`` and
    ``shared/data/mnist`` beside the repository (the development layout).
    """
    candidates = []
    if os.environ.get("FASTNN_MNIST_DIR"):
        candidates.append(Path(os.environ["FASTNN_MNIST_DIR"]))
    candidates.append(datasets.default_cache_dir())
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist")
    for directory in candidates:
        if any((directory / f"t10k-images-idx3-ubyte{ext}").exists() for ext in (".gz", "")):
            return directory
    return None


def _split(name, description, x, y, n_test: int, seed: int) -> Dataset:
    order = np.random.default_rng(seed).permutation(x.shape[0])
    x, y = np.ascontiguousarray(x[order], np.float32), np.ascontiguousarray(y[order], np.int64)
    return Dataset(name, description, x[n_test:], y[n_test:], x[:n_test], y[:n_test])


def _mnist(directory: Path, download: bool, seed: int) -> Dataset:
    has_train = any((directory / f"train-images-idx3-ubyte{ext}").exists() for ext in (".gz", ""))
    if has_train:
        x_train, y_train = datasets.load_mnist(directory, "train")
        x_test, y_test = datasets.load_mnist(directory, "t10k")
        return Dataset(
            "mnist",
            f"MNIST from {directory}: 60,000 training and 10,000 test images "
            "(784 pixels in [0, 1])",
            x_train,
            y_train,
            x_test,
            y_test,
        )
    x, y = datasets.load_mnist(directory, "t10k", download=download)
    return _split(
        "mnist",
        f"the MNIST test set from {directory} (only it is present): 10,000 images "
        "(784 pixels in [0, 1]) split 8,000 for training / 2,000 for testing",
        x,
        y,
        2000,
        seed,
    )


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    return _split(
        "digits",
        "scikit-learn's handwritten digits: 1,797 images of 8x8 pixels in [0, 1], "
        "split 1,437 for training / 360 for testing",
        x,
        bunch.target,
        360,
        seed,
    )


def _synthetic(seed: int) -> Dataset:
    x, y = datasets.make_classification(3000, n_features=64, n_classes=10, seed=seed)
    return _split(
        "synthetic",
        "fastnn.datasets.make_classification: 3,000 points, 64 tanh features, 10 classes "
        "(two Gaussian clusters each), split 2,400 / 600",
        x,
        y,
        600,
        seed,
    )


def load(spec: str = "auto", *, download: bool = False, seed: int = 0) -> Dataset:
    """The study's task by name.

    Parameters
    ----------
    spec : str
        ``"auto"`` (MNIST files on disk, else digits, else synthetic),
        ``"mnist"`` (files found by ``find_mnist``; with ``download`` fetched
        into the cache when absent), ``"digits"`` (needs scikit-learn),
        ``"synthetic"``, or a directory holding MNIST IDX files.
    download : bool
        Allow ``"mnist"`` to download the test set (SHA-256 checked).
    seed : int
        Seed of the train/test split where the data set has none of its own.

    Raises
    ------
    ValueError
        An unknown name, or MNIST requested but not found (without ``download``).
    ImportError
        ``"digits"`` without scikit-learn.
    """
    if not isinstance(spec, str):
        raise TypeError(f"data must be a name or a directory, got {type(spec).__name__}")
    if spec == "auto":
        directory = find_mnist()
        if directory is not None:
            return _mnist(directory, False, seed)
        try:
            return _digits(seed)
        except ImportError:
            return _synthetic(seed)
    if spec == "mnist":
        directory = find_mnist()
        if directory is None:
            if not download:
                raise ValueError(
                    "MNIST files not found (looked in $FASTNN_MNIST_DIR, "
                    f"{datasets.default_cache_dir()} and shared/data/mnist beside the "
                    "repository); allow a download or name a directory"
                )
            directory = datasets.default_cache_dir()
        return _mnist(directory, download, seed)
    if spec == "digits":
        try:
            return _digits(seed)
        except ImportError as err:
            raise ImportError(
                "data 'digits' needs scikit-learn: pip install 'fastnn[study]'"
            ) from err
    if spec == "synthetic":
        return _synthetic(seed)
    if os.path.isdir(spec):
        return _mnist(Path(spec), download, seed)
    raise ValueError(f"data must be one of {list(DATA_CHOICES)} or a directory, got {spec!r}")


def standardized(data: Dataset) -> Dataset:
    """Features shifted and scaled to zero mean, unit variance (training-set statistics).

    Constant features (MNIST's border pixels) are only centred.
    """
    mean = data.x_train.mean(axis=0)
    std = data.x_train.std(axis=0)
    std[std == 0] = 1.0
    return Dataset(
        data.name,
        data.description + ", standardized",
        ((data.x_train - mean) / std).astype(np.float32),
        data.y_train,
        ((data.x_test - mean) / std).astype(np.float32),
        data.y_test,
    )
