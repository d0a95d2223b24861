"""`kerasnets.train(recipe, …)`: compile/fit a recipe on real data, resumably, with its records.

    history, metrics = kerasnets.train("lenet5-fashion_mnist", epochs=2, output="runs/lenet5")
    kerasnets train gpt-tiny_shakespeare --steps 2000 --set num_layers=4 --output runs/gpt

Every run writes into `output` (default `runs/<recipe>`):

    metrics.json     held-out metrics under Keras' names (accuracy, loss, bleu,
                     perplexity, …) plus parameters, wall_seconds, steps, epochs
    history.csv      one row per epoch (kept across resumed runs), and history.png
    logs/            TensorBoard logs (`tensorboard --logdir runs/…/logs`)
    backup/          crash-safe checkpoints while training (`checkpoints.py`): rerun
                     the same command after an interruption, at any instant, and it
                     continues with exactly the steps and batches it had left;
                     deleted once the outputs below are written
    model.keras, export.json   the trained model and what `kerasnets export` needs

Every file is written under a temporary name and renamed (`kerasnets.files`).
"""

import contextlib
import math
import os
import shutil
import time

import keras
import tensorflow as tf

from kerasnets import files
from kerasnets.models.dtype_policy import global_dtype_policy
from kerasnets.training import distribution, tasks
from kerasnets.training.checkpoints import TrainingCheckpoint
from kerasnets.training.early_stopping import BestEpoch
from kerasnets.training.errors import ConfigurationError
from kerasnets.training.recipes import get_recipe

DEFAULT_OUTPUT_ROOT = "runs"
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


class TimeLimit(keras.callbacks.Callback):
    """Stops training once `minutes` have passed (checked after every batch)."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds = float(minutes) * 60.0
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start > self.seconds:
            self.model.stop_training = True
            self.stopped = True


# Settings whose default is a positive count but for which 0 means "none".
_ZERO_ALLOWED = {"checkpoint_steps", "pretraining_steps", "warmup_steps", "early_stopping_patience"}
_NUMBER_RANGES = {  # name: (lowest, highest, lowest included, highest included)
    "learning_rate": (0.0, None, False, False),
    "pretraining_learning_rate": (0.0, None, False, False),
    "weight_decay": (0.0, None, True, False),
    "beta_2": (0.0, 1.0, True, False),
    "global_clipnorm": (0.0, None, True, False),
    "min_learning_rate": (0.0, None, True, False),
    "dropout": (0.0, 1.0, True, False),
    "max_norm": (0.0, None, False, False),
    "mask_rate": (0.0, 1.0, False, False),
    "next_sentence_rate": (0.0, 1.0, True, True),
}


def check_setting(recipe, key, value, default):
    """A `--set` value of the type (and in the range) the setting takes, or a one-line ConfigurationError."""

    def fail(expected):
        raise ConfigurationError(f"Setting '{key}' of recipe {recipe.name} must be {expected}, got {value!r}.")

    if key == "jit_compile":
        if value not in (True, False, "auto"):
            fail("true, false or 'auto'")
        return
    if default is None or value is None:
        return
    if isinstance(default, bool):
        if not isinstance(value, bool):
            fail("true or false")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
        if default >= 1 and key not in _ZERO_ALLOWED and value < 1:
            fail("at least 1")
        if value < 0:
            fail("at least 0")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
    elif isinstance(default, str):
        if not isinstance(value, str):
            fail("a string")
    elif isinstance(default, (tuple, list)) and not isinstance(value, (tuple, list)):
        fail("a list, e.g. (32, 64)")
    if key in _NUMBER_RANGES and isinstance(value, (int, float)):
        low, high, low_included, high_included = _NUMBER_RANGES[key]
        above = high is not None and (value > high or (value == high and not high_included))
        if value < low or (value == low and not low_included) or above:
            fail(f"{'≥' if low_included else '>'} {low}"
                 + (f" and {'≤' if high_included else '<'} {high}" if high is not None else ""))


def resolve_config(recipe, overrides=None, batch_size=None):
    """The recipe's configuration with `overrides` applied; unknown keys and ill-typed values are errors."""
    config = recipe.defaults()
    for key, value in (overrides or {}).items():
        if key not in config:
            raise ConfigurationError(
                f"Unknown setting '{key}' for recipe {recipe.name}. Valid settings: {', '.join(sorted(config))}."
            )
        check_setting(recipe, key, value, config[key])
        config[key] = value
    if batch_size is not None:
        config["batch_size"] = int(batch_size)
    return config


def plot_history(csv_path, png_path, title):
    """history.png: every metric per epoch, training and validation side by side."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    names = [key for key in rows[0] if key != "epoch" and not key.startswith("val_") and key != "learning_rate"]
    figure, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)

    def curve(name):  # epochs without the value (e.g. not validated: `validation_freq`) are left out
        points = [(int(row["epoch"]) + 1, float(row[name])) for row in rows if row.get(name) not in (None, "")]
        return [epoch for epoch, _ in points], [value for _, value in points]

    for axis, name in zip(axes[0], names):
        axis.plot(*curve(name), marker="o", label="train")
        if any(row.get(f"val_{name}") for row in rows):
            axis.plot(*curve(f"val_{name}"), marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)


def train(
    recipe,
    *,
    epochs=None,
    steps=None,
    batch_size=None,
    max_minutes=None,
    overrides=None,
    output=None,
    verbose="auto",
    save_model=True,
    extra_callbacks=None,
    strategy=None,
    mixed_precision=None,
):
    """Train a recipe; returns `(history, metrics)`.

    Args:
        recipe: A recipe name, e.g. "lenet5-fashion_mnist" (see `kerasnets.training.RECIPES`).
        epochs: Passes over the training split (default: the recipe's).
        steps: Optimizer steps instead of epochs, rounded up to whole epochs of
            `steps_per_epoch` (the recipe's, or one pass, at most `steps`).
        batch_size: Overrides the recipe's batch size.
        max_minutes: Stop training after this many minutes (then evaluate as usual).
        overrides: `{key: value}` for any builder, pipeline or optimizer setting.
        output: The run directory (default `runs/<recipe>`).
        verbose: Keras' `fit` verbosity (progress bar by default).
        save_model: Also write `model.keras` + `export.json`.
        extra_callbacks: More Keras callbacks for `fit`.
        strategy: "default", "mirrored", "multi_worker" (reads `TF_CONFIG`), "tpu",
            or a `tf.distribute.Strategy` (see `kerasnets.training.distribution`).
        mixed_precision: "float32", "mixed_float16" (with loss scaling) or
            "mixed_bfloat16"; default the recipe's `mixed_precision` setting.

    Returns:
        `(keras.callbacks.History, metrics dict)`; the metrics are also in
        `<output>/metrics.json`.
    """
    from kerasnets.export.artifacts import save_for_export

    started = time.monotonic()
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if epochs is not None and steps is not None:
        raise ConfigurationError("Give epochs or steps, not both.")
    for name, value in (("epochs", epochs), ("steps", steps)):
        if value is not None and int(value) < 1:
            raise ConfigurationError(f"{name} must be at least 1, got {value}.")
    config = resolve_config(recipe, overrides, batch_size)
    if mixed_precision is not None:
        check_setting(recipe, "mixed_precision", mixed_precision, "float32")
        config["mixed_precision"] = mixed_precision
    if config["mixed_precision"] not in PRECISIONS:
        raise ConfigurationError(
            f"Unknown mixed precision '{config['mixed_precision']}'. Valid: {', '.join(PRECISIONS)}."
        )
    # First: MultiWorkerMirroredStrategy must exist before the process runs other TensorFlow ops.
    strategy = distribution.make_strategy(strategy)
    distributed = strategy is not tf.distribute.get_strategy()
    multi_worker = distribution.is_multi_worker(strategy)
    chief = distribution.is_chief(strategy)
    # Replicas on CPUs (logical CPU devices, workers without GPUs) train with our own loop, which
    # compiles each replica's forward and backward pass with XLA where the recipe uses XLA: XLA
    # cannot compile the whole step there (distribution.compiled_gradient_step).
    cpu_replicas = distributed and not tf.config.list_logical_devices("GPU")
    output = output or os.path.join(DEFAULT_OUTPUT_ROOT, recipe.name)
    os.makedirs(output, exist_ok=True)
    keras.utils.set_random_seed(int(config["seed"]))

    task = tasks.TASKS[recipe.task](recipe, config)
    compile_gradients = cpu_replicas and task.uses_xla()
    if cpu_replicas:
        config["jit_compile"] = False  # Keras' own steps (evaluate, predict) then run without XLA
    with _as_configuration_error(f"Cannot load the data of {recipe.name}"):
        train_data, validation_data, batches_per_pass = task.datasets()
    steps_per_epoch = int(config["steps_per_epoch"] or batches_per_pass)
    if steps is None and epochs is None:
        steps = recipe.steps
        epochs = None if steps else recipe.epochs
    if steps is not None:
        steps_per_epoch = min(steps_per_epoch, int(steps))
        epochs = math.ceil(int(steps) / steps_per_epoch)
    epochs = int(epochs or 1)
    config["total_steps"] = epochs * steps_per_epoch  # for decaying learning-rate schedules

    def build():
        # Seeded again: preparing a tfds dataset the first time in a process draws Python randoms.
        keras.utils.set_random_seed(int(config["seed"]))
        policy = global_dtype_policy(config["mixed_precision"])
        with _as_configuration_error(f"Cannot build {recipe.builder} with these settings"), policy:
            model = task.build()
            task.compile(model)
        return model

    with strategy.scope():
        model = build()

    worker = distribution.task_name(strategy)
    backup_root = os.path.join(output, "backup")
    backup = backup_root if worker is None else os.path.join(backup_root, worker)  # every worker keeps its own
    history_csv = os.path.join(output, "history.csv")
    checkpoint = TrainingCheckpoint(backup, steps_per_epoch, every_steps=config["checkpoint_steps"],
                                    history_path=history_csv if chief else None)  # fmt: skip
    if chief:
        files.write_json(os.path.join(output, "config.json"),
                         {"recipe": recipe.name, "epochs": epochs, "steps_per_epoch": steps_per_epoch,
                          "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
                          "config": config}, default=str)  # fmt: skip
    common_step = distribution.agree_on_step(strategy, checkpoint.checkpoints())
    with strategy.scope():  # the optimizer's variables are the strategy's
        record = checkpoint.restore(model, at_most_step=common_step)
    if record is None and chief and os.path.exists(history_csv):
        os.remove(history_csv)  # rows of an earlier, finished run in the same directory
    resumed_from_step = record["step"] if record else 0
    if resumed_from_step:
        print(f"Resuming {recipe.name} from step {resumed_from_step} (epoch {record['epoch'] + 1}) of {backup}")

    # Early stopping goes before the checkpoint, so the best weights are on disk before the
    # checkpoint commits the epoch's history row (see early_stopping.py).
    early = None
    if int(config["early_stopping_patience"]):
        with _as_configuration_error("Cannot stop early"):
            early = BestEpoch(checkpoint, config["early_stopping_monitor"], int(config["early_stopping_patience"]))
    callbacks = [early, checkpoint] if early else [checkpoint]
    if chief:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(output, "logs")))
    callbacks += list(extra_callbacks or [])
    limit = None
    if max_minutes is not None:
        limit = TimeLimit(max_minutes)
        callbacks.append(limit)

    def fit(first_epoch, last_epoch, steps, skip, data):
        """Epochs `first_epoch … last_epoch-1` of `steps` batches, from batch `skip` of the repeated pipeline."""
        data = data.skip(skip) if skip else data
        arguments = dict(initial_epoch=first_epoch, epochs=last_epoch, steps_per_epoch=steps,
                         validation_data=validation_data, validation_freq=int(config["validation_freq"]),
                         callbacks=callbacks, verbose=verbose)  # fmt: skip
        if multi_worker or cpu_replicas:
            return distribution.fit_distributed(model, strategy, data, compile_gradients=compile_gradients,
                                                checkpoint_steps=int(config["checkpoint_steps"]), **arguments)  # fmt: skip
        return model.fit(distribution.shard_by_data(data) if distributed else data, **arguments)

    epoch, batch = divmod(resumed_from_step, steps_per_epoch)
    if early and early.should_stop(checkpoint.rows):  # a rerun of a run that had already stopped early
        epoch = epochs
    if batch and epoch < epochs:  # finish the interrupted epoch, then the rest as usual
        fit(epoch, epoch + 1, steps_per_epoch - batch, resumed_from_step, train_data)
        epoch += 1
    if epoch < epochs and not getattr(model, "stop_training", False):
        fit(epoch, epochs, steps_per_epoch, epoch * steps_per_epoch, train_data)
    training_seconds = time.monotonic() - started
    history = keras.callbacks.History()
    history.epoch = [row["epoch"] for row in checkpoint.rows]
    history.history = {key: [row[key] for row in checkpoint.rows if key in row]
                       for key in dict.fromkeys(k for row in checkpoint.rows for k in row if k != "epoch")}  # fmt: skip

    metrics = {"recipe": recipe.name}
    steps_taken = int(model.optimizer.iterations.numpy())  # before the best weights bring back their step
    if early:  # evaluate (and export) the best epoch's weights, as restore_best_weights would
        best_epoch, best_value = early.restore_best(model)
    final = model
    if multi_worker:  # Keras' evaluate fails under the strategy too: score (and save) a plain copy
        final = build()
        final.set_weights(model.get_weights())
    if chief:
        metrics.update(task.evaluate(final))
    last_row = checkpoint.rows[-1] if checkpoint.rows else {}
    if early and best_epoch is not None:
        last_row = next(row for row in checkpoint.rows if row["epoch"] == best_epoch)
        metrics["early_stopping"] = {
            "monitor": early.monitor, "patience": early.patience, "best_epoch": best_epoch + 1,
            early.monitor: best_value, "stopped_early": early.should_stop(checkpoint.rows),
        }  # fmt: skip
    if chief and validation_data is not None and not any(key.startswith("val_") for key in last_row):
        # `validation_freq` skipped the last epoch: the reported val_* are of the final weights all the same.
        scores = distribution.evaluate_locally(final, validation_data) if multi_worker else final.evaluate(
            validation_data, verbose=0, return_dict=True
        )
        metrics.update({f"val_{key}": float(value) for key, value in scores.items()})
    else:
        metrics.update({key: float(value) for key, value in last_row.items() if key.startswith("val_")})
    metrics.update(
        parameters=int(model.count_params()),
        steps=steps_taken,
        epochs=len(checkpoint.rows),
        batch_size=int(config["batch_size"]),
        replicas=int(strategy.num_replicas_in_sync),
        mixed_precision=config["mixed_precision"],
        training_seconds=round(training_seconds, 1),
        wall_seconds=round(time.monotonic() - started, 1),
        stopped_by_time_limit=bool(limit and limit.stopped),
        resumed_from_step=resumed_from_step,
    )
    if recipe.target and chief:
        name, comparison, value = recipe.target
        reached = metrics.get(name)
        metrics["target"] = f"{name} {comparison} {value}"
        if reached is not None:
            metrics["target_reached"] = bool(reached >= value if comparison == ">=" else reached <= value)
    def remove_backup():
        shutil.rmtree(backup, ignore_errors=True)
        if worker is not None and os.path.isdir(backup_root) and not os.listdir(backup_root):
            os.rmdir(backup_root)

    if not chief:  # only the chief writes the run's outputs
        remove_backup()
        return history, metrics
    if checkpoint.rows:
        plot_history(history_csv, os.path.join(output, "history.png"), recipe.name)
    if save_model:
        save_for_export(output, final, **{k: v for k, v in task.export_options.items() if v is not None})
    task.save_outputs(output, final)
    files.write_json(os.path.join(output, "metrics.json"), metrics)  # last: its presence means the run finished
    remove_backup()  # only now that every output is written
    return history, metrics


@contextlib.contextmanager
def _as_configuration_error(context):
    """Settings that pass the type checks yet cannot be built (or data that is not there) as one line."""
    try:
        yield
    except ConfigurationError:
        raise
    except FileNotFoundError as error:  # a missing dataset: its message says where it looked and how to fix it
        lines = [line.strip() for line in str(error).strip().splitlines()]
        fix = next((line for line in lines if line.startswith("Fix:")), None)
        raise ConfigurationError(" ".join(line for line in (lines[0], fix) if line)) from None
    except (ValueError, TypeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigurationError(f"{context}: {first_line}") from None
