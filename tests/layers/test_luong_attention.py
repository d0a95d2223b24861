import keras
import numpy as np
import pytest

from kerasnets.layers.luong_attention import LuongAttention
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer


def reference_luong(query, value, kernel=None, key_mask=None):
    """score_ij = q_i · k_j ("dot") or q_i W k_jᵀ ("general"); softmax over unmasked j."""
    projected = query if kernel is None else query @ kernel
    scores = np.einsum("bqd,bkd->bqk", projected, value)
    if key_mask is not None:
        scores = np.where(key_mask[:, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ value, weights


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 4)).astype("float32")
    value = rng.normal(size=(2, 5, 4)).astype("float32")
    key_mask = np.array([[True, True, True, False, False], [True, True, True, True, True]])
    return query, value, key_mask


@pytest.mark.parametrize("score", ["dot", "general"])
def test_matches_numpy_reference(data, score):
    query, value, key_mask = data
    layer = LuongAttention(score=score)
    for mask in (None, key_mask):
        context, weights = layer(query, value, mask=mask, return_attention_scores=True)
        kernel = np.asarray(layer.kernel) if score == "general" else None
        expected, expected_weights = reference_luong(query, value, kernel, mask)
        np.testing.assert_allclose(context, expected, atol=1e-5)
        np.testing.assert_allclose(weights, expected_weights, atol=1e-6)
    assert len(layer.weights) == (1 if score == "general" else 0)


def test_general_allows_different_widths(data):
    query, value, _ = data
    wide_value = np.concatenate([value, value], axis=-1)
    layer = LuongAttention()
    assert layer(query, wide_value).shape == (2, 3, 8)
    assert layer.kernel.shape == (4, 8)
    with pytest.raises(ValueError, match="same width"):
        LuongAttention(score="dot")(query, wide_value)


def test_unknown_score():
    with pytest.raises(ValueError, match="Valid scores: dot, general"):
        LuongAttention(score="concat")


def test_masked_keys_get_no_weight(data):
    query, value, key_mask = data
    layer = LuongAttention()
    context, weights = layer(query, value, mask=key_mask, return_attention_scores=True)
    np.testing.assert_array_equal(np.asarray(weights)[0, :, 3:], 0.0)
    noisy = value.copy()
    noisy[0, 3:] = 50.0
    np.testing.assert_allclose(layer(query, noisy, mask=key_mask), context, atol=1e-6)
    np.testing.assert_allclose(layer(query, value, mask=[None, key_mask]), context, atol=1e-6)
    key_mask[0] = False
    context = np.asarray(layer(query, value, mask=key_mask))
    np.testing.assert_array_equal(context[0], 0.0)


def test_keras_masks_are_picked_up():
    source = np.array([[4, 5, 6, 0, 0], [1, 2, 3, 4, 5]])
    target = np.array([[7, 8, 0], [7, 8, 9]])
    source_ids = keras.Input((None,), dtype="int32")
    target_ids = keras.Input((None,), dtype="int32")
    values = keras.layers.Embedding(10, 4, mask_zero=True)(source_ids)
    queries = keras.layers.Embedding(10, 4, mask_zero=True)(target_ids)
    context = LuongAttention(score="dot")(queries, values)
    assert context._keras_mask is not None
    model = keras.Model([target_ids, source_ids], context)
    padded = np.concatenate([source, np.zeros((2, 2), int)], axis=1)
    outputs = model([target, source])
    np.testing.assert_allclose(model([target, padded]), outputs, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(outputs._keras_mask), target != 0)


def test_config_and_saving(data, tmp_path):
    query, value, _ = data
    clone = assert_config_round_trip(LuongAttention(score="dot", kernel_initializer="ones"))
    assert clone.score == "dot"
    model = wrap_layer(LuongAttention(), {"query": ((None, 4), "float32"), "value": ((None, 4), "float32")})
    assert_reloads_identically(model, [query, value], tmp_path)
