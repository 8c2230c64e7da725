"""Hypothesis strategies shared by the fuzz tests: awkward array layouts and hostile values."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

DTYPES = st.sampled_from([np.float32, np.float64])

#: Every way a valid array can be laid out that is not a fresh C-contiguous array.
LAYOUTS = (
    "c",
    "fortran",
    "reversed_rows",
    "reversed_columns",
    "offset_view",
    "strided",
    "readonly",
)


def layout(array: np.ndarray, how: str) -> np.ndarray:
    """``array``'s values in the memory layout ``how`` (the values are unchanged)."""
    if how == "c":
        return np.ascontiguousarray(array)
    if how == "fortran":
        return np.asfortranarray(array)
    if how == "reversed_rows":
        return np.ascontiguousarray(array[::-1])[::-1]
    if how == "reversed_columns":
        return np.ascontiguousarray(array[..., ::-1])[..., ::-1]
    if how == "offset_view":
        padded = np.zeros((array.shape[0] + 2,) + array.shape[1:], array.dtype)
        padded[1:-1] = array
        return padded[1:-1]
    if how == "strided":
        wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
        wide[..., ::2] = array
        return wide[..., ::2]
    if how == "readonly":
        copy = array.copy()
        copy.flags.writeable = False
        return copy
    raise AssertionError(how)


@st.composite
def matrices(draw, *, min_rows=1, max_rows=6, max_cols=5, dtype=None, elements=None, shape=None):
    """A small float matrix, with its dtype, drawn values and a random layout."""
    dtype = draw(DTYPES) if dtype is None else dtype
    if shape is None:
        shape = (draw(st.integers(min_rows, max_rows)), draw(st.integers(1, max_cols)))
    if elements is None:
        elements = st.floats(-4.0, 4.0, width=32)
    drawn = draw(st.lists(elements, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]))
    with np.errstate(over="ignore"):  # 1e300 becomes inf in float32, on purpose
        values = np.array(drawn, dtype=dtype).reshape(shape)
    return layout(values, draw(st.sampled_from(LAYOUTS)))


NON_FINITE = st.one_of(
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300, -1e300, 5e-324]),
    st.floats(-10.0, 10.0),
)

#: Objects that are not what any argument wants.
JUNK = st.sampled_from(
    [None, "1", b"x", 1.5j, [], {}, object(), np.float64(np.nan), -1, 2**70, True, np.bool_(True)]
)
