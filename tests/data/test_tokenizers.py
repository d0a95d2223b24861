import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.data import BERT_SPECIAL_TOKENS, SEQ2SEQ_SPECIAL_TOKENS, CharacterTokenizer, WordTokenizer

TEXTS = [
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "All:\nSpeak, speak.",
    "You are all resolved rather to die than to famish?",
    "¿Dónde está la biblioteca? ÉL dijo: «sí».",
]


def word_tokenizer(**kwargs):
    return WordTokenizer(**kwargs).adapt(tf.data.Dataset.from_tensor_slices(TEXTS))


def test_character_ids_padding_oov_and_round_trip():
    tokenizer = CharacterTokenizer().adapt(TEXTS)
    vocabulary = tokenizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and vocabulary[2] == " "  # most frequent first
    assert tokenizer.vocabulary_size() == len(vocabulary) == 2 + len(set("".join(TEXTS)))
    ids = tokenizer(TEXTS)
    assert ids.dtype == tf.int32 and ids.shape == (4, max(len(t) for t in TEXTS))
    assert (ids.numpy()[1, len(TEXTS[1]) :] == 0).all()  # padding
    assert [t.decode() for t in tokenizer.detokenize(ids).numpy()] == TEXTS
    assert tokenizer.tokenize("é€").numpy()[1] == 1  # OOV
    assert tokenizer.detokenize(tokenizer.tokenize("a€", sequence_length=4)).numpy() == b"a[UNK]"
    assert tokenizer.tokenize(TEXTS, sequence_length=5).shape == (4, 5)


def test_word_standardisation_specials_and_round_trip():
    tokenizer = word_tokenizer(special_tokens=SEQ2SEQ_SPECIAL_TOKENS)
    assert tokenizer.get_vocabulary()[:4] == ["", "[UNK]", "[start]", "[end]"]
    assert tokenizer.special_token_ids == {"[start]": 2, "[end]": 3}
    assert tokenizer.standardize("Speak, SPEAK!  speak.").numpy() == b"speak speak speak"
    assert tokenizer.standardize("¿Dónde ÉL?").numpy() == "¿dónde él".encode()  # TextVectorization's set keeps ¿
    text = "[start] You are all resolved, rather to die [end]"
    ids = tokenizer.tokenize(text).numpy()
    assert ids[0] == 2 and ids[-1] == 3 and 1 not in ids
    assert tokenizer.detokenize(ids).numpy() == tokenizer.standardize(text).numpy()
    assert tokenizer.detokenize(tokenizer(["proceed unknownword"])).numpy()[0] == b"proceed [UNK]"
    batch = tokenizer(["speak", "hear me speak", ""], sequence_length=4).numpy()
    assert batch.shape == (3, 4) and (batch[2] == 0).all() and (batch[0, 1:] == 0).all()


def test_word_ids_equal_text_vectorization_for_ascii():
    tokenizer = word_tokenizer()
    reference = keras.layers.TextVectorization(vocabulary=tokenizer.get_vocabulary()[2:])
    text = ["Before we proceed, any further -- hear me; speak!", "you are ALL resolved? zebra"]
    np.testing.assert_array_equal(tokenizer(text).numpy(), reference(text).numpy())


def test_adapt_limits_and_is_deterministic():
    counts = ["b b b a a c", "c c d"]
    tokenizer = WordTokenizer(max_tokens=5).adapt(counts)
    assert tokenizer.get_vocabulary() == ["", "[UNK]", "b", "c", "a"]  # ties broken by token
    assert WordTokenizer(min_frequency=3).adapt(counts).get_vocabulary(False) == ["b", "c"]
    with pytest.raises(ValueError, match="dataset of strings"):
        WordTokenizer().adapt(tf.data.Dataset.from_tensor_slices((["a"], [1])))
    with pytest.raises(ValueError, match="no vocabulary"):
        WordTokenizer()(["a"])


@pytest.mark.parametrize("cls", [CharacterTokenizer, WordTokenizer])
def test_config_and_keras_file_reload_give_identical_ids(cls, tmp_path):
    tokenizer = cls(special_tokens=BERT_SPECIAL_TOKENS, sequence_length=12).adapt(TEXTS)
    expected = tokenizer(TEXTS).numpy()
    clone = cls.from_config(json.loads(json.dumps(tokenizer.get_config())))
    assert clone.get_config() == tokenizer.get_config()
    np.testing.assert_array_equal(clone(TEXTS).numpy(), expected)

    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, tokenizer(inputs))
    path = os.path.join(tmp_path, "tokenizer.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)  # no custom_objects: registered
    np.testing.assert_array_equal(reloaded(tf.constant(TEXTS)).numpy(), expected)
    assert reloaded.layers[-1].get_vocabulary() == tokenizer.get_vocabulary()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(tokenizer))
    np.testing.assert_array_equal(restored(TEXTS).numpy(), expected)


def test_exported_saved_model_tokenizes_and_detokenizes(tmp_path):
    tokenizer = word_tokenizer(special_tokens=SEQ2SEQ_SPECIAL_TOKENS, sequence_length=8)
    assert tokenizer.supports_jit is False
    archive = keras.export.ExportArchive()
    archive.track(tokenizer)
    archive.add_endpoint("tokenize", tokenizer.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.add_endpoint("detokenize", tokenizer.detokenize, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    path = os.path.join(tmp_path, "served")
    archive.write_out(path, verbose=False)
    served = tf.saved_model.load(path)
    text = tf.constant(["[start] Speak, speak. [end]", "hear me"])
    np.testing.assert_array_equal(served.tokenize(text).numpy(), tokenizer.tokenize(text).numpy())
    np.testing.assert_array_equal(
        served.detokenize(served.tokenize(text)).numpy(), tokenizer.standardize(text).numpy()
    )


def test_runs_inside_tf_data():
    tokenizer = CharacterTokenizer(sequence_length=6).adapt(TEXTS)
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2).map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)
    batches = list(dataset.as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate(batches), tokenizer(TEXTS).numpy())
