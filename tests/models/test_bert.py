import numpy as np
import pytest

from kerasnets.models import bert
from tests.conftest import assert_reloads_identically, assert_trains

TINY = dict(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=12)
TOKENS = np.array([[2, 7, 8, 3, 9, 4, 3, 0], [2, 5, 3, 6, 6, 3, 0, 0], [2, 9, 9, 3, 8, 3, 0, 0], [2, 4, 3, 5, 3, 0, 0, 0]])
SEGMENTS = np.array([[0, 0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 0, 0, 0]])
PADDING = (TOKENS != 0).astype("int32")


def inputs(**extra):
    return {"token_ids": TOKENS, "segment_ids": SEGMENTS, "padding_mask": PADDING, **extra}


@pytest.mark.parametrize(
    "preset, layers, hidden",
    [("bert_tiny", 2, 128), ("bert_mini", 4, 256), ("bert_small", 4, 512), ("bert_medium", 8, 512)],
)
def test_small_bert_presets(preset, layers, hidden):
    embeddings = (30522 + 512 + 2) * hidden + 2 * hidden
    block = 4 * (hidden * hidden + hidden) + 2 * hidden + 2 * (4 * hidden * hidden) + 4 * hidden + hidden + 2 * hidden
    pooler = hidden * hidden + hidden
    assert bert(preset=preset).count_params() == embeddings + layers * block + pooler


def test_bert_base_counts():
    assert bert(preset="bert_base_uncased").count_params() == 109_482_240
    assert bert(preset="bert_base_uncased", head="pretraining").count_params() == 110_106_428


def test_backbone_outputs_and_padding_invariance():
    model = bert(**TINY)
    out = model(inputs())
    assert out["sequence_output"].shape == (4, 8, 16) and out["pooled_output"].shape == (4, 16)
    changed = np.where(PADDING == 1, TOKENS, 17)  # padded slots now hold real-looking tokens
    other = model(inputs(token_ids=changed))
    real = PADDING == 1
    np.testing.assert_allclose(np.asarray(other["sequence_output"])[real], np.asarray(out["sequence_output"])[real], atol=1e-5)
    np.testing.assert_allclose(other["pooled_output"], out["pooled_output"], atol=1e-5)


def test_segments_matter():
    model = bert(**TINY)
    a = model(inputs())["pooled_output"]
    b = model(inputs(segment_ids=np.zeros_like(SEGMENTS)))["pooled_output"]
    assert not np.allclose(a, b)


def test_pretraining_head_is_tied_to_the_word_embeddings():
    model = bert(**TINY, head="pretraining")
    positions = np.array([[1, 4], [2, 5], [1, 2], [4, 1]])
    out = model(inputs(mask_positions=positions))
    assert out["mlm_probabilities"].shape == (4, 2, 30) and out["nsp_probabilities"].shape == (4, 2)
    backbone_parameters = bert(**TINY).count_params()
    assert model.count_params() == backbone_parameters + (16 * 16 + 16) + 2 * 16 + 30 + (16 * 2 + 2)
    targets = {"mlm_probabilities": np.take_along_axis(TOKENS, positions, axis=1), "nsp_probabilities": np.array([0, 1, 0, 1])}
    assert_trains(bert(**{**TINY, "dropout": 0.0}, head="pretraining"), inputs(mask_positions=positions), targets, steps=40)


def test_classifier_trains_and_reloads(tmp_path):
    model = bert(**{**TINY, "dropout": 0.0}, head="classifier", num_classes=3)
    assert model.output_shape == (None, 3)
    assert_trains(model, inputs(), np.array([0, 1, 2, 1]), steps=30)
    assert_reloads_identically(model, inputs(), tmp_path)


def test_unknown_head():
    with pytest.raises(ValueError, match="head must be one of"):
        bert(**TINY, head="qa")
