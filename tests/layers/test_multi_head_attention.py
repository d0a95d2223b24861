import keras
import numpy as np
import pytest

from kerasnets.layers import MultiHeadAttention
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer

RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(2, 5, 12)).astype("float32")
VALUE = RNG.normal(size=(2, 7, 10)).astype("float32")
KEY = RNG.normal(size=(2, 7, 6)).astype("float32")


def paired(**kwargs):
    """A Keras MultiHeadAttention and ours, ours holding a copy of its weights."""
    theirs = keras.layers.MultiHeadAttention(**kwargs)
    ours = MultiHeadAttention(**kwargs)
    theirs(QUERY, VALUE, KEY)
    ours(QUERY, VALUE, KEY)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_heads=3, key_dim=4),
        dict(num_heads=2, key_dim=5, value_dim=3, output_shape=9),
        dict(num_heads=4, key_dim=2, use_bias=False, output_shape=(7,)),
    ],
)
def test_same_weights_and_outputs_as_keras(kwargs):
    theirs, ours = paired(**kwargs)
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    expected, expected_scores = theirs(QUERY, VALUE, KEY, return_attention_scores=True)
    actual, scores = ours(QUERY, VALUE, KEY, return_attention_scores=True)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-6)


def test_weights_transfer_back_to_keras():
    ours = MultiHeadAttention(num_heads=2, key_dim=4)
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    ours(QUERY, QUERY)
    theirs(QUERY, QUERY)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(QUERY, QUERY), theirs(QUERY, QUERY), atol=1e-5)


def test_causal_and_attention_masks_match_keras():
    theirs, ours = paired(num_heads=2, key_dim=4)
    self_theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    self_ours = MultiHeadAttention(num_heads=2, key_dim=4)
    self_theirs(QUERY, QUERY)
    self_ours(QUERY, QUERY)
    self_ours.set_weights(self_theirs.get_weights())
    np.testing.assert_allclose(
        self_ours(QUERY, QUERY, use_causal_mask=True), self_theirs(QUERY, QUERY, use_causal_mask=True), atol=1e-5
    )
    attention_mask = RNG.random((2, 5, 7)) > 0.5
    attention_mask[..., 0] = True
    np.testing.assert_allclose(
        ours(QUERY, VALUE, KEY, attention_mask=attention_mask),
        theirs(QUERY, VALUE, KEY, attention_mask=attention_mask),
        atol=1e-5,
    )


def test_causal_mask_by_behaviour():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    changed = QUERY.copy()
    changed[:, 3:] = RNG.normal(size=changed[:, 3:].shape)
    before = np.asarray(layer(QUERY, QUERY, use_causal_mask=True))
    after = np.asarray(layer(changed, changed, use_causal_mask=True))
    np.testing.assert_allclose(before[:, :3], after[:, :3], atol=1e-6)
    assert not np.allclose(before[:, 3:], after[:, 3:])


def test_keras_masks_from_embedding_are_honoured():
    token_ids = np.array([[4, 2, 7, 0, 0], [3, 1, 0, 0, 0]])
    embedding = keras.layers.Embedding(10, 12, mask_zero=True)
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    ours = MultiHeadAttention(num_heads=2, key_dim=4)
    x = embedding(token_ids)
    theirs(x, x)
    ours(x, x)
    ours.set_weights(theirs.get_weights())
    real = token_ids != 0
    x = embedding(token_ids)  # Keras' layer strips the masks off its inputs: embed afresh
    expected = np.asarray(theirs(x, x))
    x = embedding(token_ids)
    actual = ours(x, x)
    np.testing.assert_allclose(np.asarray(actual)[real], expected[real], atol=1e-5)
    # The query's mask is passed on, and changing padded tokens changes nothing real.
    np.testing.assert_array_equal(actual._keras_mask, real)
    other = np.asarray(x).copy()
    other[~real] = 9.0
    changed = ours(other, other, query_mask=real, value_mask=real)
    np.testing.assert_allclose(np.asarray(changed)[real], np.asarray(actual)[real], atol=1e-6)


def test_explicit_value_mask_ignores_padded_values():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    value_mask = np.ones((2, 7), bool)
    value_mask[:, 5:] = False
    changed = VALUE.copy()
    changed[:, 5:] = 50.0
    np.testing.assert_allclose(
        layer(QUERY, VALUE, value_mask=value_mask), layer(QUERY, changed, value_mask=value_mask), atol=1e-5
    )


def test_rejects_unsupported_arguments():
    with pytest.raises(ValueError, match="attention_axes"):
        MultiHeadAttention(num_heads=2, key_dim=4, attention_axes=(1, 2))
    with pytest.raises(ValueError, match="output_shape"):
        MultiHeadAttention(num_heads=2, key_dim=4, output_shape=(3, 4))


@pytest.mark.parametrize("bad", [0, -2, 1.5, 2.0, True, "2"])
def test_rejects_non_positive_or_non_int_sizes(bad):
    with pytest.raises(ValueError, match="argument `num_heads`"):
        MultiHeadAttention(num_heads=bad, key_dim=4)
    with pytest.raises(ValueError, match="argument `key_dim`"):
        MultiHeadAttention(num_heads=2, key_dim=bad)
    with pytest.raises(ValueError, match="argument `value_dim`"):
        MultiHeadAttention(num_heads=2, key_dim=4, value_dim=bad)
    with pytest.raises(ValueError, match="Invalid `output_shape`"):
        MultiHeadAttention(num_heads=2, key_dim=4, output_shape=bad)
    with pytest.raises(ValueError, match="Invalid `output_shape`"):
        MultiHeadAttention(num_heads=2, key_dim=4, output_shape=(bad,))


def test_accepts_numpy_ints_and_defaults():
    layer = MultiHeadAttention(num_heads=np.int64(2), key_dim=np.int32(4), value_dim=None, output_shape=(np.int64(6),))
    assert (layer.num_heads, layer.key_dim, layer.value_dim, layer.output_dim) == (2, 4, 4, 6)
    assert layer(QUERY, VALUE).shape == (2, 5, 6)


@pytest.mark.parametrize(
    "query_shape, value_shape, key_shape, message",
    [
        ((2, 4, 8), (2, 2, 7), (2,), "rank 3"),  # Keras' "query_value_dim_mismatch"
        ((2, 4, 8), (2, 2, 8), (2, 1, 7), "must be equal"),  # one key per value
        ((2, 4, 2, 3, 8), (2, 1, 1, 5, 8), (2, 1, 15, 5, 2), "rank 3"),
    ],
)
def test_shape_mismatches_raise_up_front(query_shape, value_shape, key_shape, message):
    layer = MultiHeadAttention(num_heads=4, key_dim=2, value_dim=2)
    with pytest.raises(ValueError, match=message):
        layer.compute_output_shape(query_shape, value_shape, key_shape)
    with pytest.raises(ValueError, match=message):
        layer(np.ones(query_shape), np.ones(value_shape), np.ones(key_shape))
    assert not layer.built
    # A built layer checks later calls too.
    layer(np.ones((2, 4, 8)), np.ones((2, 2, 8)), np.ones((2, 2, 7)))
    with pytest.raises(ValueError, match="must be equal"):
        layer(np.ones((2, 4, 8)), np.ones((2, 2, 8)), np.ones((2, 3, 7)))


@pytest.mark.parametrize("query_length, key_length", [(3, 3), (3, 5)])
def test_symbolic_call_returns_the_attention_scores(query_length, key_length):
    layer = MultiHeadAttention(num_heads=4, key_dim=2)
    query = keras.Input((query_length, 6))
    value = keras.Input((key_length, 6))
    outputs, scores = layer(query, value, return_attention_scores=True)
    assert tuple(outputs.shape) == (None, query_length, 6)
    assert tuple(scores.shape) == (None, 4, query_length, key_length)
    assert layer.compute_output_shape((2, query_length, 6), (2, key_length, 6), return_attention_scores=True) == (
        (2, query_length, 6),
        (2, 4, query_length, key_length),
    )
    model = keras.Model([query, value], [outputs, scores])
    q = RNG.normal(size=(2, query_length, 6)).astype("float32")
    v = RNG.normal(size=(2, key_length, 6)).astype("float32")
    expected_outputs, expected_scores = layer(q, v, return_attention_scores=True)
    actual_outputs, actual_scores = model([q, v])
    np.testing.assert_allclose(actual_outputs, expected_outputs, atol=1e-6)
    np.testing.assert_allclose(actual_scores, expected_scores, atol=1e-6)
    assert tuple(layer(query, value).shape) == (None, query_length, 6)  # one tensor without the flag


def test_attention_mask_of_every_keras_shape():
    # (T, S), (B, T, S) and (B, H, T, S) masks, as keras.layers.MultiHeadAttention takes them.
    theirs, ours = paired(num_heads=3, key_dim=4)
    rng = np.random.default_rng(1)
    per_pair = rng.random((5, 7)) > 0.5
    per_pair[:, 0] = True
    per_example = np.broadcast_to(per_pair, (2, 5, 7))
    expected = np.asarray(ours(QUERY, VALUE, KEY, attention_mask=per_example))
    for mask in (per_pair, np.broadcast_to(per_example[:, None], (2, 3, 5, 7)), per_example[:, None]):
        np.testing.assert_allclose(ours(QUERY, VALUE, KEY, attention_mask=mask), expected, atol=1e-6)
        np.testing.assert_allclose(theirs(QUERY, VALUE, KEY, attention_mask=mask), expected, atol=1e-5)
    # A different mask per head: each head's weights vanish exactly where its own mask is False.
    per_head = rng.random((2, 3, 5, 7)) > 0.5
    per_head[..., 0] = True
    outputs, scores = ours(QUERY, VALUE, KEY, attention_mask=per_head, return_attention_scores=True)
    assert np.all(np.asarray(scores)[~per_head] == 0) and np.all(np.asarray(scores)[per_head] > 0)
    np.testing.assert_allclose(outputs, theirs(QUERY, VALUE, KEY, attention_mask=per_head), atol=1e-5)
    with pytest.raises(ValueError, match="attention_mask"):
        ours(QUERY, VALUE, KEY, attention_mask=np.ones((7,), bool))
    with pytest.raises(ValueError, match="num_heads"):
        ours(QUERY, VALUE, KEY, attention_mask=np.ones((2, 2, 5, 7), bool))


def test_attention_mask_shapes_combine_with_padding_and_causal_masks():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    padding = np.array([[True] * 5, [True] * 3 + [False] * 2])
    per_pair = np.tril(np.ones((5, 5), bool)) | np.eye(5, k=1, dtype=bool)  # causal plus one step ahead
    combined = per_pair[None] & padding[:, None, :] & padding[:, :, None] & np.tril(np.ones((5, 5), bool))
    expected = np.asarray(layer(QUERY, QUERY, attention_mask=combined))
    for mask in (per_pair, np.broadcast_to(per_pair, (2, 2, 5, 5))):
        actual = layer(QUERY, QUERY, query_mask=padding, value_mask=padding, attention_mask=mask, use_causal_mask=True)
        np.testing.assert_allclose(np.asarray(actual)[padding], expected[padding], atol=1e-6)


def test_config_and_saving(tmp_path):
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, dropout=0.1, output_shape=8, use_bias=False)
    clone = assert_config_round_trip(layer)
    assert (clone.num_heads, clone.key_dim, clone.value_dim, clone.output_dim) == (2, 3, 5, 8)
    model = wrap_layer(MultiHeadAttention(num_heads=2, key_dim=4), {"q": ((5, 12), "float32"), "v": ((7, 10), "float32")})
    assert_reloads_identically(model, [QUERY, VALUE], tmp_path)


def test_cached_decoding_matches_full_causal_attention():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    x = QUERY  # (2, 5, 12)
    full = np.asarray(layer(x, x, use_causal_mask=True))
    cache = layer.empty_cache(batch_size=2, length=8)  # longer than needed: the unwritten tail is masked
    assert tuple(cache.shape) == (2, 2, 8, 2, 4)
    output, cache = layer(x[:, :2], x[:, :2], use_causal_mask=True, cache=cache, cache_update_index=0)  # prefill
    np.testing.assert_allclose(output, full[:, :2], atol=1e-5)
    for t in range(2, 5):
        output, scores, cache = layer(
            x[:, t : t + 1],
            x[:, t : t + 1],
            use_causal_mask=True,
            cache=cache,
            cache_update_index=keras.ops.convert_to_tensor(t),
            return_attention_scores=True,
        )
        np.testing.assert_allclose(output[:, 0], full[:, t], atol=1e-5)
        assert tuple(scores.shape) == (2, 2, 1, 8) and not np.asarray(scores)[..., t + 1 :].any()
    # The cache holds the projected keys and values of every position written, zeros after.
    np.testing.assert_allclose(cache[:, :, :5], layer.compute_key_value_cache(x), atol=1e-5)
    assert not np.asarray(cache[:, :, 5:]).any()


def test_one_position_steps_match_full_attention_with_padding_and_attention_masks():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    x = QUERY  # (2, 5, 12)
    padding = np.ones((2, 5), bool)
    padding[1, 3:] = False  # right-padded row: its padded queries output the bias alone
    allowed = np.tril(np.ones((5, 5), bool))
    allowed[2:, 0] = False  # later queries may not see position 0
    full = np.asarray(layer(x, x, query_mask=padding, value_mask=padding, attention_mask=allowed[None]))
    np.testing.assert_allclose(full[1, 3:], np.broadcast_to(np.asarray(layer.output_bias), (2, 12)), atol=1e-6)
    cache = layer.empty_cache(batch_size=2, length=5)
    for t in range(5):
        step = slice(t, t + 1)
        output, cache = layer(
            x[:, step],
            x[:, step],
            query_mask=padding[:, step],
            value_mask=padding[:, step],
            attention_mask=np.broadcast_to(allowed[step], (2, 1, 5)),
            cache=cache,
            cache_update_index=t,
        )
        np.testing.assert_allclose(output[:, 0], full[:, t], atol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow graphs")
def test_a_cached_step_traces_without_xla_ops():
    import tensorflow as tf

    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    layer(QUERY, QUERY)
    step = tf.function(
        lambda x, cache, i: layer(x, x, use_causal_mask=True, cache=cache, cache_update_index=i),
        input_signature=[
            tf.TensorSpec([None, 1, 12], tf.float32),
            tf.TensorSpec([None, 2, None, 2, 4], tf.float32),
            tf.TensorSpec([], tf.int32),
        ],
    )
    graph = step.get_concrete_function().graph
    ops = {op.type for op in graph.get_operations()}
    assert "TensorStridedSliceUpdate" in ops and not any(op.startswith("Xla") for op in ops)
    expected = layer(QUERY, QUERY, use_causal_mask=True)
    cache = layer.empty_cache(2, 5)
    for t in range(5):
        output, cache = step(QUERY[:, t : t + 1], cache, t)
        np.testing.assert_allclose(output[:, 0], expected[:, t], atol=1e-5)


def test_precomputed_cache_matches_attention_over_padded_values():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    layer(QUERY, VALUE)
    value_mask = np.ones((2, 7), bool)
    value_mask[1, 4:] = False
    expected = layer(QUERY, VALUE, value_mask=value_mask)
    cache = layer.compute_key_value_cache(VALUE)
    assert tuple(cache.shape) == (2, 2, 7, 2, 4)
    output, returned = layer(QUERY, None, value_mask=value_mask, cache=cache)  # no re-projection
    np.testing.assert_allclose(output, expected, atol=1e-5)
    np.testing.assert_array_equal(returned, cache)
    with_key = MultiHeadAttention(num_heads=2, key_dim=4)
    with_key(QUERY, VALUE, KEY)
    output, _ = with_key(QUERY, cache=with_key.compute_key_value_cache(VALUE, KEY))
    np.testing.assert_allclose(output, with_key(QUERY, VALUE, KEY), atol=1e-5)


def test_cache_needs_equal_key_and_value_sizes():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3)
    layer(QUERY, VALUE)
    with pytest.raises(ValueError, match="value_dim"):
        layer.empty_cache(2, 5)
    with pytest.raises(ValueError, match="value"):
        MultiHeadAttention(num_heads=2, key_dim=4)(QUERY)
