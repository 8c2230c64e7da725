"""The plain NumPy reference: the specification every kernel is tested against.

Same names and signatures as ``fastnn.functional``; readable, loop-free NumPy
where that reads well, no cleverness.  Part of the public API.

The reference is the independent oracle: it writes every formula again, in
NumPy, on purpose, and shares no maths with the kernels (not even the
per-element functions of ``fastnn.kernels.scalar`` that every backend shares),
so a wrong formula there cannot pass its own test.  It shares only the
conventions' constants, such as the default leaky-relu slope.
"""

from fastnn.reference.activations import *  # noqa: F403
from fastnn.reference.batchnorm import *  # noqa: F403
from fastnn.reference.dense import *  # noqa: F403
from fastnn.reference.dropout import *  # noqa: F403
from fastnn.reference.init import *  # noqa: F403
from fastnn.reference.losses import *  # noqa: F403
from fastnn.reference.network import *  # noqa: F403
from fastnn.reference.optimizers import *  # noqa: F403
