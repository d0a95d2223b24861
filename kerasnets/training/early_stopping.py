"""Early stopping that survives a crash: its state is the run's history, its best weights a file.

Keras' `EarlyStopping(restore_best_weights=True)` keeps the best weights and
its patience counter in memory, so a run killed and resumed from a checkpoint
would forget both. Here the best epoch and the epochs waited since are
recomputed from the history rows the checkpoint already restores, and the
best weights are written (temporary name, then rename) to `best.weights.h5`
in the run's backup directory *before* the checkpoint of that epoch commits
its history row: whichever instant a kill comes, a resumed run sees the same
best epoch and the weights of it.

    early = BestEpoch(checkpoint, "val_accuracy", patience=3)
    callbacks = [early, checkpoint]            # before the checkpoint: see above
    model.fit(..., callbacks=callbacks)
    early.restore_best(model)                  # the best epoch's weights, for evaluation and export
"""

import os

import keras

from kerasnets import files
from kerasnets.training.errors import ConfigurationError

BEST_WEIGHTS = "best.weights.h5"


def _lower_is_better(monitor):
    return "loss" in monitor or "error" in monitor or "perplexity" in monitor


class BestEpoch(keras.callbacks.Callback):
    """Stops `fit` once `monitor` has not improved for `patience` epochs; keeps the best epoch's weights.

    Args:
        checkpoint: The run's `TrainingCheckpoint`: its `rows` are the history so far
            (restored on resume) and its `directory` holds the best weights.
        monitor: A validation metric of the history, e.g. "val_accuracy" or "val_loss";
            lower is better for losses, higher otherwise.
        patience: Epochs without improvement before stopping (≥ 1).
    """

    def __init__(self, checkpoint, monitor="val_loss", patience=3):
        super().__init__()
        if not monitor.startswith("val_"):
            raise ConfigurationError(f"early_stopping_monitor must be a validation metric (val_…), got {monitor!r}.")
        self.checkpoint = checkpoint
        self.monitor = monitor
        self.patience = int(patience)
        self.path = os.path.join(checkpoint.directory, BEST_WEIGHTS)
        self.lower_is_better = _lower_is_better(monitor)

    def _better(self, value, best):
        return best is None or (value < best if self.lower_is_better else value > best)

    def best(self, rows):
        """`(epoch, value)` of the best row in `rows` (the first of equals), or (None, None)."""
        best_epoch, best_value = None, None
        for row in rows:
            value = row.get(self.monitor)
            if value is not None and self._better(value, best_value):
                best_epoch, best_value = row["epoch"], value
        return best_epoch, best_value

    def should_stop(self, rows):
        """True when the last `patience` validated epochs of `rows` did not beat the best before them."""
        best_epoch, _ = self.best(rows)
        if best_epoch is None:
            return False
        validated_since = [row for row in rows if row["epoch"] > best_epoch and self.monitor in row]
        return len(validated_since) >= self.patience

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            if any(key.startswith("val_") for key in logs):  # validated, yet not this metric: a misspelling
                names = ", ".join(sorted(key for key in logs if key.startswith("val_")))
                raise ConfigurationError(f"early_stopping_monitor {self.monitor!r} is not logged; logged: {names}.")
            return  # not validated this epoch (`validation_freq`)
        _, best_value = self.best(self.checkpoint.rows)
        if self._better(float(logs[self.monitor]), best_value):
            with files.replacing(self.path) as staging:
                self.model.save_weights(staging, overwrite=True)
        row = {"epoch": int(epoch), self.monitor: float(logs[self.monitor])}
        if self.should_stop([*self.checkpoint.rows, row]):
            self.model.stop_training = True

    def restore_best(self, model):
        """Loads the best epoch's weights into `model`; returns `(epoch, value)`, or (None, None) when
        no epoch was validated."""
        epoch, value = self.best(self.checkpoint.rows)
        if epoch is not None:
            model.load_weights(self.path)
        return epoch, value
