"""Layers of a ``fastnn.Network``: what each holds and which kernels it needs.

A layer is a small description: its configuration, the shapes of its weights
and their initializers.  The ``Network`` owns the memory: once it is built,
every trainable weight is a view into one flat parameter array (so the
optimizer updates all of them in one kernel call) and every BatchNormalization
running statistic a view into one flat state array.  After the build a layer's
weights are reachable as attributes (``Dense.kernel``, ``Dense.bias``,
``BatchNormalization.gamma``, ...), views into the network's arrays.

Weights are listed in Keras order: per ``Dense`` the kernel ``W`` of shape
``(n_in, n_out)`` then the bias; per ``BatchNormalization`` gamma, beta, the
moving mean and the moving variance.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

from fastnn import guards
from fastnn._validation import activation_code, check_finite_scalar
from fastnn.kernels.scalar import NEGATIVE_SLOPE  # noqa: F401 (re-exported for old imports)

__all__ = [
    "Layer",
    "Dense",
    "BatchNormalization",
    "Activation",
    "Dropout",
    "WeightSpec",
    "ConstantSpec",
    "from_config",
    "initialize",
]


class WeightSpec(NamedTuple):
    """One weight tensor of a layer: its attribute name, shape, trainability and initializer."""

    name: str
    shape: tuple
    trainable: bool
    initializer: object


class ConstantSpec(NamedTuple):
    """A disabled weight the kernels still read (no bias, no gamma, no beta): a fixed value."""

    name: str
    shape: tuple
    value: float


def _activation_name(activation) -> str:
    """Normalize an activation name (``None`` is ``"linear"``) and check it exists."""
    activation_code(activation)
    return "linear" if activation is None else activation


#: Arguments ``initialize`` passes to every initializer; any other parameter
#: without a default (``constant``'s ``value``, ``normal``'s ``std``) must be
#: bound beforehand, e.g. ``fastnn.init.get("constant", value=0.5)``.
_SUPPLIED_ARGUMENTS = {"shape", "seed", "stream", "dtype", "out"}


def _check_initializer(name: str, init):
    """Accept a name known to ``fastnn.init`` or a callable, with every parameter it needs.

    An initializer that needs a parameter nobody supplies (``"constant"``
    without its value, ``"normal"`` without its ``std``) fails here, when the
    layer is made, rather than when the network is built.
    """
    from fastnn import init as initializers

    if not callable(init) and not isinstance(init, str):
        raise TypeError(
            f"{name} must be an initializer name or a callable, got {type(init).__name__}"
        )
    function = initializers.get(init)  # raises ValueError naming the known initializers
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): trust the callable
        return init
    missing = [
        p.name
        for p in parameters
        if p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.name not in _SUPPLIED_ARGUMENTS
    ]
    if missing:
        label = repr(init) if isinstance(init, str) else _initializer_label(init)
        bound = ", ".join(f"{m}=..." for m in missing)
        raise ValueError(
            f"{name}={label} needs {', '.join(missing)}, which a layer cannot guess: "
            f"pass {name}=fastnn.init.get({_initializer_label(init)!r}, {bound})"
        )
    return init


def _alias(name: str, value, alias: str, alias_value, default):
    """One of two spellings of an argument (fastnn's and Keras's); both given is a TypeError."""
    if value is not None and alias_value is not None:
        raise TypeError(f"give {name} or its Keras spelling {alias}, not both")
    if alias_value is not None:
        return alias_value
    return default if value is None else value


def _input_dim_from_shape(input_shape) -> int:
    """``d`` from Keras's ``input_shape=(d,)``, or raise (a Dense layer takes 1-D samples)."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 1:
        raise ValueError(
            f"input_shape must be a tuple (n_features,) for a Dense layer, got {input_shape!r}"
        )
    return _check_positive_int("input_shape[0]", input_shape[0])


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


class Layer:
    """Base class: a named layer with no weights."""

    #: Prefix of automatic layer names (``dense``, ``dense_1``, ...).
    base_name = "layer"

    #: Whether the layer draws random numbers while training (the network then
    #: gives it a Philox stream of its own, ``DROPOUT_STREAM`` + its position).
    uses_random = False

    def __init__(self, name: str | None = None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        self.name = name

    def output_dim(self, input_dim: int) -> int:
        """Number of output features for ``input_dim`` input features."""
        return input_dim

    def weight_specs(self, input_dim: int) -> list[WeightSpec]:
        """The layer's weights for ``input_dim`` input features, in Keras order."""
        return []

    def constant_specs(self, input_dim: int) -> list[ConstantSpec]:
        """Weights the layer's kernel takes but the layer disables, as constants."""
        return []

    def initializer_names(self) -> str:
        """What ``summary()`` shows in its initializer column."""
        return "-"

    def get_config(self) -> dict:
        """The constructor arguments, enough to rebuild the layer (JSON-serializable)."""
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


#: ``Dense``'s kernel initializer per activation where it is not ``xavier_uniform``.
#: ``kaiming_normal`` is the plain normal that ``he_normal`` meant before fastnn
#: followed Keras's (truncated) ``he_normal``, so a default network draws the same bits.
DEFAULT_INITIALIZERS = {
    "relu": "kaiming_normal",
    "leaky_relu": "kaiming_normal",
    "selu": "lecun_normal",
}


class Dense(Layer):
    """Fully connected layer ``y = activation(x @ W + b)``, ``W`` of shape ``(n_in, units)``.

    Parameters
    ----------
    units : int
        Number of output features.
    activation : str or None
        ``None``/``"linear"``, ``"relu"``, ``"leaky_relu"`` (slope 0.2),
        ``"sigmoid"``, ``"tanh"``, ``"softmax"``, ``"elu"`` (alpha 1) or
        ``"selu"``.
    init : str or callable, optional
        Kernel initializer: a name from ``fastnn.init`` or a callable with the
        ``fastnn.init`` signature ``f(shape, *, seed, dtype, out, stream)``.
        Default: ``"kaiming_normal"`` (He et al.'s plain normal ``N(0,
        2/fan_in)``) for relu and leaky relu; ``"lecun_normal"`` (Keras's
        truncated normal of variance ``1/fan_in``) for selu, the
        self-normalizing pairing of Klambauer et al. (2017), under which
        selu keeps activations at mean 0 and variance 1 through depth; and
        ``"xavier_uniform"`` otherwise (Keras's default is
        ``"glorot_uniform"``, the same as ``"xavier_uniform"``, for every
        activation).  One that needs a
        parameter is given bound, ``fastnn.init.get("constant", value=0.1)``;
        a bare ``"constant"`` fails here, not at build time.
    use_bias : bool
        Whether the layer has a bias.
    bias_init : str or callable, optional
        Bias initializer, ``"zeros"`` by default.
    input_dim : int, optional
        Number of input features; needed on the first layer unless the network
        is built from the first data it sees.
    name : str, optional
        Layer name; the network picks ``dense``, ``dense_1``, ... otherwise.
    kernel_initializer, bias_initializer : str or callable, optional
        Keras's names for ``init`` and ``bias_init``; giving both spellings
        of one is a TypeError.
    input_shape : tuple, optional
        Keras's ``input_shape=(d,)``, the same as ``input_dim=d``; giving
        both is a TypeError.
    """

    base_name = "dense"

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        init=None,
        use_bias: bool = True,
        bias_init=None,
        input_dim: int | None = None,
        name: str | None = None,
        *,
        kernel_initializer=None,
        bias_initializer=None,
        input_shape=None,
    ):
        super().__init__(name)
        self.units = _check_positive_int("units", units)
        self.activation = _activation_name(activation)
        default = DEFAULT_INITIALIZERS.get(self.activation, "xavier_uniform")
        init = _alias("init", init, "kernel_initializer", kernel_initializer, default)
        self.init = _check_initializer("init", init)
        if not isinstance(use_bias, bool):
            raise TypeError(f"use_bias must be a bool, got {type(use_bias).__name__}")
        self.use_bias = use_bias
        bias_init = _alias("bias_init", bias_init, "bias_initializer", bias_initializer, "zeros")
        self.bias_init = _check_initializer("bias_init", bias_init)
        if input_shape is not None:
            if input_dim is not None:
                raise TypeError("give input_dim or its Keras spelling input_shape=(d,), not both")
            input_dim = _input_dim_from_shape(input_shape)
        self.input_dim = None if input_dim is None else _check_positive_int("input_dim", input_dim)

    def output_dim(self, input_dim: int) -> int:
        return self.units

    def weight_specs(self, input_dim: int) -> list[WeightSpec]:
        specs = [WeightSpec("kernel", (input_dim, self.units), True, self.init)]
        if self.use_bias:
            specs.append(WeightSpec("bias", (self.units,), True, self.bias_init))
        return specs

    def constant_specs(self, input_dim: int) -> list[ConstantSpec]:
        return [] if self.use_bias else [ConstantSpec("bias", (self.units,), 0.0)]

    def initializer_names(self) -> str:
        return _initializer_label(self.init)

    def get_config(self) -> dict:
        return {
            "units": self.units,
            "activation": self.activation,
            "init": self.init if isinstance(self.init, str) else None,
            "use_bias": self.use_bias,
            "bias_init": self.bias_init if isinstance(self.bias_init, str) else None,
            "input_dim": self.input_dim,
            "name": self.name,
        }


class BatchNormalization(Layer):
    """Batch normalization over the batch axis, as ``keras.layers.BatchNormalization``.

    Training normalizes with the batch mean and (biased) variance and updates
    ``moving = momentum * moving + (1 - momentum) * batch``; inference uses
    the moving statistics.  Placed after an activation (``Dense(act)``, BN) or
    before one (``Dense(activation=None)``, BN, ``Activation(act)``), the
    network runs the activation and the normalization in one fused kernel.

    Parameters
    ----------
    momentum : float
        Weight of the old moving statistics, in ``[0, 1]``.
    epsilon : float
        Added to the variance, ``> 0``.
    center : bool
        Whether the layer has a learnable shift ``beta`` (else ``beta = 0``).
    scale : bool
        Whether the layer has a learnable scale ``gamma`` (else ``gamma = 1``).
    name : str, optional
        Layer name.
    """

    base_name = "batch_normalization"

    def __init__(
        self,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        name: str | None = None,
    ):
        super().__init__(name)
        self.momentum = check_finite_scalar("momentum", momentum, low=0.0, high=1.0)
        self.epsilon = check_finite_scalar("epsilon", epsilon, low=0.0, low_open=True)
        for flag, value in (("center", center), ("scale", scale)):
            if not isinstance(value, bool):
                raise TypeError(f"{flag} must be a bool, got {type(value).__name__}")
        self.center = center
        self.scale = scale

    def weight_specs(self, input_dim: int) -> list[WeightSpec]:
        specs = []
        if self.scale:
            specs.append(WeightSpec("gamma", (input_dim,), True, "ones"))
        if self.center:
            specs.append(WeightSpec("beta", (input_dim,), True, "zeros"))
        specs.append(WeightSpec("moving_mean", (input_dim,), False, "zeros"))
        specs.append(WeightSpec("moving_variance", (input_dim,), False, "ones"))
        return specs

    def constant_specs(self, input_dim: int) -> list[ConstantSpec]:
        specs = [] if self.scale else [ConstantSpec("gamma", (input_dim,), 1.0)]
        if not self.center:
            specs.append(ConstantSpec("beta", (input_dim,), 0.0))
        return specs

    def get_config(self) -> dict:
        return {
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "name": self.name,
        }


class Activation(Layer):
    """A pointwise (or softmax) activation as its own layer.

    Parameters
    ----------
    activation : str
        ``"linear"``, ``"relu"``, ``"leaky_relu"`` (slope 0.2), ``"sigmoid"``,
        ``"tanh"``, ``"softmax"``, ``"elu"`` or ``"selu"``.
    name : str, optional
        Layer name.
    """

    base_name = "activation"

    def __init__(self, activation: str, name: str | None = None):
        super().__init__(name)
        self.activation = _activation_name(activation)

    def get_config(self) -> dict:
        return {"activation": self.activation, "name": self.name}


class Dropout(Layer):
    """Inverted dropout, as ``keras.layers.Dropout``: in training, each input is zeroed
    with probability ``rate`` and the rest are scaled by ``1 / (1 - rate)``.

    Only training applies it: ``fit``, ``train_on_batch`` and
    ``forward(x, training=True)``; ``predict``, ``evaluate`` and
    ``forward(x)`` pass the input through unchanged.

    The mask is drawn by a kernel from the network's counter-based generator
    (Philox4x32-10, ``fastnn.kernels.scalar``): the layer at position ``p``
    of the network draws from stream ``DROPOUT_STREAM + p`` (weight tensors
    take streams 0, 1, 2, ..., so adding a Dropout layer changes no initial
    weight and no mask shares bits with a weight), and the optimizer's step
    count is part of the counter, so each training step draws a fresh mask.
    The mask is thus a function of (seed, layer position, step, element):
    reproducible for a seed, bitwise the same on any thread count and on
    either device, and resumed where it was by ``Network.load`` (the step
    count is saved).  Two training forwards at one step draw the same mask.

    Parameters
    ----------
    rate : float
        Fraction of the inputs to drop, ``0 <= rate < 1``; 0 is the identity.
    seed : int, optional
        In [0, 2**64): this layer's Philox key instead of the network's seed.
    name : str, optional
        Layer name.
    """

    base_name = "dropout"
    uses_random = True

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None):
        super().__init__(name)
        self.rate = check_finite_scalar("rate", rate, low=0.0)
        if self.rate >= 1.0:
            raise ValueError(f"rate must be < 1 (the fraction of inputs dropped), got {rate}")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
                raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
            if not 0 <= seed < 2**64:
                raise ValueError(f"seed must be in [0, 2**64), got {seed}")
            seed = int(seed)
        self.seed = seed

    def get_config(self) -> dict:
        return {"rate": self.rate, "seed": self.seed, "name": self.name}


#: The Philox stream of the first layer position's dropout masks: layer ``p``
#: draws from stream ``DROPOUT_STREAM + p``, far from the weights' 0, 1, 2, ...
DROPOUT_STREAM = 2**63


def _initializer_label(init) -> str:
    """A name for ``summary()``: the string, a function's name, or a partial's function's name."""
    if isinstance(init, str):
        return init
    function = getattr(init, "func", init)  # functools.partial, as fastnn.init.get(name, **params)
    return getattr(function, "__name__", type(init).__name__)


LAYER_CLASSES = {cls.__name__: cls for cls in (Dense, BatchNormalization, Activation, Dropout)}


def from_config(class_name: str, config: dict) -> Layer:
    """Rebuild a layer from ``type(layer).__name__`` and ``layer.get_config()``."""
    if class_name not in LAYER_CLASSES:
        raise ValueError(
            f"unknown layer class {class_name!r}; expected one of {list(LAYER_CLASSES)}"
        )
    return LAYER_CLASSES[class_name](**config)


def initialize(init, out, *, seed: int, stream: int, memory=None) -> None:
    """Fill ``out`` in place with initializer ``init`` (a ``fastnn.init`` name or a callable).

    The values are drawn into a host array and copied into ``out`` through
    ``memory`` (a backend's ``memory`` module; the CPU one by default), so
    ``out`` may live on any device.  The callable gets ``fastnn.init``'s
    signature: ``init(out.shape, seed=seed, dtype=out.dtype, out=host,
    stream=stream)``, and may fill ``host`` or return an array of
    ``out.shape``.
    """
    if isinstance(init, str):
        from fastnn import init as initializers

        init = initializers.get(init)
    if memory is None:
        from fastnn.backend import get_backend

        memory = get_backend("cpu").memory
    host = np.empty(out.shape, dtype=out.dtype)
    result = init(out.shape, seed=seed, dtype=out.dtype, out=host, stream=stream)
    guards.check_initializer_result(init, result, host)
    memory.copy(host, out)
