"""Files written while the tokenizers lived in `kerasnets/data/tokenizers.py` still load.

`data/old_layout_tokenizers.keras` (a string input → WordTokenizer and
CharacterTokenizer → Embeddings) and `data/old_layout_tokenizers.json` (the
ids and texts those tokenizers gave, and their `serialize_keras_object`
dicts as `export.json` holds them, with "module": "kerasnets.data.tokenizers")
were written by that code, at commit 353abb7.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.tokenizers import CharacterTokenizer, WordTokenizer

DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(scope="module")
def reference():
    with open(os.path.join(DATA, "old_layout_tokenizers.json"), encoding="utf-8") as handle:
        return json.load(handle)


def texts(values):
    return [value.decode() for value in values.numpy()]


def test_old_keras_file_reloads_with_the_new_classes_and_ids(reference):
    model = keras.saving.load_model(os.path.join(DATA, "old_layout_tokenizers.keras"))
    word, character = model.get_layer("word_tokenizer"), model.get_layer("character_tokenizer")
    assert type(word) is WordTokenizer and type(character) is CharacterTokenizer
    assert word.get_vocabulary() == reference["word_vocabulary"]
    assert character.get_vocabulary() == reference["character_vocabulary"]
    np.testing.assert_array_equal(word(reference["texts"]).numpy(), reference["word_ids"])
    np.testing.assert_array_equal(character(reference["texts"]).numpy(), reference["character_ids"])
    assert texts(word.detokenize(reference["word_ids"])) == reference["word_text"]
    assert texts(character.detokenize(reference["character_ids"])) == reference["character_text"]
    out_of_range = tf.constant(reference["out_of_range_ids"])
    assert texts(word.detokenize(out_of_range)) == reference["word_text_out_of_range"]
    assert texts(character.detokenize(out_of_range)) == reference["character_text_out_of_range"]
    word_vectors, character_vectors = model(tf.constant(reference["texts"]))
    embedding = model.get_layer("word_embedding").embeddings.numpy()
    np.testing.assert_allclose(word_vectors.numpy(), embedding[np.array(reference["word_ids"])])
    assert character_vectors.shape == (len(reference["texts"]), 12, 3)


@pytest.mark.parametrize("key, cls", [("word", WordTokenizer), ("character", CharacterTokenizer)])
def test_old_serialized_tokenizer_deserializes(reference, key, cls):
    serialized = reference[f"serialized_{key}_tokenizer"]
    assert serialized["module"] == "kerasnets.data.tokenizers"  # a module that no longer exists
    tokenizer = keras.saving.deserialize_keras_object(serialized)
    assert type(tokenizer) is cls
    np.testing.assert_array_equal(tokenizer(reference["texts"]).numpy(), reference[f"{key}_ids"])
