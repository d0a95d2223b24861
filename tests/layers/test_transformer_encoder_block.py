import keras
import numpy as np
import pytest

from kerasnets.layers import TransformerEncoderBlock
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer

X = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")


def keras_attention(ours):
    """keras.layers.MultiHeadAttention holding the weights of our attention layer."""
    theirs = keras.layers.MultiHeadAttention(ours.num_heads, ours.key_dim)
    theirs(X, X)
    theirs.set_weights(ours.get_weights())
    return theirs


def keras_norm(ours):
    theirs = keras.layers.LayerNormalization(epsilon=ours.epsilon)
    theirs(X)
    theirs.set_weights(ours.get_weights())
    return theirs


def feed_forward(ffn, x):
    w1, b1, w2, b2 = (np.asarray(w) for w in ffn.weights)
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def reference(block, x, normalize_first, attention_mask=None):
    attend, norm1, norm2 = (
        keras_attention(block.self_attention),
        keras_norm(block.self_attention_norm),
        keras_norm(block.feed_forward_norm),
    )

    def attention(h):
        return np.asarray(attend(h, h, attention_mask=attention_mask))

    if normalize_first:
        h = x + attention(np.asarray(norm1(x)))
        return h + feed_forward(block.feed_forward, np.asarray(norm2(h)))
    h = np.asarray(norm1(x + attention(x)))
    return np.asarray(norm2(h + feed_forward(block.feed_forward, h)))


@pytest.mark.parametrize("normalize_first", [False, True])
def test_matches_keras_built_ins(normalize_first):
    block = TransformerEncoderBlock(intermediate_dim=16, num_heads=2, normalize_first=normalize_first)
    out = block(X)
    assert block.self_attention.key_dim == 4  # hidden 8 / 2 heads
    np.testing.assert_allclose(out, reference(block, X, normalize_first), atol=1e-5)


def test_padding_mask_by_behaviour_and_same_as_keras_mask():
    block = TransformerEncoderBlock(intermediate_dim=16, num_heads=2)
    padding_mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], bool)
    changed = X.copy()
    changed[~padding_mask] = 7.0
    out = np.asarray(block(X, padding_mask=padding_mask))
    np.testing.assert_allclose(np.asarray(block(changed, padding_mask=padding_mask))[padding_mask], out[padding_mask], atol=1e-5)
    expected = reference(block, X, False, attention_mask=padding_mask[:, None, :])
    np.testing.assert_allclose(out[padding_mask], expected[padding_mask], atol=1e-5)

    # The same mask arriving as a Keras mask from Embedding(mask_zero=True).
    token_ids = np.where(padding_mask, 3, 0)
    embedded = keras.layers.Embedding(10, 8, mask_zero=True)(token_ids)
    via_keras_mask = block(embedded)
    np.testing.assert_allclose(via_keras_mask, block(np.asarray(embedded), padding_mask=padding_mask), atol=1e-6)
    np.testing.assert_array_equal(via_keras_mask._keras_mask, padding_mask)


def test_attention_scores_and_dropout():
    block = TransformerEncoderBlock(intermediate_dim=16, num_heads=2, dropout=0.5)
    out, scores = block(X, return_attention_scores=True)
    assert scores.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(out, block(X, training=False), atol=1e-6)
    assert not np.allclose(block(X, training=True), out)


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="divisible"):
        TransformerEncoderBlock(intermediate_dim=16, num_heads=3)(X)


def test_config_and_saving(tmp_path):
    block = TransformerEncoderBlock(
        32, 4, dropout=0.2, activation="gelu", layer_norm_epsilon=1e-12, normalize_first=True
    )
    clone = assert_config_round_trip(block)
    assert (clone.num_heads, clone.normalize_first, clone.layer_norm_epsilon) == (4, True, 1e-12)
    model = wrap_layer(TransformerEncoderBlock(16, 2), {"x": ((None, 8), "float32")})
    assert_reloads_identically(model, X, tmp_path)


@pytest.mark.parametrize("bad", [dict(num_heads=0), dict(num_heads=-1), dict(intermediate_dim=0)])
def test_rejects_bad_sizes_up_front(bad):
    with pytest.raises(ValueError, match="num_heads|intermediate_dim"):
        TransformerEncoderBlock(**{"intermediate_dim": 16, "num_heads": 2, **bad})
