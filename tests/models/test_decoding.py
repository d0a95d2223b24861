"""`generate` / `call_with_cache` of the model classes (`CausalLM`, `Seq2SeqLM`): cached decoding
gives what re-running the whole Functional model gives, for every generative architecture."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets import samplers
from kerasnets.models import CausalLM, Seq2SeqLM, gpt, rnn_language_model, seq2seq, transformer

VOCABULARY = 30
GPT = dict(
    vocabulary_size=VOCABULARY, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16
)
TRANSFORMER = dict(
    vocabulary_size=VOCABULARY,
    num_layers=2,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    max_sequence_length=16,
    dropout=0.0,
)
RNN_LM = dict(vocabulary_size=VOCABULARY, embedding_dim=8, units=16)
SEQ2SEQ = dict(source_vocabulary_size=VOCABULARY, target_vocabulary_size=25, embedding_dim=8, units=16)
# Right-padded prompts (or sources) of different lengths in one batch.
PROMPTS = np.array([[3, 4, 5, 6, 0], [7, 8, 0, 0, 0], [9, 10, 11, 12, 13]], dtype="int32")
START = 1
NEW = 6

BUILDERS = {
    "gpt": lambda: gpt(**GPT),
    "gpt_untied": lambda: gpt(**GPT, tie_embeddings=False),
    "rnn_lstm": lambda: rnn_language_model(**RNN_LM, num_layers=2),
    "rnn_simple_rnn": lambda: rnn_language_model(**RNN_LM, cell="simple_rnn"),
    "rnn_gru": lambda: rnn_language_model(**RNN_LM, cell="gru"),
    "transformer": lambda: transformer(**TRANSFORMER, tie_embeddings=False),
    "transformer_tied": lambda: transformer(**TRANSFORMER),
    "seq2seq_bahdanau": lambda: seq2seq(**SEQ2SEQ),
    "seq2seq_luong_gru": lambda: seq2seq(**SEQ2SEQ, attention="luong", cell="gru"),
    "seq2seq_plain_simple_rnn": lambda: seq2seq(**SEQ2SEQ, attention=None, cell="simple_rnn"),
}


def build(name):
    keras.utils.set_random_seed(0)  # random weights whose greedy continuations are not one repeated token
    return BUILDERS[name]()


def real_tokens(row):
    return [int(t) for t in row if t != 0]


def naive_continuation(model, prompt, count):
    """Re-run the whole Functional model on the growing sequence; argmax of the last position."""
    sequence = list(prompt)
    for _ in range(count):
        probabilities = np.asarray(model(np.array([sequence], "int32")))[0, -1]
        sequence.append(int(np.argmax(probabilities[1:])) + 1)  # id 0 is never generated
    return sequence


def naive_translation(model, source, count):
    decoder_inputs = [START]
    for _ in range(count):
        inputs = {"encoder_token_ids": np.array([source], "int32"), "decoder_token_ids": np.array([decoder_inputs])}
        probabilities = np.asarray(model(inputs))[0, -1]
        decoder_inputs.append(int(np.argmax(probabilities[1:])) + 1)
    return decoder_inputs[1:]


# The full Transformer on a one-token decoder input warns about its size-1 softmax.
@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
@pytest.mark.parametrize("name", list(BUILDERS))
def test_greedy_matches_rerunning_the_full_model_row_by_row(name):
    model = build(name)
    if isinstance(model, CausalLM):
        generated = model.generate(PROMPTS, NEW)
        assert generated.shape == (3, PROMPTS.shape[1] + NEW) and generated.dtype == np.int32
        new_tokens = []
        for row, prompt in zip(generated, PROMPTS):
            expected = naive_continuation(model, real_tokens(prompt), NEW)  # the prompt alone, unpadded
            np.testing.assert_array_equal(row[: len(expected)], expected)
            assert not row[len(expected) :].any()
            new_tokens += expected[-NEW:]
    else:
        assert isinstance(model, Seq2SeqLM)
        generated = model.generate(PROMPTS, NEW, start_token_id=START)
        assert generated.shape == (3, NEW)
        for row, source in zip(generated, PROMPTS):
            np.testing.assert_array_equal(row, naive_translation(model, real_tokens(source), NEW))
        new_tokens = generated.ravel()
    # The check would be weak on one repeated token (random tied Transformer heads mostly echo their input).
    assert len(np.unique(new_tokens)) > (1 if name == "transformer_tied" else 2)


def test_batch_rows_equal_prompts_alone_and_pure_function_equals_generate():
    model = gpt(**GPT)
    batch = np.asarray(model.generate_ids(PROMPTS, NEW))
    np.testing.assert_array_equal(batch, model.generate(PROMPTS, NEW))
    for row, prompt in zip(batch, PROMPTS):
        alone = model.generate(np.array([real_tokens(prompt)]), NEW)[0]
        np.testing.assert_array_equal(row[: len(alone)], alone)


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
@pytest.mark.parametrize("name", ["gpt", "transformer"])
def test_call_with_cache_equals_the_full_forward_pass(name):
    """Logits of a whole sequence through `call_with_cache` at index 0 = the Functional model's."""
    model = build(name)
    ids = PROMPTS
    if isinstance(model, CausalLM):
        cache, _ = model.build_cache(ids, ids.shape[1])
        logits, _ = model.call_with_cache(ids, cache, 0)
        expected = model(ids)
    else:
        decoder_ids = np.concatenate([np.full((3, 1), START), PROMPTS[:, :3]], axis=1).astype("int32")
        cache = model.build_cache(ids, decoder_ids.shape[1])
        logits, _ = model.call_with_cache(decoder_ids, cache, 0)
        expected = model({"encoder_token_ids": ids, "decoder_token_ids": decoder_ids})
    np.testing.assert_allclose(keras.ops.softmax(logits), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["gpt", "seq2seq_bahdanau"])
def test_sampling_is_reproducible_by_seed(name):
    model = build(name)
    extra = {} if name == "gpt" else {"start_token_id": START}

    def sample(seed, top_k=10):
        sampler = samplers.TopKSampler(k=top_k, temperature=1.5, seed=seed)
        return model.generate(PROMPTS, NEW, sampler=sampler, **extra)

    np.testing.assert_array_equal(sample(7), sample(7))
    assert not np.array_equal(sample(7), sample(8))
    greedy = model.generate(PROMPTS, NEW, **extra)
    np.testing.assert_array_equal(sample(7, top_k=1), greedy)
    assert not np.array_equal(sample(7), greedy)


@pytest.mark.parametrize("name", ["gpt", "rnn_lstm", "transformer", "seq2seq_bahdanau"])
def test_end_token_stops_a_row(name):
    model = build(name)
    decoder_only = name in ("gpt", "rnn_lstm")
    extra = {} if decoder_only else {"start_token_id": START}
    free = model.generate(PROMPTS, NEW, **extra)
    first_new = [len(real_tokens(prompt)) if decoder_only else 0 for prompt in PROMPTS]
    end_token = int(free[0, first_new[0] + 1])  # row 0's second new token
    stopped = model.generate(PROMPTS, NEW, end_token_id=end_token, **extra)
    for free_row, row, start in zip(free, stopped, first_new):
        continuation = list(free_row[start:])
        stop = start + continuation.index(end_token) + 1 if end_token in continuation else len(row)
        np.testing.assert_array_equal(row[:stop], free_row[:stop])  # the end token is kept
        assert not row[stop:].any()
    assert (stopped == 0).sum() > (free == 0).sum()


def _no_xla_ops(concrete_function):
    graph = concrete_function.graph.as_graph_def()
    op_types = {node.op for node in graph.node}
    op_types |= {node.op for function in graph.library.function for node in function.node_def}
    return not any(op.startswith("Xla") for op in op_types)


def test_traces_in_a_tf_function_with_a_fixed_signature():
    model = build("gpt")  # seeded: the same weights whatever ran before
    scalar = lambda dtype: tf.TensorSpec([], dtype)  # noqa: E731

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32),
            scalar(tf.int32),
            scalar(tf.float32),
            scalar(tf.int32),
            scalar(tf.int32),
            scalar(tf.int32),
        ]
    )
    def sample(token_ids, max_new_tokens, temperature, top_k, seed, end_token_id):
        sampler = samplers.TopKSampler(k=top_k, temperature=temperature, seed=seed)
        return model.generate_ids(token_ids, max_new_tokens, sampler, end_token_id)

    assert _no_xla_ops(sample.get_concrete_function())  # TF Serving runs graphs without XLA
    eager = model.generate(PROMPTS, NEW, samplers.TopKSampler(k=5, temperature=0.8, seed=3), end_token_id=13)
    np.testing.assert_array_equal(sample(PROMPTS, NEW, 0.8, 5, 3, 13), eager)
    # Unknown lengths: clamped at max_sequence_length (16) instead of failing; the rest stays 0.
    long = np.asarray(sample(PROMPTS, 20, 1.0, 0, 3, -1))
    assert long.shape == (3, 25) and long[:, :16].all() and not long[:, 16:].any()


@pytest.mark.parametrize("name", ["rnn_lstm", "transformer", "seq2seq_bahdanau"])
def test_other_kinds_trace_in_a_tf_function(name):
    model = build(name)
    ids_spec, int_spec = tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32)
    if name == "rnn_lstm":
        function = tf.function(lambda ids, n: model.generate_ids(ids, n, end_token_id=9))
        expected = model.generate(PROMPTS, NEW, end_token_id=9)
    else:
        function = tf.function(lambda ids, n: model.generate_ids(ids, n, start_token_id=START))
        expected = model.generate(PROMPTS, NEW, start_token_id=START)
    concrete = function.get_concrete_function(ids_spec, int_spec)
    assert _no_xla_ops(concrete)
    np.testing.assert_array_equal(concrete(tf.constant(PROMPTS), tf.constant(NEW)), expected)


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
@pytest.mark.parametrize("name", ["gpt", "rnn_lstm", "transformer", "seq2seq_bahdanau"])
def test_beam_search_of_width_one_is_greedy_and_wider_beams_score_at_least_as_well(name):
    model = build(name)
    extra = {} if isinstance(model, CausalLM) else {"start_token_id": START}
    greedy = model.generate(PROMPTS, NEW, **extra)
    np.testing.assert_array_equal(model.generate(PROMPTS, NEW, sampler=samplers.BeamSampler(num_beams=1), **extra), greedy)
    beams, scores = model.generate(PROMPTS, NEW, sampler=samplers.BeamSampler(num_beams=3, return_all_beams=True), **extra)
    assert beams.shape[:2] == (3, 3) and scores.shape == (3, 3)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first

    def log_probability(row, ids):
        """Sum of log p of the new tokens, by re-running the whole model."""
        if isinstance(model, CausalLM):
            start = len(real_tokens(PROMPTS[row]))
            sequence = real_tokens(ids)
            probabilities = np.asarray(model(np.array([sequence], "int32")))[0]
            return sum(np.log(probabilities[t - 1, sequence[t]]) for t in range(start, len(sequence)))
        decoder = [START] + real_tokens(ids)
        inputs = {"encoder_token_ids": PROMPTS[row : row + 1], "decoder_token_ids": np.array([decoder[:-1]], "int32")}
        probabilities = np.asarray(model(inputs))[0]
        return sum(np.log(probabilities[t, decoder[t + 1]]) for t in range(len(decoder) - 1))

    for row in range(3):
        best = log_probability(row, beams[row, 0])
        np.testing.assert_allclose(best, scores[row, 0], rtol=1e-3, atol=1e-3)
        assert best >= log_probability(row, greedy[row]) - 1e-4


def test_compile_sets_the_default_sampler_and_it_survives_saving(tmp_path):
    model = build("gpt")
    model.compile(loss="sparse_categorical_crossentropy", sampler=samplers.TopKSampler(k=3, seed=5))
    chosen = model.generate(PROMPTS, NEW)
    np.testing.assert_array_equal(chosen, model.generate(PROMPTS, NEW, sampler=samplers.TopKSampler(k=3, seed=5)))
    model.save(tmp_path / "lm.keras")
    reloaded = keras.saving.load_model(tmp_path / "lm.keras")
    assert isinstance(reloaded.sampler, samplers.TopKSampler)
    np.testing.assert_array_equal(reloaded.generate(PROMPTS, NEW), chosen)


def test_length_limits_and_argument_errors():
    model = gpt(**GPT)
    with pytest.raises(ValueError, match="max_sequence_length"):
        model.generate(PROMPTS, 12)  # 5 + 12 > 16
    assert model.generate(PROMPTS, 11).shape == (3, 16)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(PROMPTS, -1)
    with pytest.raises(ValueError, match="sampler"):
        model.generate(PROMPTS, 2, sampler="no_such_sampler")
    with pytest.raises(ValueError, match="at least one token"):
        model.generate(np.array([[3, 4], [0, 0]]), 2)
    with pytest.raises(ValueError, match="integers"):
        model.generate(np.array([[3.0, 4.0]]), 2)
    translator = build("transformer")
    with pytest.raises(TypeError):
        translator.generate(PROMPTS, 2)  # start_token_id is required
    with pytest.raises(ValueError, match="max_sequence_length"):
        translator.generate(PROMPTS, 17, start_token_id=START)


@pytest.mark.parametrize(
    "make_sampler",
    [
        lambda p, seed: samplers.TopPSampler(p=p, temperature=1.4, seed=seed),
        lambda p, seed: samplers.TopPSampler(p=p, seed=seed, k=4),
        lambda p, seed: samplers.RandomSampler(temperature=p + 0.5, seed=seed),
    ],
    ids=["top_p", "top_p_with_k", "random"],
)
def test_seeded_sampling_gives_the_same_tokens_in_a_saved_model(tmp_path, make_sampler):
    model = build("gpt")
    eager = model.generate(PROMPTS, NEW, sampler=make_sampler(0.8, 12), end_token_id=7)
    assert not np.array_equal(eager, model.generate(PROMPTS, NEW))  # not greedy in disguise
    archive = keras.export.ExportArchive()  # what kerasnets.export writes SavedModels with
    archive.track(model)
    archive.add_endpoint(
        "sample",
        tf.function(lambda ids, p, seed: model.generate_ids(ids, NEW, make_sampler(p, seed), end_token_id=7)),
        input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32)],
    )
    archive.write_out(str(tmp_path / "sampler"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "sampler"))  # kept: its functions use its variables
    served = loaded.sample(tf.constant(PROMPTS), tf.constant(0.8), tf.constant(12))
    np.testing.assert_array_equal(served, eager)
