import numpy as np
import pytest

from kerasnets.layers import ScaledDotProductAttention
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer


def reference_attention(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights


@pytest.fixture
def qkv():
    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(2, 3, 5, 8)).astype("float32"),
        rng.normal(size=(2, 3, 7, 8)).astype("float32"),
        rng.normal(size=(2, 3, 7, 4)).astype("float32"),
    )


def test_matches_numpy_reference(qkv):
    q, k, v = qkv
    outputs, weights = ScaledDotProductAttention()(q, k, v, return_attention_scores=True)
    expected, expected_weights = reference_attention(q, k, v)
    np.testing.assert_allclose(outputs, expected, atol=1e-5)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-6)
    np.testing.assert_allclose(np.sum(weights, axis=-1), 1.0, atol=1e-6)


def test_mask_broadcasts_and_matches_reference(qkv):
    q, k, v = qkv
    rng = np.random.default_rng(1)
    mask = rng.random((2, 1, 5, 7)) > 0.4
    mask[..., 0] = True  # every row keeps one key
    outputs, weights = ScaledDotProductAttention()(q, k, v, mask=mask, return_attention_scores=True)
    expected, _ = reference_attention(q, k, v, mask)
    np.testing.assert_allclose(outputs, expected, atol=1e-5)
    assert np.all(np.asarray(weights)[np.broadcast_to(~mask, weights.shape)] == 0)


def test_masked_keys_do_not_influence_output(qkv):
    q, k, v = qkv
    mask = np.ones((7,), bool)
    mask[4:] = False
    layer = ScaledDotProductAttention()
    k2, v2 = k.copy(), v.copy()
    k2[..., 4:, :] = 100.0
    v2[..., 4:, :] = -100.0
    np.testing.assert_allclose(layer(q, k, v, mask=mask), layer(q, k2, v2, mask=mask), atol=1e-6)


def test_fully_masked_rows_are_zero_not_nan(qkv):
    q, k, v = qkv
    mask = np.ones((5, 7), bool)
    mask[2] = False
    outputs, weights = ScaledDotProductAttention()(q, k, v, mask=mask, return_attention_scores=True)
    outputs, weights = np.asarray(outputs), np.asarray(weights)
    assert np.all(np.isfinite(outputs))
    np.testing.assert_array_equal(outputs[:, :, 2], 0.0)
    np.testing.assert_array_equal(weights[:, :, 2], 0.0)


def test_dropout_only_in_training(qkv):
    q, k, v = qkv
    layer = ScaledDotProductAttention(dropout=0.5, seed=3)
    np.testing.assert_allclose(layer(q, k, v), layer(q, k, v, training=False))
    assert not np.allclose(layer(q, k, v, training=True), layer(q, k, v, training=False))


def test_custom_scale(qkv):
    q, k, v = qkv
    expected, _ = reference_attention(q * 2.0 * np.sqrt(8.0), k, v)  # scale 2 instead of 1/√8
    np.testing.assert_allclose(ScaledDotProductAttention(scale=2.0)(q, k, v), expected, atol=1e-4)


def test_config_and_saving(qkv, tmp_path):
    layer = ScaledDotProductAttention(dropout=0.1, scale=0.5, seed=7)
    assert assert_config_round_trip(layer).scale == 0.5
    model = wrap_layer(
        ScaledDotProductAttention(), {"q": ((5, 8), "float32"), "k": ((7, 8), "float32"), "v": ((7, 4), "float32")}
    )
    q, k, v = (x[:, 0] for x in qkv)
    assert_reloads_identically(model, [q, k, v], tmp_path)
