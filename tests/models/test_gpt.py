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


def _favouring_id_zero(padding_token_id):
    """A tiny GPT whose next-token logits peak at id 0 (as GPT-2's "!" may)."""
    from kerasnets.models.gpt import GPTBackbone, GPTCausalLM

    config = {key: TINY[key] for key in ("vocabulary_size", "num_layers", "num_heads", "hidden_dim", "intermediate_dim")}
    backbone = GPTBackbone(**config, max_sequence_length=TINY["max_sequence_length"], dropout=0.0)
    model = GPTCausalLM(backbone, padding_token_id=padding_token_id)
    table = backbone.token_embedding.token_embedding.embeddings
    embeddings = np.asarray(table)
    embeddings[0] *= 4.0
    table.assign(embeddings)
    backbone.layer_norm.gamma.assign(np.zeros(16, "float32"))
    backbone.layer_norm.beta.assign(embeddings[0])  # h = E[0] everywhere: logits h·Eᵀ peak at 0
    return model


def _greedy_by_full_passes(model, prompt, count):
    ids = list(prompt)
    for _ in range(count):
        probabilities = np.asarray(model(np.array([ids])))[0, -1]
        ids.append(int(np.argmax(probabilities)))
    return ids


def test_a_vocabulary_without_padding_id_may_generate_id_zero(tmp_path):
    open_model = _favouring_id_zero(None)
    prompt = [5, 0, 9]  # 0 is a real prompt token here
    generated = open_model.generate(np.array([prompt]), 4)[0].tolist()
    assert generated == _greedy_by_full_passes(open_model, prompt, 4)
    assert generated[3:] == [0, 0, 0, 0]

    padded_model = _favouring_id_zero(0)
    padded_model.set_weights(open_model.get_weights())
    assert 0 not in padded_model.generate(np.array([[5, 9]]), 4)[0].tolist()

    path = tmp_path / "open.keras"
    open_model.save(path)
    import keras

    assert keras.saving.load_model(path).padding_token_id is None


def test_padding_mask_gives_each_row_what_it_gets_alone():
    from kerasnets.models.gpt import GPTCausalLM

    base = gpt(**{**TINY, "dropout": 0.0})
    model = GPTCausalLM(base.backbone, padding_token_id=None)
    prompts = [[3, 0, 7, 2, 9], [11, 4]]
    alone = [model.generate(np.array([p]), 5)[0].tolist() for p in prompts]
    batch = np.array([prompts[0], prompts[1] + [13, 13, 13]])  # 13: any filler
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    together = model.generate(batch, 5, padding_mask=mask)
    assert together[0].tolist() == alone[0]
    assert together[1, :7].tolist() == alone[1]
    with np.testing.assert_raises_regex(ValueError, "prefix"):
        model.generate(batch, 2, padding_mask=np.array([[1, 0, 1, 0, 0], [1, 1, 0, 0, 0]]))
    with np.testing.assert_raises_regex(ValueError, "shape"):
        model.generate(batch, 2, padding_mask=np.ones((2, 3)))
