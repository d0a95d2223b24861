import numpy as np
import pytest

from kerasnets.models import transformer
from tests.conftest import assert_reloads_identically, assert_trains

TINY = dict(vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)
SOURCE = np.array([[5, 6, 7, 8, 0, 0], [9, 4, 3, 0, 0, 0], [3, 3, 4, 4, 5, 5], [7, 8, 0, 0, 0, 0]])
TARGET_IN = np.array([[1, 8, 7, 6, 5], [1, 3, 4, 9, 0], [1, 5, 5, 4, 4], [1, 8, 7, 0, 0]])
TARGET_OUT = np.array([[8, 7, 6, 5, 2], [3, 4, 9, 2, 0], [5, 5, 4, 4, 3], [8, 7, 2, 0, 0]])


def inputs(source=SOURCE, target=TARGET_IN):
    return {"encoder_token_ids": source, "decoder_token_ids": target}


def expected_base_parameters(vocabulary=37000, d=512, d_ff=2048, layers=6):
    embedding = vocabulary * d  # shared by encoder, decoder and the output projection
    attention = 4 * (d * d + d)
    feed_forward = d * d_ff + d_ff + d_ff * d + d
    encoder_layer = attention + feed_forward + 2 * 2 * d
    decoder_layer = 2 * attention + feed_forward + 3 * 2 * d
    return embedding + layers * (encoder_layer + decoder_layer)


def test_transformer_base_preset():
    model = transformer(preset="transformer_base")
    assert model.count_params() == expected_base_parameters() == 63_082_496
    assert len([layer for layer in model.layers if layer.name.startswith("encoder_block")]) == 6
    assert len([layer for layer in model.layers if layer.name.startswith("decoder_block")]) == 6


def test_explicit_arguments_override_the_preset():
    model = transformer(preset="transformer_base", num_layers=1, vocabulary_size=100)
    assert model.count_params() == expected_base_parameters(vocabulary=100, layers=1)
    with pytest.raises(ValueError, match="Valid presets: transformer_base"):
        transformer(preset="transformer_huge")


def test_untied_and_separate_vocabularies():
    shared = transformer(**TINY)
    separate = transformer(**TINY, target_vocabulary_size=30, tie_embeddings=False)
    assert separate.count_params() == shared.count_params() + 30 * 16 + (16 * 30 + 30)
    assert separate(inputs()).shape == (4, 5, 30)


def test_decoder_is_causal_and_padding_is_ignored():
    model = transformer(**TINY)
    reference = np.asarray(model(inputs()))
    np.testing.assert_allclose(reference.sum(axis=-1), 1.0, atol=1e-5)
    changed = TARGET_IN.copy()
    changed[:, 3:] = 11
    np.testing.assert_allclose(np.asarray(model(inputs(target=changed)))[:, :3], reference[:, :3], atol=1e-5)
    more_padding = np.asarray(model(inputs(source=np.pad(SOURCE, ((0, 0), (0, 4))), target=np.pad(TARGET_IN, ((0, 0), (0, 3))))))
    real = TARGET_IN != 0
    np.testing.assert_allclose(more_padding[:, :5][real], reference[real], atol=1e-5)


def test_trains_and_reloads(tmp_path):
    model = transformer(**{**TINY, "dropout": 0.0})
    assert_trains(model, inputs(), TARGET_OUT, steps=40)
    assert_reloads_identically(model, inputs(), tmp_path)


def test_padded_target_positions_are_left_out_of_the_loss():
    model = transformer(**TINY)
    model.compile(loss="sparse_categorical_crossentropy")
    other_labels = np.where(TARGET_IN != 0, TARGET_OUT, 13)  # garbage where the decoder input is padding
    loss = model.evaluate(inputs(), TARGET_OUT, verbose=0)
    np.testing.assert_allclose(model.evaluate(inputs(), other_labels, verbose=0), loss, rtol=1e-6)
