"""Shared fixtures for the pytest-benchmark suites.

PyTorch is an optional comparison, never a dependency: the ``torch`` fixture
skips with "PyTorch not installed" when it cannot be imported, and otherwise
pins PyTorch to the same thread count as Numba so the comparison is fair.
"""

import numba
import pytest


@pytest.fixture(scope="session")
def torch():
    try:
        import torch as torch_module
    except ImportError:
        pytest.skip("PyTorch not installed")
    torch_module.set_num_threads(numba.get_num_threads())
    return torch_module
