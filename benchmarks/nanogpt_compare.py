"""nanoGPT's CPU run against the same model trained by kerasnets, like for like, in one run.

    python benchmarks/nanogpt_compare.py --nanogpt ~/src/nanoGPT      # a checkout of karpathy/nanoGPT
    python benchmarks/nanogpt_compare.py --nanogpt ~/src/nanoGPT --rounds 3

The nanoGPT arm is the command of its README's "I only have a macbook" section (4 layers, 4
heads, width 128, context 64, batch 12, 2,000 steps, no dropout) on its own character-level
Tiny Shakespeare: `data/shakespeare_char/prepare.py` given this machine's copy of `input.txt`
(so nothing is downloaded), run once before the timed rounds, as the kerasnets arm's tfds files
are built once. The kerasnets arm is `kerasnets train gpt-tiny_shakespeare` with nanoGPT's
settings (`KERASNETS_ARGUMENTS`):

- data: nanoGPT's split. Its validation text is the last 10 % of `input.txt`, which is tfds'
  `validation` and `test` splits one after the other, so `validation_split='validation+test'`;
  the training text (first 90 %) is tfds' `train`;
- optimizer: AdamW, 100 linear warm-up steps to 1e-3 then cosine to 1e-4 at step 2,000,
  β₂ 0.99, weight decay 0.1 on matrices and embeddings only, gradients clipped to global
  norm 1.0.

What still differs: nanoGPT's model has no biases (`bias=False`) where ours has them (810,112
parameters against nanoGPT's 804,096, position table included); nanoGPT samples random
windows, ours are a shuffled tiling of the text; nanoGPT's val loss is its estimate from 20
random batches of 12 × 64 characters, ours the mean over the whole validation text (the same
quantity, without the sampling noise). Each arm runs in its own process, arms alternated,
`--rounds` times; the whole process is timed (start to exit), and the medians go to
`benchmarks/nanogpt_compare.json`, which `benchmarks/train_all.py` quotes in the
`gpt-nanogpt_config` row.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine_info import cpu_model  # noqa: E402

from kerasnets import files  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "nanogpt_compare.json")
STEPS = 2000
NANOGPT_COMMAND = [
    "train.py", "config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
    "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4", "--n_embd=128",
    f"--max_iters={STEPS}", f"--lr_decay_iters={STEPS}", "--dropout=0.0",
]  # fmt: skip
KERASNETS_RECIPE = "gpt-tiny_shakespeare"  # 4 layers, 4 heads, width 128, context 64, no dropout
KERASNETS_SETTINGS = [
    "steps_per_epoch=250", "optimizer='adamw'", "learning_rate=1e-3", "schedule='cosine'", "warmup_steps=100",
    "min_learning_rate=1e-4", "beta_2=0.99", "weight_decay=0.1", "weight_decay_matrices_only=true",
    "global_clipnorm=1.0", "validation_split='validation+test'",
]  # fmt: skip
KERASNETS_ARGUMENTS = ["--steps", str(STEPS), "--batch-size", "12"] + [
    item for setting in KERASNETS_SETTINGS for item in ("--set", setting)
]
_FINAL = re.compile(rf"step {STEPS}: train loss ([0-9.]+), val loss ([0-9.]+)")
_ITERATION = re.compile(r"iter (\d+): loss [0-9.]+, time ([0-9.]+)ms")


def prepare_nanogpt(checkout, work):
    """A copy of the nanoGPT checkout under `work`, its shakespeare_char data built from our input.txt."""
    from kerasnets.data.locations import data_root

    if data_root() is None:
        raise SystemExit("no data root with tiny_shakespeare/input.txt: set KERASNETS_DATA_DIR")

    copy = os.path.join(work, "nanoGPT")
    shutil.copytree(checkout, copy, ignore=shutil.ignore_patterns(".git", "out*"))
    data = os.path.join(copy, "data", "shakespeare_char")
    shutil.copy(os.path.join(data_root(), "tiny_shakespeare", "input.txt"), os.path.join(data, "input.txt"))
    subprocess.run([sys.executable, "prepare.py"], cwd=data, check=True, stdout=subprocess.DEVNULL)
    return copy


def run_nanogpt(copy, work, round_index):
    command = [sys.executable, *NANOGPT_COMMAND, f"--out_dir={os.path.join(work, f'out-{round_index}')}"]
    print("$ python " + " ".join(command[1:]), flush=True)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=copy, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"nanoGPT failed:\n{completed.stderr[-2000:]}")
    final = _FINAL.search(completed.stdout)
    if final is None:
        raise SystemExit(f"nanoGPT printed no final 'step {STEPS}: … val loss …' line:\n{completed.stdout[-2000:]}")
    # nanoGPT times each step; the evaluation steps (every 250) include its 40 evaluation batches
    times = [float(ms) for it, ms in _ITERATION.findall(completed.stdout) if int(it) > 10 and int(it) % 250]
    return {"val_loss": float(final.group(2)), "train_loss": float(final.group(1)), "wall_seconds": round(wall, 1),
            "median_step_ms": round(statistics.median(times), 2)}  # fmt: skip


def run_kerasnets(work, round_index):
    output = os.path.join(work, f"kerasnets-{round_index}")
    command = [sys.executable, "-m", "kerasnets", "train", KERASNETS_RECIPE, *KERASNETS_ARGUMENTS, "--output", output]
    print("$ kerasnets " + " ".join(command[3:]), flush=True)
    start = time.perf_counter()
    completed = subprocess.run(command, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit("kerasnets train failed")
    with open(os.path.join(output, "metrics.json")) as handle:
        metrics = json.load(handle)
    return {"val_loss": round(metrics["val_loss"], 4), "wall_seconds": round(wall, 1),
            "training_seconds": metrics["training_seconds"], "steps": metrics["steps"],
            "parameters": metrics["parameters"]}  # fmt: skip


def median_of(rounds, key):
    return round(statistics.median(r[key] for r in rounds), 4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", required=True, help="a checkout of github.com/karpathy/nanoGPT")
    parser.add_argument("--commit", help="the checkout's nanoGPT commit, where it is not a git clone")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--results", default=RESULTS)
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.nanogpt, "train.py")):
        raise SystemExit(f"{args.nanogpt} is not a nanoGPT checkout (no train.py)")
    import torch

    rounds = {"nanogpt": [], "kerasnets": []}
    with tempfile.TemporaryDirectory(prefix="nanogpt-compare-") as work:
        copy = prepare_nanogpt(args.nanogpt, work)
        for index in range(args.rounds):
            arms = ("nanogpt", "kerasnets") if index % 2 == 0 else ("kerasnets", "nanogpt")
            for arm in arms:
                result = run_nanogpt(copy, work, index) if arm == "nanogpt" else run_kerasnets(work, index)
                print(f"round {index + 1} {arm}: {result}", flush=True)
                rounds[arm].append(result)
    commit = subprocess.run(["git", "-C", args.nanogpt, "rev-parse", "HEAD"], capture_output=True, text=True)
    results = {
        "machine": f"{cpu_model('unknown CPU')}, {os.cpu_count()} cores, no GPU",
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "nanogpt_commit": commit.stdout.strip() or args.commit,
        "rounds": rounds,
        "median": {arm: {key: median_of(values, key) for key in values[0]} for arm, values in rounds.items()},
    }
    files.write_json(args.results, results)
    for arm, medians in results["median"].items():
        print(f"{arm}: {medians}")


if __name__ == "__main__":
    main()
