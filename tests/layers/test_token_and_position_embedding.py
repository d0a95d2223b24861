import math

import numpy as np
import pytest

from kerasnets.layers import TokenAndPositionEmbedding
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer

TOKENS = np.array([[5, 9, 2, 0], [7, 0, 0, 0]])
SEGMENTS = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])


def test_sum_of_token_position_and_segment_embeddings():
    layer = TokenAndPositionEmbedding(12, 8, 6, num_segments=2)
    out = np.asarray(layer(TOKENS, segment_ids=SEGMENTS))
    tokens = np.asarray(layer.embeddings)[TOKENS]
    positions = np.asarray(layer.position_embedding.embeddings)[:4]
    segments = np.asarray(layer.segment_embedding.embeddings)[SEGMENTS]
    np.testing.assert_allclose(out, tokens + positions + segments, atol=1e-6)


def test_sinusoidal_and_scaled():
    layer = TokenAndPositionEmbedding(12, 8, 6, position_encoding="sinusoidal", scale_embeddings=True)
    out = np.asarray(layer(TOKENS))
    tokens = np.asarray(layer.embeddings)[TOKENS] * math.sqrt(6)
    np.testing.assert_allclose(out[:, 0], tokens[:, 0] + [0, 1, 0, 1, 0, 1], atol=1e-6)  # sin 0, cos 0
    assert layer.count_params() == 12 * 6  # the encoding has no weights


def test_padding_mask_is_propagated():
    out = TokenAndPositionEmbedding(12, 8, 6, mask_zero=True)(TOKENS)
    np.testing.assert_array_equal(out._keras_mask, TOKENS != 0)
    assert getattr(TokenAndPositionEmbedding(12, 8, 6)(TOKENS), "_keras_mask", None) is None


def test_reverse_projects_onto_the_vocabulary_with_the_same_table():
    layer = TokenAndPositionEmbedding(12, 8, 6)
    hidden = np.random.default_rng(0).normal(size=(2, 3, 6)).astype("float32")
    layer(TOKENS)
    logits = np.asarray(layer(hidden, reverse=True))
    np.testing.assert_allclose(logits, hidden @ np.asarray(layer.embeddings).T, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="position_encoding"):
        TokenAndPositionEmbedding(12, 8, 6, position_encoding="rotary")
    with pytest.raises(ValueError, match="segment_ids"):
        TokenAndPositionEmbedding(12, 8, 6, num_segments=2)(TOKENS)
    with pytest.raises(ValueError, match="segment_ids"):
        TokenAndPositionEmbedding(12, 8, 6)(TOKENS, segment_ids=SEGMENTS)


def test_config_and_saving(tmp_path):
    layer = TokenAndPositionEmbedding(
        12, 8, 6, num_segments=3, position_encoding="sinusoidal", scale_embeddings=True, mask_zero=True
    )
    clone = assert_config_round_trip(layer)
    assert (clone.num_segments, clone.position_encoding, clone.mask_zero) == (3, "sinusoidal", True)
    model = wrap_layer(
        TokenAndPositionEmbedding(12, 8, 6, num_segments=2),
        {"tokens": ((None,), "int32"), "segments": ((None,), "int32")},
    )
    assert_reloads_identically(model, [TOKENS, SEGMENTS], tmp_path)
