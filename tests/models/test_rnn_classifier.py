import keras
import numpy as np
import pytest

from kerasnets.layers.lstm import LSTM
from kerasnets.layers.simple_rnn import SimpleRNN
from kerasnets.models.rnn_classifier import rnn_classifier
from tests.conftest import assert_reloads_identically, assert_trains

TINY = dict(vocabulary_size=20, embedding_dim=6, units=8, num_classes=3)


def test_default_model():
    model = rnn_classifier()
    assert model.name == "rnn_classifier" and not model.compiled
    assert [x.name for x in model.inputs] == ["sequence"] and model.output_names == ["probabilities"]
    assert model.input_shape == (None, 28, 28) and model.output_shape == (None, 10)
    assert isinstance(model.get_layer("lstm_0"), LSTM)
    assert model.count_params() == 4 * 128 * (28 + 128 + 1) + 128 * 10 + 10
    probabilities = model(np.random.default_rng(0).random((2, 28, 28), dtype="float32"))
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1.0, atol=1e-5)
    assert model.get_layer("probabilities").dtype_policy.compute_dtype == "float32"


@pytest.mark.parametrize(
    "options", [{"cell": "lstm"}, {"cell": "gru"}, {"cell": "simple_rnn", "num_layers": 2}, {"bidirectional": True}]
)
def test_padding_does_not_change_the_output(options):
    model = rnn_classifier(**TINY, **options)
    assert [x.name for x in model.inputs] == ["token_ids"]
    tokens = np.array([[3, 4, 5, 0, 0], [1, 2, 6, 7, 8]])
    more_padding = np.concatenate([tokens, np.zeros((2, 4), int)], axis=1)
    outputs = model(tokens)
    assert outputs.shape == (2, 3)
    np.testing.assert_allclose(model(more_padding), outputs, atol=1e-6)
    changed = tokens.copy()
    changed[0, 2] = 9  # a real token does change it
    assert not np.allclose(model(changed)[0], outputs[0], atol=1e-6)


def test_cells_and_layers():
    model = rnn_classifier(**TINY, cell="simple_rnn", num_layers=3)
    layers = [layer for layer in model.layers if isinstance(layer, SimpleRNN)]
    assert [layer.return_sequences for layer in layers] == [True, True, False]
    assert isinstance(rnn_classifier(**TINY, cell="gru").get_layer("gru_0"), keras.layers.GRU)
    assert rnn_classifier(**TINY, bidirectional=True).output_shape == (None, 3)
    with pytest.raises(ValueError, match="Valid cells: lstm, gru, simple_rnn"):
        rnn_classifier(cell="transformer")
    with pytest.raises(ValueError, match="num_layers"):
        rnn_classifier(num_layers=0)


def test_saving(tmp_path):
    model = rnn_classifier(**TINY, num_layers=2, bidirectional=True, dropout=0.1)
    assert_reloads_identically(model, np.array([[3, 4, 5, 0], [1, 2, 6, 7]]), tmp_path)


def test_trains_on_tokens():
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 20, size=(8, 6)).astype("int32")
    tokens[:4, 4:] = 0
    labels = rng.integers(0, 3, size=(8,))
    assert_trains(rnn_classifier(**TINY), tokens, labels)


def test_trains_on_float_sequences():
    rng = np.random.default_rng(0)
    sequences = rng.normal(size=(8, 5, 3)).astype("float32")
    labels = rng.integers(0, 4, size=(8,))
    model = rnn_classifier(input_shape=(5, 3), units=8, num_classes=4, cell="simple_rnn", dropout=0.1)
    assert_trains(model, sequences, labels)
