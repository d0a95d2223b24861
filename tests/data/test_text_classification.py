import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import kerasnets
from kerasnets import data
from tests.data import data_root_or_skip, tfds_dir


def test_pair_truncation_is_longest_first():
    def reference(a, b, budget):  # BERT's _truncate_seq_pair
        while a + b > budget:
            if a > b:
                a -= 1
            else:
                b -= 1
        return a, b

    cases = list(itertools.product(range(12), range(12), range(1, 14)))
    got_a, got_b = data.truncate_pair_lengths(*map(tf.constant, zip(*cases)))
    assert list(zip(got_a.numpy().tolist(), got_b.numpy().tolist())) == [reference(*c) for c in cases]


def test_pack_bert_inputs():
    packed = data.pack_bert_inputs(tf.constant([7, 8, 9]), tf.constant([10]), sequence_length=9, cls_id=2, sep_id=3)
    assert packed["token_ids"].numpy().tolist() == [2, 7, 8, 9, 3, 10, 3, 0, 0]
    assert packed["segment_ids"].numpy().tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0]
    assert packed["padding_mask"].numpy().tolist() == [1, 1, 1, 1, 1, 1, 1, 0, 0]
    cut = data.pack_bert_inputs(tf.constant([7, 8, 9]), tf.constant([10, 11]), sequence_length=7, cls_id=2, sep_id=3)
    assert cut["token_ids"].numpy().tolist() == [2, 7, 8, 3, 10, 11, 3]  # the longer segment loses a token
    single = data.pack_bert_inputs(tf.constant([7, 8, 9]), sequence_length=4, cls_id=2, sep_id=3)
    assert single["token_ids"].numpy().tolist() == [2, 7, 8, 3]


def test_truncation_side_left_keeps_the_last_tokens_and_is_checked():
    from kerasnets.tokenizers import WordTokenizer

    tokenizer = WordTokenizer(special_tokens=data.BERT_SPECIAL_TOKENS)
    tokenizer.adapt(tf.data.Dataset.from_tensor_slices(["one two three four five"]))
    examples = tf.data.Dataset.from_tensor_slices({"text": ["one two three four five", "two"], "label": [1, 0]})

    def first_batch(**kwargs):
        dataset = data.text_classification_dataset(examples, tokenizer, ["text"], 2, shuffle=False, **kwargs)
        return next(iter(dataset))[0].numpy().tolist()

    ids = {word: int(tokenizer.tokenize(word)[0]) for word in "one two three four five".split()}
    assert first_batch(sequence_length=3) == [[ids["one"], ids["two"], ids["three"]], [ids["two"], 0, 0]]
    left = first_batch(sequence_length=3, truncation_side="left")
    assert left == [[ids["three"], ids["four"], ids["five"]], [ids["two"], 0, 0]]
    named = data.text_classification_dataset(
        examples, tokenizer, ["text"], 2, sequence_length=3, truncation_side="left", input_name="token_ids",
        shuffle=False,
    )
    assert next(iter(named))[0]["token_ids"].numpy().tolist() == left  # wrapped for a named model input
    with pytest.raises(ValueError, match="truncation_side must be 'right' or 'left'"):
        first_batch(sequence_length=3, truncation_side="pre")
    with pytest.raises(ValueError, match="BERT inputs are truncated on the right"):
        first_batch(sequence_length=3, truncation_side="left", bert_inputs=True)


def test_sst2_single_sentences_and_tfds_features():
    data_root_or_skip("glue/sst2/train.tsv")
    dataset, tokenizer = data.load_text_classification(
        "glue/sst2", "validation[:64]", 16, sequence_length=24, tokenizer_split="train[:2000]", data_dir=tfds_dir()
    )
    assert dataset.element_spec == (tf.TensorSpec((None, 24), tf.int32), tf.TensorSpec((None,), tf.int32))
    ids, labels = next(iter(dataset))
    assert set(labels.numpy()) <= {0, 1} and ids.numpy()[:, 0].min() > 0
    builder = data.prepare("glue/sst2", data_dir=tfds_dir())
    assert builder.name == "kerasnets_glue"  # read from the TSV copies
    sizes = {k: v.num_examples for k, v in builder.info.splits.items()}
    assert sizes == {"train": 67349, "validation": 872, "test": 1821}
    assert repr(builder.info.features) == repr(tfds.builder("glue/sst2", data_dir=tfds_dir()).info.features)
    labels = [int(ex["label"]) for ex in builder.as_dataset(split="validation").as_numpy_iterator()]
    assert (labels.count(1), labels.count(0)) == (444, 428)

    model = kerasnets.models.text_cnn(vocabulary_size=tokenizer.vocabulary_size(), sequence_length=24)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(dataset.take(1), verbose=0).history["loss"][-1])


def test_mrpc_pairs_for_bert():
    data_root_or_skip("glue/mrpc/msr_paraphrase_train.txt")
    dataset, tokenizer = data.load_text_classification(
        "glue/mrpc", "validation[:32]", 8, sequence_length=40, tokenizer_split="train[:500]", data_dir=tfds_dir()
    )
    inputs, labels = next(iter(dataset))
    assert set(inputs) == {"token_ids", "segment_ids", "padding_mask"}
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    for ids, segments, mask in zip(*(inputs[k].numpy() for k in ("token_ids", "segment_ids", "padding_mask"))):
        length = mask.sum()
        assert ids[0] == cls_id and ids[length - 1] == sep_id and (ids[length:] == 0).all()
        seps = np.flatnonzero(ids == sep_id)
        assert len(seps) == 2
        assert (segments[: seps[0] + 1] == 0).all() and (segments[seps[0] + 1 : length] == 1).all()
        assert (mask == (ids != 0)).all()
    model = kerasnets.models.bert(
        head="classifier", vocabulary_size=tokenizer.vocabulary_size(), max_sequence_length=40
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(dataset.take(1), verbose=0).history["loss"][-1])


def test_imdb_and_cola_from_their_tsv_copies():
    data_root_or_skip("imdb/test.tsv.gz", "glue/cola/train.tsv")
    dataset, tokenizer = data.load_text_classification(
        "imdb_reviews", "test[:32]", 8, sequence_length=50, tokenizer_split="train[:300]", data_dir=tfds_dir()
    )
    ids, labels = next(iter(dataset))
    assert ids.shape == (8, 50) and set(labels.numpy()) <= {0, 1}
    assert b"br" not in tokenizer.detokenize(ids).numpy()[0].split()  # <br /> removed
    builder = data.prepare("imdb_reviews", data_dir=tfds_dir())
    assert builder.name == "kerasnets_imdb_reviews"
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == {"train": 25000, "test": 25000}
    assert repr(builder.info.features) == repr(tfds.builder("imdb_reviews", data_dir=tfds_dir()).info.features)
    cola = data.prepare("glue/cola", data_dir=tfds_dir())
    assert {k: v.num_examples for k, v in cola.info.splits.items()} == {"train": 8551, "validation": 1043, "test": 1063}
