"""``Network.summary``: one row per layer (shapes, activation, initializer, weight counts).

The table has Keras's "Param #" column (every weight of the layer) and
fastnn's split of it into trainable and non-trainable weights; the header
names the device.

``layer_rows`` describes the layers of a built network as dictionaries and
``summary_lines`` lays them out as the table ``summary`` prints, in the
manner of Keras's ``model.summary()``.
"""

from __future__ import annotations

import math

__all__ = ["layer_rows", "summary_lines"]


def layer_rows(layers: list, input_dim: int) -> list[dict]:
    """One dictionary per layer, for ``input_dim`` input features to the first.

    Keys: ``name``, ``type``, ``output_shape``, ``activation``,
    ``initializer``, ``params`` (Keras's "Param #": every weight of the
    layer), ``trainable`` and ``non_trainable`` (its two parts).
    """
    rows, width = [], input_dim
    for layer in layers:
        counts = {True: 0, False: 0}
        for spec in layer.weight_specs(width):
            counts[spec.trainable] += math.prod(spec.shape)
        width = layer.output_dim(width)
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": (None, width),
                "activation": getattr(layer, "activation", None),
                "initializer": layer.initializer_names(),
                "params": counts[True] + counts[False],
                "trainable": counts[True],
                "non_trainable": counts[False],
            }
        )
    return rows


def summary_lines(header: str, rows: list[dict], totals: dict) -> list[str]:
    """The lines ``Network.summary`` prints: ``header``, a table of ``rows``, and the totals."""
    table = [
        (
            "Layer (type)",
            "Output shape",
            "Activation",
            "Initializer",
            "Param #",
            "Trainable",
            "Non-trainable",
        )
    ]
    for r in rows:
        table.append(
            (
                f"{r['name']} ({r['type']})",
                str(r["output_shape"]),
                r["activation"] or "-",
                r["initializer"],
                str(r["params"]),
                str(r["trainable"]),
                str(r["non_trainable"]),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(
            [c.ljust(w) for c, w in zip(line[:4], widths, strict=False)]
            + [c.rjust(w) for c, w in zip(line[4:], widths[4:], strict=True)]
        )
        for line in table
    ]
    rule = "-" * len(lines[0])
    totals_line = (
        f"Total params: {totals['total']}  Trainable: {totals['trainable']}  "
        f"Non-trainable: {totals['non_trainable']}"
    )
    return [header, rule, lines[0], rule, *lines[1:], rule, totals_line]
