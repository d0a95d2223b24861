import numpy as np
import tensorflow as tf

import kerasnets
from kerasnets import data
from tests.data import data_root_or_skip, tfds_dir

CLS, SEP, MASK, VOCABULARY = 2, 3, 4, 1000


def masked_examples(count=400, length=64, max_predictions=64, seed=0):
    """Random packed examples, masked: numpy arrays (original, masked, positions, labels, weights)."""
    rng = np.random.default_rng(seed)
    real = rng.integers(20, length + 1, count)
    original = rng.integers(5, VOCABULARY, (count, length)).astype("int32")
    for row, n in zip(original, real):
        row[0], row[n // 2], row[n - 1], row[n:] = CLS, SEP, SEP, 0

    def mask(ids, index):
        return data.mask_tokens(
            ids, tf.stack([index, tf.constant(seed, tf.int64)]), max_predictions=max_predictions,
            vocabulary_size=VOCABULARY, mask_id=MASK, special_ids=(CLS, SEP), first_random_id=5,
        )

    dataset = tf.data.Dataset.from_tensor_slices(original).enumerate().map(lambda i, ids: mask(ids, i))
    masked, positions, labels, weights = (np.stack(a) for a in zip(*dataset.as_numpy_iterator()))
    return original, masked, positions, labels, weights


def test_masking_rates():
    original, masked, positions, labels, weights = masked_examples()
    candidates = (original > SEP).sum()  # non-special, non-padding tokens
    chosen = weights.sum()
    assert candidates > 10_000
    assert abs(chosen / candidates - 0.15) < 0.01
    valid = weights.astype(bool)
    rows = np.repeat(np.arange(len(original))[:, None], positions.shape[1], 1)
    now = masked[rows, positions][valid]
    np.testing.assert_array_equal(labels[valid], original[rows, positions][valid])  # targets = original ids
    assert (labels[~valid] == 0).all() and (positions[~valid] == 0).all()
    assert (labels[valid] > SEP).all()  # specials and padding never chosen
    to_mask = (now == MASK).mean()
    kept = (now == labels[valid]).mean()
    replaced = ((now != MASK) & (now != labels[valid])).mean()
    assert abs(to_mask - 0.8) < 0.03 and abs(kept - 0.1) < 0.02 and abs(replaced - 0.1) < 0.02
    # Tokens not chosen are untouched; chosen positions are sorted, no repeats.
    untouched = np.ones_like(original, bool)
    untouched[rows[valid], positions[valid]] = False
    np.testing.assert_array_equal(masked[untouched], original[untouched])
    for row_positions, row_valid in zip(positions, valid):
        real = row_positions[row_valid]
        assert (np.diff(real) > 0).all()


def test_masking_caps_at_max_predictions_and_is_seeded():
    _, masked, _, _, weights = masked_examples(count=50, max_predictions=3)
    assert weights.sum(1).max() == 3 and weights.shape[1] == 3
    again = masked_examples(count=50, max_predictions=3)[1]
    np.testing.assert_array_equal(masked, again)


def test_sentence_pairs_are_half_next_half_random():
    documents = tf.data.Dataset.from_tensor_slices(
        ["\n".join(f"doc{d} line{i}" for i in range(50)) for d in range(40)]
    )
    triples = list(data.sentence_pairs(documents, seed=1).as_numpy_iterator())
    assert len(triples) == 40 * 49
    labels = np.array([label for _, _, label in triples])
    assert abs(labels.mean() - 0.5) < 0.04
    for a, b, label in triples:
        doc_a, line_a = a.decode().split()
        if label == data.IS_NEXT:
            assert b.decode() == f"{doc_a} line{int(line_a[4:]) + 1}"
    segments = data.split_segments(tf.constant("a\nb\n\nc\nd\ne"), "lines", 2).numpy().tolist()
    assert segments == [b"a b", b"c d", b"e"]


def test_tiny_shakespeare_pretraining_batches_fit_bert():
    data_root_or_skip("tiny_shakespeare/input.txt")
    kwargs = dict(sequence_length=64, max_predictions=12, seed=5, tokenizer_split="validation", data_dir=tfds_dir())
    dataset, tokenizer = data.load_bert_pretraining("tiny_shakespeare", "validation", 8, **kwargs)
    inputs, targets, weights = next(iter(dataset))
    assert {k: v.shape for k, v in inputs.items()} == {
        "token_ids": (8, 64), "segment_ids": (8, 64), "padding_mask": (8, 64), "mask_positions": (8, 12),
    }
    assert targets["mlm_probabilities"].shape == (8, 12) and targets["nsp_probabilities"].shape == (8,)
    assert weights["mlm_probabilities"].dtype == tf.float32 and weights["nsp_probabilities"].shape == (8,)
    assert all(v.dtype == tf.int32 for v in inputs.values())
    assert (inputs["token_ids"].numpy()[:, 0] == tokenizer.token_to_id("[CLS]")).all()
    assert (inputs["token_ids"].numpy() == tokenizer.token_to_id("[MASK]")).any()
    again, _ = data.load_bert_pretraining("tiny_shakespeare", "validation", 8, tokenizer=tokenizer, **kwargs)
    second = next(iter(again))
    np.testing.assert_array_equal(second[0]["token_ids"].numpy(), inputs["token_ids"].numpy())
    np.testing.assert_array_equal(second[0]["mask_positions"].numpy(), inputs["mask_positions"].numpy())

    model = kerasnets.models.bert(
        head="pretraining", vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, hidden_dim=16,
        num_heads=2, intermediate_dim=32, max_sequence_length=64,
    )
    assert set(model.input) == set(inputs)  # the builder's input names
    model.compile(
        optimizer="adam",
        loss={
            "mlm_probabilities": "sparse_categorical_crossentropy",
            "nsp_probabilities": "sparse_categorical_crossentropy",
        },
    )
    assert np.isfinite(model.fit(dataset.take(2), verbose=0).history["loss"][-1])


def test_dynamic_masking_changes_masks_between_epochs_only_when_asked():
    documents = tf.data.Dataset.from_tensor_slices(
        ["\n".join(f"the quick brown fox number {i} jumps over lazy dogs" for i in range(d, d + 6)) for d in range(8)]
    )
    tokenizer = data.WordTokenizer(special_tokens=data.BERT_SPECIAL_TOKENS).adapt(documents)

    def two_epochs(dynamic):
        dataset = data.bert_pretraining_dataset(
            documents, tokenizer, 4, sequence_length=32, max_predictions=5, seed=3, shuffle=False,
            dynamic_masking=dynamic, drop_remainder=False,
        )
        return [np.concatenate([x["mask_positions"].numpy() for x, _, _ in dataset]) for _ in range(2)]

    first, second = two_epochs(dynamic=True)
    assert not (first == second).all()
    first, second = two_epochs(dynamic=False)
    np.testing.assert_array_equal(first, second)


def test_one_segment_documents_are_masked_lm_examples_only_when_asked():
    documents = tf.data.Dataset.from_tensor_slices(["lone sentence", "first\nsecond\nthird", "another lone one"])
    triples = list(data.sentence_pairs(documents, seed=0, single_segment_documents=True).as_numpy_iterator())
    singles = [(a, b) for a, b, label in triples if label == data.NO_PAIR]
    assert sorted(a for a, _ in singles) == [b"another lone one", b"lone sentence"]
    assert all(b == b"" for _, b in singles)
    assert sorted(a for a, _, label in triples if label != data.NO_PAIR) == [b"first", b"second"]
    # Without the flag one-segment documents give nothing (the earlier behaviour).
    assert sorted(a for a, _, _ in data.sentence_pairs(documents, seed=0).as_numpy_iterator()) == [b"first", b"second"]


def test_one_segment_examples_pack_alone_and_do_not_count_for_nsp():
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(40)]
    tokenizer = kerasnets.tokenizers.WordPieceTokenizer(vocabulary)
    lone = ["w1 w2 w3 w4 w5 w6 w7", "w8 w9 w10 w11 w12 w13"]
    paired = "\n".join(f"w{i} w{i + 1} w{i + 2}" for i in range(20, 34, 3))
    documents = tf.data.Dataset.from_tensor_slices([*lone, paired])
    dataset = data.bert_pretraining_dataset(
        documents, tokenizer, 1, sequence_length=16, max_predictions=4, single_segment_documents=True, seed=0,
        shuffle=False, mask_rate=0.5,
    )  # fmt: skip
    seen_single = seen_pair = 0
    for inputs, targets, weights in dataset:
        ids = inputs["token_ids"].numpy()[0]
        real = ids[inputs["padding_mask"].numpy()[0] == 1]
        separators = int((real == 3).sum())
        nsp_weight = float(weights["nsp_probabilities"].numpy()[0])
        assert real[0] == 2 and real[-1] == 3
        if separators == 1:  # [CLS] A [SEP]: masked LM only
            seen_single += 1
            assert nsp_weight == 0.0 and targets["nsp_probabilities"].numpy()[0] == 0
            assert not inputs["segment_ids"].numpy().any()
        else:
            seen_pair += 1
            assert separators == 2 and nsp_weight == 1.0
        # Random replacements and labels stay out of the special ids (all ≤ 4 here).
        predicted = weights["mlm_probabilities"].numpy()[0] > 0
        assert (targets["mlm_probabilities"].numpy()[0][predicted] > 4).all()
        assert (ids[1:-1][ids[1:-1] != 3] != 2).all()
    assert seen_single == 2 and seen_pair == 4
