"""The fit callback protocol: ``Callback`` (the hooks), ``CallbackList`` (how ``fit`` calls them).

``History``, the callback every ``fit`` adds last and returns, lives here
too; the Keras callbacks built on these are in ``fastnn.callbacks``, which
re-exports all three names.
"""

from __future__ import annotations

__all__ = ["Callback", "CallbackList", "History"]

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end")


class Callback:
    """Base class of fit callbacks: every hook does nothing; override the ones you need.

    Attributes
    ----------
    model : Network
        The network being trained (set by ``fit`` through ``set_model``).
    params : dict
        ``epochs``, ``steps`` (per epoch), ``batch_size`` and ``verbose``.
    """

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        """Called by ``fit`` before training, with the network."""
        self.model = model

    def set_params(self, params: dict) -> None:
        """Called by ``fit`` before training, with its settings."""
        self.params = params

    def on_train_begin(self, logs=None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs=None) -> None:
        """After the last epoch (or the epoch in which training was stopped)."""

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        """Before epoch ``epoch``'s first step."""

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        """After epoch ``epoch`` and its validation; ``logs`` may be extended in place."""

    def on_train_batch_begin(self, batch: int, logs=None) -> None:
        """Before step ``batch`` (0-based within the epoch)."""

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        """After step ``batch``; ``logs`` holds the epoch's running ``loss`` and metrics."""


class CallbackList:
    """The callbacks of one ``fit``, called in order; ``History`` last.

    Parameters
    ----------
    callbacks : list of Callback
    model : Network
    params : dict
    """

    def __init__(self, callbacks, model, params: dict):
        if callbacks is None:
            callbacks = []
        if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"callbacks must be a list of Callback, got {callbacks!r}")
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    "callbacks must be instances of fastnn.callbacks.Callback, "
                    f"got {type(callback).__name__}"
                )
        self.callbacks = []
        self.model, self.params = model, params
        #: Whether any callback overrides a batch hook (else fit skips them).
        self.batch_hooks = False
        for callback in callbacks:
            self.append(callback)

    def append(self, callback: Callback) -> None:
        """Add ``callback`` last, giving it the model and the params."""
        callback.set_model(self.model)
        callback.set_params(self.params)
        self.callbacks.append(callback)
        self.batch_hooks = self.batch_hooks or any(
            getattr(type(callback), hook) is not getattr(Callback, hook) for hook in _BATCH_HOOKS
        )

    def on_train_begin(self, logs=None) -> None:
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs=None) -> None:
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch: int, logs=None) -> None:
        for callback in self.callbacks:
            callback.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs)


class History(Callback):
    """What ``fit`` returns: per-epoch logs, as Keras's ``History`` callback records them.

    Attributes
    ----------
    history : dict[str, list[float]]
        ``"loss"`` and each metric, plus ``"val_loss"`` and ``"val_<metric>"``
        with validation data (and ``"learning_rate"`` when a learning-rate
        callback adds it), one value per epoch.
    epoch : list[int]
        The epoch numbers (0-based, counted over every ``fit`` of the network).
    params : dict
        ``epochs``, ``steps``, ``batch_size`` and ``verbose`` of the ``fit`` call.
    """

    def __init__(self, params: dict | None = None):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        if params is not None:
            self.params = params

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.append(epoch, logs or {})

    def append(self, epoch: int, logs: dict) -> None:
        """Record epoch ``epoch``'s logs (one value per key)."""
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"
