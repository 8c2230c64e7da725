"""Saving and loading a ``Network``: one ``.npz`` file, written atomically, and its format.

The file holds a JSON ``meta`` entry (``FILE_FORMAT``, ``FILE_VERSION``, the
architecture from ``Network.get_config``, the epoch count, and the compile
settings with the optimizer's step count), the weights as ``weight_0``,
``weight_1``, ... in ``get_weights`` order, and the optimizer state as
``optimizer_<name>``.  ``Network.save`` and ``Network.load`` call
``save`` and ``load`` here.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from fastnn import optimizers as optimizers_module
from fastnn.layers import from_config

__all__ = ["FILE_FORMAT", "FILE_VERSION", "FILE_EXTENSION", "check_save_path", "save", "load"]

#: Written into every saved file; ``load`` refuses anything else.
FILE_FORMAT = "fastnn.Network"
FILE_VERSION = 1
#: The one extension ``save`` writes (any letter case).
FILE_EXTENSION = ".npz"

#: Extensions of formats fastnn does not write, each with what it is.
_OTHER_FORMATS = {
    ".h5": "Keras's HDF5",
    ".hdf5": "Keras's HDF5",
    ".keras": "Keras 3's native",
    ".npy": "a single NumPy array's",
}


def check_save_path(path) -> str:
    """``path`` as a string if it ends with ``.npz``, else a ValueError naming the format.

    fastnn writes exactly the path it is given and never adds an extension,
    so ``"model"`` is refused like ``"model.h5"``: the file would otherwise
    be an ``.npz`` under another name, or (as NumPy's ``savez`` does) land
    at ``"model.npz"`` where ``Network.load("model")`` would not find it.
    """
    path = os.fspath(path)
    root, extension = os.path.splitext(path)
    if extension.lower() == FILE_EXTENSION:
        return path
    if extension.lower() in _OTHER_FORMATS:
        what = f"{_OTHER_FORMATS[extension.lower()]} format"
    elif extension:
        what = f"a {extension!r} file"
    else:
        what = "a file without an extension"
    raise ValueError(
        f"cannot save to {path!r}: fastnn writes one format, a .npz archive "
        f"(FILE_FORMAT {FILE_FORMAT!r}), not {what}; name the file {root}{FILE_EXTENSION}"
    )


def save(network, path) -> None:
    """Write ``network``'s architecture, weights, optimizer state and seed to ``path``, atomically.

    The file is written under a temporary name in the same directory and
    moved over ``path`` only once complete, so a crash mid-save never leaves
    a partial file at ``path`` (an existing file stays intact).  ``path``
    must end with ``.npz`` (``check_save_path``).
    """
    path = check_save_path(path)
    meta = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "network": network.get_config(),
        "epochs_seen": network._epochs_seen,
        "compile": None,
    }
    arrays = {f"weight_{i}": w for i, w in enumerate(network.get_weights())}
    optimizer = network.optimizer
    if optimizer is not None:
        meta["compile"] = {
            "loss": network.loss,
            "metrics": network.metrics,
            "optimizer": type(optimizer).__name__,
            "optimizer_config": optimizer.get_config(),
            "iterations": optimizer.iterations,
        }
        memory = network._backend.memory
        for name, array in optimizer.state.items():
            arrays[f"optimizer_{name}"] = memory.to_host(array)
    arrays["meta"] = np.array(json.dumps(meta))
    _write_atomically(path, arrays)


def _write_atomically(path: str, arrays: dict) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file private (0600); give it a new file's usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read(path: str) -> tuple[dict, dict]:
    """The ``meta`` entry and the arrays of a fastnn file, or raise ``ValueError``."""
    with open(path, "rb") as file:
        try:
            data = np.load(file, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                with data:
                    files = set(data.files)
                    meta = json.loads(str(data["meta"])) if "meta" in files else None
                    arrays = {name: data[name] for name in files - {"meta"}}
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
            raise ValueError(
                f"{path} is not a readable fastnn network file (a .npz from Network.save); "
                f"it may be truncated or of another format: {err}"
            ) from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not a fastnn network file (a .npz from Network.save)")
    if meta is None:
        raise ValueError(f"{path} is not a fastnn network file: it has no 'meta' entry")
    if not isinstance(meta, dict) or meta.get("format") != FILE_FORMAT:
        raise ValueError(f"{path} is not a fastnn network file: its format is not {FILE_FORMAT!r}")
    if meta.get("version") != FILE_VERSION:
        raise ValueError(
            f"{path} has file version {meta.get('version')}; this fastnn reads {FILE_VERSION}"
        )
    return meta, arrays


def load(network_class, path, device: str | None = None):
    """Read a network written by ``save``; ``device`` overrides the saved one.

    Parameters
    ----------
    network_class : type
        ``Network`` (or a subclass), called with the saved layers, seed,
        device and dtype.
    path : str or os.PathLike
    device : str, optional

    Raises
    ------
    FileNotFoundError, ValueError
        As ``Network.load`` says: no file, or not a readable fastnn network
        file whose arrays fit its architecture.
    """
    path = os.fspath(path)
    meta, arrays = _read(path)
    try:
        config = meta["network"]
        layers = [from_config(item["class_name"], item["config"]) for item in config["layers"]]
        network = network_class(
            layers,
            seed=config["seed"],
            device=config["device"] if device is None else device,
            dtype=np.dtype(config["dtype"]),
        )
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path} has a malformed architecture entry: {err!r}") from err
    if config["input_dim"] is not None:
        network.build(config["input_dim"])
    n_weights = len(network._weight_views) if network.built else 0
    weights = [arrays.get(f"weight_{i}") for i in range(n_weights)]
    if any(w is None for w in weights) or f"weight_{n_weights}" in arrays:
        raise ValueError(
            f"{path} does not hold the {n_weights} weight arrays its architecture needs"
        )
    if network.built:
        network.set_weights(weights)
    network._epochs_seen = int(meta["epochs_seen"])
    compiled = meta["compile"]
    if compiled is not None:
        optimizer_class = optimizers_module.OPTIMIZERS[compiled["optimizer"].lower()]
        network.compile(
            optimizer=optimizer_class(**compiled["optimizer_config"]),
            loss=compiled["loss"],
            metrics=compiled["metrics"],
        )
        if network.built:
            memory = network._backend.memory
            for name, array in network.optimizer.state.items():
                saved = arrays.get(f"optimizer_{name}")
                if saved is None or saved.shape != array.shape:
                    raise ValueError(f"{path} has no valid optimizer state {name!r}")
                memory.copy(np.ascontiguousarray(saved, dtype=array.dtype), array)
            network.optimizer.iterations = int(compiled["iterations"])
    return network
