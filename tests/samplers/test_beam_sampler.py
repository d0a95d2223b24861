import itertools

import numpy as np
import pytest
import tensorflow as tf

from kerasnets import samplers
from tests.samplers.toys import buffer, markov, random_automaton

PROMPTS = [[3, 1, 4], [2], [5, 5, 1, 2]]
LENGTH = 7


def run(sampler, model, prompts=PROMPTS, length=LENGTH, **kwargs):
    ids, mask, first = buffer(prompts, length)
    result = sampler(model.next, ids, model.initial_cache(len(prompts)), first, mask, **kwargs)
    return tuple(np.asarray(x) for x in result) if isinstance(result, tuple) else np.asarray(result)


def test_width_one_is_greedy():
    for seed in range(3):
        model = random_automaton(seed)
        greedy = run(samplers.GreedySampler(), model)
        np.testing.assert_array_equal(run(samplers.BeamSampler(num_beams=1), model), greedy)


def test_finds_the_likelier_sequence_that_greedy_misses():
    # From 1: 2 (0.6) or 3 (0.4); after 2 everything is a coin toss, after 3 another 3 is near certain.
    model = markov(
        [
            [0.0, 0.25, 0.25, 0.25, 0.25],
            [0.0, 0.0, 0.6, 0.4, 0.0],
            [0.0, 0.34, 0.33, 0.33, 0.0],
            [0.0, 0.01, 0.0, 0.98, 0.01],
            [0.0, 0.25, 0.25, 0.25, 0.25],
        ]
    )
    greedy = run(samplers.GreedySampler(), model, prompts=[[1]], length=3)
    best = run(samplers.BeamSampler(num_beams=2), model, prompts=[[1]], length=3)
    np.testing.assert_array_equal(greedy, [[1, 2, 1]])  # p = 0.6 · 0.34 = 0.204
    np.testing.assert_array_equal(best, [[1, 3, 3]])  # p = 0.4 · 0.98 = 0.392


def test_a_wide_enough_beam_is_exhaustive_and_every_score_is_the_true_log_probability():
    """Cache reordering is checked too: the automaton's logits depend on the whole path through its cache."""
    model = random_automaton(7, vocabulary_size=5)
    new = 3
    width = 4 ** (new - 1)  # ≥ all hypotheses before the last step
    for prompt in ([2, 3], [4]):
        beams, scores = run(
            samplers.BeamSampler(num_beams=width, return_all_beams=True), model, prompts=[prompt], length=len(prompt) + new
        )
        brute = max(
            model.log_probability(prompt + list(tail), len(prompt)) for tail in itertools.product(range(1, 5), repeat=new)
        )
        np.testing.assert_allclose(scores[0, 0], brute, rtol=1e-5)
        assert np.all(np.diff(scores[0]) <= 1e-6)  # best first
        assert len({tuple(b) for b in beams[0]}) == width  # distinct hypotheses
        for beam, score in zip(beams[0], scores[0]):
            assert list(beam[: len(prompt)]) == prompt and beam.all()
            np.testing.assert_allclose(model.log_probability(beam, len(prompt)), score, rtol=1e-5)


def test_rows_with_different_prompts_score_only_their_generated_tokens():
    model = random_automaton(8)
    beams, scores = run(samplers.BeamSampler(num_beams=3, return_all_beams=True), model)
    assert beams.shape == (3, 3, LENGTH) and scores.shape == (3, 3)
    for row, prompt in enumerate(PROMPTS):
        for beam, score in zip(beams[row], scores[row]):
            assert list(beam[: len(prompt)]) == prompt
            np.testing.assert_allclose(model.log_probability(beam, len(prompt)), score, rtol=1e-5)
    np.testing.assert_array_equal(run(samplers.BeamSampler(num_beams=3), model), beams[:, 0])


def test_an_end_token_finishes_a_beam_at_its_score():
    model = random_automaton(9)
    end = 2
    beams, scores = run(samplers.BeamSampler(num_beams=3, return_all_beams=True), model, end_token_id=end)
    for row, prompt in enumerate(PROMPTS):
        for beam, score in zip(beams[row], scores[row]):
            new = list(beam[len(prompt):])
            if end in new:
                stop = new.index(end) + 1
                assert not any(new[stop:]) and all(new[:stop])  # end kept, padding after
            else:
                assert all(new)
            np.testing.assert_allclose(model.log_probability(beam, len(prompt)), score, rtol=1e-5)


def test_length_penalty_ranks_by_the_normalised_score():
    model = random_automaton(10)
    beams, scores = run(samplers.BeamSampler(num_beams=4, return_all_beams=True, length_penalty=1.0), model, end_token_id=2)
    for row, prompt in enumerate(PROMPTS):
        for beam, score in zip(beams[row], scores[row]):
            generated = np.count_nonzero(beam[len(prompt):])
            np.testing.assert_allclose(model.log_probability(beam, len(prompt)) / generated, score, rtol=1e-5)
        assert np.all(np.diff(scores[row]) <= 1e-6)


def test_the_search_traces_without_xla_ops_and_gives_the_eager_beams():
    model = random_automaton(11)
    ids, mask, first = buffer(PROMPTS, LENGTH)
    sampler = samplers.BeamSampler(num_beams=3, return_all_beams=True)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.bool)])
    def search(ids, mask):
        return sampler(model.next, ids, model.initial_cache(tf.shape(ids)[0]), first, mask, end_token_id=3)

    graph = search.get_concrete_function().graph.as_graph_def()
    op_types = {node.op for node in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    assert not any(op.startswith("Xla") for op in op_types)
    for traced, eager in zip(search(ids, mask), run(sampler, model, end_token_id=3)):
        np.testing.assert_allclose(traced, eager, rtol=1e-6)


@pytest.mark.parametrize("num_beams", [0, -1, 2.5])
def test_bad_widths_are_refused(num_beams):
    with pytest.raises(ValueError, match="num_beams"):
        samplers.BeamSampler(num_beams=num_beams)
