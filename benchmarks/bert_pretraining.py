"""Does pre-training help? BERT-Tiny fine-tuned from the pre-trained checkpoint against the same model from scratch.

    python benchmarks/bert_pretraining.py                  # pre-train (if not done) + 16 fine-tunes
    python benchmarks/bert_pretraining.py --tasks mrpc cola --fractions 10

1. Pre-training: `kerasnets train bert_pretraining-corpus` (MLM + NSP on the training splits of
   IMDB, SST-2, CoLA, MRPC and Tiny Shakespeare; a WordPiece vocabulary learnt on them), which
   writes `<run>/checkpoint`, a Hugging Face BERT directory. Its held-out MLM and NSP accuracy
   come from its own `metrics.json`.
2. Fine-tuning, for each task × {10 %, 100 %} of the training labels × {scratch, pre-trained}:
   `kerasnets train bert-<task> --set checkpoint=<run>/checkpoint --set checkpoint_weights=…`.
   Both arms have the checkpoint's architecture and vocabulary, the recipe's optimizer, epochs
   and batch size; they differ only in their initial weights. The arms alternate (scratch, then
   pre-trained, per task and fraction), each in its own process; every row is written to
   `benchmarks/bert_pretraining.json` as it finishes.

Scores: GLUE validation (SST-2 accuracy, MRPC F1, CoLA Matthews correlation) and IMDB test
accuracy; IMDB is fine-tuned at 128 tokens, the checkpoint's length.

Fine-tuning protocols (`--protocols`), the same for both arms:
- `recipe`: the recipe's epochs (SST-2 and IMDB 2, MRPC and CoLA 4), the last epoch's weights;
- `early_stopping`: up to 4× the recipe's epochs on the first 90 % of the labelled share, the
  best epoch on its last 10 % (validation accuracy, patience 2) restored. Devlin et al. chose
  among fine-tuning runs on GLUE's dev set; here a slice of the training labels plays that part,
  so the scored validation split stays unseen.
`--seeds 0 1 2` repeats each row with other initial heads, dropout and batch order; the table
gives the mean and the spread (min–max) over the seeds.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine_info import cpu_model  # noqa: E402

from kerasnets import files  # noqa: E402
from kerasnets.training.recipes import get_recipe  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "bert_pretraining.json")
PRETRAINING_RECIPE = "bert_pretraining-corpus"
# task → (the score reported, settings beyond the recipe's)
TASKS = {
    "sst2": ("accuracy", []),
    "imdb": ("accuracy", ["sequence_length=128"]),
    "mrpc": ("f1", []),
    "cola": ("matthews_correlation", []),
}
FRACTIONS = (10, 100)
ARMS = ("scratch", "pretrained")
PROTOCOLS = ("recipe", "early_stopping")
EARLY_STOPPING_EPOCHS = 4  # × the recipe's
EARLY_STOPPING_PATIENCE = 2


def kerasnets(arguments, smoke):
    command = [sys.executable, "-m", "kerasnets", "train", *arguments] + (["--steps", "6"] if smoke else [])
    print("$ kerasnets train " + " ".join(command[4:]), flush=True)
    completed = subprocess.run(command, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    return completed.returncode


def read_metrics(output):
    with open(os.path.join(output, "metrics.json")) as handle:
        return json.load(handle)


def pretrain(run, smoke):
    if not os.path.exists(os.path.join(run, "metrics.json")):
        settings = ["--set", "steps_per_epoch=3", "--set", "warmup_steps=1"] if smoke else []
        if kerasnets([PRETRAINING_RECIPE, "--output", run, *settings], smoke) != 0:
            raise SystemExit(f"pre-training failed; see {run}")
    metrics = read_metrics(run)
    return {
        "steps": metrics["steps"], "wall_seconds": metrics["wall_seconds"], "parameters": metrics["parameters"],
        "held_out_mlm_accuracy": metrics["mlm_probabilities_accuracy"],
        "held_out_nsp_accuracy": metrics["nsp_probabilities_accuracy"],
        "held_out_mlm_loss": metrics["mlm_probabilities_loss"],
    }  # fmt: skip


def row_key(task, fraction, arm, protocol="recipe", seed=0):
    """The results key; the first runs of this benchmark (recipe protocol, seed 0) keep their short keys."""
    key = f"{task}-{fraction}-{arm}" + ("" if protocol == "recipe" else f"-{protocol}")
    return key + (f"-seed{seed}" if seed else "")


def fine_tune(task, fraction, arm, checkpoint, output_root, smoke, protocol="recipe", seed=0):
    score, settings = TASKS[task]
    output = os.path.join(output_root, row_key(task, fraction, arm, protocol, seed))
    settings = [f"checkpoint='{checkpoint}'", f"checkpoint_weights={arm == 'pretrained'}", f"seed={seed}", *settings]
    if protocol == "recipe":
        settings.append("train_split='train'" if fraction == 100 else f"train_split='train[:{fraction}%]'")
        epochs = []
    else:
        cut = fraction * 9 // 10  # of 10 %: train[:9%] to fit, train[9%:10%] to choose the epoch
        settings += [f"train_split='train[:{cut}%]'", f"validation_split='train[{cut}%:{fraction}%]'",
                     "early_stopping_monitor='val_accuracy'", f"early_stopping_patience={EARLY_STOPPING_PATIENCE}"]
        epochs = [] if smoke else ["--epochs", str(EARLY_STOPPING_EPOCHS * get_recipe(f"bert-{task}").epochs)]
    arguments = [f"bert-{task}", "--output", output, *epochs, *(item for s in settings for item in ("--set", s))]
    if kerasnets(arguments, smoke) != 0:
        return {"error": "fine-tuning failed"}
    metrics = read_metrics(output)
    return {"score": score, "value": metrics[score], "accuracy": metrics["accuracy"], "steps": metrics["steps"],
            "epochs": metrics["epochs"], "wall_seconds": metrics["wall_seconds"]}  # fmt: skip


def table(results, protocols=("recipe",), seeds=(0,)):
    """Mean (min–max over `seeds`) per task, labelled share, protocol and arm."""
    lines = ["| task (score) | labels | protocol | seeds | scratch | pre-trained | Δ of the means | epochs run |",
             "|---|---:|---|---:|---:|---:|---:|---|"]  # fmt: skip
    runs = results.get("fine_tuning", {})

    def cell(rows):
        values = [row["value"] for row in rows]
        spread = f" ({min(values):.3f}–{max(values):.3f})" if len(values) > 1 else ""
        return statistics.mean(values), f"{statistics.mean(values):.4f}{spread}"

    for task, (score, _) in TASKS.items():
        for fraction in FRACTIONS:
            for protocol in protocols:
                arms = [[runs.get(row_key(task, fraction, arm, protocol, seed)) for seed in seeds] for arm in ARMS]
                if not all(all(rows) and not any("error" in row for row in rows) for rows in arms):
                    continue
                (scratch, scratch_text), (pretrained, pretrained_text) = cell(arms[0]), cell(arms[1])
                epochs = " / ".join(",".join(str(row["epochs"]) for row in rows) for rows in arms)
                lines.append(f"| {task} ({score}) | {fraction} % | {protocol} | {len(seeds)} | {scratch_text} | "
                             f"{pretrained_text} | {pretrained - scratch:+.4f} | {epochs} |")  # fmt: skip
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--fractions", nargs="*", type=int, default=list(FRACTIONS), choices=list(FRACTIONS))
    parser.add_argument("--pretraining-run", default=os.path.join(ROOT, "runs", PRETRAINING_RECIPE))
    parser.add_argument("--output-root", default=os.path.join(ROOT, "runs", "bert_pretraining_benchmark"))
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--protocols", nargs="*", default=["recipe"], choices=PROTOCOLS)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--smoke", action="store_true", help="a few steps per run (checks the plumbing only)")
    args = parser.parse_args()
    results = {}
    if os.path.exists(args.results):
        with open(args.results) as handle:
            results = json.load(handle)
    results["machine"] = cpu_model("unknown CPU") + f", {os.cpu_count()} cores"
    results["date"] = time.strftime("%Y-%m-%d")
    results["pretraining"] = pretrain(args.pretraining_run, args.smoke)
    files.write_json(args.results, results)
    checkpoint = os.path.abspath(os.path.join(args.pretraining_run, "checkpoint"))
    for task in args.tasks:
        for fraction in args.fractions:
            for protocol in args.protocols:
                for seed in args.seeds:
                    for arm in ARMS:  # alternated: the two arms of a row run back to back
                        key = row_key(task, fraction, arm, protocol, seed)
                        results.setdefault("fine_tuning", {})[key] = fine_tune(
                            task, fraction, arm, checkpoint, args.output_root, args.smoke, protocol, seed
                        )
                        files.write_json(args.results, results)
    p = results["pretraining"]
    print(f"\nPre-training: {p['steps']:,} steps in {p['wall_seconds']:.0f} s; held-out MLM accuracy "
          f"{p['held_out_mlm_accuracy']:.4f}, NSP accuracy {p['held_out_nsp_accuracy']:.4f}\n")  # fmt: skip
    print(table(results, args.protocols, args.seeds))


if __name__ == "__main__":
    main()
