"""``Network``: a Keras-style sequential model of Dense, BatchNormalization, Activation and Dropout.

This module holds the model itself: its layers, ``build`` (the weights),
``compile`` (optimizer, loss, metrics), the weights in and out
(``get_weights``/``set_weights``, ``summary``, ``count_params``,
``get_config``) and the public methods, each a thin entry into the module
that does the work:

- ``fastnn.training``: ``fit``, ``train_on_batch``, ``evaluate``,
  ``predict``, ``forward``/``backward``/``step``, and the non-finite guard;
- ``fastnn.plan`` and ``fastnn.fusion``: the buffers and bound kernel calls of
  one batch size, and the fused ops that bind them;
- ``fastnn.objectives``: the losses, metrics and target checks;
- ``fastnn.callbacks`` (and ``fastnn.hooks``): the fit callbacks and ``History``;
- ``fastnn.progress``: the progress display;
- ``fastnn.inputs``: what the data may be (array-likes, converted);
- ``fastnn.weights``: the flat parameter, gradient and statistics arrays and
  their initialization;
- ``fastnn.summary``: the table ``summary`` prints;
- ``fastnn.saving``: ``save`` and ``load``.

Inputs.  The public methods take what Keras's take: NumPy arrays of any
real dtype, lists, anything ``numpy.asarray`` reads, converted to the
network's dtype (``fastnn.inputs``).  ``fastnn.functional`` does not: it is
the kernel contract and takes only C-contiguous float32/float64 arrays of
one dtype.  ``Sequential`` is another name for ``Network``, as in Keras.

Memory.  All trainable parameters are views into one flat array and their
gradients views into another, so an optimizer step is one kernel call.  The
BatchNormalization running statistics live in a third flat array.  Every
array is allocated, filled and copied through the backend's ``memory``
module (``fastnn.backend``), so the network holds the same buffers on any
device and never calls NumPy on one.
"""

from __future__ import annotations

import functools

import numpy as np

from fastnn import guards, saving
from fastnn import optimizers as optimizers_module
from fastnn import training as training_module
from fastnn.backend import get_backend
from fastnn.fusion import Fusion, fuse
from fastnn.hooks import History
from fastnn.layers import Dense, Layer
from fastnn.objectives import resolve_loss, resolve_metrics
from fastnn.plan import PlanCache
from fastnn.saving import FILE_FORMAT, FILE_VERSION  # noqa: F401 (importable from here, as before)
from fastnn.summary import layer_rows, summary_lines
from fastnn.weights import allocate_weights

__all__ = ["Network", "Sequential", "History"]


class Network:
    """A sequential network of ``Dense``, ``BatchNormalization``, ``Activation`` and ``Dropout``.

    Also importable as ``fastnn.Sequential``, Keras's name.

    Parameters
    ----------
    layers : list of Layer, optional
        Layers to add, in order (``Network([...])``); more can follow with ``add``.
    seed : int
        Seed of every random choice: each weight tensor is drawn from its own
        Philox stream under this seed, and ``fit`` shuffles with a generator
        seeded by it and the epoch number.  Same seed, data and BLAS thread
        count: the same trained weights, bit for bit, for any
        ``NUMBA_NUM_THREADS``; ``fastnn.blas.set_blas_threads`` makes the
        BLAS thread count independent of the environment.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when it can run, else CPU).
    dtype : numpy dtype
        ``float32`` (default) or ``float64``, for parameters and computation.

    Examples
    --------
    >>> model = Network(seed=0)
    >>> model.add(Dense(3, activation="relu", input_dim=2))
    >>> model.add(BatchNormalization())
    >>> model.add(Dense(1, activation="sigmoid"))
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    """

    def __init__(self, layers=None, seed: int = 0, device: str = "cpu", dtype=np.float32):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise TypeError(f"seed must be a non-negative int, got {seed!r}")
        if dtype is None:  # np.dtype(None) is float64: say it, never assume it
            raise TypeError("dtype must be float32 or float64, got None")
        try:
            self.dtype = np.dtype(dtype)
        except TypeError as err:
            raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from err
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = int(seed)
        self._backend = get_backend(device)
        self.device = self._backend.name  # "auto" resolved to the device it chose
        self.layers: list[Layer] = []
        self.input_dim: int | None = None
        self.built = False
        self.optimizer = None
        self.loss: str | None = None
        self.metrics: list[str] = []
        self._epochs_seen = 0
        #: Set to True by a callback to end ``fit`` after the current step (Keras's flag).
        self.stop_training = False
        self._reset_plans()
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ building

    def add(self, layer: Layer) -> None:
        """Append a layer (its name defaults to ``dense``, ``dense_1``, ...).

        Adding to a built network rebuilds it, keeping the existing weights and
        resetting the optimizer state.
        """
        if not isinstance(layer, Layer):
            raise TypeError(
                "layer must be a Dense, BatchNormalization, Activation or Dropout, "
                f"got {type(layer).__name__}"
            )
        if any(layer is other for other in self.layers):
            raise ValueError("this layer object is already in the network; create a new one")
        names = {other.name for other in self.layers}
        if layer.name is None:
            count = sum(type(other) is type(layer) for other in self.layers)
            name = layer.base_name if count == 0 else f"{layer.base_name}_{count}"
            while name in names:
                count += 1
                name = f"{layer.base_name}_{count}"
            layer.name = name
        elif layer.name in names:
            raise ValueError(f"a layer named {layer.name!r} is already in the network")
        self.layers.append(layer)
        if self.built:
            kept = self.get_weights()
            self.built = False
            self._build(self.input_dim)
            for view, value in zip(self._weight_views, kept, strict=False):  # new ones last
                self._backend.memory.copy(value, view)
        elif len(self.layers) == 1 and isinstance(layer, Dense) and layer.input_dim is not None:
            self._build(layer.input_dim)

    def build(self, input_dim: int) -> None:
        """Allocate and initialize the weights for ``input_dim`` input features.

        Called by ``add`` when the first layer gives ``input_dim``, otherwise
        by the first ``fit``/``predict``/``train_on_batch`` from the data.
        """
        if isinstance(input_dim, bool) or not isinstance(input_dim, (int, np.integer)):
            raise TypeError(f"input_dim must be an int, got {type(input_dim).__name__}")
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        if self.built:
            if input_dim != self.input_dim:
                raise ValueError(
                    f"the network is built for {self.input_dim} inputs, not {input_dim}"
                )
            return
        self._build(int(input_dim))

    def _build(self, input_dim: int) -> None:
        if not self.layers:
            raise ValueError("the network has no layers; add some first")
        first = self.layers[0]
        if getattr(first, "input_dim", None) not in (None, input_dim):
            raise ValueError(
                f"the first layer expects input_dim={first.input_dim}, got {input_dim} features"
            )
        layout = allocate_weights(
            self.layers, input_dim, self.dtype, self._backend.memory, self.seed, self._random_step
        )
        self._params, self._grads = layout.params, layout.grads
        self._state, self._state_backup = layout.state, layout.state_backup
        self._weight_views, self._weight_names = layout.views, layout.names
        self._grad_views, self._layer_weights = layout.grad_views, layout.layer_weights
        self.input_dim = input_dim
        self.output_dim = layout.output_dim
        self.built = True
        self._reset_plans()
        if self.optimizer is not None:
            self.optimizer.build(layout.n_trainable, self.dtype, self._backend)

    def _random_step(self) -> int:
        """The step in a Dropout mask's counter: the optimizer's update count (0 uncompiled)."""
        return 0 if self.optimizer is None else self.optimizer.iterations

    def _require_built(self) -> None:
        if not self.built:
            raise ValueError(
                "the network is not built: give input_dim to the first layer, call "
                "build(input_dim), or call fit/predict on data first"
            )

    # ----------------------------------------------------------------- compiling

    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics, as Keras's ``compile``.

        Parameters
        ----------
        optimizer : str or Optimizer
            ``"sgd"``, ``"adam"``, ``"rmsprop"`` (Keras defaults) or an instance
            from ``fastnn.optimizers``.
        loss : str
            ``"cross_entropy"`` (alias ``"sparse_categorical_crossentropy"``;
            class indices; the last layer's activation must be softmax or
            None, then the outputs are logits), ``"categorical_crossentropy"``
            (the same loss with one-hot targets, turned into class indices
            once per call; soft labels are refused), ``"binary_crossentropy"``
            (targets in [0, 1]; last activation sigmoid or None) or ``"mse"``
            (alias ``"mean_squared_error"``).
        metrics : list of str, optional
            ``["accuracy"]`` (with a cross-entropy loss) or nothing.

        Raises
        ------
        TypeError, ValueError
            An unknown optimizer, loss or metric, or a loss that does not fit
            the last layer's activation.
        """
        loss = resolve_loss(loss)
        metrics = resolve_metrics(metrics, loss)
        optimizer = optimizers_module.get(optimizer)
        if self.built:
            self._make_ops(loss)  # a loss that does not fit the network raises here
            optimizer.build(self._params.shape[0], self.dtype, self._backend)
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self._reset_plans()

    def _reset_plans(self) -> None:
        """Forget the plans; they are made again, from the current layers and loss."""
        self._plans = None
        if self.built:
            args = (self.layers, self._layer_weights, self.loss, self.output_dim)
            fusion = functools.partial(fuse, *args)
            self._plans = PlanCache(self._backend, fusion, self.loss, self.input_dim, self.dtype)
        self._last_forward = None
        self._has_gradients = False

    def _make_ops(self, loss: str | None) -> Fusion:
        """The layers as fused kernel ops for ``loss`` (``fastnn.fusion.fuse``)."""
        return fuse(self.layers, self._layer_weights, loss, self.output_dim)

    # ------------------------------------------------------------------ training

    def fit(
        self,
        x,
        y,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: tuple | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        verbose: int = 1,
        callbacks: list | None = None,
    ) -> History:
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches, as Keras's ``fit``.

        Parameters
        ----------
        x : array_like, shape (n, input_dim)
            A NumPy array of any real dtype, a list of rows, or anything
            ``numpy.asarray`` reads; converted to the network's dtype as
            Keras converts to its ``floatx`` (``fastnn.inputs``).
        y : array_like
            Targets, see ``compile`` for each loss.
        epochs : int
            Passes over the data.
        batch_size : int
            Rows per step; the last step of an epoch takes the remainder,
            even a single row (with BatchNormalization, as in Keras, that row
            is normalized to ``beta`` and gives the layers below no gradient).
        validation_data : (x_val, y_val), optional
            Evaluated after every epoch (``val_loss``, ``val_<metric>``).
        validation_split : float
            Fraction of the data held out for validation instead of
            ``validation_data``, by Keras 3's rule: the last
            ``n - floor(n * (1 - validation_split))`` rows, before shuffling.
        shuffle : bool
            Shuffle the rows every epoch, with a generator seeded by the
            network's seed and the epoch count.
        verbose : int or "auto"
            0 silent; 1 (``"auto"``) a progress bar on an interactive
            terminal and one line per epoch otherwise; 2 one line per epoch.
        callbacks : list of fastnn.callbacks.Callback, optional
            Called around epochs and steps, as Keras's (``EarlyStopping``,
            ``ModelCheckpoint``, ``LearningRateScheduler``,
            ``ReduceLROnPlateau``, or your own ``Callback``).

        Returns
        -------
        History
            ``history.history["loss"]`` etc., one value per epoch (the loss is
            the mean over the epoch's samples, in training mode).

        Raises
        ------
        TypeError, ValueError
            Inputs whose type, shape or label range do not fit the network,
            or a ``validation_split`` that leaves no training or no
            validation rows.
        FloatingPointError
            The loss became NaN or Inf; the message names the epoch and step,
            and the network is left as it was before that step.
        """
        return training_module.fit(
            self,
            x,
            y,
            epochs,
            batch_size,
            validation_data,
            validation_split,
            shuffle,
            verbose,
            callbacks,
        )

    def train_on_batch(self, x, y):
        """One training step on one batch, as Keras's ``train_on_batch``.

        ``x`` and ``y`` are array-likes as for ``fit``.  With
        BatchNormalization a batch of one row is refused (ValueError).

        Returns
        -------
        float or list of float
            The loss before the update; ``[loss, metric, ...]`` when the
            network was compiled with metrics.

        Raises
        ------
        FloatingPointError
            The loss is NaN or Inf; nothing was updated.
        """
        return training_module.train_on_batch(self, x, y)

    def evaluate(self, x, y, batch_size: int = 32, verbose: int = 0):
        """Loss (and metrics) over ``(x, y)`` in inference mode, as Keras's ``evaluate``.

        ``x`` and ``y`` are array-likes as for ``fit``; ``verbose=1`` prints
        the values.

        Returns
        -------
        float or list of float
            The mean loss over all samples; ``[loss, metric, ...]`` with metrics.
        """
        return training_module.evaluate(self, x, y, batch_size, verbose)

    # ----------------------------------------------------------------- inference

    def predict(self, x, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """Outputs for ``x`` in inference mode (BatchNormalization uses its moving statistics).

        A final softmax or sigmoid is applied, so a classifier returns
        probabilities even when its loss works on logits.  ``x`` is an
        array-like as for ``fit``.  ``verbose=1`` (or ``"auto"``) draws a
        progress bar over the batches on an interactive terminal and prints
        one closing line elsewhere; 2 prints only that line.

        Returns
        -------
        ndarray, shape (n, output_dim), the network's dtype
        """
        return training_module.predict(self, x, batch_size, verbose)

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """``predict`` on one batch: all of ``x`` in one pass."""
        return self(x)

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Outputs for ``x`` in one pass.

        With ``training=True`` BatchNormalization uses the batch statistics
        and updates its moving statistics, as a Keras layer called in training
        mode does.
        """
        return self.forward(x, training=training)

    # ---------------------------------------------- forward / backward / step

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Outputs for ``x`` in one pass; with ``training=True`` it prepares ``backward``.

        Returns a new array (the output activation applied, as ``predict``).
        """
        return training_module.forward(self, x, training)

    def backward(self, y: np.ndarray) -> float:
        """Loss of the last ``forward(x, training=True)`` against ``y``, and all gradients.

        Returns
        -------
        float
            The loss.  The gradients are then ready for ``step``.

        Raises
        ------
        FloatingPointError
            The loss is NaN or Inf (no gradient is computed).
        """
        return training_module.backward(self, y)

    def step(self) -> None:
        """Apply the optimizer once to the gradients of the last ``backward``."""
        training_module.step(self)

    def get_gradients(self) -> list[np.ndarray]:
        """Copies of the last ``backward``'s gradients, one per trainable weight, in Keras order."""
        self._require_built()
        return [self._backend.memory.to_host(view) for view in self._grad_views]

    # ------------------------------------------------------------------- weights

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight in Keras order.

        Per Dense: kernel ``(n_in, n_out)``, bias; per BatchNormalization:
        gamma, beta, moving mean, moving variance (each only when present).
        """
        self._require_built()
        return [self._backend.memory.to_host(view) for view in self._weight_views]

    def set_weights(self, weights) -> None:
        """Set every weight from a list in ``get_weights`` order (cast to the network's dtype)."""
        self._require_built()
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights must be a list of arrays, got {type(weights).__name__}")
        if len(weights) != len(self._weight_views):
            raise ValueError(
                f"expected {len(self._weight_views)} weight arrays, got {len(weights)}"
            )
        checked = []
        for name, view, value in zip(self._weight_names, self._weight_views, weights, strict=True):
            value = np.asarray(value)
            if value.dtype.kind not in "iuf":
                raise TypeError(f"weight {name} must hold real numbers, got dtype {value.dtype}")
            if value.shape != view.shape:
                raise ValueError(f"weight {name} must have shape {view.shape}, got {value.shape}")
            if not np.isfinite(value).all():
                raise ValueError(f"weight {name} must be finite")
            guards.check_moving_variance(name, value)
            checked.append(np.ascontiguousarray(value, dtype=self.dtype))
        for view, value in zip(self._weight_views, checked, strict=True):
            self._backend.memory.copy(value, view)

    def count_params(self) -> int:
        """Number of weights, trainable and not."""
        self._require_built()
        return int(self._params.size + self._state.size)

    def summary(self, print_fn=print) -> dict:
        """Print one row per layer and the totals; return them.

        Returns
        -------
        dict
            ``rows`` (per layer: ``name``, ``type``, ``output_shape``,
            ``activation``, ``initializer``, ``params`` (Keras's "Param #"),
            ``trainable``, ``non_trainable``), ``trainable``,
            ``non_trainable`` and ``total``.
        """
        self._require_built()
        rows = layer_rows(self.layers, self.input_dim)
        totals = {
            "trainable": int(self._params.size),
            "non_trainable": int(self._state.size),
            "total": int(self._params.size + self._state.size),
        }
        header = (
            f"Network (input_dim={self.input_dim}, dtype={self.dtype}, "
            f"device={self._backend.name}, seed={self.seed})"
        )
        for line in summary_lines(header, rows, totals):
            print_fn(line)
        return {"rows": rows, **totals}

    # ----------------------------------------------------------------- save/load

    def get_config(self) -> dict:
        """Architecture, seed, dtype and device (JSON-serializable)."""
        return {
            "seed": self.seed,
            "dtype": str(self.dtype),
            "device": self.device,
            "input_dim": self.input_dim,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    def save(self, path) -> None:
        """Write architecture, weights, optimizer state and seed to one ``.npz`` file, atomically.

        The file is written under a temporary name in the same directory and
        moved over ``path`` only once complete, so a crash mid-save never
        leaves a partial file at ``path`` (an existing file stays intact).

        Raises
        ------
        ValueError
            ``path`` does not end with ``.npz``: fastnn writes only that
            format, and never under another name.  ``"model.h5"``,
            ``"model.keras"`` and ``"model.hdf5"`` (Keras's formats) are
            refused, and so is ``"model"`` with no extension (NumPy's
            ``savez`` would append ``.npz``; fastnn writes exactly the path it
            is given, so it asks for the full name, as Keras 3 does).
        """
        self._require_built()
        saving.save(self, path)

    @classmethod
    def load(cls, path, device: str | None = None) -> Network:
        """Read a network written by ``save``; ``device`` overrides the saved one.

        Raises
        ------
        FileNotFoundError
            No file at ``path``.
        ValueError
            The file is not a fastnn network file, is truncated or corrupt, or
            its arrays do not fit its architecture.
        """
        return saving.load(cls, path, device)


#: Keras's name for a sequential model: ``Sequential([...])`` is ``Network([...])``.
Sequential = Network
