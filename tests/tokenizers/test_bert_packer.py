"""BertPacker against Hugging Face `tokenizer(a, b, truncation=True, max_length=L, padding="max_length")`."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.data.bert_inputs import truncate_pair_lengths
from kerasnets.tokenizers import BertPacker, WordPieceTokenizer
from tests.tokenizers.wordpiece_corpus import HAND_WRITTEN, hugging_face, mrpc_pairs, trained_vocabulary

HF_NAMES = {"token_ids": "input_ids", "segment_ids": "token_type_ids", "padding_mask": "attention_mask"}


@pytest.fixture(scope="module")
def vocabulary_path(tmp_path_factory):
    return trained_vocabulary(tmp_path_factory.mktemp("packer"), vocabulary_size=4000)


def packer_for(tokenizer, length):
    return BertPacker(length, tokenizer.cls_id, tokenizer.sep_id, tokenizer.padding_id)


def assert_like_hugging_face(packed, expected):
    for ours, theirs in HF_NAMES.items():
        assert packed[ours].dtype == tf.int32
        np.testing.assert_array_equal(packed[ours].numpy(), np.asarray(expected[theirs]), err_msg=ours)


@pytest.mark.parametrize("length", [32, 64])
def test_mrpc_pairs_equal_hugging_face(vocabulary_path, length):
    first, second = map(list, zip(*mrpc_pairs()))
    tokenizer = WordPieceTokenizer.from_vocabulary_file(vocabulary_path)
    expected = hugging_face(vocabulary_path)(first, second, truncation=True, max_length=length, padding="max_length")
    packed = packer_for(tokenizer, length)(tokenizer.tokenize_ragged(first), tokenizer.tokenize_ragged(second))
    assert_like_hugging_face(packed, expected)
    assert (packed["segment_ids"].numpy().sum(1) > 0).all()  # truncation really happened in some rows


def test_single_segments_equal_hugging_face(vocabulary_path):
    lines = [first for first, _ in mrpc_pairs(100)] + HAND_WRITTEN
    tokenizer = WordPieceTokenizer.from_vocabulary_file(vocabulary_path)
    expected = hugging_face(vocabulary_path)(lines, truncation=True, max_length=20, padding="max_length")
    assert_like_hugging_face(packer_for(tokenizer, 20)(tokenizer.tokenize_ragged(lines)), expected)


def test_longest_first_rule_equals_tokenizers_for_all_small_lengths(vocabulary_path):
    reference = hugging_face(vocabulary_path)
    word = next(t for t in reference.get_vocab() if t.isalpha() and len(reference.tokenize(t)) == 1)
    cases = list(itertools.product(range(10), range(10)))
    for max_length in range(3, 16):
        firsts = [" ".join([word] * a) for a, _ in cases]
        seconds = [" ".join([word] * b) for _, b in cases]
        types = reference(firsts, seconds, truncation=True, max_length=max_length)["token_type_ids"]
        expected = [(row.count(0) - 2, row.count(1) - 1) for row in types]
        got_a, got_b = truncate_pair_lengths(*map(tf.constant, zip(*cases)), max_length - 3, rule="huggingface")
        assert list(zip(got_a.numpy().tolist(), got_b.numpy().tolist())) == expected, max_length


def test_config_round_trip_and_dense_inputs():
    packer = BertPacker(8, cls_id=2, sep_id=3, pad_id=0)
    clone = BertPacker.from_config(packer.get_config())
    first = tf.ragged.constant([[7, 8, 9, 10, 11], [5]])
    second = tf.ragged.constant([[20, 21, 22], []])
    packed, again = packer(first, second), clone(first, second)
    assert packed["token_ids"].numpy().tolist() == [[2, 7, 8, 9, 3, 20, 21, 3], [2, 5, 3, 3, 0, 0, 0, 0]]
    assert packed["segment_ids"].numpy().tolist() == [[0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 0, 0, 0, 0]]
    for key in packed:
        np.testing.assert_array_equal(packed[key], again[key])
    dense = packer(tf.constant([[7, 8]]))
    assert dense["token_ids"].numpy().tolist() == [[2, 7, 8, 3, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match="truncation"):
        BertPacker(8, 2, 3, truncation="only_first")


def test_model_with_string_inputs_round_trips_as_keras_file(vocabulary_path, tmp_path):
    tokenizer = WordPieceTokenizer.from_vocabulary_file(vocabulary_path)
    first, second = keras.Input(shape=(), dtype="string"), keras.Input(shape=(), dtype="string")
    packer = packer_for(tokenizer, 24)
    model_inputs = [first, second]
    outputs = PairInputs(tokenizer, packer)(first, second)
    model = keras.Model(model_inputs, outputs)
    path = str(tmp_path / "pair.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    pairs = mrpc_pairs(8)
    a, b = tf.constant([p[0] for p in pairs]), tf.constant([p[1] for p in pairs])
    expected, got = model([a, b]), reloaded([a, b])
    for key in HF_NAMES:
        np.testing.assert_array_equal(got[key], expected[key])


@keras.saving.register_keras_serializable(package="kerasnets_tests")
class PairInputs(keras.layers.Layer):
    """Test-only layer: two string inputs → BERT inputs through a WordPieceTokenizer and a BertPacker."""

    def __init__(self, tokenizer, packer, **kwargs):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.tokenizer = tokenizer if isinstance(tokenizer, WordPieceTokenizer) else keras.layers.deserialize(tokenizer)
        self.packer = packer if isinstance(packer, BertPacker) else keras.layers.deserialize(packer)
        self.built = True

    def call(self, first, second):
        return self.packer(self.tokenizer.tokenize_ragged(first), self.tokenizer.tokenize_ragged(second))

    def compute_output_spec(self, first, second):
        return self.packer.compute_output_spec(first, second)

    def get_config(self):
        config = super().get_config()
        config.update(tokenizer=keras.layers.serialize(self.tokenizer), packer=keras.layers.serialize(self.packer))
        return config
