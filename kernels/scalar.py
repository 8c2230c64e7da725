"""Per-element maths written once, compiled for every backend.

Every function here is a plain ``@njit`` scalar function: integer and float
arithmetic and the ``math`` module only, no NumPy calls and no allocation, so
the CPU kernels (``fastnn.kernels.cpu``) inline them into their loops and the
CUDA kernels (``fastnn.kernels.cuda``) compile the very same functions for the
device.

Activations are selected by an integer code so that one compiled kernel serves
all of them; the code is loop-invariant, so LLVM hoists the branch out of the
element loop.

Every pointwise activation's derivative is written in terms of its *output*
``y = f(z)``: relu and leaky relu (with a non-negative slope) through the sign
of ``y``, sigmoid through ``y (1 - y)``, tanh through ``1 - y**2``.  Backward
passes therefore never need the pre-activation ``z``.
"""

import math

from numba import njit

LINEAR = 0
RELU = 1
LEAKY_RELU = 2
SIGMOID = 3
TANH = 4
SOFTMAX = 5

#: Activation names accepted by the public API, mapped to their kernel codes.
ACTIVATIONS = {
    "linear": LINEAR,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "softmax": SOFTMAX,
}


@njit(cache=True)
def sigmoid(z):
    """Logistic function ``1 / (1 + exp(-z))`` without overflow.

    For ``z < 0`` it is evaluated as ``exp(z) / (1 + exp(z))`` so the
    exponential never exceeds 1.
    """
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(cache=True)
def activate(z, code, alpha):
    """Pointwise activation ``f(z)`` for ``code``; ``alpha`` is the leaky-relu slope.

    Softmax is not pointwise: callers handle ``SOFTMAX`` row by row and never
    pass it here (it falls through to the identity).
    """
    if code == RELU:
        return z if z > 0 else z * 0
    if code == LEAKY_RELU:
        return z if z > 0 else z * alpha
    if code == SIGMOID:
        return sigmoid(z)
    if code == TANH:
        return math.tanh(z)
    return z


@njit(cache=True)
def activate_grad(y, code, alpha):
    """Derivative ``f'(z)`` expressed through the activation's output ``y = f(z)``.

    relu: ``1[y > 0]``; leaky relu (``alpha >= 0``): ``1`` if ``y > 0`` else
    ``alpha``; sigmoid: ``y (1 - y)``; tanh: ``1 - y**2``; linear: ``1``.
    """
    if code == RELU:
        return 1.0 if y > 0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if y > 0 else alpha
    if code == SIGMOID:
        return y * (1.0 - y)
    if code == TANH:
        return 1.0 - y * y
    return 1.0
