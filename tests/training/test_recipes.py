"""Every recipe runs end to end for a few steps on tiny slices of its real dataset."""

import json
import os

import numpy as np
import pytest

from kerasnets.training import RECIPES, train
from tests.data import data_root_or_skip, tfds_dir

# Each recipe on a slice: a few hundred training examples, a few dozen held out.
SMALL = {
    "image_classification": dict(train_split="train[:256]", eval_split="test[:64]", batch_size=64),
    "text_classification": dict(train_split="train[:256]", eval_split="validation[:64]", batch_size=32),
    "language_modeling": dict(batch_size=8),
    "translation": dict(train_split="train[:512]", eval_split="test[:32]", validation_split="validation[:32]",
                        batch_size=32, bleu_examples=16),
    "bert_pretraining": dict(train_split="train[:256]", eval_split="validation[:64]", batch_size=32,
                             pretraining_dataset="imdb_reviews", pretraining_split="train[:200]",
                             pretraining_steps=2, pretraining_batch_size=8),
    "masked_lm_pretraining": dict(corpus_sources=["glue/cola", "tiny_shakespeare"], vocabulary_size=300,
                                  batch_size=8, steps_per_epoch=2, warmup_steps=1, num_layers=1, hidden_dim=32,
                                  intermediate_dim=64),
}  # fmt: skip
FILES = {"metrics.json", "history.csv", "history.png", "model.keras", "export.json", "logs", "config.json"}


def small_overrides(recipe):
    overrides = dict(SMALL[recipe.task], data_dir=tfds_dir())
    if recipe.dataset == "imdb_reviews":
        overrides["eval_split"] = "test[:64]"
    if recipe.task == "language_modeling":
        overrides["validation_split"] = "validation"
        overrides["eval_split"] = "test"
    return overrides


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_runs_end_to_end(name, tmp_path):
    data_root_or_skip()
    recipe = RECIPES[name]
    history, metrics = train(name, steps=2, overrides=small_overrides(recipe), output=str(tmp_path), verbose=0)
    assert FILES <= set(os.listdir(tmp_path))
    assert not os.path.exists(tmp_path / "backup")  # deleted once training finished
    with open(tmp_path / "metrics.json") as handle:
        assert json.load(handle) == metrics
    assert metrics["steps"] == 2 and metrics["parameters"] > 0 and metrics["wall_seconds"] > 0
    assert np.isfinite(metrics["loss"])
    expected = {"translation": "bleu", "language_modeling": "perplexity",
                "masked_lm_pretraining": "mlm_probabilities_accuracy"}.get(recipe.task, "accuracy")  # fmt: skip
    assert expected in metrics
    if recipe.task == "translation":  # greedy BLEU twice (normalized, sacreBLEU on raw text), beam search
        assert 0.0 <= metrics["bleu"] <= 100.0 and 0.0 <= metrics["sacrebleu"] <= 100.0
        if recipe.builder == "transformer":
            assert metrics["bleu_beam_width"] == 4 and 0.0 <= metrics["bleu_beam"] <= 100.0
            assert 0.0 <= metrics["sacrebleu_beam"] <= 100.0
    if recipe.dataset == "glue/mrpc":
        assert 0.0 <= metrics["f1"] <= 1.0
    if recipe.dataset == "glue/cola":
        assert -1.0 <= metrics["matthews_correlation"] <= 1.0
    assert len(history.history["loss"]) >= 1


@pytest.mark.parametrize("name", ["lenet5-fashion_mnist", "text_cnn-sst2", "gpt-tiny_shakespeare", "seq2seq-spa_eng"])
def test_a_trained_run_exports_for_serving(name, tmp_path):
    """`kerasnets export RUN` turns a run directory into a served version with its vocabulary."""
    import tensorflow as tf

    from kerasnets.cli import main

    data_root_or_skip()
    recipe = RECIPES[name]
    run = tmp_path / "run"
    train(name, steps=1, overrides=small_overrides(recipe), output=str(run), verbose=0)
    assert main(["export", str(run), "--name", "m", "--base-dir", str(tmp_path / "saved_models")]) == 0
    served = tf.saved_model.load(str(tmp_path / "saved_models" / "m" / "1")).signatures
    if recipe.task == "image_classification":
        out = served["serving_default"](image=tf.zeros([2, 28, 28, 1]))
        assert out["label"].shape == (2,) and out["label"].dtype == tf.string
    elif recipe.task == "text_classification":
        out = served["serving_default"](text=tf.constant(["a gripping , funny film", "dull"]))
        assert out["label"].numpy()[0] in (b"negative", b"positive")
    else:
        text_input = "prompt" if recipe.task == "language_modeling" else "source"
        out = served["generate"](**{text_input: tf.constant(["go away"]), "max_new_tokens": tf.constant([5])})
        assert out["generated_token_ids"].shape == (1, 5) and out["generated_text"].dtype == tf.string


@pytest.mark.parametrize(
    "name, expected",
    # XLA on CPU trains the image models 1.7-6x slower (benchmarks/conv_speed.py) and the LSTMs no faster.
    [("mlp-fashion_mnist", False), ("simple_cnn-fashion_mnist", False), ("rnn_classifier-imdb", False),
     ("gpt-tiny_shakespeare", True), ("transformer-spa_eng", True)],
)  # fmt: skip
def test_auto_jit_compile_follows_the_measured_speed(name, expected):
    import keras

    from kerasnets.training import tasks

    recipe = RECIPES[name]
    config = recipe.defaults()
    assert config["jit_compile"] == "auto"
    task = tasks.TASKS[recipe.task](recipe, config)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    task.compile(model)
    assert model.jit_compile is expected
    task.config = dict(config, jit_compile=True)
    task.compile(model)
    assert model.jit_compile is True
