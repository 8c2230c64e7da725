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
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

from fastnn import guards
from fastnn import optimizers as optimizers_module
from fastnn._validation import check_allocation
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
                    meta_entry = data["meta"] if "meta" in files else None
                    arrays = {name: data[name] for name in files - {"meta"}}
        except (
            ValueError,
            OSError,
            EOFError,
            KeyError,
            TypeError,
            MemoryError,
            zipfile.BadZipFile,
            zlib.error,
        ) as err:
            raise ValueError(
                f"{path} is not a readable fastnn network file (a .npz from Network.save); "
                f"it may be truncated or of another format: {type(err).__name__}: {err}"
            ) from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not a fastnn network file (a .npz from Network.save)")
    if meta_entry is None:
        raise ValueError(f"{path} is not a fastnn network file: it has no 'meta' entry")
    if meta_entry.shape != () or meta_entry.dtype.kind != "U":
        raise ValueError(
            f"{path}: field 'meta' must be one JSON string, got an array of dtype "
            f"{meta_entry.dtype} and shape {meta_entry.shape}"
        )
    try:
        meta = json.loads(str(meta_entry))
    except ValueError as err:
        raise ValueError(f"{path}: field 'meta' is not valid JSON: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FILE_FORMAT:
        raise ValueError(f"{path} is not a fastnn network file: its format is not {FILE_FORMAT!r}")
    if meta.get("version") != FILE_VERSION:
        raise ValueError(
            f"{path} has file version {meta.get('version')}; this fastnn reads {FILE_VERSION}"
        )
    return meta, arrays


class _Fields:
    """Reads typed fields of the ``meta`` entry; every error names the file and the field."""

    def __init__(self, path: str):
        self.path = path

    def error(self, field: str, message: str) -> ValueError:
        return ValueError(f"{self.path}: field {field!r} {message}")

    def get(self, node: dict, key: str, field: str, kinds: tuple, *, optional: bool = False):
        if not isinstance(node, dict) or key not in node:
            raise self.error(field, "is missing")
        value = node[key]
        if value is None and optional:
            return None
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds) + (" or null" if optional else "")
            raise self.error(field, f"must be {names}, got {value!r}")
        return value

    def count(self, node: dict, key: str, field: str, low: int, high: int, *, optional=False):
        value = self.get(node, key, field, (int,), optional=optional)
        if value is not None and not low <= value < high:
            raise self.error(field, f"must be in [{low}, {high}), got {value}")
        return value


#: Optimizer state arrays that are running averages of squared gradients, so >= 0
#: (SGD's "velocity" is a momentum and takes either sign).
_NON_NEGATIVE_STATE = {("Adam", "v"), ("RMSprop", "velocity")}


def _architecture(fields: _Fields, meta: dict) -> tuple[dict, list]:
    """The ``network`` entry checked, and its layers rebuilt (no weights allocated)."""
    config = fields.get(meta, "network", "network", (dict,))
    fields.count(config, "seed", "network.seed", 0, 2**64)
    dtype = fields.get(config, "dtype", "network.dtype", (str,))
    if dtype not in ("float32", "float64"):
        raise fields.error("network.dtype", f"must be 'float32' or 'float64', got {dtype!r}")
    fields.get(config, "device", "network.device", (str,))
    fields.count(config, "input_dim", "network.input_dim", 1, 2**31, optional=True)
    items = fields.get(config, "layers", "network.layers", (list,))
    layers = []
    for i, item in enumerate(items):
        field = f"network.layers[{i}]"
        class_name = fields.get(item, "class_name", field + ".class_name", (str,))
        layer_config = fields.get(item, "config", field + ".config", (dict,))
        try:
            layers.append(from_config(class_name, layer_config))
        except (TypeError, ValueError) as err:
            raise fields.error(field, f"is not a valid layer: {err}") from err
    return config, layers


def _expected_shapes(fields: _Fields, layers: list, input_dim: int, dtype) -> list:
    """The weight shapes ``layers`` need for ``input_dim`` inputs, before anything is allocated."""
    shapes, width, total = [], input_dim, 0
    try:
        for layer in layers:
            for spec in layer.weight_specs(width):
                shapes.append(tuple(spec.shape))
                total += math.prod(spec.shape)
            width = layer.output_dim(width)
    except (TypeError, ValueError) as err:
        raise fields.error("network.layers", f"does not fit input_dim={input_dim}: {err}") from err
    check_allocation(f"{fields.path}: the architecture's weights, shape", (total,), dtype)
    return shapes


def _weights(fields: _Fields, arrays: dict, shapes: list) -> list:
    """The ``weight_<i>`` arrays, checked against the shapes the architecture needs."""
    expected_names = {f"weight_{i}" for i in range(len(shapes))}
    present = {name for name in arrays if name.startswith("weight_")}
    missing = sorted(expected_names - present)
    if missing:
        raise fields.error(missing[0], f"is missing: the architecture needs {len(shapes)} weights")
    extra = sorted(present - expected_names)
    if extra:
        raise fields.error(extra[0], f"is unexpected: the architecture has {len(shapes)} weights")
    weights = []
    for i, shape in enumerate(shapes):
        name = f"weight_{i}"
        weights.append(_numeric(fields, name, arrays[name], shape))
    return weights


def _numeric(fields: _Fields, name: str, array: np.ndarray, shape: tuple) -> np.ndarray:
    if array.dtype.kind not in "iuf":
        raise fields.error(name, f"must hold real numbers, got dtype {array.dtype}")
    if array.shape != tuple(shape):
        raise fields.error(name, f"must have shape {tuple(shape)}, got {array.shape}")
    if not np.isfinite(array).all():
        raise fields.error(name, "must be finite (it holds NaN or Inf)")
    return array


def load(network_class, path, device: str | None = None):
    """Read a network written by ``save``; ``device`` overrides the saved one.

    Everything in the file is checked (the fields of ``meta`` and their
    types, each array's dtype, shape and finiteness) before the network is
    built, so a hostile header cannot ask for a huge allocation: the weights
    the architecture needs must be in the file already.

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
        file whose arrays fit its architecture; the message names the file
        and the field.
    """
    path = os.fspath(path)
    meta, arrays = _read(path)
    fields = _Fields(path)
    config, layers = _architecture(fields, meta)
    epochs_seen = fields.count(meta, "epochs_seen", "epochs_seen", 0, 2**63)
    compiled = fields.get(meta, "compile", "compile", (dict,), optional=True)
    dtype = np.dtype(config["dtype"])
    input_dim = config["input_dim"]
    shapes = [] if input_dim is None else _expected_shapes(fields, layers, input_dim, dtype)
    weights = _weights(fields, arrays, shapes)
    state, iterations, optimizer = {}, 0, None
    if compiled is not None:
        name = fields.get(compiled, "optimizer", "compile.optimizer", (str,))
        optimizer_class = optimizers_module.OPTIMIZERS.get(name.lower())
        if optimizer_class is None:
            raise fields.error(
                "compile.optimizer", f"must be one of {sorted(optimizers_module.OPTIMIZERS)}"
            )
        settings = fields.get(compiled, "optimizer_config", "compile.optimizer_config", (dict,))
        try:
            optimizer = optimizer_class(**settings)
        except (TypeError, ValueError) as err:
            raise fields.error("compile.optimizer_config", f"is not valid: {err}") from err
        iterations = fields.count(
            compiled, "iterations", "compile.iterations", 0, guards.MAX_ITERATIONS - 1
        )
        fields.get(compiled, "loss", "compile.loss", (str,))
        fields.get(compiled, "metrics", "compile.metrics", (list,), optional=True)
        if shapes:
            for state_name in optimizer_class.state_names:
                entry = f"optimizer_{state_name}"
                if entry not in arrays:
                    raise fields.error(entry, "is missing")
                state[state_name] = _numeric(fields, entry, arrays[entry], arrays[entry].shape)
                if state[state_name].ndim != 1:
                    raise fields.error(entry, f"must be 1-D, got shape {arrays[entry].shape}")
                non_negative = (optimizer_class.__name__, state_name) in _NON_NEGATIVE_STATE
                if non_negative and (state[state_name] < 0).any():
                    raise fields.error(entry, "must be >= 0 (a mean of squared gradients)")
    known = {f"weight_{i}" for i in range(len(shapes))} | {f"optimizer_{n}" for n in state}
    unexpected = sorted(set(arrays) - known)
    if unexpected:
        raise fields.error(unexpected[0], "is not an entry of a fastnn network file")
    try:
        network = network_class(
            layers,
            seed=config["seed"],
            device=config["device"] if device is None else device,
            dtype=dtype,
        )
        if input_dim is not None:
            network.build(input_dim)
        if network.built:
            network.set_weights(weights)
        if optimizer is not None:
            network.compile(
                optimizer=optimizer, loss=compiled["loss"], metrics=compiled.get("metrics")
            )
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from err
    network._epochs_seen = epochs_seen
    if optimizer is not None and network.built:
        memory = network._backend.memory
        for name, array in network.optimizer.state.items():
            saved = state[name]
            if saved.shape != array.shape:
                raise fields.error(
                    f"optimizer_{name}", f"must have shape {array.shape}, got {saved.shape}"
                )
            memory.copy(np.ascontiguousarray(saved, dtype=array.dtype), array)
        network.optimizer.iterations = iterations
    return network
