"""The shared base of LSTM and SimpleRNN: Bidirectional, masking, the loop's
paths (training / inference, unknown length, XLA), all against Keras' layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.layers import LSTM, Recurrent, SimpleRNN, recurrent
from tests.conftest import assert_reloads_identically

PAIRS = {"lstm": (LSTM, keras.layers.LSTM), "simple_rnn": (SimpleRNN, keras.layers.SimpleRNN)}
PAIRS_STATES = {"lstm": 2, "simple_rnn": 1}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False  # trailing padding
    mask[1, :2] = False  # leading padding
    mask[2, 2:4] = False  # a hole
    return x, mask


def assert_all_close(actual, expected, atol=1e-5):
    actual, expected = keras.tree.flatten(actual), keras.tree.flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert tuple(a.shape) == tuple(e.shape)
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=atol)


def built_pair(kind, wrap=None, **options):
    ours, theirs = (cls(5, **options) for cls in PAIRS[kind])
    if wrap is not None:
        ours, theirs = wrap(ours), wrap(theirs)
    ours.build((None, None, 4))
    theirs.build((None, None, 4))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def test_is_the_base_of_both():
    assert issubclass(LSTM, Recurrent) and issubclass(SimpleRNN, Recurrent)
    assert LSTM(3).num_states == 2 and SimpleRNN(3).num_states == 1


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
def test_bidirectional_with_states_matches_keras(data, kind, return_sequences, merge_mode):
    x, mask = data
    wrap = lambda layer: keras.layers.Bidirectional(layer, merge_mode=merge_mode)  # noqa: E731
    ours, theirs = built_pair(kind, wrap, return_sequences=return_sequences, return_state=True)
    for kwargs in ({}, {"mask": mask}):
        expected = theirs(x, **kwargs)
        actual = ours(x, **kwargs)
        assert len(actual) == len(expected) == (2 if merge_mode is None else 1) + 2 * PAIRS_STATES[kind]
        assert_all_close(actual, expected)
    # Forward and backward initial states: the first half goes forward.
    states = [np.full((3, 5), 0.1 * (k + 1), "float32") for k in range(2 * PAIRS_STATES[kind])]
    assert_all_close(ours(x, initial_state=states), theirs(x, initial_state=states))


@pytest.mark.parametrize("kind", PAIRS)
def test_bidirectional_with_states_in_a_functional_model(data, kind, tmp_path):
    x, mask = data
    ours, theirs = built_pair(kind, keras.layers.Bidirectional, return_sequences=True, return_state=True)
    inputs = keras.Input((None, 4))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    models = [keras.Model(inputs, layer(masked)) for layer in (ours, theirs)]
    padded = x.copy()
    padded[~mask] = 0.0
    assert_all_close(models[0](padded), models[1](padded))
    reloaded = assert_reloads_identically(models[0], padded, tmp_path)
    assert isinstance(reloaded.layers[-1].forward_layer, PAIRS[kind][0])
    assert reloaded.layers[-1].backward_layer.go_backwards


def test_attributes_bidirectional_reads():
    layer = LSTM(4, return_state=True)
    assert layer.stateful is False and layer.states is None and layer.input_spec.ndim == 3
    shapes = layer.compute_output_shape((2, 7, 3))
    assert shapes == ((2, 4), (2, 4), (2, 4)) and isinstance(shapes, tuple)


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_padding_changes_nothing_else(kind, go_backwards):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = PAIRS[kind][0](5, return_sequences=True, return_state=True, go_backwards=go_backwards)
    padded = np.concatenate([x, rng.normal(size=(2, 3, 4)).astype("float32")], axis=1)
    padded_mask = np.concatenate([mask, np.zeros((2, 3), bool)], axis=1)
    short, long = layer(x, mask=mask), layer(padded, mask=padded_mask)
    assert_all_close(short[1:], long[1:], atol=1e-6)  # final states
    sequence, padded_sequence = np.asarray(short[0]), np.asarray(long[0])
    if go_backwards:  # read from the end: the three padding steps come first, with zero output
        np.testing.assert_array_equal(padded_sequence[:, :3], 0.0)
        padded_sequence = padded_sequence[:, 3:]
    else:
        padded_sequence = padded_sequence[:, :5]
    np.testing.assert_allclose(sequence, padded_sequence, atol=1e-6)


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True, "return_state": True},
        {"go_backwards": True, "return_state": True},
        {"zero_output_for_mask": True},
        {"zero_output_for_mask": True, "go_backwards": True},
    ],
)
def test_training_and_inference_paths_match_keras(data, kind, options):
    # The training path (two products per step) and the inference path (one
    # product on [x_t, h]) are different code; both must equal Keras.
    x, mask = data
    ours, theirs = built_pair(kind, **options)
    for kwargs in ({}, {"mask": mask}):
        expected = theirs(x, **kwargs)
        assert_all_close(ours(x, training=True, **kwargs), expected)
        assert_all_close(ours(x, training=False, **kwargs), expected)


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize(
    "options",
    [{"return_sequences": True, "return_state": True}, {"go_backwards": True, "return_state": True}, {}],
)
def test_keras_scan_loop_of_other_backends(data, kind, options, monkeypatch):
    # The keras.ops.scan loop used off TensorFlow, run here on TensorFlow.
    monkeypatch.setattr(recurrent, "_use_tensorflow_loop", lambda: False)
    x, mask = data
    ours, theirs = built_pair(kind, **options)
    for kwargs in ({}, {"mask": mask}):
        expected = theirs(x, **kwargs)
        assert_all_close(ours(x, training=True, **kwargs), expected)
        assert_all_close(ours(x, **kwargs), expected)


@pytest.mark.parametrize("kind", PAIRS)
def test_unknown_length_in_a_graph(data, kind):
    # In a tf.function traced for any length the loop cannot know T.
    x, mask = data
    ours, theirs = built_pair(kind, return_sequences=True, return_state=True, go_backwards=True)
    spec = [tf.TensorSpec((None, None, 4)), tf.TensorSpec((None, None), tf.bool)]
    traced = tf.function(lambda x, mask: ours(x, mask=mask), input_signature=spec)
    assert_all_close(traced(x, mask), theirs(x, mask=mask))
    assert_all_close(traced(x[:, :3], mask[:, :3]), theirs(x[:, :3], mask=mask[:, :3]))


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("jit_compile", [False, True])
def test_gradients_match_keras_and_compile_with_xla(data, kind, jit_compile):
    x, mask = data
    ours, theirs = built_pair(kind, return_sequences=True)
    initial = np.random.default_rng(2).normal(size=(3, 5)).astype("float32")

    def gradients(layer):
        @tf.function(jit_compile=jit_compile, input_signature=[tf.TensorSpec((None, None, 4))] * 2)
        def step(x, target):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, mask=tf.constant(mask), training=True)
                loss = tf.reduce_mean(tf.square(y - target[..., :1]))
            return tape.gradient(loss, [x] + layer.trainable_variables)

        return step(x, np.broadcast_to(initial[:, None, :1], (3, 6, 4)).copy())

    expected, actual = gradients(theirs), gradients(ours)
    assert len(actual) == len(expected) == 4
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=1e-5)


def test_fits_with_jit_compile():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
    x = LSTM(8, return_sequences=True, dropout=0.1, recurrent_dropout=0.1, seed=1)(x)
    outputs = keras.layers.Dense(3)(SimpleRNN(8)(x))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    assert model.jit_compile
    tokens = np.random.default_rng(3).integers(1, 20, size=(16, 7))
    tokens[:8, 5:] = 0
    labels = tokens[:, 0] % 3
    history = model.fit(tokens, labels, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
