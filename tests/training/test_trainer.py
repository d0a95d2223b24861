"""The training loop's records: resuming an interrupted run, time limits, settings, schedule, metrics."""

import csv
import math

import keras
import numpy as np
import pytest

from kerasnets.cli import main
from kerasnets.training import TransformerSchedule, binary_f1, matthews_correlation, perplexity, train
from kerasnets.training.trainer import TimeLimit
from kerasnets.training.errors import ConfigurationError
from tests.data import data_root_or_skip, tfds_dir

# 512 images in batches of 64: 8 steps per epoch.
SLICE = dict(train_split="train[:512]", eval_split="test[:64]", batch_size=64, steps_per_epoch=8)


class Interrupt(Exception):
    pass


class InterruptAt(keras.callbacks.Callback):
    """Raises in the middle of `epoch`, as a killed process would stop."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise Interrupt


def run_lenet(tmp_path, **kwargs):
    overrides = dict(SLICE, data_dir=tfds_dir(), checkpoint_steps=2)
    return train("lenet5-fashion_mnist", epochs=3, overrides=overrides, output=str(tmp_path), verbose=0, **kwargs)


def read_history(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_an_interrupted_run_resumes_exactly_where_it_stopped(tmp_path):
    data_root_or_skip()
    _, uninterrupted = run_lenet(tmp_path / "whole")
    with pytest.raises(Interrupt):
        run_lenet(tmp_path / "cut", extra_callbacks=[InterruptAt(epoch=1, batch=5)])
    saved = sorted(p.name for p in (tmp_path / "cut" / "backup").iterdir())
    assert saved[-3:] == ["step-00000014.json", "step-00000014.npz", "step-00000014.weights.h5"]  # every 2 steps
    assert len(saved) == 6  # the previous checkpoint is kept too
    assert not (tmp_path / "cut" / "metrics.json").exists()

    history, metrics = run_lenet(tmp_path / "cut")
    assert metrics["resumed_from_step"] == 14
    assert metrics["steps"] == uninterrupted["steps"] == 24 and metrics["epochs"] == 3
    assert history.epoch == [0, 1, 2]
    np.testing.assert_allclose(metrics["accuracy"], uninterrupted["accuracy"], atol=1e-6)
    np.testing.assert_allclose(metrics["loss"], uninterrupted["loss"], rtol=1e-5)
    whole, cut = read_history(tmp_path / "whole" / "history.csv"), read_history(tmp_path / "cut" / "history.csv")
    assert [row["epoch"] for row in cut] == ["0", "1", "2"]
    for a, b in zip(whole, cut):  # the partial epoch's running means were restored too
        for key in a:
            np.testing.assert_allclose(float(a[key]), float(b[key]), rtol=1e-5, err_msg=key)
    assert not (tmp_path / "cut" / "backup").exists()


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, capsys):
    data_root_or_skip()
    _, uninterrupted = run_lenet(tmp_path / "whole")
    with pytest.raises(Interrupt):
        run_lenet(tmp_path / "cut", extra_callbacks=[InterruptAt(epoch=1, batch=5)])
    (tmp_path / "cut" / "backup" / "step-00000014.weights.h5").write_bytes(b"")  # as a kill mid-write once did
    _, metrics = run_lenet(tmp_path / "cut")
    assert "Skipping checkpoint step-00000014.json" in capsys.readouterr().out
    assert metrics["resumed_from_step"] == 12 and metrics["steps"] == 24
    np.testing.assert_allclose(metrics["loss"], uninterrupted["loss"], rtol=1e-5)


def test_time_limit_stops_training_and_still_evaluates(tmp_path):
    data_root_or_skip()
    _, metrics = train("mlp-fashion_mnist", epochs=50, max_minutes=0.0, overrides=dict(SLICE, data_dir=tfds_dir()),
                       output=str(tmp_path), verbose=0)  # fmt: skip
    assert metrics["stopped_by_time_limit"] and metrics["steps"] == 1 and metrics["epochs"] == 1
    assert 0.0 <= metrics["accuracy"] <= 1.0


def test_unknown_names_and_bad_lengths_are_clear_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="Unknown recipe 'lenet6-mnist'. Valid recipes: mlp-fashion_mnist"):
        train("lenet6-mnist")
    with pytest.raises(ValueError, match="Unknown setting 'num_layer' for recipe gpt-tiny_shakespeare"):
        train("gpt-tiny_shakespeare", overrides={"num_layer": 2})
    with pytest.raises(ValueError, match="Give epochs or steps, not both"):
        train("lenet5-mnist", epochs=1, steps=1)
    assert main(["train", "lenet5-mnist", "--set", "widht=3"]) == 2
    assert "Unknown setting 'widht'" in capsys.readouterr().err
    assert main(["train", "lenet5-mnist", "--steps", "0"]) == 2
    assert "--steps must be at least 1" in capsys.readouterr().err
    assert main(["train", "lenet5-mnist", "--set", "optimizer='rmsprop'", "--steps", "1",
                 "--set", "train_split=train[:64]", "--set", "eval_split=test[:64]",
                 "--set", f"data_dir={tfds_dir()}", "--output", str(tmp_path)]) == 2  # fmt: skip
    assert "Unknown optimizer 'rmsprop'. Valid optimizers: adam, adamw, lamb, sgd." in capsys.readouterr().err
    assert main(["train", "list"]) == 0
    assert "gpt-tiny_shakespeare" in capsys.readouterr().out


def test_transformer_schedule_matches_the_paper():
    schedule = TransformerSchedule(d_model=512, warmup_steps=4000)
    for step in (0, 99, 3999, 4000, 20000):
        n = step + 1
        expected = 512**-0.5 * min(n**-0.5, n * 4000**-1.5)
        assert math.isclose(float(schedule(step)), expected, rel_tol=1e-5)
    peak = max(range(0, 8000, 50), key=lambda s: float(schedule(s)))
    assert abs(peak - 4000) <= 50
    assert TransformerSchedule.from_config(schedule.get_config()).get_config() == schedule.get_config()


def test_classification_metrics_against_hand_counts():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    predicted = np.array([1, 1, 0, 0, 0, 1, 0, 1])
    tp, tn, fp, fn = 3, 3, 1, 1
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert math.isclose(binary_f1(labels, predicted), 2 * precision * recall / (precision + recall))
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert math.isclose(matthews_correlation(labels, predicted), mcc)
    assert matthews_correlation(labels, np.ones_like(labels)) == 0.0  # undefined → 0
    assert math.isclose(perplexity(math.log(65.0)), 65.0)


def test_time_limit_callback_sets_stop_training():
    limit = TimeLimit(minutes=0.0)
    limit.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    limit.on_train_begin()
    limit.on_train_batch_end(0)
    assert limit.model.stop_training and limit.stopped


@pytest.mark.parametrize(
    "setting, message",
    [
        ("batch_size=0", "Setting 'batch_size' of recipe gpt-tiny_shakespeare must be at least 1, got 0."),
        ("learning_rate=x", "Setting 'learning_rate' of recipe gpt-tiny_shakespeare must be a number, got 'x'."),
        ("learning_rate=0", "Setting 'learning_rate' of recipe gpt-tiny_shakespeare must be > 0.0, got 0."),
        ("num_layers=abc", "Setting 'num_layers' of recipe gpt-tiny_shakespeare must be an integer, got 'abc'."),
        ("num_layers=-1", "Setting 'num_layers' of recipe gpt-tiny_shakespeare must be at least 1, got -1."),
        ("dropout=1.5", "Setting 'dropout' of recipe gpt-tiny_shakespeare must be ≥ 0.0 and < 1.0, got 1.5."),
        ("jit_compile='yes'", "Setting 'jit_compile' of recipe gpt-tiny_shakespeare must be true, false or 'auto'"),
    ],
)
def test_bad_settings_are_one_line_naming_the_setting(tmp_path, capsys, setting, message):
    assert main(["train", "gpt-tiny_shakespeare", "--steps", "1", "--set", setting, "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_missing_dataset_is_one_line_saying_how_to_fix_it(tmp_path, capsys):
    arguments = ["train", "gpt-tiny_shakespeare", "--steps", "1", "--set", f"data_root='{tmp_path / 'none'}'",
                 "--set", f"data_dir='{tmp_path / 'tfds'}'", "--output", str(tmp_path / "run")]  # fmt: skip
    assert main(arguments) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tiny_shakespeare" in err and "Fix: put input.txt into" in err


def test_cosine_schedule_warms_up_then_decays():
    from kerasnets.training.tasks import COMMON_DEFAULTS, make_optimizer

    config = dict(COMMON_DEFAULTS, schedule="cosine", warmup_steps=10, learning_rate=1e-3, total_steps=110)
    schedule = make_optimizer(config).learning_rate  # a variable following the schedule
    lr = make_optimizer(config)._learning_rate
    values = [float(lr(step)) for step in (0, 5, 10, 60, 110)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0], atol=1e-9)
    assert schedule is not None


def test_cosine_to_a_floor_follows_nanogpts_schedule():
    from kerasnets.training.tasks import COMMON_DEFAULTS, make_optimizer

    peak, floor, warmup, total = 1e-3, 1e-4, 100, 2000
    config = dict(COMMON_DEFAULTS, optimizer="adamw", schedule="cosine", learning_rate=peak, warmup_steps=warmup,
                  min_learning_rate=floor, total_steps=total)  # fmt: skip
    lr = make_optimizer(config)._learning_rate

    def nanogpt(it):  # nanoGPT train.py get_lr, past the warm-up
        coefficient = 0.5 * (1.0 + math.cos(math.pi * (it - warmup) / (total - warmup)))
        return floor + coefficient * (peak - floor)

    steps = (100, 101, 500, 1000, 1500, 1999, 2000, 2500)
    np.testing.assert_allclose([float(lr(s)) for s in steps], [nanogpt(min(s, total)) for s in steps], rtol=1e-5)
    assert 0.0 <= float(lr(50)) <= peak / 2 * 1.02  # linear warm-up from 0
    with pytest.raises(ConfigurationError, match="min_learning_rate"):
        make_optimizer(dict(config, min_learning_rate=2e-3))


def test_weight_decay_matrices_only_leaves_biases_and_norms_alone():
    from kerasnets.training.tasks import COMMON_DEFAULTS, make_optimizer

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.LayerNormalization()])
    config = dict(COMMON_DEFAULTS, optimizer="adamw", learning_rate=0.1, weight_decay=0.5, beta_2=0.99,
                  global_clipnorm=1.0)  # fmt: skip
    for only_matrices in (False, True):
        for v in model.trainable_variables:
            v.assign(np.ones(v.shape, "float32"))
        optimizer = make_optimizer(dict(config, weight_decay_matrices_only=only_matrices), None,
                                   model.trainable_variables)  # fmt: skip
        assert optimizer.beta_2 == 0.99 and optimizer.global_clipnorm == 1.0
        # zero gradients: Adam's step is 0, so only the decay, w ← w (1 - lr · wd), moves a weight
        optimizer.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in model.trainable_variables])
        for v in model.trainable_variables:
            decayed = len(v.shape) == 2 or not only_matrices
            np.testing.assert_allclose(v.numpy(), 0.95 if decayed else 1.0, rtol=1e-6)


def test_exporting_a_truncated_model_file_says_so(tmp_path, capsys):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(tmp_path / "model.keras")
    data = (tmp_path / "model.keras").read_bytes()
    (tmp_path / "model.keras").write_bytes(data[: len(data) // 2])
    assert main(["export", str(tmp_path / "model.keras"), "--name", "m", "--base-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "truncated or damaged" in err and "model.keras" in err


def test_validation_freq_skips_epochs_yet_reports_the_final_weights_validation(tmp_path):
    data_root_or_skip()
    overrides = dict(SLICE, data_dir=tfds_dir(), validation_freq=2)
    history, metrics = train("lenet5-fashion_mnist", epochs=3, overrides=overrides, output=str(tmp_path), verbose=0)
    rows = read_history(tmp_path / "history.csv")
    assert [bool(row["val_loss"]) for row in rows] == [False, True, False]  # validated after epoch 2 only
    # The last epoch was not validated: val_* are computed for the final weights (here the eval split).
    np.testing.assert_allclose(metrics["val_loss"], metrics["loss"], rtol=1e-5)
    assert (tmp_path / "history.png").stat().st_size > 0


def test_lamb_moves_every_variable_by_the_same_share_of_its_norm():
    from kerasnets.training.tasks import COMMON_DEFAULTS, make_optimizer

    optimizer = make_optimizer(dict(COMMON_DEFAULTS, optimizer="lamb", learning_rate=1e-2))
    rng = np.random.default_rng(0)
    small, large = (keras.Variable(scale * rng.normal(size=(8, 4)).astype("float32")) for scale in (0.02, 1.0))
    before = [np.asarray(v).copy() for v in (small, large)]
    gradients = [keras.ops.convert_to_tensor(rng.normal(size=(8, 4)).astype("float32")) for _ in range(2)]
    optimizer.apply_gradients(zip(gradients, [small, large]))
    for variable, old in zip((small, large), before):  # Adam would move both by about 1e-2 per entry
        assert np.linalg.norm(np.asarray(variable) - old) / np.linalg.norm(old) == pytest.approx(1e-2, rel=1e-3)
