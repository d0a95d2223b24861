"""`kerasnets train` killed with SIGKILL — mid-run, during a checkpoint save, after `fit()` — then rerun
with the same command ends exactly as the uninterrupted run: same steps, history and metrics."""

import csv
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.data import data_root_or_skip, tfds_dir

SETTINGS = ["train_split='train[:512]'", "eval_split='test[:64]'", "batch_size=64", "steps_per_epoch=8",
            "checkpoint_steps=2"]  # fmt: skip

# Run the CLI in a fresh process, optionally with a booby trap that kills it with SIGKILL.
LAUNCHER = """
import os, signal, sys
trap = os.environ.get("KILL_TRAP")
if trap == "during_save":  # between writing a checkpoint's weights and renaming them into place
    replace, seen = os.replace, []
    def killing_replace(source, target):
        if "backup" in str(target) and str(target).endswith(".weights.h5"):
            seen.append(target)
            if len(seen) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        return replace(source, target)
    os.replace = killing_replace
if trap == "after_fit":  # training done, outputs not yet written
    import kerasnets.export.artifacts as artifacts
    artifacts.save_for_export = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
from kerasnets.cli import main
sys.exit(main(sys.argv[1:]))
"""


def command(output):
    settings = [item for setting in SETTINGS + [f"data_dir='{tfds_dir()}'"] for item in ("--set", setting)]
    return [sys.executable, "-c", LAUNCHER, "train", "lenet5-fashion_mnist", "--epochs", "3", *settings,
            "--output", str(output)]  # fmt: skip


def run(output, trap=None, kill_after_first_checkpoint=None):
    env = dict(os.environ, KILL_TRAP=trap or "")
    process = subprocess.Popen(command(output), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if kill_after_first_checkpoint is not None:
        deadline = time.monotonic() + 240
        while not glob.glob(str(output / "backup" / "*.json")) and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(kill_after_first_checkpoint)
        process.send_signal(signal.SIGKILL)
    out, _ = process.communicate(timeout=300)
    return process.returncode, out


def results(output):
    with open(output / "metrics.json") as handle:
        metrics = json.load(handle)
    with open(output / "history.csv") as handle:
        history = list(csv.DictReader(handle))
    return metrics, history


def test_every_kill_resumes_to_the_uninterrupted_result(tmp_path):
    data_root_or_skip()
    code, out = run(tmp_path / "whole")
    assert code == 0, out
    expected, expected_history = results(tmp_path / "whole")

    cut = tmp_path / "cut"
    code, _ = run(cut, trap="during_save")
    assert code == -signal.SIGKILL
    assert not (cut / "metrics.json").exists()
    leftovers = [p for p in os.listdir(cut / "backup") if ".partial" in p]
    assert leftovers  # the half-written save was left under its temporary name…
    assert len(glob.glob(str(cut / "backup" / "*.json"))) == 2  # …and the two checkpoints before it are whole

    code, out = run(cut, trap="after_fit")
    assert code == -signal.SIGKILL, out
    assert "Resuming lenet5-fashion_mnist from step 4" in out
    assert (cut / "backup").exists() and not (cut / "metrics.json").exists()  # the backup outlives the outputs' loss

    code, out = run(cut)  # the finished training is not repeated
    assert code == 0, out
    assert "Resuming lenet5-fashion_mnist from step 24" in out and "/step" not in out
    metrics, history = results(cut)
    for key in ("steps", "epochs", "parameters"):
        assert metrics[key] == expected[key]
    for key in ("accuracy", "loss", "val_accuracy", "val_loss"):
        np.testing.assert_allclose(metrics[key], expected[key], rtol=1e-5, err_msg=key)
    assert [row["epoch"] for row in history] == ["0", "1", "2"]
    for got, want in zip(history, expected_history):
        for key in want:
            np.testing.assert_allclose(float(got[key]), float(want[key]), rtol=1e-5, err_msg=key)
    assert not (cut / "backup").exists()

    # Killed at random moments after its first checkpoint, twice, then left to finish.
    rng = random.Random(0)
    again = tmp_path / "again"
    for _ in range(2):
        run(again, kill_after_first_checkpoint=rng.uniform(0.0, 3.0))
    code, out = run(again)
    assert code == 0, out
    metrics, history = results(again)
    assert metrics["steps"] == expected["steps"] and len(history) == 3
    np.testing.assert_allclose(metrics["loss"], expected["loss"], rtol=1e-5)
