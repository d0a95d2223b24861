"""Why does the pre-trained BERT-Tiny lose to scratch with 10 % of SST-2's labels? Ablations of its start.

    python benchmarks/bert_pretraining_ablation.py                     # every arm, seeds 0 and 1
    python benchmarks/bert_pretraining_ablation.py --arms scratch pretrained --seeds 0

Needs the checkpoint of `kerasnets train bert_pretraining-corpus` (run it first, or point
`--pretraining-run` at one). Every arm fine-tunes `bert-sst2` on the first 10 % of SST-2's training
phrases with the recipe's optimizer (Adam 2e-4, constant) and batch, validates on the last 5 % of
the training phrases (never on GLUE validation, which scores it), and differs from the
"pre-trained" arm in one thing:

- "re-init X": the checkpoint is loaded, then the backbone weights whose path contains X get the
  fresh weights of the scratch arm (same initialisers, same seed);
- "mean-pooled": the classifier reads the mean of the unpadded token outputs instead of the
  pooled [CLS] output;
- a learning rate or an epoch count other than the recipe's.

Each arm runs in its own process; every result is written to
`benchmarks/bert_pretraining_ablation.json` as it finishes.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine_info import cpu_model  # noqa: E402

from kerasnets import files  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "bert_pretraining_ablation.json")
# arm → (pre-trained weights?, backbone weight paths re-initialised, mean-pooled head?, settings, epochs)
ARMS = {
    "scratch": (False, (), False, {}, 2),
    "pretrained": (True, (), False, {}, 2),
    "pretrained, re-init pooler": (True, ("pooler",), False, {}, 2),
    "pretrained, mean-pooled": (True, (), True, {}, 2),
    "scratch, mean-pooled": (False, (), True, {}, 2),
    "pretrained, re-init top block + pooler": (True, ("encoder_block_1/", "pooler"), False, {}, 2),
    "pretrained encoder, re-init embeddings": (True, ("embeddings",), False, {}, 2),
    "pretrained embeddings, re-init encoder": (True, ("encoder_block_",), False, {}, 2),
    "pretrained, lr 5e-5": (True, (), False, {"learning_rate": 5e-5}, 2),
    "pretrained, lr 1e-3": (True, (), False, {"learning_rate": 1e-3}, 2),
    "scratch, lr 1e-3": (False, (), False, {"learning_rate": 1e-3}, 2),
    "pretrained, 4 epochs": (True, (), False, {}, 4),
    "scratch, 4 epochs": (False, (), False, {}, 4),
    "pretrained, re-init top block + pooler, 4 epochs": (True, ("encoder_block_1/", "pooler"), False, {}, 4),
}


def modified_start(build, reinitialise, mean_pooled):
    """Wraps `tasks.checkpoint_model`: re-initialise some backbone weights and/or swap the head."""
    import keras
    from keras import ops

    def build_model(config, **arguments):
        model = build(config, **arguments)
        if reinitialise:
            fresh = build({**config, "checkpoint_weights": False}, **arguments)
            for weight, fresh_weight in zip(model.backbone.weights, fresh.backbone.weights):
                if weight.path != fresh_weight.path:
                    raise RuntimeError(f"weights out of order: {weight.path} against {fresh_weight.path}")
                if any(part in weight.path for part in reinitialise):
                    weight.assign(fresh_weight.numpy())
        if mean_pooled:
            backbone = model.backbone
            tokens = backbone(backbone.input)["sequence_output"]
            mask = ops.cast(ops.expand_dims(backbone.input["padding_mask"], -1), tokens.dtype)
            mean = ops.sum(tokens * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
            classifier = keras.layers.Dense(
                arguments["num_classes"], activation="softmax",
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02), name="probabilities",
            )  # fmt: skip
            model = keras.Model(backbone.input, classifier(keras.layers.Dropout(config["dropout"])(mean)))
        return model

    return build_model


def run_arm(arm, seed, checkpoint, output, smoke):
    """One fine-tune, in this process; returns its row."""
    from kerasnets.training import tasks, trainer

    pretrained, reinitialise, mean_pooled, settings, epochs = ARMS[arm]
    tasks.checkpoint_model = modified_start(tasks.checkpoint_model, reinitialise, mean_pooled)
    overrides = {"checkpoint": checkpoint, "checkpoint_weights": pretrained, "train_split": "train[:10%]",
                 "validation_split": "train[95%:]", "seed": seed, **settings}  # fmt: skip
    if smoke:
        overrides.update(train_split="train[:1%]", validation_split="train[99%:]")
    history, metrics = trainer.train(
        "bert-sst2", epochs=1 if smoke else epochs, overrides=overrides, output=output, verbose=2, save_model=False
    )
    return {"held_out_accuracy": [float(value) for value in history.history["val_accuracy"]],
            "accuracy": float(metrics["accuracy"]), "steps": int(metrics["steps"]),
            "wall_seconds": float(metrics["wall_seconds"])}  # fmt: skip


def table(results):
    lines = ["| arm | seeds | held-out phrases after each epoch (first seed) | GLUE validation accuracy (each seed) | mean |",
             "|---|---:|---|---|---:|"]  # fmt: skip
    for arm in ARMS:
        rows = sorted((int(key.rsplit("seed ", 1)[1]), row) for key, row in results.get("arms", {}).items()
                      if key.rsplit(", seed ", 1)[0] == arm and "error" not in row)  # fmt: skip
        if not rows:
            continue
        scores = [row["accuracy"] for _, row in rows]
        lines.append(
            f"| {arm} | {', '.join(str(seed) for seed, _ in rows)} | "
            f"{', '.join(f'{value:.3f}' for value in rows[0][1]['held_out_accuracy'])} | "
            f"{', '.join(f'{value:.4f}' for value in scores)} | {sum(scores) / len(scores):.3f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS), metavar="ARM")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1])
    parser.add_argument("--pretraining-run", default=os.path.join(ROOT, "runs", "bert_pretraining-corpus"))
    parser.add_argument("--output-root", default=os.path.join(ROOT, "runs", "bert_pretraining_ablation"))
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--smoke", action="store_true", help="1 % of the labels, 1 epoch (checks the plumbing only)")
    parser.add_argument("--one", nargs=2, metavar=("ARM", "SEED"), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    checkpoint = os.path.abspath(os.path.join(args.pretraining_run, "checkpoint"))
    if args.one:
        arm, seed = args.one
        output = os.path.join(args.output_root, f"{arm}-seed{seed}".replace(" ", "_").replace(",", ""))
        print("RESULT " + json.dumps(run_arm(arm, int(seed), checkpoint, output, args.smoke)), flush=True)
        return
    if not os.path.exists(os.path.join(checkpoint, "config.json")):
        raise SystemExit(f"no checkpoint at {checkpoint}: run `kerasnets train bert_pretraining-corpus` first")
    results = {}
    if os.path.exists(args.results):
        with open(args.results) as handle:
            results = json.load(handle)
    results.update(machine=cpu_model("unknown CPU") + f", {os.cpu_count()} cores", date=time.strftime("%Y-%m-%d"))
    with open(os.path.join(args.pretraining_run, "metrics.json")) as handle:
        pretraining = json.load(handle)
    results["pretraining"] = {key: pretraining[key] for key in (
        "steps", "training_seconds", "mlm_probabilities_accuracy", "nsp_probabilities_accuracy")}  # fmt: skip
    for seed in args.seeds:
        for arm in args.arms:
            command = [sys.executable, __file__, "--one", arm, str(seed), "--pretraining-run", args.pretraining_run,
                       "--output-root", args.output_root] + (["--smoke"] if args.smoke else [])  # fmt: skip
            print(f"$ {arm}, seed {seed}", flush=True)
            completed = subprocess.run(command, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
                                       stdout=subprocess.PIPE, text=True)  # fmt: skip
            sys.stdout.write(completed.stdout)
            lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
            row = json.loads(lines[-1][len("RESULT "):]) if completed.returncode == 0 and lines else {"error": "failed"}
            results.setdefault("arms", {})[f"{arm}, seed {seed}"] = row
            files.write_json(args.results, results)
    print(table(results))


if __name__ == "__main__":
    main()
