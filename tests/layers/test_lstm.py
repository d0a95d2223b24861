import keras
import numpy as np
import pytest

from kerasnets.layers.lstm import LSTM
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
    h, c = rng.normal(size=(2, 3, 5)).astype("float32")
    return x, mask, [h, c]


def pair(**options):
    """Our LSTM and Keras's, built, with our weights copied into Keras's."""
    ours, theirs = LSTM(5, **options), keras.layers.LSTM(5, **options)
    ours.build((None, None, 4))
    theirs.build((None, None, 4))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def assert_all_close(actual, expected, atol=1e-5):
    actual, expected = keras.tree.flatten(actual), keras.tree.flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, atol=atol)


@pytest.mark.parametrize("options", OPTIONS)
def test_matches_keras_lstm(data, options):
    x, mask, initial_state = data
    ours, theirs = pair(**options)
    calls = ({}, {"mask": mask}, {"initial_state": initial_state}, {"initial_state": initial_state, "mask": mask})
    for kwargs in calls:
        assert_all_close(ours(x, **kwargs), theirs(x, **kwargs))


def test_weights_transfer_from_keras(data):
    x, mask, _ = data
    theirs = keras.layers.LSTM(5, return_sequences=True, bias_initializer="random_normal")
    theirs(x)
    ours = LSTM(5, return_sequences=True)
    ours(x)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [w.path.split("/", 1)[1] for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    assert_all_close(ours(x, mask=mask), theirs(x, mask=mask))
    assert ours.cell.kernel is ours.weights[0]


def test_masked_steps_carry_the_state(data):
    x, mask, _ = data
    outputs, h, c = LSTM(5, return_sequences=True, return_state=True)(x, mask=mask)
    outputs = np.asarray(outputs)
    np.testing.assert_array_equal(outputs[0, 4:], np.broadcast_to(outputs[0, 3], (2, 5)))  # repeated
    np.testing.assert_array_equal(outputs[1, :2], 0.0)  # nothing seen yet
    np.testing.assert_array_equal(outputs[2, 2:4], np.broadcast_to(outputs[2, 1], (2, 5)))
    np.testing.assert_array_equal(h[0], outputs[0, 3])
    # Whatever sits at the masked steps is ignored.
    noisy = x.copy()
    noisy[~mask] = 100.0
    layer = LSTM(5, return_state=True)
    assert_all_close(layer(x, mask=mask), layer(noisy, mask=mask))


def test_keras_mask_from_embedding(data):
    tokens = np.array([[3, 4, 5, 0, 0], [1, 2, 6, 7, 8]])
    inputs = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    ours = LSTM(5, return_sequences=True)
    sequence = ours(embedded)
    assert sequence._keras_mask is not None  # passed on with return_sequences
    last = LSTM(5)(sequence)
    model = keras.Model(inputs, [sequence, last])
    padded = np.concatenate([tokens, np.zeros((2, 3), int)], axis=1)
    a, b = model(tokens), model(padded)
    np.testing.assert_allclose(a[1], b[1], atol=1e-6)
    np.testing.assert_allclose(a[0], np.asarray(b[0])[:, :5], atol=1e-6)
    theirs = keras.layers.LSTM(5, return_sequences=True)
    reference = keras.Model(inputs, theirs(embedded))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(reference(tokens), a[0], atol=1e-5)


def test_keras_mask_is_used_with_an_initial_state():
    # Keras fills in `mask` only for single-tensor calls; our layer takes the
    # mask of `sequences` through `sequences_mask` (keras.layers.LSTM would
    # ignore it here).
    tokens = np.array([[3, 4, 5, 0], [1, 2, 6, 7]])
    inputs = keras.Input((None,), dtype="int32")
    state = keras.Input((5,))
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    model = keras.Model([inputs, state], LSTM(5)(embedded, initial_state=[state, state]))
    h0 = np.random.default_rng(1).normal(size=(2, 5)).astype("float32")
    padded = np.concatenate([tokens, np.zeros((2, 2), int)], axis=1)
    np.testing.assert_allclose(model([tokens, h0]), model([padded, h0]), atol=1e-6)


def test_compute_mask(data):
    x, mask, _ = data
    assert LSTM(5, return_sequences=True).compute_mask(x, mask) is mask
    assert LSTM(5).compute_mask(x, mask) is None
    assert LSTM(5, return_sequences=True, return_state=True).compute_mask(x, mask) == [mask, None, None]


def test_inside_bidirectional_matches_keras(data):
    x, mask, _ = data
    ours = keras.layers.Bidirectional(LSTM(5, return_sequences=True))
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True))
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    assert_all_close(ours(x, mask=mask), theirs(x, mask=mask))


def test_dropout_only_in_training():
    # That the masks stay fixed across time is tested with SimpleRNN (same code path).
    x = np.ones((4, 6, 8), "float32")
    for options in ({"dropout": 0.5}, {"recurrent_dropout": 0.5}):
        layer = LSTM(16, return_sequences=True, seed=1, **options)
        np.testing.assert_allclose(layer(x), layer(x, training=False))
        assert not np.allclose(layer(x, training=True), layer(x, training=False))


def test_config_and_saving(data, tmp_path):
    x, _, _ = data
    layer = LSTM(
        7,
        recurrent_activation="hard_sigmoid",
        unit_forget_bias=False,
        dropout=0.1,
        recurrent_dropout=0.2,
        seed=3,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        kernel_regularizer="l2",
    )
    clone = assert_config_round_trip(layer)
    assert clone.units == 7 and clone.go_backwards and clone.cell.recurrent_activation is keras.activations.hard_sigmoid
    model = wrap_layer(LSTM(5, return_sequences=True, return_state=True), {"x": ((None, 4), "float32")})
    reloaded = assert_reloads_identically(model, x, tmp_path)
    assert isinstance(reloaded.layers[1], LSTM)
