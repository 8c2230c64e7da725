"""Shared fixtures: ``backend`` runs a kernel test on every backend that can run here.

The CPU backend always runs.  The CUDA backend joins when it can run: on a
machine with a GPU, or under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``,
which must be set before Numba is imported, so it is a separate pytest run).
A test written against ``backend`` therefore tests a second backend the
moment it exists.
"""

import pytest

from fastnn.backend import cuda_unavailable_reason, get_backend


def _available_backends() -> list[str]:
    names = ["cpu"]
    if cuda_unavailable_reason() is None:
        names.append("cuda")
    return names


BACKENDS = _available_backends()


@pytest.fixture(params=BACKENDS, scope="session")
def backend(request):
    """A ``fastnn.backend.Backend`` for each device that can run here."""
    return get_backend(request.param)
