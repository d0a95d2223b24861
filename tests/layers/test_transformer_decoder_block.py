import keras
import numpy as np
import pytest

from kerasnets.layers import TransformerDecoderBlock
from tests.conftest import assert_config_round_trip, assert_reloads_identically
from tests.layers.test_transformer_encoder_block import feed_forward, keras_norm

RNG = np.random.default_rng(0)
Y = RNG.normal(size=(2, 5, 8)).astype("float32")
MEMORY = RNG.normal(size=(2, 7, 8)).astype("float32")


def keras_attention(ours, query, value):
    theirs = keras.layers.MultiHeadAttention(ours.num_heads, ours.key_dim)
    theirs(query, value)
    theirs.set_weights(ours.get_weights())
    return theirs


def test_matches_keras_built_ins_post_ln():
    block = TransformerDecoderBlock(intermediate_dim=16, num_heads=2)
    out = block(Y, MEMORY)
    self_attention = keras_attention(block.self_attention, Y, Y)
    cross_attention = keras_attention(block.cross_attention, Y, MEMORY)
    h = np.asarray(keras_norm(block.self_attention_norm)(Y + self_attention(Y, Y, use_causal_mask=True)))
    h = np.asarray(keras_norm(block.cross_attention_norm)(h + cross_attention(h, MEMORY)))
    expected = keras_norm(block.feed_forward_norm)(h + feed_forward(block.feed_forward, h))
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_decoder_only_block_is_causal_and_has_no_cross_attention():
    block = TransformerDecoderBlock(intermediate_dim=16, num_heads=2, normalize_first=True)
    before = np.asarray(block(Y))
    assert not block.cross_attention.built
    attention, norm, ffn = 4 * (8 * 8 + 8), 2 * 8, 8 * 16 + 16 + 16 * 8 + 8
    assert block.count_params() == attention + norm + ffn + norm
    changed = Y.copy()
    changed[:, 3:] = RNG.normal(size=changed[:, 3:].shape)
    after = np.asarray(block(changed))
    np.testing.assert_allclose(after[:, :3], before[:, :3], atol=1e-6)
    assert not np.allclose(after[:, 3:], before[:, 3:])
    with pytest.raises(ValueError, match="cross-attention"):
        block(Y, MEMORY)


def test_future_targets_and_padded_memory_do_not_leak():
    block = TransformerDecoderBlock(intermediate_dim=16, num_heads=2)
    memory_mask = np.array([[1] * 5 + [0] * 2, [1] * 3 + [0] * 4], bool)
    before = np.asarray(block(Y, MEMORY, encoder_padding_mask=memory_mask))
    changed_y, changed_memory = Y.copy(), MEMORY.copy()
    changed_y[:, 2:] = 5.0
    changed_memory[~memory_mask] = -5.0
    after = np.asarray(block(changed_y, changed_memory, encoder_padding_mask=memory_mask))
    np.testing.assert_allclose(after[:, :2], before[:, :2], atol=1e-5)


def test_keras_masks_from_embeddings_are_honoured():
    block = TransformerDecoderBlock(intermediate_dim=16, num_heads=2)
    source = np.array([[4, 2, 6, 1, 0, 0, 0], [3, 3, 0, 0, 0, 0, 0]])
    target = np.array([[1, 5, 2, 0, 0], [1, 9, 9, 9, 0]])
    embed = keras.layers.Embedding(10, 8, mask_zero=True)
    explicit = block(
        np.asarray(embed(target)),
        np.asarray(embed(source)),
        decoder_padding_mask=target != 0,
        encoder_padding_mask=source != 0,
    )
    implicit = block(embed(target), embed(source))
    np.testing.assert_allclose(implicit, explicit, atol=1e-6)
    np.testing.assert_array_equal(implicit._keras_mask, target != 0)


def test_returns_both_attention_maps():
    block = TransformerDecoderBlock(intermediate_dim=16, num_heads=2)
    out, self_scores, cross_scores = block(Y, MEMORY, return_attention_scores=True)
    assert self_scores.shape == (2, 2, 5, 5) and cross_scores.shape == (2, 2, 5, 7)
    assert np.all(np.triu(np.asarray(self_scores)[0, 0], k=1) == 0)  # causal


def test_config_and_saving(tmp_path):
    clone = assert_config_round_trip(TransformerDecoderBlock(32, 4, dropout=0.1, normalize_first=True))
    assert clone.intermediate_dim == 32
    y = keras.Input((None, 8))
    memory = keras.Input((None, 8))
    with_encoder = TransformerDecoderBlock(16, 2)(y, memory)
    decoder_only = TransformerDecoderBlock(16, 2)(y)
    model = keras.Model([y, memory], [with_encoder, decoder_only])
    assert_reloads_identically(model, [Y, MEMORY], tmp_path)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_cached_steps_match_the_full_sequence(normalize_first):
    block = TransformerDecoderBlock(intermediate_dim=16, num_heads=2, normalize_first=normalize_first)
    memory_mask = np.array([[1] * 5 + [0] * 2, [1] * 3 + [0] * 4], bool)
    full = np.asarray(block(Y, MEMORY, encoder_padding_mask=memory_mask))
    cross_cache = block.compute_cross_attention_cache(MEMORY)  # the encoder output, projected once
    assert tuple(cross_cache.shape) == (2, 2, 7, 2, 4)
    cache = block.self_attention.empty_cache(batch_size=2, length=5)
    for t in range(5):
        output, cache, returned = block(
            Y[:, t : t + 1],
            encoder_padding_mask=memory_mask,
            self_attention_cache=cache,
            self_attention_cache_update_index=t,
            cross_attention_cache=cross_cache,
        )
        np.testing.assert_allclose(output[:, 0], full[:, t], atol=1e-5)
    np.testing.assert_array_equal(returned, cross_cache)
    # Written at an index instead, the cross-attention cache is the same projection.
    _, _, written = block(
        Y[:, :1],
        MEMORY,
        self_attention_cache=block.self_attention.empty_cache(2, 5),
        self_attention_cache_update_index=0,
        cross_attention_cache=keras.ops.zeros_like(cross_cache),
        cross_attention_cache_update_index=0,
    )
    np.testing.assert_allclose(written, cross_cache, atol=1e-6)


def test_decoder_only_prefill_then_one_step():
    block = TransformerDecoderBlock(intermediate_dim=16, num_heads=2, normalize_first=True)
    full = np.asarray(block(Y))
    cache = block.self_attention.empty_cache(2, 6)
    output, cache = block(Y[:, :4], self_attention_cache=cache, self_attention_cache_update_index=0)
    np.testing.assert_allclose(output, full[:, :4], atol=1e-5)
    output, scores, cache = block(
        Y[:, 4:], self_attention_cache=cache, self_attention_cache_update_index=4, return_attention_scores=True
    )
    np.testing.assert_allclose(output[:, 0], full[:, 4], atol=1e-5)
    assert tuple(scores.shape) == (2, 2, 1, 6) and tuple(cache.shape) == (2, 2, 6, 2, 4)
    with pytest.raises(ValueError, match="update_index"):
        block(Y[:, :1], self_attention_cache=cache)
    with pytest.raises(ValueError, match="cross-attention"):
        block(Y[:, :1], self_attention_cache=cache, self_attention_cache_update_index=0, cross_attention_cache=cache)


def test_block_with_cross_attention_refuses_to_skip_it():
    block = TransformerDecoderBlock(intermediate_dim=16, num_heads=2)
    block(Y, MEMORY)
    with pytest.raises(ValueError, match="encoder_sequence"):
        block(Y)
    cache = block.self_attention.empty_cache(2, 5)
    with pytest.raises(ValueError, match="cross_attention_cache"):
        block(Y[:, :1], self_attention_cache=cache, self_attention_cache_update_index=0)
    # The cross-attention cache stands in for the encoder sequence.
    cross_cache = block.compute_cross_attention_cache(MEMORY)
    output, _, _ = block(
        Y[:, :1], self_attention_cache=cache, self_attention_cache_update_index=0, cross_attention_cache=cross_cache
    )
    np.testing.assert_allclose(output[:, 0], np.asarray(block(Y, MEMORY))[:, 0], atol=1e-5)


@pytest.mark.parametrize("bad", [dict(num_heads=0), dict(num_heads=1.5), dict(intermediate_dim=0)])
def test_rejects_bad_sizes_up_front(bad):
    with pytest.raises(ValueError, match="num_heads|intermediate_dim"):
        TransformerDecoderBlock(**{"intermediate_dim": 16, "num_heads": 2, **bad})
