"""`bert_pretraining-corpus` writes a checkpoint the bert-* recipes fine-tune, from it or from scratch."""

import json

import numpy as np
import pytest

from kerasnets.models import from_pretrained
from kerasnets.training import train
from kerasnets.training.errors import ConfigurationError
from tests.data import data_root_or_skip, tfds_dir

TINY = dict(corpus_sources=["glue/cola", "tiny_shakespeare"], vocabulary_size=400, batch_size=8, steps_per_epoch=2,
            warmup_steps=1, num_layers=1, hidden_dim=32, num_heads=2, intermediate_dim=64)  # fmt: skip


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    data_root_or_skip("glue")
    data_root_or_skip("imdb")
    data_root_or_skip("tiny_shakespeare/input.txt")
    run = tmp_path_factory.mktemp("pretraining")
    _, metrics = train("bert_pretraining-corpus", steps=4, overrides=dict(TINY, data_dir=tfds_dir()), output=str(run),
                       verbose=0)  # fmt: skip
    return run, metrics


def test_the_run_scores_held_out_text_and_writes_a_huggingface_checkpoint(pretrained_run):
    run, metrics = pretrained_run
    assert metrics["steps"] == 4
    assert 0.0 <= metrics["mlm_probabilities_accuracy"] <= 1.0 and 0.0 <= metrics["nsp_probabilities_accuracy"] <= 1.0
    assert 0.0 < metrics["mlm_most_frequent_token_accuracy"] < 0.5
    config = json.loads((run / "checkpoint" / "config.json").read_text())
    assert config["model_type"] == "bert" and config["num_hidden_layers"] == 1 and config["hidden_size"] == 32
    vocabulary = (run / "checkpoint" / "vocab.txt").read_text().splitlines()
    assert len(vocabulary) == config["vocab_size"] <= 400 and vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                                                 "[MASK]"]  # fmt: skip
    assert from_pretrained(str(run / "checkpoint"), head="pretraining").count_params() == metrics["parameters"]


@pytest.mark.parametrize("weights", [True, False])
def test_bert_recipes_fine_tune_it_or_its_architecture_from_scratch(pretrained_run, tmp_path, weights):
    run, _ = pretrained_run
    checkpoint = str(run / "checkpoint")
    overrides = dict(checkpoint=checkpoint, checkpoint_weights=weights, train_split="train[:64]",
                     eval_split="validation[:32]", learning_rate=1e-12, data_dir=tfds_dir())  # fmt: skip
    train("bert-cola", steps=1, overrides=overrides, output=str(tmp_path), verbose=0)
    import keras

    tuned = keras.saving.load_model(str(tmp_path / "model.keras"))
    table = np.asarray(tuned.backbone.token_embedding.embeddings)
    stored = np.asarray(from_pretrained(checkpoint).token_embedding.embeddings)
    assert table.shape == stored.shape  # the checkpoint's vocabulary and width either way
    assert np.allclose(table, stored, atol=1e-6) == weights  # one step of 1e-12 moves nothing


def test_it_refuses_a_checkpoint_to_start_from(tmp_path):
    with pytest.raises(ConfigurationError, match="pre-trains from scratch"):
        train("bert_pretraining-corpus", steps=1, overrides=dict(TINY, checkpoint=str(tmp_path)), output=str(tmp_path))


def test_most_frequent_target_rate_counts_only_real_predictions():
    import tensorflow as tf

    from kerasnets.training.metrics import most_frequent_target_rate

    targets = {"mlm_probabilities": tf.constant([[7, 7, 9, 0], [9, 7, 5, 5]])}
    weights = {"mlm_probabilities": tf.constant([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])}
    batches = tf.data.Dataset.from_tensors(({}, targets, weights))
    assert most_frequent_target_rate(batches) == 3 / 5  # token 7, three of the five weighted slots; padding 0 ignored


def test_pretraining_losses_are_means_over_the_slots_that_carry_weight():
    from kerasnets.training.tasks import pretraining_losses

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(7), size=(3, 5)).astype("float32")
    labels = rng.integers(1, 7, size=(3, 5))
    weights = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], "float32")  # padding slots weigh 0
    picked = np.take_along_axis(probabilities, labels[..., None], axis=-1)[..., 0]
    per_masked_token = -(np.log(picked) * weights).sum() / weights.sum()
    mlm = pretraining_losses()["mlm_probabilities"]
    assert float(mlm(labels, probabilities, sample_weight=weights)) == pytest.approx(per_masked_token, rel=1e-5)
    # what a padding slot predicts does not move it
    shuffled = probabilities.copy()
    shuffled[0, 3:] = shuffled[0, 3:, ::-1]
    assert float(mlm(labels, shuffled, sample_weight=weights)) == pytest.approx(per_masked_token, rel=1e-5)
    # one-segment examples (NSP weight 0) do not count in the NSP mean either
    nsp = pretraining_losses()["nsp_probabilities"]
    pairs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], "float32")
    expected = -(np.log(0.9) + np.log(0.8)) / 2
    two_segment = np.array([1, 1, 0], "float32")
    assert float(nsp(np.array([0, 1, 0]), pairs, sample_weight=two_segment)) == pytest.approx(expected, rel=1e-5)


def test_mask_rate_and_next_sentence_rate_shape_the_training_batches_not_the_held_out_ones():
    data_root_or_skip("glue")
    data_root_or_skip("tiny_shakespeare/input.txt")
    from kerasnets.training import tasks
    from kerasnets.training.recipes import get_recipe
    from kerasnets.training.trainer import resolve_config

    recipe = get_recipe("bert_pretraining-corpus")
    overrides = dict(TINY, data_dir=tfds_dir(), batch_size=64, mask_rate=0.5, max_predictions=64,
                     next_sentence_rate=1.0)  # fmt: skip
    task = tasks.TASKS[recipe.task](recipe, resolve_config(recipe, overrides))
    train_batches, held_out, _ = task.datasets()
    specials = task.tokenizer.special_token_ids
    for batches, all_next in ((train_batches, True), (held_out, False)):
        inputs, targets, weights = next(iter(batches))
        ids, real = inputs["token_ids"].numpy(), inputs["padding_mask"].numpy().astype(bool)
        candidates = (real & (ids != specials["[CLS]"]) & (ids != specials["[SEP]"])).sum(axis=1)
        predictions = weights["mlm_probabilities"].numpy().sum(axis=1)
        assert np.all(np.abs(predictions - 0.5 * candidates) <= 1)  # half the tokens, in both
        paired = weights["nsp_probabilities"].numpy() > 0
        labels = targets["nsp_probabilities"].numpy()[paired]
        assert paired.any() and np.all(labels == 0) == all_next  # training pairs all "IsNext"; held-out 50/50


@pytest.mark.parametrize("setting", ["mask_rate=0", "mask_rate=1", "next_sentence_rate=1.5", "next_sentence_rate=-0.1"])
def test_rates_outside_their_range_are_refused(setting):
    key, value = setting.split("=")
    with pytest.raises(ConfigurationError, match=f"Setting '{key}' of recipe bert_pretraining-corpus must be"):
        train("bert_pretraining-corpus", steps=1, overrides={key: float(value)}, output="/nonexistent/never-written")
