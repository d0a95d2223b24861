import keras
import numpy as np
import pytest

from kerasnets.layers.lstm_cell import LSTMCell
from tests.conftest import assert_config_round_trip, assert_reloads_identically


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    h, c = rng.normal(size=(2, 3, 5)).astype("float32")
    return x, h, c


def test_step_matches_numpy_formula(data):
    x, h, c = data
    cell = LSTMCell(5, bias_initializer="random_normal", unit_forget_bias=False)
    output, [new_h, new_c] = cell(x[:, 0], [h, c])
    kernel, recurrent_kernel, bias = (np.asarray(w) for w in cell.weights)
    z = x[:, 0] @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)  # gate order i, f, c, o
    expected_c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    expected_h = sigmoid(o) * np.tanh(expected_c)
    np.testing.assert_allclose(new_c, expected_c, atol=1e-5)
    np.testing.assert_allclose(new_h, expected_h, atol=1e-5)
    np.testing.assert_allclose(output, expected_h, atol=1e-5)


def test_unit_forget_bias():
    cell = LSTMCell(3, bias_initializer="zeros")
    cell.build((None, 2))
    np.testing.assert_array_equal(cell.bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    cell = LSTMCell(3, bias_initializer="zeros", unit_forget_bias=False)
    cell.build((None, 2))
    np.testing.assert_array_equal(cell.bias, np.zeros(12))


def test_weights_match_keras_cell_both_ways(data):
    x, h, c = data
    ours, theirs = LSTMCell(5, bias_initializer="random_normal"), keras.layers.LSTMCell(5)
    ours(x[:, 0], [h, c])
    theirs(x[:, 0], [h, c])
    assert [(w.name, w.shape) for w in ours.weights] == [(w.name, w.shape) for w in theirs.weights]
    assert [w.shape for w in ours.weights] == [(4, 20), (5, 20), (20,)]
    theirs.set_weights(ours.get_weights())  # ours -> Keras
    for a, b in zip(ours(x[:, 0], [h, c])[1], theirs(x[:, 0], [h, c])[1]):
        np.testing.assert_allclose(a, b, atol=1e-6)
    theirs = keras.layers.LSTMCell(5, bias_initializer="random_normal")
    theirs(x[:, 0], [h, c])
    ours.set_weights(theirs.get_weights())  # Keras -> ours
    for a, b in zip(ours(x[:, 0], [h, c])[1], theirs(x[:, 0], [h, c])[1]):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_same_initial_bias_as_keras():
    ours, theirs = LSTMCell(4), keras.layers.LSTMCell(4)
    ours.build((None, 3))
    theirs.build((None, 3))
    np.testing.assert_array_equal(ours.bias, theirs.bias)


def test_runs_inside_keras_rnn(data):
    x, h, c = data
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False
    mask[1, :2] = False
    ours = keras.layers.RNN(LSTMCell(5), return_sequences=True, return_state=True, go_backwards=True)
    theirs = keras.layers.LSTM(5, return_sequences=True, return_state=True, go_backwards=True)
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    for a, b in zip(ours(x, initial_state=[h, c], mask=mask), theirs(x, initial_state=[h, c], mask=mask)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert [s.shape for s in LSTMCell(5).get_initial_state(3)] == [(3, 5), (3, 5)]


def test_options():
    cell = LSTMCell(3, recurrent_activation="hard_sigmoid", use_bias=False, recurrent_regularizer="l2")
    cell(np.ones((2, 4), "float32"), [np.zeros((2, 3), "float32")] * 2)
    assert [w.name for w in cell.weights] == ["kernel", "recurrent_kernel"]
    assert len(cell.losses) == 1
    with pytest.raises(ValueError, match="units"):
        LSTMCell(-1)


def test_config_and_saving(data, tmp_path):
    clone = assert_config_round_trip(
        LSTMCell(7, recurrent_activation="hard_sigmoid", unit_forget_bias=False, kernel_regularizer="l1")
    )
    assert clone.units == 7 and not clone.unit_forget_bias
    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, keras.layers.RNN(LSTMCell(5), return_sequences=True)(inputs))
    assert_reloads_identically(model, data[0], tmp_path)
