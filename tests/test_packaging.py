"""Installing fastnn: where compiled kernels are cached, and imports from a source checkout.

Both were found by a new user following the README: a regular install's
Numba cache files outlived ``pip uninstall`` inside ``site-packages`` and hid
a later editable install, and scripts run in the repository root imported
``./fastnn`` without its kernels.  Each test installs fastnn regularly into
a temporary folder and runs Python in a subprocess.
"""

import os
import pathlib
import subprocess
import sys
import sysconfig

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SITE_PACKAGES = sysconfig.get_paths()["purelib"]


@pytest.fixture(scope="module")
def regular_install(tmp_path_factory) -> pathlib.Path:
    """A regular (non-editable) install of this checkout, without dependencies."""
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", target, ROOT],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip install --target failed:\n{proc.stderr}")
    return target


def _python(code: str, cwd, env: dict) -> subprocess.CompletedProcess:
    # -S: no site module, so the test environment's editable install (a .pth
    # file) is invisible and only PYTHONPATH decides what is imported.
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _env(tmp_path, pythonpath) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    return env


RUN_A_KERNEL = """
import numpy as np, fastnn
from fastnn import functional as F
y = F.activation_forward(np.ones((2, 3), np.float32), "relu")
print(fastnn.__file__)
"""


def test_kernel_cache_stays_out_of_the_installed_package(regular_install, tmp_path):
    env = _env(tmp_path, [regular_install, SITE_PACKAGES])
    proc = _python(RUN_A_KERNEL, tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert str(regular_install) in proc.stdout
    in_package = list((regular_install / "fastnn").rglob("*.nbi"))
    assert in_package == [], f"Numba cache files inside the installed package: {in_package}"
    assert list((tmp_path / "cache" / "fastnn" / "numba").rglob("*.nbi")), "no kernel was cached"


def test_script_in_the_repository_root_imports_the_kernels(regular_install, tmp_path):
    # In the root, "./fastnn" (the source tree, which has no kernels/ inside)
    # comes first on sys.path, before the installed package.
    env = _env(tmp_path, [regular_install, SITE_PACKAGES])
    proc = _python(RUN_A_KERNEL + "import fastnn.kernels.cpu.dense\n", ROOT, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(ROOT / "fastnn" / "__init__.py")


def test_explicit_numba_cache_dir_is_kept(regular_install, tmp_path):
    env = _env(tmp_path, [regular_install, SITE_PACKAGES])
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    proc = _python(RUN_A_KERNEL, tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "mine").rglob("*.nbi"))
    assert not (tmp_path / "cache" / "fastnn").exists()
