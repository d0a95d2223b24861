import keras
import numpy as np
import pytest

from kerasnets.layers.bahdanau_attention import BahdanauAttention
from kerasnets.layers.luong_attention import LuongAttention
from kerasnets.models.seq2seq import seq2seq
from tests.conftest import assert_reloads_identically, assert_trains

TINY = dict(source_vocabulary_size=15, target_vocabulary_size=11, embedding_dim=6, units=8)
COMBINATIONS = [("lstm", "bahdanau"), ("gru", "luong"), ("simple_rnn", None), ("lstm", None), ("gru", "bahdanau")]


@pytest.fixture
def batch():
    source = np.array([[3, 4, 5, 6, 0, 0], [1, 2, 7, 8, 9, 14]], "int32")
    target = np.array([[1, 4, 5, 0, 0], [1, 2, 3, 6, 10]], "int32")
    return {"encoder_token_ids": source, "decoder_token_ids": target}


def test_default_model():
    model = seq2seq()
    assert model.name == "seq2seq" and not model.compiled
    assert sorted(x.name for x in model.inputs) == ["decoder_token_ids", "encoder_token_ids"]
    assert model.output_names == ["probabilities"]
    assert isinstance(model.get_layer("attention"), BahdanauAttention)
    assert model.count_params() == 3_616_392


@pytest.mark.parametrize("cell, attention", COMBINATIONS)
def test_decoder_is_causal_and_source_padding_is_ignored(batch, cell, attention):
    model = seq2seq(**TINY, cell=cell, attention=attention)
    outputs = np.asarray(model(batch))
    assert outputs.shape == (2, 5, 11) and outputs.dtype == "float32"
    np.testing.assert_allclose(outputs.sum(axis=-1), 1.0, atol=1e-5)
    # A later decoder token changes nothing before it.
    for t in (1, 3):
        changed = dict(batch, decoder_token_ids=batch["decoder_token_ids"].copy())
        changed["decoder_token_ids"][1, t] = 9
        changed_outputs = np.asarray(model(changed))
        np.testing.assert_allclose(changed_outputs[:, :t], outputs[:, :t], atol=1e-6)
        assert not np.allclose(changed_outputs[1, t], outputs[1, t], atol=1e-6)
    # More padding in the source changes nothing; a source token does.
    padded = dict(batch, encoder_token_ids=np.pad(batch["encoder_token_ids"], ((0, 0), (0, 3))))
    np.testing.assert_allclose(model(padded), outputs, atol=1e-6)
    changed = dict(batch, encoder_token_ids=batch["encoder_token_ids"].copy())
    changed["encoder_token_ids"][0, 0] = 13
    assert not np.allclose(model(changed)[0], outputs[0], atol=1e-6)


def test_attention_choices():
    assert isinstance(seq2seq(**TINY, attention="luong").get_layer("attention"), LuongAttention)
    without = seq2seq(**TINY, attention=None)
    assert not any("attention" in layer.name for layer in without.layers)
    with pytest.raises(ValueError, match="Valid attentions: bahdanau, luong, None"):
        seq2seq(attention="dot")
    with pytest.raises(ValueError, match="Valid cells: lstm, gru, simple_rnn"):
        seq2seq(cell="transformer")


def test_padded_targets_are_left_out_of_the_loss(batch):
    model = seq2seq(**TINY)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    labels = np.array([[4, 5, 2, 0, 0], [2, 3, 6, 10, 2]])
    other_labels = labels.copy()
    other_labels[0, 3:] = 7  # where decoder_token_ids is padding
    loss = model.evaluate(batch, labels, verbose=0)
    assert model.evaluate(batch, other_labels, verbose=0) == pytest.approx(loss, rel=1e-6)
    other_labels[0, 1] = 7
    assert model.evaluate(batch, other_labels, verbose=0) != pytest.approx(loss, rel=1e-6)


@pytest.fixture
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("cell, attention", [("lstm", "bahdanau"), ("simple_rnn", "luong")])
def test_mixed_precision_output_stays_float32(batch, mixed_precision, cell, attention):
    model = seq2seq(**TINY, cell=cell, attention=attention)
    assert model.get_layer("decoder").compute_dtype == "float16"
    outputs = model(batch)
    assert outputs.dtype == "float32" and np.all(np.isfinite(np.asarray(outputs)))


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
def test_saving(batch, tmp_path, attention):
    model = seq2seq(**TINY, attention=attention, dropout=0.1)
    assert_reloads_identically(model, batch, tmp_path)


def test_trains():
    # Copy the source: learnable for a tiny model with attention.
    rng = np.random.default_rng(0)
    source = rng.integers(1, 11, size=(8, 6)).astype("int32")
    labels = source[:, :5].copy()
    source[:3, 5:] = 0
    decoder_inputs = np.concatenate([np.ones((8, 1), "int32"), labels[:, :-1]], axis=1)  # teacher forcing
    inputs = {"encoder_token_ids": source, "decoder_token_ids": decoder_inputs}
    assert_trains(seq2seq(**dict(TINY, embedding_dim=8, units=16)), inputs, labels)
