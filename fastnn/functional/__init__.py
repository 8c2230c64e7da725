"""Validated, allocating forward/backward pairs for every fastnn operation.

Each function checks its arguments (shapes, dtypes, contiguity, values),
allocates its outputs and calls the kernels of the CPU backend
(``fastnn.backend.get_backend("cpu")``): NumPy arrays in, NumPy arrays out.
``fastnn.reference`` has the same names, written in plain NumPy.
"""

from fastnn.functional.activations import *  # noqa: F403
from fastnn.functional.batchnorm import *  # noqa: F403
from fastnn.functional.dense import *  # noqa: F403
from fastnn.functional.losses import *  # noqa: F403
from fastnn.functional.optimizers import *  # noqa: F403
