import numpy as np
import pytest

from kerasnets import samplers
from tests.samplers.test_random_sampler import draw_many
from tests.samplers.toys import buffer, random_automaton

# Probabilities 0.5, 0.3, 0.1, 0.06, 0.04 for ids 1…5 (id 0 is padding, never drawn).
PROBABILITIES = np.array([0.0, 0.5, 0.3, 0.1, 0.06, 0.04])
LOGITS = np.log(np.maximum(PROBABILITIES, 1e-30))[None].astype("float32")


@pytest.mark.parametrize(
    "p, nucleus",
    [(0.4, {1}), (0.55, {1, 2}), (0.75, {1, 2}), (0.85, {1, 2, 3}), (0.95, {1, 2, 3, 4}), (1.0, {1, 2, 3, 4, 5})],
)
def test_never_a_token_outside_the_nucleus_and_inside_it_in_proportion(p, nucleus):
    tokens = draw_many(samplers.TopPSampler(p=p, seed=3), LOGITS)
    assert set(tokens) == nucleus
    kept = np.array([PROBABILITIES[t] if t in nucleus else 0.0 for t in range(6)])
    frequencies = np.bincount(tokens, minlength=6) / len(tokens)
    np.testing.assert_allclose(frequencies, kept / kept.sum(), atol=0.02)


def test_p_towards_zero_is_greedy():
    model = random_automaton(4, vocabulary_size=9)
    ids, mask, first = buffer([[1, 2], [3]], 10)
    greedy = samplers.GreedySampler()(model.next, ids, model.initial_cache(2), first, mask)
    for seed in (1, 2):
        nucleus = samplers.TopPSampler(p=1e-6, temperature=1.7, seed=seed)(model.next, ids, model.initial_cache(2), first, mask)
        np.testing.assert_array_equal(nucleus, greedy)


def test_temperature_changes_the_nucleus_and_k_caps_it():
    # At T = 3 the distribution flattens: 0.75 of it needs more than two tokens.
    assert set(draw_many(samplers.TopPSampler(p=0.75, temperature=3.0, seed=1), LOGITS)) == {1, 2, 3, 4}
    assert set(draw_many(samplers.TopPSampler(p=0.95, k=2, seed=1), LOGITS)) == {1, 2}


def test_one_p_per_row():
    rows = 2000
    p = np.where(np.arange(rows) % 2 == 0, 0.4, 0.85).astype("float32")
    tokens = draw_many(samplers.TopPSampler(p=p, seed=8), LOGITS, rows=rows)
    assert set(tokens[p < 0.5]) == {1} and set(tokens[p > 0.5]) == {1, 2, 3}


@pytest.mark.parametrize("arguments", [{"p": 0.0}, {"p": 1.5}, {"p": -0.1}, {"p": 0.9, "k": 0}])
def test_bad_arguments_are_refused(arguments):
    with pytest.raises(ValueError, match="must be"):
        samplers.TopPSampler(**arguments)
