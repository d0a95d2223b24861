"""Train every recipe at full size and write the README's results table.

    python benchmarks/train_all.py                       # every row (120-160 minutes on 2 shared CPU cores)
    python benchmarks/train_all.py --only gpt-nanogpt_config lenet5-fashion_mnist
    python benchmarks/train_all.py --table-only          # rewrite the table from benchmarks/results.json
    python benchmarks/train_all.py --figure-only         # redraw docs/learning_curves.png from the runs
                                                         # (a full run redraws it; --only does not)

Each row runs `kerasnets train` in its own process, bounded by its minutes
(`--max-minutes`: training stops there and the model is evaluated as it is),
and its `metrics.json` is merged into `benchmarks/results.json`; the table
between the `results` markers of README.md is then rewritten from that file.
A row that misses its target says so. `docs/learning_curves.png` draws every
row's training and validation loss per epoch from the runs' `history.csv`.
Every file is written to a temporary name and renamed.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

from kerasnets import files
from machine_info import cpu_model  # benchmarks/ is on sys.path when run
from nanogpt_compare import KERASNETS_ARGUMENTS as NANOGPT_SETTINGS
from nanogpt_compare import RESULTS as NANOGPT_RESULTS

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results.json")
FIGURE = os.path.join(ROOT, "docs", "learning_curves.png")
README = os.path.join(ROOT, "README.md")
START, END = "<!-- results:start -->", "<!-- results:end -->"

PRETRAINED_CHECKPOINT = ["--set", "checkpoint='{runs}/bert_pretraining-corpus/checkpoint'"]

# (row name, recipe, minutes, extra command-line arguments, what the row is compared with)
ROWS = [
    ("mlp-fashion_mnist", "mlp-fashion_mnist", 4, [], None),
    ("lenet5-fashion_mnist", "lenet5-fashion_mnist", 4, [], None),
    ("simple_cnn-fashion_mnist", "simple_cnn-fashion_mnist", 9, [], None),
    ("lenet5-mnist", "lenet5-mnist", 3, [], None),
    ("rnn_classifier-fashion_mnist", "rnn_classifier-fashion_mnist", 5, [], None),
    # 15 minutes hold the recipe's 4,000 steps at about 210 ms a step (2026-12-07); 8 held 2,119 (README).
    ("rnn_language_model-tiny_shakespeare", "rnn_language_model-tiny_shakespeare", 15, [], None),
    ("gpt-tiny_shakespeare", "gpt-tiny_shakespeare", 15, [], None),
    # nanoGPT's CPU configuration, split and optimizer (benchmarks/nanogpt_compare.py)
    ("gpt-nanogpt_config", "gpt-tiny_shakespeare", 5, NANOGPT_SETTINGS, "nanoGPT"),
    # The RNN pair needs 2,000+ steps before either arm translates (BLEU ≈ 1 at 1,100 steps; README), so
    # 12 minutes each; the Transformer keeps its 6 against the attention arm.
    ("seq2seq-spa_eng", "seq2seq-spa_eng", 12, [], None),
    ("seq2seq_no_attention-spa_eng", "seq2seq-spa_eng", 12, ["--set", "attention=None"], "seq2seq-spa_eng"),
    ("transformer-spa_eng", "transformer-spa_eng", 6, [], "seq2seq-spa_eng"),
    ("transformer_15min-spa_eng", "transformer-spa_eng", 15, [], None),
    ("text_cnn-sst2", "text_cnn-sst2", 4, [], None),
    ("text_cnn-imdb", "text_cnn-imdb", 4, [], None),  # early stopping runs one epoch past the best
    ("rnn_classifier-sst2", "rnn_classifier-sst2", 4, [], None),
    ("rnn_classifier-imdb", "rnn_classifier-imdb", 4, [], None),  # early stopping, as text_cnn-imdb
    ("bert-sst2", "bert-sst2", 4, [], None),
    ("bert-imdb", "bert-imdb", 3, [], None),
    ("bert-mrpc", "bert-mrpc", 2, [], None),
    ("bert-cola", "bert-cola", 2, [], None),
    ("bert_pretrained-sst2", "bert_pretrained-sst2", 9, [], "bert-sst2"),  # 2,000 MLM + NSP steps on IMDB in-row
    # Does pre-training help? The corpus pre-training (steps-bounded; the cap only guards a slow host), then
    # SST-2 with all its labels from that checkpoint and from fresh weights of the same architecture and
    # vocabulary: only the initial weights differ. {runs} is --output-root.
    ("bert_pretraining-corpus", "bert_pretraining-corpus", 25, [], None),
    ("bert_corpus_scratch-sst2", "bert-sst2", 6, [*PRETRAINED_CHECKPOINT, "--set", "checkpoint_weights=False"], None),
    ("bert_corpus_pretrained-sst2", "bert-sst2", 6, [*PRETRAINED_CHECKPOINT, "--set", "checkpoint_weights=True"],
     "bert_corpus_scratch-sst2"),
]  # fmt: skip

# The reference column where a row's own differs from its recipe's (the pair below shares bert-sst2's).
REFERENCES = {
    "bert_corpus_scratch-sst2": "the control: bert_corpus_pretrained-sst2's architecture and vocabulary, fresh weights",
    "bert_corpus_pretrained-sst2": "Devlin et al. 2019: pre-training helps (not like for like: BERT-Tiny fully "
                                   "pre-trained scores 83.2 on SST-2's test set, Turc et al. 2019)",
}

# A translation row beats the row it is compared with only by at least this many BLEU points,
# so that two barely trained runs (BLEU near 1) do not make a finding.
BLEU_MARGIN = 1.0


def machine():
    model = cpu_model(platform.machine())
    return f"{model}, {os.cpu_count()} CPU cores, no GPU"


def run_row(name, recipe, minutes, extra, output_root):
    output = os.path.join(output_root, name)
    command = [sys.executable, "-m", "kerasnets", "train", recipe, "--max-minutes", str(minutes),
               "--output", output, *(argument.replace("{runs}", output_root) for argument in extra)]  # fmt: skip
    print("$ " + " ".join(command[2:]).replace("-m kerasnets", "kerasnets"), flush=True)
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    completed = subprocess.run(command, env=environment)
    if completed.returncode != 0:
        return {"recipe": recipe, "error": f"exit code {completed.returncode}"}
    with open(os.path.join(output, "metrics.json")) as handle:
        return json.load(handle)


def load_results():
    if os.path.exists(RESULTS):
        with open(RESULTS) as handle:
            return json.load(handle)
    return {"machine": machine(), "rows": {}}


def headline(metrics):
    """The row's held-out numbers, as people quote them."""
    if "val_mlm_probabilities_accuracy" in metrics:  # MLM + NSP pre-training, on held-out text
        return (f"masked-token accuracy {metrics['val_mlm_probabilities_accuracy']:.3f} (most frequent token "
                f"{metrics['mlm_most_frequent_token_accuracy']:.3f}), NSP accuracy "
                f"{metrics['val_nsp_probabilities_accuracy']:.3f}")
    if "perplexity" in metrics:  # language models: nats per character
        return f"val loss {metrics['val_loss']:.3f}, test loss {metrics['loss']:.3f}"
    if "bleu" in metrics:
        text = f"BLEU {metrics['bleu']:.1f}"
        if "bleu_beam" in metrics:
            text += f", beam {metrics['bleu_beam_width']}: {metrics['bleu_beam']:.1f}"
        if "sacrebleu" in metrics:
            text += f"; sacreBLEU (cased, raw references) {metrics['sacrebleu']:.1f}"
            if "sacrebleu_beam" in metrics:
                text += f", beam {metrics['sacrebleu_beam']:.1f}"
        return text + f" (token accuracy {metrics['accuracy']:.3f})"
    parts = [f"accuracy {metrics['accuracy']:.4f}"]
    if "f1" in metrics:
        parts.append(f"F1 {metrics['f1']:.3f}")
    if "matthews_correlation" in metrics:
        parts.append(f"MCC {metrics['matthews_correlation']:.3f}")
    return ", ".join(parts)


def nanogpt_measured():
    """benchmarks/nanogpt_compare.json (nanoGPT and this row's settings, alternated in one run), or None."""
    if not os.path.exists(NANOGPT_RESULTS):
        return None
    with open(NANOGPT_RESULTS) as handle:
        return json.load(handle)


def nanogpt_reference():
    measured = nanogpt_measured()
    if measured is None:
        return "nanoGPT's CPU configuration"
    theirs = measured["median"]["nanogpt"]
    return (f"nanoGPT ({measured['date']}, same machine, like for like: its split, optimizer and settings): "
            f"val loss {theirs['val_loss']:.3f}, whole process {theirs['wall_seconds']:.0f} s, "
            f"{theirs['median_step_ms']:.1f} ms/step")


def verdict(name, metrics, rows):
    """✓ / ✗ against the recipe's target, or against the row it is compared with."""
    from kerasnets.training import RECIPES

    if "error" in metrics:
        return f"failed: {metrics['error']}"
    compared = {row[0]: row[4] for row in ROWS}.get(name)
    if name == "gpt-nanogpt_config":
        nanogpt = nanogpt_measured()
        if nanogpt is None:
            return "reported (nanoGPT not measured: run benchmarks/nanogpt_compare.py)"
        theirs, ours = nanogpt["median"]["nanogpt"], nanogpt["median"]["kerasnets"]
        loss, wall = ours["val_loss"] <= theirs["val_loss"], ours["wall_seconds"] <= theirs["wall_seconds"]
        return (f"val loss {ours['val_loss']:.3f} vs {theirs['val_loss']:.3f} {'✓' if loss else '✗'}; "
                f"whole process {ours['wall_seconds']:.0f} s vs {theirs['wall_seconds']:.0f} s {'✓' if wall else '✗'}")
    if compared and compared in rows and "error" not in rows[compared]:
        other = rows[compared]
        key = "bleu" if "bleu" in metrics else "accuracy"
        margin = BLEU_MARGIN if key == "bleu" else 0.0
        if name.startswith("seq2seq_no_attention"):
            better = other.get(key, 0) - metrics.get(key, 0) >= margin
            return ("✓" if better else "✗") + f" with attention {other.get(key, 0):.1f} > without by ≥ {margin:g}"
        gain = metrics.get(key, 0) - other.get(key, 0)
        better = gain >= margin if margin else gain > 0
        sign = ">" if better else "≤"
        text = f" {key} {sign} {compared} ({other.get(key, 0):.{1 if key == 'bleu' else 3}f})"
        if name == "transformer-spa_eng":
            reached = metrics.get("target_reached")
            return (f"BLEU > {compared} ({other.get(key, 0):.1f}) by ≥ {margin:g} {'✓' if better else '✗'}; "
                    f"BLEU ≥ 25 {'✓' if reached else '✗'}")  # fmt: skip
        return ("✓" if better else "✗") + text
    target = RECIPES[metrics["recipe"]].target
    if not target or target[2] == 0.0:
        return "reported"
    return ("✓" if metrics.get("target_reached") else "✗") + f" {target[0]} {target[1]} {target[2]}"


def write_table(results):
    from kerasnets.training import RECIPES

    rows = results["rows"]
    lines = [
        f"Measured on {results['machine']} by `python benchmarks/train_all.py` (each row on the date it "
        "gives); each row bounded in minutes, test-set metrics unless noted.",
        "",
        "| row | data | parameters | epochs (steps) | wall time | held-out result | target | reference | measured |",
        "|---|---|---:|---:|---:|---|---|---|---|",
    ]
    for name, recipe, _, _, _ in ROWS:
        if name not in rows:
            continue
        metrics = rows[name]
        recipe_object = RECIPES[recipe]
        if "error" in metrics:
            lines.append(f"| `{name}` | {recipe_object.dataset} | | | | failed | | | {metrics.get('date', '')} |")
            continue
        wall = metrics["wall_seconds"]
        wall_text = f"{wall / 60:.1f} min" if wall >= 120 else f"{wall:.0f} s"
        stopped = " (time limit)" if metrics.get("stopped_by_time_limit") else ""
        if name == "gpt-nanogpt_config":
            reference = nanogpt_reference()
        else:
            reference = REFERENCES.get(name, recipe_object.reference)
        lines.append(
            f"| `{name}` | {recipe_object.dataset} | {metrics['parameters']:,} | "
            f"{metrics['epochs']} ({metrics['steps']:,}){stopped} | {wall_text} | {headline(metrics)} | "
            f"{verdict(name, metrics, rows)} | {reference} | {metrics.get('date', results.get('date', ''))} |"
        )
    with open(README) as handle:
        text = handle.read()
    if START not in text:
        raise SystemExit(f"README.md has no {START} … {END} markers")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    files.write_text(README, before + START + "\n" + "\n".join(lines) + "\n" + END + after)


def draw_figure(results, output_root):
    """docs/learning_curves.png: one panel per row that has a history.csv under `output_root`."""
    from kerasnets import pictures

    runs = {name: os.path.join(output_root, name, "history.csv") for name, *_ in ROWS if name in results["rows"]}
    try:
        drawn = pictures.draw_learning_curves(
            runs, FIGURE, title=f"Training (solid) and validation (dashed) loss per epoch, {results['machine']}")
    except ValueError as error:
        print(f"no learning-curves figure: {error}")
        return
    print(f"wrote {os.path.relpath(FIGURE, ROOT)} ({len(drawn)} rows)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="row names to run (default: all)")
    parser.add_argument("--output-root", default=os.path.join(ROOT, "runs", "benchmarks"))
    parser.add_argument("--table-only", action="store_true", help="only rewrite the README table")
    parser.add_argument("--figure-only", action="store_true", help="only redraw docs/learning_curves.png")
    parser.add_argument("--minutes-scale", type=float, default=1.0, help="scale every row's minutes")
    args = parser.parse_args()
    results = load_results()
    if args.figure_only:
        draw_figure(results, args.output_root)
        return
    if not args.table_only:
        unknown = set(args.only or []) - {row[0] for row in ROWS}
        if unknown:
            raise SystemExit(f"unknown rows: {', '.join(sorted(unknown))}")
        for name, recipe, minutes, extra, _ in ROWS:
            if args.only and name not in args.only:
                continue
            results["rows"][name] = run_row(name, recipe, minutes * args.minutes_scale, extra, args.output_root)
            results["rows"][name]["date"] = datetime.date.today().isoformat()
            results["machine"] = machine()
            results["date"] = datetime.date.today().isoformat()
            files.write_json(RESULTS, results)
            write_table(results)
        if not args.only:  # a partial run has only its own rows' curves under --output-root
            draw_figure(results, args.output_root)
    write_table(results)


if __name__ == "__main__":
    main()
