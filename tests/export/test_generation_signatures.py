"""Exported `generate` / `sample` / `beam_search` signatures: loaded back with
tf.saved_model.load, they give exactly what the model's own `generate` gives in Python."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.tokenizers import CharacterTokenizer, WordTokenizer
from kerasnets.export import export_model
from kerasnets.models import gpt, rnn_language_model, seq2seq, transformer
from kerasnets import samplers
from kerasnets.export.generation_signatures import DEFAULT_MAX_GENERATION_LENGTH

pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")

TEXT = "to be or not to be that is the question"


@pytest.fixture(scope="module")
def characters():
    tokenizer = CharacterTokenizer()
    tokenizer.adapt([TEXT])
    return tokenizer


@pytest.fixture(scope="module")
def words():
    source = WordTokenizer()
    source.adapt(["the cat sat on the mat", "a dog ran"])
    target = WordTokenizer(special_tokens=["[start]", "[end]"])
    target.adapt(["el gato se sento", "un perro corrio"])
    return source, target


def small_gpt(vocabulary_size):
    keras.utils.set_random_seed(1)
    return gpt(
        vocabulary_size=vocabulary_size, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=32,
    )  # fmt: skip


def export_and_load(tmp_path, model, generation):
    exported = export_model(model, "m", base_dir=str(tmp_path), generation=generation, update_config=False)
    assert {"serving_default", "generate", "sample", "beam_search"} <= set(exported.signatures)
    return tf.saved_model.load(exported.path).signatures


def as_text(values):
    return [v.decode("utf-8") for v in np.asarray(values)]


def test_gpt_generate_and_sample_match_python(tmp_path, characters):
    model = small_gpt(characters.vocabulary_size())
    served = export_and_load(tmp_path, model, {"tokenizer": characters})
    prompts = ["to be", "qu"]
    prompt_ids = characters.tokenize(prompts)

    greedy = served["generate"](prompt=tf.constant(prompts), max_new_tokens=tf.constant([6, 6]))
    expected = model.generate(prompt_ids, 6)
    lengths = np.count_nonzero(np.asarray(prompt_ids), axis=1)
    for row, length in enumerate(lengths):
        new = expected[row, length : length + 6]
        np.testing.assert_array_equal(greedy["generated_token_ids"][row], new)
        text = as_text(characters.detokenize(new[None]))[0]
        assert as_text(greedy["generated_text"])[row] == text
        assert as_text(greedy["text"])[row] == prompts[row] + text

    sampled = served["sample"](
        prompt=tf.constant(prompts),
        max_new_tokens=tf.constant([5, 5]),
        temperature=tf.constant([0.7, 0.7]),
        top_k=tf.constant([4, 4]),
        seed=tf.constant([3, 3]),
    )
    expected = model.generate(prompt_ids, 5, sampler=samplers.TopKSampler(k=4, temperature=0.7, seed=3))
    for row, length in enumerate(lengths):
        np.testing.assert_array_equal(sampled["generated_token_ids"][row], expected[row, length : length + 5])

    beams = served["beam_search"](prompt=tf.constant(prompts), max_new_tokens=tf.constant([5, 5]))
    expected = model.generate(prompt_ids, 5, sampler=samplers.BeamSampler(num_beams=4))
    for row, length in enumerate(lengths):
        np.testing.assert_array_equal(beams["generated_token_ids"][row], expected[row, length : length + 5])


def test_per_row_max_new_tokens_and_sampling_options(tmp_path, characters):
    model = small_gpt(characters.vocabulary_size())
    served = export_and_load(tmp_path, model, {"tokenizer": characters})
    out = served["generate"](prompt=tf.constant(["to", "to"]), max_new_tokens=tf.constant([2, 5]))
    ids = out["generated_token_ids"].numpy()
    assert ids.shape == (2, 5)
    np.testing.assert_array_equal(ids[0, :2], ids[1, :2])  # same prompt, same greedy start
    assert np.all(ids[0, 2:] == 0) and np.all(ids[1] != 0)
    assert as_text(out["generated_text"])[0] == as_text(characters.detokenize(ids[:1, :2]))[0]

    def sample(seed, top_k=0, temperature=1.0):
        return served["sample"](
            prompt=tf.constant(["to be"]),
            max_new_tokens=tf.constant([12]),
            temperature=tf.constant([temperature]),
            top_k=tf.constant([top_k]),
            seed=tf.constant([seed]),
        )["generated_token_ids"].numpy()

    np.testing.assert_array_equal(sample(7), sample(7))  # a seed is reproducible
    assert any(not np.array_equal(sample(7), sample(s)) for s in (8, 9, 10))
    greedy = served["generate"](prompt=tf.constant(["to be"]), max_new_tokens=tf.constant([12]))
    np.testing.assert_array_equal(sample(5, top_k=1), greedy["generated_token_ids"])  # top_k=1 is greedy
    # Per-row options: row 1 with top_k=1 is greedy whatever row 0 does.
    mixed = served["sample"](
        prompt=tf.constant(["to be", "to be"]),
        max_new_tokens=tf.constant([12, 12]),
        temperature=tf.constant([5.0, 5.0]),
        top_k=tf.constant([0, 1]),
        seed=tf.constant([1, 2]),
    )["generated_token_ids"].numpy()
    np.testing.assert_array_equal(mixed[1], greedy["generated_token_ids"][0])

    with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be > 0"):
        sample(1, temperature=0.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be at most 32 \(the model context\)"):
        served["generate"](prompt=tf.constant(["to be"]), max_new_tokens=tf.constant([28]))
    assert served["generate"](prompt=tf.constant(["to be"]), max_new_tokens=tf.constant([27]))[
        "generated_token_ids"
    ].numpy().all()  # exactly the context: every position filled
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one known token"):
        served["generate"](prompt=tf.constant([""]), max_new_tokens=tf.constant([3]))


def test_rnn_language_model_token_ids_without_tokenizer(tmp_path):
    keras.utils.set_random_seed(2)
    model = rnn_language_model(vocabulary_size=20, embedding_dim=8, units=16)
    served = export_and_load(tmp_path, model, {})
    prompts = np.array([[3, 4, 5], [6, 0, 0]], "int32")
    out = served["generate"](token_ids=tf.constant(prompts), max_new_tokens=tf.constant([4, 4]))
    assert set(out) == {"generated_token_ids", "generated_lengths"}
    np.testing.assert_array_equal(out["generated_lengths"], [4, 4])
    expected = model.generate(prompts, 4)
    np.testing.assert_array_equal(out["generated_token_ids"][0], expected[0, 3:7])
    np.testing.assert_array_equal(out["generated_token_ids"][1], expected[1, 1:5])


@pytest.mark.parametrize("kind", ["transformer", "seq2seq"])
def test_translation_signatures_use_start_and_end_tokens(tmp_path, words, kind):
    source_tokenizer, target_tokenizer = words
    keras.utils.set_random_seed(3)
    if kind == "transformer":
        model = transformer(
            vocabulary_size=target_tokenizer.vocabulary_size(), num_layers=1, num_heads=2, hidden_dim=16,
            intermediate_dim=32, max_sequence_length=16, tie_embeddings=False,
        )  # fmt: skip
    else:
        model = seq2seq(
            source_vocabulary_size=source_tokenizer.vocabulary_size(),
            target_vocabulary_size=target_tokenizer.vocabulary_size(), embedding_dim=8, units=16,
        )  # fmt: skip
    served = export_and_load(
        tmp_path, model, {"source_tokenizer": source_tokenizer, "target_tokenizer": target_tokenizer}
    )
    sources = ["the cat sat", "a dog"]
    out = served["generate"](source=tf.constant(sources), max_new_tokens=tf.constant([6, 6]))
    start, end = target_tokenizer.special_token_ids["[start]"], target_tokenizer.special_token_ids["[end]"]
    source_ids = source_tokenizer.tokenize(sources)
    expected = model.generate(source_ids, 6, start_token_id=start, end_token_id=end)
    np.testing.assert_array_equal(out["generated_token_ids"], expected)
    beams = served["beam_search"](source=tf.constant(sources), max_new_tokens=tf.constant([6, 6]))
    beam_sampler = samplers.BeamSampler(num_beams=4)
    np.testing.assert_array_equal(
        beams["generated_token_ids"],
        model.generate(source_ids, 6, start_token_id=start, end_token_id=end, sampler=beam_sampler),
    )
    without_end = np.where(expected == end, 0, expected)
    assert as_text(out["generated_text"]) == as_text(target_tokenizer.detokenize(without_end))
    assert "text" not in out


def test_bad_generation_arguments(tmp_path, characters, words):
    model = small_gpt(characters.vocabulary_size())
    with pytest.raises(ValueError, match="one `tokenizer`"):
        export_model(model, "m", base_dir=str(tmp_path), generation={"source_tokenizer": characters})
    with pytest.raises(ValueError, match="cannot generate"):
        export_model(
            keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]),
            "m",
            base_dir=str(tmp_path),
            generation={},
        )
    seq = seq2seq(source_vocabulary_size=20, target_vocabulary_size=20, embedding_dim=8, units=8)
    with pytest.raises(ValueError, match="start token"):
        export_model(seq, "s", base_dir=str(tmp_path), generation={})


def test_a_saved_run_exports_with_its_tokenizer(tmp_path, characters):
    from kerasnets.export.artifacts import export_from_path, save_for_export

    model = small_gpt(characters.vocabulary_size())
    save_for_export(tmp_path / "run", model, generation={"tokenizer": characters})
    exported = export_from_path(str(tmp_path / "run"), "gpt", base_dir=str(tmp_path / "saved_models"))
    served = tf.saved_model.load(exported.path).signatures["generate"]
    out = served(prompt=tf.constant(["to be"]), max_new_tokens=tf.constant([4]))
    expected = model.generate(characters.tokenize(["to be"]), 4)[0, 5:]
    np.testing.assert_array_equal(out["generated_token_ids"][0], expected)


INT32_WRAPS = 2**31 - 6  # prompt length 6 + this wraps int32 negative


def _generation_call(served, name, text_name, texts, max_new_tokens):
    rows = len(texts)
    inputs = {text_name: tf.constant(texts), "max_new_tokens": tf.constant([max_new_tokens] * rows)}
    if name == "sample":
        inputs.update(temperature=tf.constant([1.0] * rows), top_k=tf.constant([0] * rows), seed=tf.constant([1] * rows))
    return served[name](**inputs)


def test_gpt_rejects_max_new_tokens_that_would_overflow_or_is_not_positive(tmp_path, characters):
    model = small_gpt(characters.vocabulary_size())
    served = export_and_load(tmp_path, model, {"tokenizer": characters})
    for name in ("generate", "sample", "beam_search"):
        for bad, message in (
            (INT32_WRAPS, r"at most 32 \(max_generation_length, set at export\)"),
            (2**31 - 1, "at most 32"),
            (30, r"prompt length \+ max_new_tokens must be at most 32 \(the model context\)"),
            (0, "max_new_tokens must be at least 1"),
            (-5, "max_new_tokens must be at least 1"),
        ):
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                _generation_call(served, name, "prompt", ["to be "], bad)
        out = _generation_call(served, name, "prompt", ["to be "], 26)  # 6 + 26 = 32: exactly the context
        assert out["generated_token_ids"].shape == (1, 26)


@pytest.mark.parametrize("kind", ["rnn_language_model", "seq2seq", "transformer"])
def test_every_generative_model_bounds_its_loop(tmp_path, characters, words, kind):
    keras.utils.set_random_seed(4)
    source_tokenizer, target_tokenizer = words
    if kind == "rnn_language_model":
        model = rnn_language_model(vocabulary_size=characters.vocabulary_size(), embedding_dim=8, units=8)
        generation, text_name, texts = {"tokenizer": characters}, "prompt", ["to be"]
    elif kind == "seq2seq":
        model = seq2seq(
            source_vocabulary_size=source_tokenizer.vocabulary_size(),
            target_vocabulary_size=target_tokenizer.vocabulary_size(), embedding_dim=8, units=8,
        )  # fmt: skip
        generation = {"source_tokenizer": source_tokenizer, "target_tokenizer": target_tokenizer}
        text_name, texts = "source", ["the cat"]
    else:
        model = transformer(
            vocabulary_size=target_tokenizer.vocabulary_size(), num_layers=1, num_heads=2, hidden_dim=8,
            intermediate_dim=16, max_sequence_length=12, tie_embeddings=False,
        )  # fmt: skip
        generation = {"source_tokenizer": source_tokenizer, "target_tokenizer": target_tokenizer}
        text_name, texts = "source", ["the cat"]
    default_limit = 12 if kind == "transformer" else DEFAULT_MAX_GENERATION_LENGTH
    served = export_and_load(tmp_path / "default", model, dict(generation))
    for bad in (default_limit + 1, INT32_WRAPS, 10**8):
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {default_limit} "):
            _generation_call(served, "generate", text_name, texts, bad)

    served = export_and_load(tmp_path / "small", model, dict(generation, max_generation_length=5, max_text_bytes=20))
    for name in ("generate", "sample", "beam_search"):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"at most 5 \(max_generation_length, set at export\)"):
            _generation_call(served, name, text_name, texts, 6)
        with pytest.raises(tf.errors.InvalidArgumentError, match="must be at least 1"):
            _generation_call(served, name, text_name, texts, 0)
        out = _generation_call(served, name, text_name, texts, 5)
        assert out["generated_token_ids"].shape == (1, 5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"every {text_name} must be at most 20 bytes"):
        _generation_call(served, "generate", text_name, ["the " * 6], 3)


def test_bad_generation_limits(tmp_path, characters):
    model = small_gpt(characters.vocabulary_size())
    for option, value in (("max_generation_length", 0), ("max_generation_length", 2**31), ("max_text_bytes", "9")):
        with pytest.raises(ValueError, match=option):
            export_model(model, "m", base_dir=str(tmp_path), generation={"tokenizer": characters, option: value})
