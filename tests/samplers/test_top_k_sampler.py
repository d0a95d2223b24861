import numpy as np
import pytest
import tensorflow as tf

from kerasnets import samplers
from tests.samplers.test_random_sampler import draw_many, expected_frequencies

LOGITS = np.array([[0.0, 1.0, 0.5, -0.5, 2.0, 0.0, 1.5]], "float32")  # order: 4, 6, 1, 2, 5, 3


def test_only_the_k_largest_logits_are_drawn_in_their_renormalised_proportions():
    tokens = draw_many(samplers.TopKSampler(k=3, seed=1), LOGITS)
    assert set(tokens) == {4, 6, 1}
    expected = expected_frequencies(LOGITS)
    expected[[2, 3, 5]] = 0
    frequencies = np.bincount(tokens, minlength=7) / len(tokens)
    np.testing.assert_allclose(frequencies, expected / expected.sum(), atol=0.02)


def test_k_of_one_is_greedy_and_padding_does_not_count_as_a_candidate():
    assert set(draw_many(samplers.TopKSampler(k=1, seed=2), LOGITS, rows=300)) == {4}
    padding_first = np.array([[9.0, 1.0, 3.0, 2.0]], "float32")
    assert set(draw_many(samplers.TopKSampler(k=2, seed=2), padding_first, rows=500)) == {2, 3}


def test_a_served_k_may_be_a_tensor_per_row_and_k_of_zero_keeps_all():
    rows = 3000
    k = np.where(np.arange(rows) % 2 == 0, 2, 0).astype("int32")

    @tf.function
    def draw(k):
        return draw_many(samplers.TopKSampler(k=k, seed=5), LOGITS, rows=rows)

    tokens = draw_many(samplers.TopKSampler(k=tf.constant(k), seed=5), LOGITS, rows=rows)
    assert set(tokens[k == 2]) == {4, 6}
    assert set(tokens[k == 0]) == {1, 2, 3, 4, 5, 6}
    scalar = draw_many(samplers.TopKSampler(k=tf.constant(2), seed=5), LOGITS, rows=rows)
    np.testing.assert_array_equal(scalar, draw_many(samplers.TopKSampler(k=2, seed=5), LOGITS, rows=rows))


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_bad_k_is_refused(k):
    with pytest.raises(ValueError, match="k must"):
        samplers.TopKSampler(k=k)
