import keras
import numpy as np
import pytest

from kerasnets.layers.bahdanau_attention import BahdanauAttention
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer


def reference_bahdanau(query, value, query_kernel, key_kernel, bias, score_vector, key_mask=None):
    """score_ij = vᵀ tanh(q_i W_q + k_j W_k + b), softmax over unmasked j, context_i = Σ_j α_ij v_j."""
    batch, t_q, t_k = query.shape[0], query.shape[1], value.shape[1]
    scores = np.zeros((batch, t_q, t_k))
    for b in range(batch):
        for i in range(t_q):
            for j in range(t_k):
                hidden = np.tanh(query[b, i] @ query_kernel + value[b, j] @ key_kernel + bias)
                scores[b, i, j] = hidden @ score_vector
    if key_mask is not None:
        scores = np.where(key_mask[:, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ value, weights


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 6)).astype("float32")
    value = rng.normal(size=(2, 5, 4)).astype("float32")
    key_mask = np.array([[True, True, True, False, False], [True, True, True, True, True]])
    return query, value, key_mask


def test_matches_numpy_reference(data):
    query, value, key_mask = data
    layer = BahdanauAttention(8, bias_initializer="random_normal")
    for mask in (None, key_mask):
        context, weights = layer(query, value, mask=mask, return_attention_scores=True)
        expected, expected_weights = reference_bahdanau(query, value, *(np.asarray(w) for w in layer.weights), mask)
        np.testing.assert_allclose(context, expected, atol=1e-5)
        np.testing.assert_allclose(weights, expected_weights, atol=1e-6)
    assert [(w.name, w.shape) for w in layer.weights] == [
        ("query_kernel", (6, 8)),
        ("key_kernel", (4, 8)),
        ("bias", (8,)),
        ("score_vector", (8,)),
    ]
    assert layer(query, value).shape == (2, 3, 4)


def test_masked_keys_get_no_weight(data):
    query, value, key_mask = data
    layer = BahdanauAttention(8)
    context, weights = layer(query, value, mask=key_mask, return_attention_scores=True)
    np.testing.assert_array_equal(np.asarray(weights)[0, :, 3:], 0.0)
    noisy = value.copy()
    noisy[0, 3:] = 50.0
    np.testing.assert_allclose(layer(query, noisy, mask=key_mask), context, atol=1e-6)
    # The AdditiveAttention-style [query_mask, value_mask] gives the same.
    np.testing.assert_allclose(layer(query, value, mask=[None, key_mask]), context, atol=1e-6)


def test_all_keys_masked_gives_zeros_not_nan(data):
    query, value, key_mask = data
    key_mask[0] = False
    context = np.asarray(BahdanauAttention(8)(query, value, mask=key_mask))
    np.testing.assert_array_equal(context[0], 0.0)
    assert np.all(np.isfinite(context))


def test_keras_masks_are_picked_up(data):
    # Padding in the keys is ignored and the query's mask reaches the output.
    source = np.array([[4, 5, 6, 0, 0], [1, 2, 3, 4, 5]])
    target = np.array([[7, 8, 0], [7, 8, 9]])
    source_ids = keras.Input((None,), dtype="int32")
    target_ids = keras.Input((None,), dtype="int32")
    source_embedding = keras.layers.Embedding(10, 4, mask_zero=True)
    target_embedding = keras.layers.Embedding(10, 6, mask_zero=True)
    values, queries = source_embedding(source_ids), target_embedding(target_ids)
    layer = BahdanauAttention(8)
    context = layer(queries, values)
    assert context._keras_mask is not None
    model = keras.Model([target_ids, source_ids], context)
    outputs = model([target, source])
    padded = np.concatenate([source, np.zeros((2, 2), int)], axis=1)
    np.testing.assert_allclose(model([target, padded]), outputs, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(outputs._keras_mask), target != 0)
    # Same as passing the key mask explicitly.
    explicit = layer(target_embedding(target), source_embedding(source), mask=source != 0)
    np.testing.assert_allclose(explicit, outputs, atol=1e-6)


def test_output_mask_is_the_query_mask(data):
    query, value, key_mask = data
    query_mask = np.array([[True, True, False], [True, True, True]])
    layer = BahdanauAttention(8)
    assert layer.compute_mask(query, [query_mask, key_mask]) is query_mask
    assert layer.compute_mask(query, None) is None
    # An explicit key mask must not become the output's mask.
    assert getattr(layer(query, value, mask=key_mask), "_keras_mask", None) is None


def test_config_and_saving(data, tmp_path):
    query, value, key_mask = data
    clone = assert_config_round_trip(BahdanauAttention(16, use_bias=False, kernel_regularizer="l2"))
    assert clone.units == 16 and not clone.use_bias
    layer = BahdanauAttention(8)
    model = wrap_layer(layer, {"query": ((None, 6), "float32"), "value": ((None, 4), "float32")})
    assert_reloads_identically(model, [query, value], tmp_path)
