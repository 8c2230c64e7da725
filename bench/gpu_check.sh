#!/usr/bin/env bash
# fastnn on a real GPU, in one go (under 8 minutes on one GPU, installs included):
#
#   1. install fastnn with the CUDA and test extras (numba-cuda with its CUDA libraries);
#   2. run the whole test suite with the GPU visible, the gpu-marked tests included;
#   3. fastnn check --device cuda: every CUDA kernel against the reference;
#   4. bench/gpu_check.py: each CUDA case against its CPU twin and, where PyTorch with CUDA
#      is installed, PyTorch (cuDNN BatchNorm, cuBLAS GEMM with TF32 off), in one table.
#
# Run from anywhere: bash bench/gpu_check.sh.  It uses the active Python environment
# (a virtual environment is advised); PYTHON=... picks another interpreter.
# FASTNN_GPU_CHECK_SKIP_INSTALL=1 skips step 1; FASTNN_GPU_CHECK_TINY=1 shrinks the
# benchmark shapes (a dry run: with NUMBA_ENABLE_CUDASIM=1 it runs without a GPU).
# The exit status is that of the first step that failed; the benchmark still runs after a
# failing test step, so one run gives all the figures.

set -u -o pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 2
python="${PYTHON:-python3}"
status=0
started=$SECONDS

step() {
    printf '\n=== %s (%ds elapsed)\n' "$1" "$((SECONDS - started))"
}

fail() {
    printf '*** %s failed with status %d\n' "$1" "$2" >&2
    if [ "$status" -eq 0 ]; then
        status=$2
    fi
}

if [ "${FASTNN_GPU_CHECK_SKIP_INSTALL:-0}" != "1" ]; then
    step "installing fastnn[cuda,test] (numba-cuda[cu12] brings NVVM and the CUDA runtime)"
    if ! "$python" -m pip install --quiet --upgrade -e ".[cuda,test]" "numba-cuda[cu12]>=0.10"; then
        echo "*** the install failed; nothing else can run" >&2
        exit 1
    fi
fi

step "the CUDA backend on this machine"
if ! "$python" - <<'EOF'
import sys

from fastnn.backend import cuda_unavailable_reason

reason = cuda_unavailable_reason()
if reason is not None:
    print(f"the CUDA backend cannot run here: {reason}")
    sys.exit(1)
from numba import cuda

print("GPU:", cuda.get_current_device().name)
EOF
then
    echo "*** no usable GPU: the tests would skip the CUDA parts; stopping" >&2
    exit 1
fi

step "the whole test suite, gpu-marked tests included"
"$python" -m pytest -q -p no:cacheprovider tests || fail "pytest" $?

step "fastnn check --device cuda --dtypes float32,float64"
"$python" -m fastnn check --device cuda --dtypes float32,float64 || fail "fastnn check" $?

step "benchmarks: CUDA against the CPU twin and PyTorch CUDA"
"$python" bench/gpu_check.py || fail "bench/gpu_check.py" $?

printf '\n=== done in %ds, status %d\n' "$((SECONDS - started))" "$status"
exit "$status"
