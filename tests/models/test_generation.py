import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.models import generation, gpt, rnn_classifier, rnn_language_model, seq2seq, transformer
from kerasnets.models.generation import (
    generate,
    generate_gpt,
    generate_rnn_language_model,
    generate_seq2seq,
    generate_transformer,
    model_kind,
    sample_next_token,
    uniform_noise,
)

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
    kind = model_kind(model)
    if kind in ("gpt", "rnn_language_model"):
        generated = np.asarray(generate(model, PROMPTS, NEW))
        assert generated.shape == (3, PROMPTS.shape[1] + NEW) and generated.dtype == np.int32
        new_tokens = []
        for row, prompt in zip(generated, PROMPTS):
            expected = naive_continuation(model, real_tokens(prompt), NEW)  # the prompt alone, unpadded
            np.testing.assert_array_equal(row[: len(expected)], expected)
            assert not row[len(expected) :].any()
            new_tokens += expected[-NEW:]
    else:
        generated = np.asarray(generate(model, PROMPTS, NEW, start_token_id=START))
        assert generated.shape == (3, NEW)
        for row, source in zip(generated, PROMPTS):
            np.testing.assert_array_equal(row, naive_translation(model, real_tokens(source), NEW))
        new_tokens = generated.ravel()
    # The check would be weak on one repeated token (random tied Transformer heads mostly echo their input).
    assert len(np.unique(new_tokens)) > (1 if name == "transformer_tied" else 2)


def test_batch_rows_equal_prompts_alone_and_pure_function_equals_generate():
    model = gpt(**GPT)
    batch = np.asarray(generate_gpt(model, PROMPTS, NEW))
    np.testing.assert_array_equal(batch, np.asarray(generate(model, PROMPTS, NEW)))
    for row, prompt in zip(batch, PROMPTS):
        alone = np.asarray(generate_gpt(model, np.array([real_tokens(prompt)]), NEW))[0]
        np.testing.assert_array_equal(row[: len(alone)], alone)


@pytest.mark.parametrize("name", ["gpt", "seq2seq_bahdanau"])
def test_sampling_is_reproducible_by_seed(name):
    model = build(name)
    extra = {} if name == "gpt" else {"start_token_id": START}

    def sample(seed, top_k=10):
        options = dict(sampler="top_k", top_k=top_k, temperature=1.5, seed=seed, **extra)
        return np.asarray(generate(model, PROMPTS, NEW, **options))

    np.testing.assert_array_equal(sample(7), sample(7))
    assert not np.array_equal(sample(7), sample(8))
    greedy = np.asarray(generate(model, PROMPTS, NEW, **extra))
    np.testing.assert_array_equal(sample(7, top_k=1), greedy)
    assert not np.array_equal(sample(7), greedy)


def test_top_k_samples_only_among_the_k_most_likely_tokens(monkeypatch):
    logits = keras.random.normal((4, VOCABULARY), seed=3)
    top_3 = np.argsort(-np.asarray(logits)[:, 1:], axis=-1)[:, :3] + 1
    drawn = np.stack(
        [np.asarray(sample_next_token(logits, sampler="top_k", top_k=3, temperature=5.0, seed=s)) for s in range(40)]
    )
    for row in range(4):
        assert set(drawn[:, row]) <= set(top_3[row]) and len(set(drawn[:, row])) > 1
    # k as a tensor picks the same tokens as k as an int, through top_k of a cap or a full sort.
    k = keras.ops.convert_to_tensor(3)
    first_draw = dict(sampler="top_k", temperature=5.0, seed=0)
    np.testing.assert_array_equal(sample_next_token(logits, top_k=k, **first_draw), drawn[0])
    monkeypatch.setattr(generation, "_TOP_K_CAP", 2)
    np.testing.assert_array_equal(sample_next_token(logits, top_k=k, **first_draw), drawn[0])
    everything = keras.ops.convert_to_tensor(0)
    np.testing.assert_array_equal(
        sample_next_token(logits, sampler="top_k", top_k=everything, seed=1),
        sample_next_token(logits, sampler="top_k", seed=1),
    )
    # No truncation and a high temperature: close to uniform over ids 1..V-1, never 0.
    flat = np.stack([np.asarray(sample_next_token(logits * 0, sampler="top_k", seed=s)) for s in range(200)])
    assert 0 not in flat and len(np.unique(flat)) > VOCABULARY // 2


def test_uniform_noise_is_a_pure_function_of_its_counters():
    noise = np.asarray(uniform_noise(5, 3, 64, 100))
    np.testing.assert_array_equal(noise, uniform_noise(5, 3, 64, 100))
    assert 0.0 < noise.min() and noise.max() < 1.0 and abs(noise.mean() - 0.5) < 0.01
    assert not np.array_equal(noise, uniform_noise(6, 3, 64, 100))
    assert not np.array_equal(noise, uniform_noise(5, 4, 64, 100))


@pytest.mark.parametrize("name", ["gpt", "rnn_lstm", "transformer", "seq2seq_bahdanau"])
def test_end_token_stops_a_row(name):
    model = build(name)
    decoder_only = name in ("gpt", "rnn_lstm")
    extra = {} if decoder_only else {"start_token_id": START}
    free = np.asarray(generate(model, PROMPTS, NEW, **extra))
    first_new = [len(real_tokens(prompt)) if decoder_only else 0 for prompt in PROMPTS]
    end_token = int(free[0, first_new[0] + 1])  # row 0's second new token
    stopped = np.asarray(generate(model, PROMPTS, NEW, end_token_id=end_token, **extra))
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
        return generate_gpt(
            model,
            token_ids,
            max_new_tokens,
            sampler="top_k",
            temperature=temperature,
            top_k=top_k,
            seed=seed,
            end_token_id=end_token_id,
        )

    assert _no_xla_ops(sample.get_concrete_function())  # TF Serving runs graphs without XLA
    eager = generate_gpt(model, PROMPTS, NEW, sampler="top_k", temperature=0.8, top_k=5, seed=3, end_token_id=13)
    np.testing.assert_array_equal(sample(PROMPTS, NEW, 0.8, 5, 3, 13), eager)
    # Unknown lengths: clamped at max_sequence_length (16) instead of failing; the rest stays 0.
    long = np.asarray(sample(PROMPTS, 20, 1.0, 0, 3, -1))
    assert long.shape == (3, 25) and long[:, :16].all() and not long[:, 16:].any()


@pytest.mark.parametrize("name", ["rnn_lstm", "transformer", "seq2seq_bahdanau"])
def test_other_kinds_trace_in_a_tf_function(name):
    model = build(name)
    ids_spec, int_spec = tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32)
    if name == "rnn_lstm":
        function = tf.function(lambda ids, n: generate_rnn_language_model(model, ids, n, end_token_id=9))
        expected = generate_rnn_language_model(model, PROMPTS, NEW, end_token_id=9)
    elif name == "transformer":
        function = tf.function(lambda ids, n: generate_transformer(model, ids, n, start_token_id=START))
        expected = generate_transformer(model, PROMPTS, NEW, start_token_id=START)
    else:
        function = tf.function(lambda ids, n: generate_seq2seq(model, ids, n, start_token_id=START))
        expected = generate_seq2seq(model, PROMPTS, NEW, start_token_id=START)
    concrete = function.get_concrete_function(ids_spec, int_spec)
    assert _no_xla_ops(concrete)
    np.testing.assert_array_equal(concrete(tf.constant(PROMPTS), tf.constant(NEW)), expected)


def test_length_limits_and_argument_errors():
    model = gpt(**GPT)
    with pytest.raises(ValueError, match="max_sequence_length"):
        generate(model, PROMPTS, 12)  # 5 + 12 > 16
    with pytest.raises(ValueError, match="max_sequence_length"):
        generate_gpt(model, PROMPTS, 12)
    assert np.asarray(generate(model, PROMPTS, 11)).shape == (3, 16)
    with pytest.raises(ValueError, match="sampler"):
        generate(model, PROMPTS, 2, sampler="beam")
    with pytest.raises(ValueError, match="start_token_id"):
        generate(model, PROMPTS, 2, start_token_id=1)
    translator = build("transformer")
    with pytest.raises(ValueError, match="start_token_id"):
        generate(translator, PROMPTS, 2)
    with pytest.raises(ValueError, match="max_sequence_length"):
        generate(translator, PROMPTS, 17, start_token_id=START)
    for classifier in (keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), rnn_classifier(vocabulary_size=9)):
        with pytest.raises(ValueError, match="generative"):
            generate(classifier, PROMPTS, 2)
