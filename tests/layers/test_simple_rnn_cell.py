import keras
import numpy as np
import pytest

from kerasnets.layers.simple_rnn_cell import SimpleRNNCell
from tests.conftest import assert_config_round_trip, assert_reloads_identically


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(3, 6, 4)).astype("float32"), rng.normal(size=(3, 5)).astype("float32")


def test_step_matches_numpy_formula(data):
    x, h = data
    cell = SimpleRNNCell(5, bias_initializer="random_normal")
    output, [state] = cell(x[:, 0], [h])
    kernel, recurrent_kernel, bias = (np.asarray(w) for w in cell.weights)
    expected = np.tanh(x[:, 0] @ kernel + h @ recurrent_kernel + bias)
    np.testing.assert_allclose(output, expected, atol=1e-5)
    np.testing.assert_allclose(state, expected, atol=1e-5)
    # A bare state tensor gives a bare state back, as in Keras.
    _, bare = cell(x[:, 0], h)
    np.testing.assert_allclose(bare, expected, atol=1e-5)


def test_weights_match_keras_cell_both_ways(data):
    x, h = data
    ours, theirs = SimpleRNNCell(5, bias_initializer="random_normal"), keras.layers.SimpleRNNCell(5)
    ours(x[:, 0], [h])
    theirs(x[:, 0], [h])
    assert [(w.name, w.shape) for w in ours.weights] == [(w.name, w.shape) for w in theirs.weights]
    assert [w.name for w in ours.weights] == ["kernel", "recurrent_kernel", "bias"]
    theirs.set_weights(ours.get_weights())  # ours -> Keras
    np.testing.assert_allclose(ours(x[:, 0], [h])[0], theirs(x[:, 0], [h])[0], atol=1e-6)
    theirs = keras.layers.SimpleRNNCell(5, bias_initializer="random_normal")
    theirs(x[:, 0], [h])
    ours.set_weights(theirs.get_weights())  # Keras -> ours
    np.testing.assert_allclose(ours(x[:, 0], [h])[0], theirs(x[:, 0], [h])[0], atol=1e-6)


def test_runs_inside_keras_rnn(data):
    x, h = data
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False
    ours = keras.layers.RNN(SimpleRNNCell(5), return_sequences=True, return_state=True)
    theirs = keras.layers.SimpleRNN(5, return_sequences=True, return_state=True)
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    for a, b in zip(ours(x, initial_state=h, mask=mask), theirs(x, initial_state=h, mask=mask)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert SimpleRNNCell(5).get_initial_state(3)[0].shape == (3, 5)


def test_options():
    cell = SimpleRNNCell(3, activation="relu", use_bias=False, kernel_regularizer="l2")
    cell(np.ones((2, 4), "float32"), [np.zeros((2, 3), "float32")])
    assert [w.name for w in cell.weights] == ["kernel", "recurrent_kernel"]
    assert len(cell.losses) == 1
    with pytest.raises(ValueError, match="units"):
        SimpleRNNCell(0)


def test_config_and_saving(data, tmp_path):
    clone = assert_config_round_trip(
        SimpleRNNCell(7, activation="relu", recurrent_initializer="glorot_normal", bias_constraint="non_neg")
    )
    assert clone.units == 7 and clone.activation is keras.activations.relu
    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, keras.layers.RNN(SimpleRNNCell(5))(inputs))
    assert_reloads_identically(model, data[0], tmp_path)
