"""Kim (2014)'s regularisation of the text CNN, one piece at a time, on GLUE SST-2.

    python benchmarks/text_cnn_ablation.py                 # every arm (about 25 minutes on 2 CPU cores)
    python benchmarks/text_cnn_ablation.py --only kim no_dropout

Kim's CNN-rand: 100 filters each of widths 3, 4, 5, dropout 0.5 on the
penultimate layer, an l2 max-norm of 3 on the output layer's weight vectors,
and early stopping on a development split. Every arm trains the
`text_cnn-sst2` recipe on the same 95 % of SST-2's training phrases, holds the
other 5 % out as its validation split (which early stopping watches), and is
scored on GLUE's validation sentences (the recipe's test split: GLUE's test
labels are private). Arms run one after the other in their own process; each
row is written to `benchmarks/text_cnn_ablation.json` as it finishes.
"""

import argparse
import json
import os
import subprocess
import sys

from kerasnets import files

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "text_cnn_ablation.json")
SPLITS = ["train_split='train[:95%]'", "validation_split='train[95%:]'"]
EARLY = ["early_stopping_patience=2", "early_stopping_monitor='val_accuracy'"]

# (arm, epochs, settings beyond the recipe's: dropout 0.5, 100 filters of 3/4/5)
ARMS = [
    ("recipe", 4, []),
    ("max_norm", 4, ["max_norm=3.0"]),
    ("early_stopping", 8, EARLY),
    ("kim", 8, ["max_norm=3.0", *EARLY]),
    ("kim_no_dropout", 8, ["max_norm=3.0", "dropout=0.0", *EARLY]),
    ("kim_no_max_norm_no_dropout", 8, ["dropout=0.0", *EARLY]),
]


def run_arm(name, epochs, settings, output_root):
    output = os.path.join(output_root, name)
    arguments = [item for setting in SPLITS + settings for item in ("--set", setting)]
    command = [sys.executable, "-m", "kerasnets", "train", "text_cnn-sst2", "--epochs", str(epochs),
               "--output", output, *arguments]  # fmt: skip
    print("$ kerasnets " + " ".join(command[3:]), flush=True)
    completed = subprocess.run(command, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    if completed.returncode != 0:
        return {"error": f"exit code {completed.returncode}"}
    with open(os.path.join(output, "metrics.json")) as handle:
        metrics = json.load(handle)
    return {
        "settings": settings, "epochs_run": metrics["epochs"], "steps": metrics["steps"],
        "accuracy": metrics["accuracy"], "val_accuracy": metrics.get("val_accuracy"),
        "best_epoch": metrics.get("early_stopping", {}).get("best_epoch"),
        "wall_seconds": metrics["wall_seconds"],
    }  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="arms to run (default: all)")
    parser.add_argument("--output-root", default=os.path.join(ROOT, "runs", "text_cnn_ablation"))
    args = parser.parse_args()
    unknown = set(args.only or []) - {arm[0] for arm in ARMS}
    if unknown:
        raise SystemExit(f"unknown arms: {', '.join(sorted(unknown))}")
    results = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as handle:
            results = json.load(handle)
    for name, epochs, settings in ARMS:
        if args.only and name not in args.only:
            continue
        results[name] = run_arm(name, epochs, settings, args.output_root)
        files.write_json(RESULTS, results)
    print("\n| arm | epochs run (best) | held-out 5 % of train | GLUE validation accuracy | wall time |")
    print("|---|---:|---:|---:|---:|")
    for name, _, _ in ARMS:
        row = results.get(name)
        if not row or "error" in row:
            continue
        best = f" ({row['best_epoch']})" if row["best_epoch"] else ""
        print(f"| {name} | {row['epochs_run']}{best} | {row['val_accuracy']:.4f} | {row['accuracy']:.4f} | "
              f"{row['wall_seconds']:.0f} s |")


if __name__ == "__main__":
    main()
