"""The plain NumPy reference: the specification every kernel is tested against.

Same names and signatures as ``fastnn.functional``; readable, loop-free NumPy
where that reads well, no cleverness.  Part of the public API.
"""

from fastnn.reference.activations import *  # noqa: F403
from fastnn.reference.batchnorm import *  # noqa: F403
from fastnn.reference.dense import *  # noqa: F403
from fastnn.reference.init import *  # noqa: F403
from fastnn.reference.losses import *  # noqa: F403
from fastnn.reference.network import *  # noqa: F403
from fastnn.reference.optimizers import *  # noqa: F403
