"""Early stopping (`early_stopping_patience`): Keras' EarlyStopping rule, the best epoch's weights kept,
and the same result after a crash at any point, since its state is the run's history and a file."""

import types

import keras
import numpy as np
import pytest

from kerasnets.cli import main
from kerasnets.export import artifacts
from kerasnets.training import train
from kerasnets.training.early_stopping import BestEpoch
from tests.data import data_root_or_skip, tfds_dir
from tests.training.test_trainer import SLICE, Interrupt, InterruptAt, read_history


def keras_stop_epoch(values, monitor, patience):
    """The epoch after which keras.callbacks.EarlyStopping stops, fed `values` (None: not validated)."""
    mode = "min" if "loss" in monitor else "max"
    callback = keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, mode=mode, verbose=0)
    callback.set_model(types.SimpleNamespace(stop_training=False))
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {} if value is None else {monitor: value})
        if callback.model.stop_training:
            return epoch
    return None


def our_stop_epoch(values, monitor, patience, tmp_path):
    checkpoint = types.SimpleNamespace(rows=[], directory=str(tmp_path))
    callback = BestEpoch(checkpoint, monitor, patience)
    callback.set_model(types.SimpleNamespace(stop_training=False, save_weights=lambda path, overwrite: open(path, "w")))
    for epoch, value in enumerate(values):
        logs = {"loss": 1.0} if value is None else {"loss": 1.0, monitor: value}
        callback.on_epoch_end(epoch, logs)
        checkpoint.rows.append({"epoch": epoch, **logs})  # as TrainingCheckpoint does after it
        if callback.model.stop_training:
            return epoch
    return None


@pytest.mark.parametrize("monitor, values, patience", [
    ("val_loss", [1.0, 0.9, 0.95, 0.91, 0.92, 0.5], 2),
    ("val_loss", [1.0, 0.9, 0.9, 0.8], 1),  # an equal value is no improvement
    ("val_accuracy", [0.5, 0.7, 0.6, 0.65, 0.8], 2),
    ("val_accuracy", [0.5, None, 0.4, None, 0.45, 0.9], 2),  # epochs not validated (validation_freq) do not count
    ("val_loss", [3.0, 2.0, 1.0], 1),
])
def test_stops_where_keras_early_stopping_stops(monitor, values, patience, tmp_path):
    expected = keras_stop_epoch(values, monitor, patience)
    assert our_stop_epoch(values, monitor, patience, tmp_path) == expected


def run(tmp_path, name, **kwargs):
    overrides = dict(SLICE, data_dir=tfds_dir(), checkpoint_steps=2, early_stopping_patience=1,
                     learning_rate=0.03)  # too high for 512 images: the validation loss turns up after epoch 2
    return train("lenet5-fashion_mnist", epochs=6, overrides=overrides, output=str(tmp_path / name), verbose=0,
                 **kwargs)  # fmt: skip


def test_stops_after_patience_and_evaluates_the_best_epochs_weights(tmp_path):
    data_root_or_skip()
    history, metrics = run(tmp_path, "run")
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert len(losses) == metrics["epochs"] == best + 2 < 6  # one epoch of patience after the best, then stopped
    assert metrics["steps"] == 8 * metrics["epochs"]  # the steps taken, not the best epoch's
    assert metrics["early_stopping"] == {"monitor": "val_loss", "patience": 1, "best_epoch": best + 1,
                                         "val_loss": losses[best], "stopped_early": True}  # fmt: skip
    # The eval split is the validation split here: scoring the restored weights gives the best epoch's loss.
    np.testing.assert_allclose(metrics["loss"], losses[best], rtol=1e-5)
    assert metrics["val_loss"] == losses[best]
    assert len(read_history(tmp_path / "run" / "history.csv")) == metrics["epochs"]  # every epoch run is recorded
    assert not (tmp_path / "run" / "backup").exists()


def test_a_killed_run_resumes_to_the_same_best_epoch(tmp_path, monkeypatch):
    data_root_or_skip()
    _, whole = run(tmp_path, "whole")
    with pytest.raises(Interrupt):  # killed in the epoch after the best one
        run(tmp_path, "cut", extra_callbacks=[InterruptAt(epoch=whole["epochs"] - 1, batch=3)])
    _, resumed = run(tmp_path, "cut")
    assert resumed["resumed_from_step"] > 0

    # Killed after fit() stopped early, before the outputs were written: the rerun trains no further.
    def killed(*args, **kwargs):
        raise Interrupt

    with monkeypatch.context() as patch:
        patch.setattr(artifacts, "save_for_export", killed)  # the trainer imports it when it runs
        with pytest.raises(Interrupt):
            run(tmp_path, "after_fit")
    _, rerun = run(tmp_path, "after_fit")
    assert rerun["resumed_from_step"] == whole["steps"]

    for metrics in (resumed, rerun):
        assert metrics["steps"] == whole["steps"] and metrics["epochs"] == whole["epochs"]
        assert metrics["early_stopping"]["best_epoch"] == whole["early_stopping"]["best_epoch"]
        np.testing.assert_allclose(metrics["loss"], whole["loss"], rtol=1e-5)
        np.testing.assert_allclose(metrics["accuracy"], whole["accuracy"], atol=1e-6)


def test_a_monitor_that_is_not_a_logged_validation_metric_is_one_line(tmp_path, capsys):
    data_root_or_skip()
    base = ["train", "lenet5-fashion_mnist", "--epochs", "2", "--output", str(tmp_path / "run")]
    settings = [f"{key}={value!r}" for key, value in dict(SLICE, data_dir=tfds_dir()).items()]
    settings = [item for setting in settings for item in ("--set", setting)]
    for monitor, message in (("accuracy", "must be a validation metric (val_…), got 'accuracy'"),
                             ("val_acc", "'val_acc' is not logged; logged: val_accuracy, val_loss")):  # fmt: skip
        code = main([*base, *settings, "--set", "early_stopping_patience=1", "--set", f"early_stopping_monitor={monitor!r}"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and message in err, err
