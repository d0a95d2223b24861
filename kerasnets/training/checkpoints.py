"""Crash-safe checkpoints of a `fit`, from which a rerun continues exactly where the last one stopped.

A checkpoint is three files in the run's `backup/` directory, named by the
global step (the optimizer's `iterations`):

    step-00000250.weights.h5   the model's weights and the optimizer's state (`model.save_weights`)
    step-00000250.npz          what `save_weights` leaves out: the dropout seed-generator states
                               and the running metric sums of the epoch in progress
    step-00000250.json         where the run was (step, epoch, batch) and its history rows so far

each written under a temporary name and renamed; the `.json` goes last and
commits the checkpoint. The previous checkpoint is kept until a newer one is
complete, and a checkpoint that does not load is skipped for the one before.
A resumed run skips exactly the batches already taken (the training pipelines
repeat with fixed seeds, so batch k is the same batch in every run) and adds
back the partial epoch's metric sums, so it takes the uninterrupted run's
steps over the same batches and writes the same history, one row per epoch.
"""

import csv
import glob
import io
import json
import os
import re

import keras
import numpy as np

from kerasnets import files

_NAME = re.compile(r"step-(\d+)\.json$")


def _seed_states(model):
    """The state variables of the model's seed generators (dropout masks), which `save_weights` skips."""
    return [v for v in model.non_trainable_variables if "seed_generator_state" in v.path]


def write_history_csv(path, rows):
    """history.csv as Keras' `CSVLogger` writes it: `epoch`, then the logs' keys in sorted order."""
    keys = sorted({key for row in rows for key in row if key != "epoch"})
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for row in rows:
        writer.writerow([row["epoch"], *(row.get(key, "") for key in keys)])
    files.write_text(path, text.getvalue())


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves every `every_steps` optimizer steps and at every epoch end; `restore` loads the latest good one.

    Args:
        directory: Where the checkpoints go (created).
        steps_per_epoch: Batches per epoch of the run.
        every_steps: Save every this many steps within an epoch (0: only at epoch ends).
        history_path: Where to (re)write history.csv after every epoch.
        keep: Complete checkpoints kept (≥ 2, so a broken newest has a predecessor).
    """

    def __init__(self, directory, steps_per_epoch, every_steps=0, history_path=None, keep=2):
        super().__init__()
        self.directory = directory
        self.steps_per_epoch = int(steps_per_epoch)
        self.every_steps = int(every_steps or 0)
        self.history_path = history_path
        self.keep = max(2, int(keep))
        self.rows = []
        self._pending_metrics = None
        os.makedirs(directory, exist_ok=True)

    # -- where the run is -------------------------------------------------
    @property
    def step(self):
        return int(self.model.optimizer.iterations.numpy())

    def _paths(self, step):
        stem = os.path.join(self.directory, f"step-{step:08d}")
        return stem + ".weights.h5", stem + ".npz", stem + ".json"

    def checkpoints(self):
        """The committed checkpoints' steps, newest first."""
        steps = []
        for path in glob.glob(os.path.join(self.directory, "step-*.json")):
            match = _NAME.search(path)
            if match:
                steps.append(int(match.group(1)))
        return sorted(steps, reverse=True)

    # -- saving -----------------------------------------------------------
    def save(self):
        step = self.step
        weights_path, state_path, record_path = self._paths(step)
        with files.replacing(weights_path) as staging:
            self.model.save_weights(staging, overwrite=True)
        with files.replacing(state_path) as staging:
            with open(staging, "wb") as handle:
                np.savez(
                    handle,
                    *[np.asarray(v) for v in _seed_states(self.model)],
                    **{f"metric_{i}": np.asarray(v) for i, v in enumerate(self.model.metrics_variables)},
                )
        epoch, batch = divmod(step, self.steps_per_epoch)
        record = {"step": step, "epoch": epoch, "batch": batch, "history": self.rows}
        files.write_json(record_path, record, default=float)
        for old in self.checkpoints()[self.keep :]:
            for path in reversed(self._paths(old)):  # the record first: never a record without its files
                if os.path.exists(path):
                    os.remove(path)

    def on_train_batch_end(self, batch, logs=None):
        if self._pending_metrics is not None:
            # The resumed partial epoch: add the sums of its batches before the interruption. (Keras
            # builds metrics in the first step, so they cannot be set earlier; their states are sums.)
            for variable, value in zip(self.model.metrics_variables, self._pending_metrics):
                variable.assign(variable + value)
            self._pending_metrics = None
        last_of_epoch = (batch + 1) % self.steps_per_epoch == 0  # the epoch end saves it
        if self.every_steps and self.step % self.every_steps == 0 and not last_of_epoch:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": int(epoch), **{key: float(value) for key, value in (logs or {}).items()}})
        self.save()
        if self.history_path:
            write_history_csv(self.history_path, self.rows)

    # -- restoring --------------------------------------------------------
    def restore(self, model, at_most_step=None):
        """Loads the newest checkpoint (at `at_most_step` or before) that loads into `model` (compiled);
        returns its record, or None when there is none."""
        self.set_model(model)
        steps = [step for step in self.checkpoints() if at_most_step is None or step <= at_most_step]
        if not steps:
            return None
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        for step in steps:
            weights_path, state_path, record_path = self._paths(step)
            try:
                with open(record_path, encoding="utf-8") as handle:
                    record = json.load(handle)
                with np.load(state_path) as state:
                    seeds = [state[f"arr_{i}"] for i in range(len(_seed_states(model)))]
                    metric_values = [state[k] for k in sorted((k for k in state if k.startswith("metric_")),
                                                              key=lambda k: int(k.split("_")[1]))]  # fmt: skip
                model.load_weights(weights_path)
            except Exception as error:  # noqa: BLE001 - any unreadable checkpoint falls back to the previous
                print(f"Skipping checkpoint {os.path.basename(record_path)}: {type(error).__name__}: {error}")
                continue
            for variable, value in zip(_seed_states(model), seeds):
                variable.assign(value)
            self.rows = list(record["history"])
            if record["batch"]:
                self._pending_metrics = metric_values
            if self.history_path:
                write_history_csv(self.history_path, self.rows)
            return record
        return None
