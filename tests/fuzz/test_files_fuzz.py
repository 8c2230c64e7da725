"""A corpus of hostile files for ``Network.load`` and ``datasets.read_idx``, made by the tests.

Nothing here is committed as a binary: every file is a valid file written in
a temporary directory and then truncated, bit-flipped, given wrong members,
huge declared sizes or object arrays.  The contract: a ``ValueError`` whose
message names the file, or (for a change that leaves the file well formed) a
result that is itself valid: a network whose weights are finite, an array of
the declared shape.
"""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastnn import BatchNormalization, Dense, Network, datasets
from tests.fuzz.profile import fuzz_settings


@pytest.fixture(scope="module")
def saved_bytes(tmp_path_factory):
    """The bytes of a small saved, compiled and trained network."""
    model = Network(
        [Dense(4, activation="relu", input_dim=3), BatchNormalization(), Dense(2)], seed=3
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(np.ones((4, 3), np.float32), np.zeros(4, np.int64))
    path = tmp_path_factory.mktemp("saved") / "model.npz"
    model.save(path)
    return path.read_bytes()


def _load_or_refuse(tmp_path, data: bytes, name: str = "hostile.npz"):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        model = Network.load(path)
    except ValueError as err:
        assert name in str(err), f"the error does not name the file: {err}"
        return None
    for weight in model.get_weights():
        assert np.isfinite(weight).all()
    return model


@fuzz_settings(60)
@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_load_truncated_at_any_offset(saved_bytes, tmp_path_factory, fraction):
    cut = int(fraction * len(saved_bytes))
    assert _load_or_refuse(tmp_path_factory.mktemp("t"), saved_bytes[:cut]) is None


@fuzz_settings(60)
@given(offset=st.integers(0, 10**9), bit=st.integers(0, 7))
def test_load_with_a_flipped_bit(saved_bytes, tmp_path_factory, offset, bit):
    data = bytearray(saved_bytes)
    data[offset % len(data)] ^= 1 << bit
    _load_or_refuse(tmp_path_factory.mktemp("f"), bytes(data))


def _npz(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


WRONG_MEMBERS = {
    "empty_zip": {},
    "meta_object_array": {"meta.npy": _npy(np.array([{"format": "fastnn.Network"}], dtype=object))},
    "meta_number": {"meta.npy": _npy(np.array(3.0))},
    "meta_2d": {"meta.npy": _npy(np.array([["{}"]]))},
    "meta_garbage": {"meta.npy": b"\x93NUMPY\x01\x00garbage"},
    "meta_huge_header": {
        "meta.npy": b"\x93NUMPY\x01\x00\xff\xff{'descr': '<U99999999999', 'fortran_order': "
        b"False, 'shape': (1,), }"
    },
    "not_npy_member": {"meta.txt": b"{}"},
}


@pytest.mark.parametrize("label", list(WRONG_MEMBERS))
def test_load_wrong_members(tmp_path, label):
    assert _load_or_refuse(tmp_path, _npz(WRONG_MEMBERS[label])) is None


def _idx(shape, type_code=0x08, payload=None) -> bytes:
    header = bytes([0, 0, type_code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
    size = int(np.prod(shape)) * datasets.IDX_TYPES[type_code].itemsize
    return header + (bytes(size) if payload is None else payload)


def _read_or_refuse(tmp_path, data: bytes, name="hostile-idx"):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        array = datasets.read_idx(path)
    except ValueError as err:
        assert name in str(err), f"the error does not name the file: {err}"
        return None
    assert isinstance(array, np.ndarray)
    return array


@fuzz_settings(60)
@given(
    ndim=st.integers(1, 3),
    type_code=st.sampled_from(sorted(datasets.IDX_TYPES)),
    data=st.data(),
    gz=st.booleans(),
)
def test_read_idx_truncated_or_flipped(tmp_path_factory, ndim, type_code, data, gz):
    shape = tuple(data.draw(st.integers(1, 4)) for _ in range(ndim))
    raw = _idx(shape, type_code)
    blob = bytearray(gzip.compress(raw) if gz else raw)
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    else:
        blob[data.draw(st.integers(0, len(blob) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    array = _read_or_refuse(tmp_path_factory.mktemp("idx"), bytes(blob), "hostile-idx.gz")
    if array is not None:
        assert array.ndim >= 1


@fuzz_settings(30)
@given(dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4), gz=st.booleans())
def test_read_idx_huge_declared_sizes(tmp_path_factory, dims, gz):
    header = bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    blob = header + bytes(16)
    if gz:
        blob = gzip.compress(blob)
    array = _read_or_refuse(tmp_path_factory.mktemp("huge"), blob)
    if array is not None:
        assert array.shape == tuple(dims)


def test_read_idx_gzip_of_garbage(tmp_path):
    blob = bytearray(gzip.compress(_idx((3, 2))))
    blob[12:16] = b"\xff\xff\xff\xff"
    assert _read_or_refuse(tmp_path, bytes(blob), "garbage.gz") is None
