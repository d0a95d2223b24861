import numpy as np
import tensorflow as tf

from kerasnets import samplers
from tests.samplers.toys import Automaton, buffer, greedy_replay, random_automaton

PROMPTS = [[3, 1, 4], [2], [5, 5, 1, 2]]
LENGTH = 9


def run(sampler, model, prompts=PROMPTS, length=LENGTH, **kwargs):
    ids, mask, first = buffer(prompts, length)
    return np.asarray(sampler(model.next, ids, model.initial_cache(len(prompts)), first, mask, **kwargs))


def test_greedy_follows_the_argmax_and_keeps_every_prompt():
    model = random_automaton(0)
    out = run(samplers.GreedySampler(), model)
    for row, prompt in zip(out, PROMPTS):
        assert list(row) == greedy_replay(model, prompt, LENGTH)


def test_padding_is_never_generated_even_when_most_likely():
    table = np.zeros((3, 4), "float32")
    table[:, 0] = 10.0  # padding has by far the largest logit
    table[:, 2] = 1.0
    out = run(samplers.GreedySampler(), Automaton(table), prompts=[[1]], length=5)
    np.testing.assert_array_equal(out, [[1, 2, 2, 2, 2]])


def test_end_token_finishes_a_row_and_the_loop_stops_when_all_are():
    model = random_automaton(1)
    free = run(samplers.GreedySampler(), model)
    end = int(free[0, len(PROMPTS[0])])  # row 0's first new token
    model.calls = 0
    stopped = run(samplers.GreedySampler(), model, end_token_id=end)
    for free_row, row, prompt in zip(free, stopped, PROMPTS):
        new = list(free_row[len(prompt):])
        stop = len(prompt) + new.index(end) + 1 if end in new else LENGTH
        np.testing.assert_array_equal(row[:stop], free_row[:stop])
        assert not row[stop:].any()
    # Every row ends at the latest after its first new token equal to `end`; the loop ends with the last.
    last_stop = max(len(p) + list(r[len(p):]).index(end) + 1 if end in r[len(p):] else LENGTH for p, r in zip(PROMPTS, free))
    assert model.calls == last_stop - 1  # positions 1 … last_stop-1 (the shortest prompt has 1 token)


def test_lengths_stop_each_row_at_its_own_position():
    model = random_automaton(2)
    full = run(samplers.GreedySampler(), model)
    lengths = np.array([5, 3, 9], "int32")
    out = run(samplers.GreedySampler(), model, lengths=lengths)
    for row, full_row, n in zip(out, full, lengths):
        np.testing.assert_array_equal(row[:n], full_row[:n])
        assert not row[n:].any()


def test_the_loop_traces_with_unknown_shapes_and_gives_the_eager_ids():
    model = random_automaton(3)
    ids, mask, first = buffer(PROMPTS, LENGTH)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.bool)])
    def decode(ids, mask):
        return samplers.GreedySampler()(model.next, ids, model.initial_cache(tf.shape(ids)[0]), first, mask, end_token_id=4)

    graph = decode.get_concrete_function().graph.as_graph_def()
    op_types = {node.op for node in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    assert "While" in op_types or "StatelessWhile" in op_types
    assert not any(op.startswith("Xla") for op in op_types)
    np.testing.assert_array_equal(decode(ids, mask), run(samplers.GreedySampler(), model, end_token_id=4))
