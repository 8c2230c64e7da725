"""Weight initializers drawn from a counter-based generator (Philox4x32-10).

Responsibility: the initializers' names, fans and parameters, validated,
turned into one call of the backend's fill kernels.

Every random initializer is ``name(shape, ..., *, seed, stream=0, dtype=None,
out=None, device="cpu")`` and returns an array of ``shape``.  Element ``i``
(C order) is a function of ``(seed, stream, i)`` and the dtype alone, so the
same seed gives bitwise the same weights on any number of threads, and a
tensor filled in pieces equals one filled at once; give each tensor of a
network its own ``stream`` (or seed).

``device`` picks the backend (``fastnn.backend.get_backend``): ``"cpu"``
returns a NumPy array; ``"cuda"`` a device array filled on the GPU by the same
generator (``out`` may then be any GPU array exposing
``__cuda_array_interface__``).  The kernels are the backend's ``init`` module;
the generator and the transforms are in ``fastnn.kernels.scalar``, shared by
both.

Conventions
-----------
``shape`` is ``(n_in, n_out)``, the way a dense layer stores ``W`` for
``y = x @ W + b`` (as Keras): ``fan_in = shape[0]``, ``fan_out = shape[1]``.
PyTorch stores ``(out, in)`` and reads ``fan_in`` from ``shape[1]``; the
formulas are the same.  For a 1-D shape (a bias) ``fan_in = fan_out =
shape[0]``, as Keras does.

Which normal each named initializer draws.  The names follow the library
they come from, so a user of either gets what that library gives:

==================  ======================================  ===================
name                distribution                            convention
==================  ======================================  ===================
``glorot_normal``   truncated normal, variance 2/(in+out)   Keras
``he_normal``       truncated normal, variance 2/in         Keras
``lecun_normal``    truncated normal, variance 1/in         Keras
``xavier_normal``   plain normal, variance 2/(in+out)       PyTorch
``kaiming_normal``  plain normal, variance 2/in             PyTorch
==================  ======================================  ===================

Keras's truncated normals are ``variance_scaling(..., distribution=
"truncated_normal")``: a normal of std ``sqrt(scale / fan) / 0.8796`` cut at
2 of its stds, which has std ``sqrt(scale / fan)``.  As in Keras's
``VarianceScaling``, ``distribution="normal"`` means that truncated normal
too, and ``"untruncated_normal"`` is the plain one.  The uniform variants
(``glorot_uniform`` = ``xavier_uniform``, ``he_uniform`` =
``kaiming_uniform``, ``lecun_uniform``) are the same in both libraries.

The variance ``1/n_in``, which some texts call "Xavier normal", is
``lecun_normal``'s here; ``xavier_normal`` and ``glorot_normal`` have Glorot &
Bengio's ``2/(n_in + n_out)``, as in PyTorch and Keras.

The choices a tutorial warns against stay expressible: ``zeros``,
``constant(value)``, and ``normal``/``uniform`` with a very small or very
large ``std``/``limit``.
"""

from fastnn.init.distributions import (
    TRUNCATED_NORMAL_STD,
    compute_fans,
    constant,
    normal,
    ones,
    truncated_normal,
    uniform,
    variance_scaling,
    zeros,
)
from fastnn.init.named import (
    INITIALIZERS,
    get,
    glorot_normal,
    he_normal,
    he_uniform,
    kaiming_normal,
    lecun_normal,
    lecun_uniform,
    xavier_normal,
    xavier_uniform,
)

__all__ = [
    "zeros",
    "ones",
    "constant",
    "normal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "glorot_normal",
    "he_normal",
    "kaiming_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "compute_fans",
    "get",
    "INITIALIZERS",
    "TRUNCATED_NORMAL_STD",
]
