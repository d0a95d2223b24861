import numpy as np
import pytest
import tensorflow as tf

from kerasnets import samplers
from tests.samplers.toys import Automaton, buffer

LOGITS = np.array([[0.0, 1.0, 0.5, -0.5, 2.0, 0.0]], "float32")


def draw_many(sampler, logits=LOGITS, rows=6000):
    """One draw per row from the same logits (a one-state automaton); rows get independent noise."""
    model = Automaton(logits)
    ids, mask, _ = buffer([[1]] * rows, 2)
    return np.asarray(sampler(model.next, ids, model.initial_cache(rows), 1, mask))[:, 1]


def expected_frequencies(logits, temperature=1.0):
    scaled = logits[0].astype("float64") / temperature
    scaled[0] = -np.inf
    p = np.exp(scaled - scaled.max())
    return p / p.sum()


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_draws_follow_softmax_of_logits_over_temperature(temperature):
    tokens = draw_many(samplers.RandomSampler(temperature=temperature, seed=11))
    frequencies = np.bincount(tokens, minlength=LOGITS.shape[1]) / len(tokens)
    np.testing.assert_allclose(frequencies, expected_frequencies(LOGITS, temperature), atol=0.02)
    assert frequencies[0] == 0  # never padding


def test_a_seed_fixes_the_draws_and_another_seed_changes_them():
    a = draw_many(samplers.RandomSampler(seed=3), rows=200)
    np.testing.assert_array_equal(a, draw_many(samplers.RandomSampler(seed=3), rows=200))
    assert not np.array_equal(a, draw_many(samplers.RandomSampler(seed=4), rows=200))


def test_one_seed_and_temperature_per_row_act_like_the_scalar_ones():
    rows = 50
    scalar = draw_many(samplers.RandomSampler(temperature=0.7, seed=9), rows=rows)
    per_row = samplers.RandomSampler(temperature=np.full(rows, 0.7, "float32"), seed=np.full(rows, 9, "int32"))
    np.testing.assert_array_equal(draw_many(per_row, rows=rows), scalar)


def test_the_same_tokens_eagerly_and_in_a_tf_function():
    model = Automaton(np.random.default_rng(0).normal(size=(5, 7)))
    ids, mask, first = buffer([[2, 3], [4]], 8)

    @tf.function
    def decode(seed):
        return samplers.RandomSampler(temperature=1.3, seed=seed)(model.next, ids, model.initial_cache(2), first, mask)

    eager = samplers.RandomSampler(temperature=1.3, seed=21)(model.next, ids, model.initial_cache(2), first, mask)
    np.testing.assert_array_equal(decode(tf.constant(21)), eager)


def test_uniform_noise_is_a_pure_function_of_seed_step_row_and_token():
    u = np.asarray(samplers.uniform_noise(5, 2, batch_size=400, vocabulary_size=250))
    assert u.shape == (400, 250) and u.dtype == np.float32
    assert 0 < u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    np.testing.assert_array_equal(u, samplers.uniform_noise(5, 2, 400, 250))
    for other in (samplers.uniform_noise(6, 2, 400, 250), samplers.uniform_noise(5, 3, 400, 250)):
        assert np.mean(np.asarray(other) == u) < 0.001
    assert np.mean(u[0] == u[1]) < 0.01  # rows differ
    np.testing.assert_array_equal(samplers.uniform_noise(np.array([5, 5], "int32"), 2, 2, 250), u[:2])
    graph = tf.function(lambda s: samplers.uniform_noise(s, 2, 400, 250))(tf.constant(5))
    np.testing.assert_array_equal(graph, u)


@pytest.mark.parametrize("arguments", [{"temperature": 0.0}, {"temperature": -1.0}])
def test_bad_temperature_is_refused(arguments):
    with pytest.raises(ValueError, match="temperature"):
        samplers.RandomSampler(**arguments)
