import keras
import numpy as np
import pytest

from kerasnets.layers.simple_rnn import SimpleRNN
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer

OPTIONS = [
    {},
    {"return_sequences": True},
    {"return_state": True},
    {"return_sequences": True, "return_state": True, "go_backwards": True},
    {"go_backwards": True},
    {"return_sequences": True, "zero_output_for_mask": True},
]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    # Trailing padding, leading padding, and a hole in the middle.
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False
    mask[1, :2] = False
    mask[2, 2:4] = False
    return x, mask, rng.normal(size=(3, 5)).astype("float32")


def assert_all_close(actual, expected, atol=1e-5):
    actual, expected = keras.tree.flatten(actual), keras.tree.flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, atol=atol)


@pytest.mark.parametrize("options", OPTIONS)
def test_matches_keras_simple_rnn(data, options):
    x, mask, h0 = data
    ours, theirs = SimpleRNN(5, **options), keras.layers.SimpleRNN(5, **options)
    ours.build((None, None, 4))
    theirs.build((None, None, 4))
    theirs.set_weights(ours.get_weights())
    for kwargs in ({}, {"mask": mask}, {"initial_state": h0}, {"mask": mask, "initial_state": [h0]}):
        assert_all_close(ours(x, **kwargs), theirs(x, **kwargs))


def test_matches_numpy_loop(data):
    x, _, h0 = data
    layer = SimpleRNN(5, return_sequences=True, bias_initializer="random_normal")
    outputs = np.asarray(layer(x, initial_state=h0))
    kernel, recurrent_kernel, bias = (np.asarray(w) for w in layer.weights)
    h = h0
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        np.testing.assert_allclose(outputs[:, t], h, atol=1e-5)


def test_weights_transfer_from_keras(data):
    x, mask, _ = data
    theirs = keras.layers.SimpleRNN(5, bias_initializer="random_normal")
    theirs(x)
    ours = SimpleRNN(5)
    ours(x)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [w.path.split("/", 1)[1] for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    assert_all_close(ours(x, mask=mask), theirs(x, mask=mask))


def test_padding_does_not_change_output():
    tokens = np.array([[3, 4, 5, 0, 0], [1, 2, 6, 7, 8]])
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(inputs, SimpleRNN(5)(keras.layers.Embedding(10, 4, mask_zero=True)(inputs)))
    other_padding = np.array([[3, 4, 5, 0, 0, 0, 0], [1, 2, 6, 7, 8, 0, 0]])
    np.testing.assert_allclose(model(tokens), model(other_padding), atol=1e-6)
    unmasked = keras.Model(inputs, model.layers[-1](keras.layers.Embedding(10, 4)(inputs)))
    assert not np.allclose(unmasked(tokens), unmasked(other_padding), atol=1e-4)  # the mask matters


def test_compute_mask(data):
    x, mask, _ = data
    assert SimpleRNN(5, return_sequences=True).compute_mask(x, mask) is mask
    assert SimpleRNN(5).compute_mask(x, mask) is None
    assert SimpleRNN(5, return_state=True).compute_mask(x, mask) == [None, None]


def test_dropout_masks_are_fixed_across_time():
    x = np.ones((4, 6, 8), "float32")  # the same input at every step
    # No recurrence: h_t = tanh(dropout(x_t) W + b) is the same at every t iff the mask is.
    layer = SimpleRNN(32, dropout=0.5, recurrent_initializer="zeros", return_sequences=True, seed=1)
    np.testing.assert_allclose(layer(x), layer(x, training=False))
    outputs = np.asarray(layer(x, training=True))
    assert not np.allclose(outputs, np.asarray(layer(x)))
    np.testing.assert_allclose(outputs, np.broadcast_to(outputs[:, :1], outputs.shape), atol=1e-6)
    # Only the recurrence, linear and the identity: h_t = m ⊙ h_{t-1}, so h_t = m^t ⊙ h_0.
    layer = SimpleRNN(
        32,
        activation="linear",
        recurrent_dropout=0.5,
        kernel_initializer="zeros",
        recurrent_initializer="identity",
        return_sequences=True,
        seed=2,
    )
    outputs = np.asarray(layer(x, initial_state=np.ones((4, 32), "float32"), training=True))
    kept = outputs[:, 0] != 0
    assert 0 < kept.mean() < 1
    for t in range(6):
        np.testing.assert_allclose(outputs[:, t], np.where(kept, 2.0 ** (t + 1), 0.0), rtol=1e-5)


def test_config_and_saving(data, tmp_path):
    x, _, _ = data
    layer = SimpleRNN(7, activation="relu", dropout=0.1, recurrent_dropout=0.2, seed=3, return_state=True)
    clone = assert_config_round_trip(layer)
    assert clone.units == 7 and clone.return_state and clone.cell.activation is keras.activations.relu
    model = wrap_layer(SimpleRNN(5, return_sequences=True, go_backwards=True), {"x": ((None, 4), "float32")})
    assert_reloads_identically(model, x, tmp_path)
