import keras
import numpy as np
import pytest

from kerasnets.layers import MultiHeadAttention
from kerasnets.layers.multi_head_attention import update_along_axis
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


def test_config_and_saving(tmp_path):
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, dropout=0.1, output_shape=8, use_bias=False)
    clone = assert_config_round_trip(layer)
    assert (clone.num_heads, clone.key_dim, clone.value_dim, clone.output_dim) == (2, 3, 5, 8)
    model = wrap_layer(MultiHeadAttention(num_heads=2, key_dim=4), {"q": ((5, 12), "float32"), "v": ((7, 10), "float32")})
    assert_reloads_identically(model, [QUERY, VALUE], tmp_path)


def test_update_along_axis_writes_a_slice_like_numpy():
    inputs = RNG.normal(size=(2, 6, 3)).astype("float32")
    updates = RNG.normal(size=(2, 2, 3)).astype("float32")
    expected = inputs.copy()
    expected[:, 3:5] = updates
    np.testing.assert_array_equal(update_along_axis(inputs, updates, 3, axis=1), expected)
    expected = inputs.copy()
    expected[:, 1:2] = updates[:, :1]
    start = keras.ops.convert_to_tensor(1)
    np.testing.assert_array_equal(update_along_axis(inputs, updates[:, :1], start, axis=1), expected)
    expected = inputs.copy()
    expected[:, 5] = updates[:, 0]  # what would fall past the end is dropped
    np.testing.assert_array_equal(update_along_axis(inputs, updates, 5, axis=-2), expected)


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
