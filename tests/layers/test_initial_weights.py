"""Every weight starts from its own random draw.

An unseeded Keras initializer instance repeats its numbers at every call, so
a layer that hands one instance to several weights starts them as copies
(W_Q = W_K = W_V), reshaped copies, prefixes or scaled copies (Glorot limits
depend on the shape) of one another. The check: any two random weights,
flattened, must not be (anti)correlated over their common prefix.
"""

import itertools

import keras
import numpy as np
import pytest

from kerasnets.layers import (
    BahdanauAttention,
    FeedForward,
    LuongAttention,
    MultiHeadAttention,
    PositionEmbedding,
    TokenAndPositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from kerasnets.layers.initializers import clone_initializer
from kerasnets.models import bert, gpt, transformer


def assert_independent(weights):
    """No two of `weights` (variables) are copies, reshaped copies, prefixes or scaled copies."""
    # Constant weights (zeros/ones biases, layer-norm parameters) are alike by design.
    random = [(w.path, np.asarray(w).ravel()) for w in weights if np.ptp(np.asarray(w)) > 0]
    assert len(random) >= 2
    for (name_a, a), (name_b, b) in itertools.combinations(random, 2):
        common = min(a.size, b.size)
        assert common >= 8, f"{name_a}/{name_b}: too small to compare"
        correlation = np.corrcoef(a[:common], b[:common])[0, 1]
        assert abs(correlation) < 0.9, f"{name_a} and {name_b} start as copies (correlation {correlation:.3f})"


SHARED = keras.initializers.TruncatedNormal(stddev=0.02)  # one unseeded object for everything


@pytest.mark.parametrize("initializer", ["glorot_uniform", SHARED])
def test_multi_head_attention(initializer):
    layer = MultiHeadAttention(
        num_heads=2, key_dim=4, kernel_initializer=initializer, bias_initializer=keras.initializers.RandomNormal()
    )
    layer.build((None, 5, 8), (None, 5, 8))
    assert_independent(layer.weights)


def test_bahdanau_and_luong_attention():
    layer = BahdanauAttention(8, kernel_initializer=SHARED, bias_initializer="random_normal")
    layer.build((None, 3, 8), (None, 4, 8))
    luong = LuongAttention(kernel_initializer=SHARED)
    luong.build((None, 3, 8), (None, 4, 8))
    assert_independent(layer.weights + luong.weights)


def test_feed_forward_and_position_embedding():
    ffn = FeedForward(16, kernel_initializer="glorot_uniform", bias_initializer="random_normal")
    ffn.build((None, 5, 16))  # W₁ (16, 16) and W₂ (16, 16): same shape, same Glorot limit
    positions = PositionEmbedding(8, initializer=SHARED)
    positions.build((None, 8, 16))
    assert_independent(ffn.weights + positions.weights)


def test_token_position_and_segment_tables():
    layer = TokenAndPositionEmbedding(20, 8, 6, num_segments=2, embeddings_initializer=SHARED)
    layer.build((None, 8))
    assert_independent(layer.weights)


@pytest.mark.parametrize("block_class", [TransformerEncoderBlock, TransformerDecoderBlock])
def test_transformer_blocks(block_class):
    block = block_class(16, 2, kernel_initializer=SHARED)
    block.build((None, 5, 8), (None, 7, 8)) if block_class is TransformerDecoderBlock else block.build((None, 5, 8))
    assert_independent(block.weights)


TINY = dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)


@pytest.mark.parametrize(
    "builder, kwargs",
    [
        (gpt, dict(vocabulary_size=40)),
        (gpt, dict(vocabulary_size=40, tie_embeddings=False)),
        (transformer, dict(vocabulary_size=40)),
        (transformer, dict(vocabulary_size=40, target_vocabulary_size=30, tie_embeddings=False)),
        (bert, dict(vocabulary_size=40)),
    ],
)
def test_freshly_built_models(builder, kwargs):
    assert_independent(builder(**TINY, **kwargs).weights)


@pytest.mark.parametrize("head", ["pretraining", "classifier"])
def test_bert_heads(head):
    assert_independent(bert(**TINY, vocabulary_size=40, head=head).weights)


def test_clone_initializer():
    unseeded = keras.initializers.RandomNormal()
    assert not np.allclose(clone_initializer(unseeded, "a")((16,)), unseeded((16,)))
    # A seeded initializer stays reproducible, with a seed of its own per weight name.
    seeded = keras.initializers.GlorotUniform(seed=7)
    np.testing.assert_array_equal(clone_initializer(seeded, "a")((4, 4)), clone_initializer(seeded, "a")((4, 4)))
    assert not np.allclose(clone_initializer(seeded, "a")((4, 4)), clone_initializer(seeded, "b")((4, 4)))
    assert clone_initializer(seeded, "a").get_config()["seed"] != 7
    # Without randomness, or drawing anew at each call already: returned as it is.
    zeros = keras.initializers.Zeros()
    stateful = keras.initializers.RandomNormal(seed=keras.random.SeedGenerator(1))
    assert clone_initializer(zeros, "a") is zeros and clone_initializer(stateful, "a") is stateful


def test_seeded_layers_are_reproducible():
    def build():
        layer = MultiHeadAttention(2, 4, kernel_initializer=keras.initializers.GlorotUniform(seed=3), name="mha")
        layer.build((None, 5, 8), (None, 5, 8))
        return layer

    first, second = build(), build()
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a, b)
    assert_independent(first.weights)
