"""What both tokenizers share: the StringLookup tables, adapt, config, .keras files, SavedModels, tf.data."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.tokenizers import (
    BERT_SPECIAL_TOKENS,
    OOV_ID,
    PADDING_ID,
    SEQ2SEQ_SPECIAL_TOKENS,
    CharacterTokenizer,
    WordTokenizer,
)
from tests.tokenizers.texts import TEXTS

TOKENIZERS = [CharacterTokenizer, WordTokenizer]


def graph_op_types(concrete_function):
    """Op types of a concrete function, its nested functions included."""
    graph_def = concrete_function.graph.as_graph_def()
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types |= {node.op for node in function.node_def}
    return types


def test_adapt_limits_and_is_deterministic():
    counts = ["b b b a a c", "c c d"]
    tokenizer = WordTokenizer(max_tokens=5).adapt(counts)
    assert tokenizer.get_vocabulary() == ["", "[UNK]", "b", "c", "a"]  # ties broken by token
    assert WordTokenizer(min_frequency=3).adapt(counts).get_vocabulary(False) == ["b", "c"]
    with pytest.raises(ValueError, match="dataset of strings"):
        WordTokenizer().adapt(tf.data.Dataset.from_tensor_slices((["a"], [1])))
    with pytest.raises(ValueError, match="no vocabulary"):
        WordTokenizer()(["a"])


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="distinct"):
        WordTokenizer(special_tokens=["[UNK]"])
    with pytest.raises(ValueError, match="max_tokens"):
        WordTokenizer(special_tokens=SEQ2SEQ_SPECIAL_TOKENS, max_tokens=3)
    with pytest.raises(ValueError, match="repeated or reserved"):
        WordTokenizer(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="repeated or reserved"):
        WordTokenizer(vocabulary=["a", "[start]"], special_tokens=SEQ2SEQ_SPECIAL_TOKENS)


@pytest.mark.parametrize("cls", TOKENIZERS)
def test_token_and_id_lookups_agree(cls):
    tokenizer = cls(special_tokens=SEQ2SEQ_SPECIAL_TOKENS).adapt(TEXTS)
    vocabulary = tokenizer.get_vocabulary()
    tokenizer.set_vocabulary(vocabulary)  # a full list: the reserved tokens in front are recognised
    assert tokenizer.get_vocabulary() == vocabulary
    for token_id, token in enumerate(vocabulary):
        assert tokenizer.id_to_token(token_id) == token
        assert tokenizer.token_to_id(token) == (token_id if token != tokenizer.oov_token else OOV_ID)
    assert tokenizer.token_to_id("never seen") == OOV_ID
    assert tokenizer.id_to_token(len(vocabulary)) == tokenizer.id_to_token(-1) == ""


@pytest.mark.parametrize("cls", TOKENIZERS)
def test_ids_outside_the_vocabulary_detokenize_to_empty_tokens(cls):
    tokenizer = cls(vocabulary=["a", "b"])
    text = tokenizer.detokenize([[2, 99, 3, -4, PADDING_ID], [OOV_ID, 2, 0, 0, 0]]).numpy().tolist()
    separator = tokenizer.separator.encode()
    assert text == [separator.join([b"a", b"", b"b", b""]), separator.join([b"[UNK]", b"a"])]
    ragged = tokenizer.detokenize(tf.ragged.constant([[3], [2, 99]])).numpy().tolist()
    assert ragged == [b"b", separator.join([b"a", b""])]


@pytest.mark.parametrize("cls", TOKENIZERS)
def test_empty_vocabulary_makes_every_token_oov(cls):
    tokenizer = cls(min_frequency=100).adapt(TEXTS)
    assert tokenizer.get_vocabulary() == ["", "[UNK]"] and tokenizer.vocabulary_size() == 2
    ids = tokenizer(["ab c"]).numpy()
    assert ids.shape[1] > 0 and (ids == OOV_ID).all()
    assert tokenizer.detokenize([[1, 2, 0]]).numpy()[0] == tokenizer.separator.join(["[UNK]", ""]).encode()


def test_adapting_again_replaces_the_lookups(tmp_path):
    tokenizer = WordTokenizer(sequence_length=3).adapt(["a a b"])
    tokenizer.adapt(["c c d d d"])
    assert tokenizer.get_vocabulary(False) == ["d", "c"]
    np.testing.assert_array_equal(tokenizer(["d c a"]).numpy(), [[2, 3, 1]])
    assert len(list(tokenizer._flatten_layers(include_self=False))) == 2  # the old tables are not kept
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, tokenizer(inputs))
    model.save(os.path.join(tmp_path, "tokenizer.keras"))
    reloaded = keras.saving.load_model(os.path.join(tmp_path, "tokenizer.keras"))
    np.testing.assert_array_equal(reloaded(tf.constant(["d c a"])).numpy(), [[2, 3, 1]])


@pytest.mark.parametrize("cls", TOKENIZERS)
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


def test_exported_saved_model_tokenizes_and_detokenizes_in_plain_graph_ops(tmp_path):
    tokenizer = WordTokenizer(special_tokens=SEQ2SEQ_SPECIAL_TOKENS, sequence_length=8).adapt(TEXTS)
    assert tokenizer.supports_jit is False
    archive = keras.export.ExportArchive()
    archive.track(tokenizer)
    archive.add_endpoint("tokenize", tokenizer.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.add_endpoint("detokenize", tokenizer.detokenize, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    path = os.path.join(tmp_path, "served")
    archive.write_out(path, verbose=False)
    del archive, tokenizer  # the SavedModel must hold its own tables
    tokenizer = WordTokenizer(special_tokens=SEQ2SEQ_SPECIAL_TOKENS, sequence_length=8).adapt(TEXTS)
    served = tf.saved_model.load(path)
    text = tf.constant(["[start] Speak, speak. [end]", "hear me zebra"])
    np.testing.assert_array_equal(served.tokenize(text).numpy(), tokenizer.tokenize(text).numpy())
    np.testing.assert_array_equal(
        served.detokenize(served.tokenize(text)).numpy(), tokenizer.detokenize(tokenizer.tokenize(text)).numpy()
    )
    for name in ("tokenize", "detokenize"):
        ops = graph_op_types(served.signatures[name])
        assert "LookupTableFindV2" in ops
        assert not ops & {"PyFunc", "EagerPyFunc", "PyFuncStateless", "XlaLaunch"}


def test_runs_inside_tf_data():
    tokenizer = CharacterTokenizer(sequence_length=6).adapt(TEXTS)
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2).map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)
    batches = list(dataset.as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate(batches), tokenizer(TEXTS).numpy())
