import numpy as np
import pytest

from kerasnets.layers.lstm import LSTM
from kerasnets.models.rnn_language_model import rnn_language_model
from tests.conftest import assert_reloads_identically, assert_trains

TINY = dict(vocabulary_size=12, embedding_dim=6, units=8)


def test_default_model():
    model = rnn_language_model()
    assert model.name == "rnn_language_model" and not model.compiled
    assert [x.name for x in model.inputs] == ["token_ids"] and model.output_names == ["probabilities"]
    assert model.output_shape == (None, None, 65)
    assert isinstance(model.get_layer("lstm_0"), LSTM)
    assert model.count_params() == 65 * 64 + 4 * 256 * (64 + 256 + 1) + 256 * 65 + 65
    probabilities = model(np.array([[1, 2, 3, 0, 64]]))
    assert probabilities.shape == (1, 5, 65) and probabilities.dtype == "float32"
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_later_tokens_do_not_change_earlier_outputs(cell):
    model = rnn_language_model(**TINY, cell=cell, num_layers=2)
    tokens = np.array([[3, 4, 5, 6, 7, 8], [1, 2, 0, 9, 10, 11]])
    outputs = np.asarray(model(tokens))
    for t in range(tokens.shape[1]):
        changed = tokens.copy()
        changed[:, t] = (changed[:, t] + 1) % 12
        changed_outputs = np.asarray(model(changed))
        np.testing.assert_allclose(changed_outputs[:, :t], outputs[:, :t], atol=1e-6)
        assert not np.allclose(changed_outputs[:, t], outputs[:, t], atol=1e-6)


def test_choices_are_checked():
    with pytest.raises(ValueError, match="Valid cells: lstm, gru, simple_rnn"):
        rnn_language_model(cell="rnn")
    with pytest.raises(ValueError, match="num_layers"):
        rnn_language_model(num_layers=0)


def test_saving(tmp_path):
    model = rnn_language_model(**TINY, num_layers=2, dropout=0.2)
    assert_reloads_identically(model, np.array([[3, 4, 5, 0], [1, 2, 6, 7]]), tmp_path)


def test_trains():
    # Counting modulo 12: the next token is learnable from the current one.
    start = np.random.default_rng(0).integers(0, 12, size=(8, 1))
    text = ((start + np.arange(7)) % 12).astype("int32")
    assert_trains(rnn_language_model(**TINY), text[:, :-1], text[:, 1:])
