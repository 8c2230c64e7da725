"""The weights of a built ``Network``: where they live and how they start.

Every trainable weight is a view into one flat parameter array and its
gradient a view into one flat gradient array, so an optimizer step is one
kernel call; every BatchNormalization running statistic is a view into one
flat state array (with a backup of the same size for the non-finite guard).
Each weight tensor is initialized from its own Philox stream (0, 1, ... in
layer order) under the network's seed; a Dropout layer gets its own stream
past those.  Everything is allocated and filled through the backend's
``memory`` module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from fastnn._validation import check_allocation
from fastnn.fusion import RandomStream
from fastnn.layers import DROPOUT_STREAM, initialize

__all__ = ["WeightLayout", "allocate_weights"]


@dataclass
class WeightLayout:
    """The flat arrays of a built network and the per-layer views into them.

    ``views``/``names`` list every weight in Keras order (``"dense/kernel"``,
    ...); ``layer_weights`` holds, per layer, the arrays its op binds (the
    weights, their gradients ``d_<name>``, constants for disabled weights, and
    a Dropout layer's ``random`` stream).
    """

    params: object
    grads: object
    state: object
    state_backup: object
    views: list
    names: list
    grad_views: list
    layer_weights: list
    output_dim: int
    n_trainable: int


def allocate_weights(
    layers: list, input_dim: int, dtype, memory, seed: int, random_step: Callable[[], int]
) -> WeightLayout:
    """Allocate and initialize the weights of ``layers`` for ``input_dim`` input features.

    Raises
    ------
    ValueError
        A layer's ``input_dim`` does not match the width before it, or the
        weights would not fit in memory (said before allocating).
    """
    first = layers[0]
    specs, widths, width = [], [], input_dim
    for layer in layers:
        if getattr(layer, "input_dim", None) not in (None, width) and layer is not first:
            raise ValueError(
                f"layer {layer.name!r} expects input_dim={layer.input_dim}, "
                f"but the previous layer gives {width} features"
            )
        specs.append(layer.weight_specs(width))
        widths.append(width)
        width = layer.output_dim(width)
    n_trainable = sum(
        math.prod(s.shape) for layer_specs in specs for s in layer_specs if s.trainable
    )
    n_state = sum(
        math.prod(s.shape) for layer_specs in specs for s in layer_specs if not s.trainable
    )
    # Parameters, gradients, statistics and their backup: say so before allocating.
    check_allocation(
        "the weights of this architecture, shape", (2 * (n_trainable + n_state),), dtype
    )
    params = memory.zeros((n_trainable,), dtype)
    grads = memory.zeros((n_trainable,), dtype)
    state = memory.zeros((n_state,), dtype)
    state_backup = memory.zeros((n_state,), dtype)
    views, names, layer_weights = [], [], []
    grad_views = []
    offsets = {True: 0, False: 0}
    stream = 0
    for position, (layer, layer_specs, layer_width) in enumerate(
        zip(layers, specs, widths, strict=True)
    ):
        weights = {}
        for spec in layer_specs:
            flat = params if spec.trainable else state
            start = offsets[spec.trainable]
            stop = start + math.prod(spec.shape)
            offsets[spec.trainable] = stop
            view = flat[start:stop].reshape(spec.shape)
            initialize(spec.initializer, view, seed=seed, stream=stream, memory=memory)
            stream += 1
            weights[spec.name] = view
            if spec.trainable:
                weights["d_" + spec.name] = grads[start:stop].reshape(spec.shape)
                grad_views.append(weights["d_" + spec.name])
            setattr(layer, spec.name, view)
            views.append(view)
            names.append(f"{layer.name}/{spec.name}")
        for name, shape, value in layer.constant_specs(layer_width):
            # The kernels always take a bias, gamma and beta; a disabled one is a
            # constant whose gradient goes to a scratch array.
            weights[name] = memory.zeros(shape, dtype)
            if value != 0.0:
                memory.fill(weights[name], value)
            weights["d_" + name] = memory.zeros(shape, dtype)
        if layer.uses_random:
            # Streams 0, 1, ... are the weights'; a layer's own seed replaces the key.
            key = seed if getattr(layer, "seed", None) is None else layer.seed
            own_stream = DROPOUT_STREAM + position
            weights["random"] = RandomStream(key, own_stream, random_step)
        layer_weights.append(weights)
    return WeightLayout(
        params, grads, state, state_backup, views, names, grad_views, layer_weights,
        width, n_trainable,
    )  # fmt: skip
