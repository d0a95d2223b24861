import numpy as np

from kerasnets.models import gpt
from tests.conftest import assert_reloads_identically, assert_trains

TINY = dict(vocabulary_size=24, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)
TOKENS = np.array([[3, 4, 5, 6, 7, 8, 9, 10], [12, 11, 10, 9, 8, 7, 6, 5], [3, 5, 7, 9, 11, 13, 15, 17], [4, 4, 6, 6, 8, 8, 10, 10]])


def test_gpt2_preset():
    assert gpt(preset="gpt2").count_params() == 124_439_808


def test_tied_head_adds_no_weights():
    tied, untied = gpt(**TINY), gpt(**TINY, tie_embeddings=False)
    assert untied.count_params() - tied.count_params() == 16 * 24
    probabilities = np.asarray(tied(TOKENS))
    assert probabilities.shape == (4, 8, 24)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


def test_future_tokens_do_not_change_earlier_predictions():
    model = gpt(**TINY)
    before = np.asarray(model(TOKENS))
    changed = TOKENS.copy()
    changed[:, 5:] = 1
    after = np.asarray(model(changed))
    np.testing.assert_allclose(after[:, :5], before[:, :5], atol=1e-5)
    assert not np.allclose(after[:, 5:], before[:, 5:])


def test_learns_next_token_and_reloads(tmp_path):
    model = gpt(**{**TINY, "dropout": 0.0})
    assert_trains(model, TOKENS[:, :-1], TOKENS[:, 1:], steps=40)
    assert_reloads_identically(model, TOKENS, tmp_path)
