"""Packing token ids into BERT's inputs: `[CLS] a [SEP] (b [SEP])`, segment
ids and padding mask — per example (1-D ids) or per batch (ragged ids), in TF ops.

Two longest-first truncation rules for a pair that does not fit:

* "bert" (original BERT's `_truncate_seq_pair`): pop the last token of the
  longer segment, of `b` on ties, until the pair fits;
* "huggingface" (Hugging Face `tokenizers`' `longest_first`): with
  `short <= long`, keep `short` whole and cut `long` to the rest if that
  leaves `long` at least as long as `short`; else cut both, `a` to
  `budget // 2` and `b` to `budget - budget // 2` when `a <= b`
  (swapped when `a > b`).
"""

import tensorflow as tf


TRUNCATION_RULES = ("bert", "huggingface")


def truncate_pair_lengths(length_a, length_b, budget, rule="bert"):
    """Lengths after longest-first truncation of a pair to `budget` tokens.

    rule="bert" equals popping one token at a time from the longer sequence
    (from `b` on ties) until `length_a + length_b <= budget`; "huggingface"
    is `tokenizers`' rule (module docstring). Elementwise on int tensors.
    """
    if rule not in TRUNCATION_RULES:
        raise ValueError(f"truncation rule must be one of {TRUNCATION_RULES}; got {rule!r}.")
    length_a = tf.cast(length_a, tf.int32)
    length_b = tf.cast(length_b, tf.int32)
    budget = tf.cast(budget, tf.int32)
    if rule == "huggingface":
        return _huggingface_pair_lengths(length_a, length_b, budget)
    half_up = (budget + 1) // 2
    half_down = budget // 2
    fits = length_a + length_b <= budget
    a_short = length_a <= half_down  # a is kept whole, b takes the rest
    b_short = length_b <= half_down
    new_a = tf.where(fits | a_short, length_a, tf.where(b_short, budget - length_b, half_up))
    new_b = tf.where(fits | b_short, length_b, tf.where(a_short, budget - length_a, half_down))
    return new_a, new_b


def _huggingface_pair_lengths(length_a, length_b, budget):
    fits = length_a + length_b <= budget
    short = tf.minimum(length_a, length_b)
    long = tf.where(short > budget, short, tf.maximum(short, budget - short))
    halves = short + long > budget
    short = tf.where(halves, budget // 2, short)
    long = tf.where(halves, budget // 2 + budget % 2, long)
    a_longer = length_a > length_b
    new_a = tf.where(fits, length_a, tf.where(a_longer, long, short))
    new_b = tf.where(fits, length_b, tf.where(a_longer, short, long))
    return new_a, new_b


def pack_bert_inputs(
    ids_a, ids_b=None, *, sequence_length, cls_id, sep_id, pad_id=0, truncation_rule="bert"
):
    """BERT inputs from the token ids of one example (1-D) or of a batch (ragged `(B, None)`).

    Args:
        ids_a: int ids of the first segment (no specials): 1-D, or a
            RaggedTensor `(B, None)`.
        ids_b: int ids of the second segment (same kind as `ids_a`), or None.
        sequence_length: Total length; the segments are truncated longest
            first to fit `[CLS] a [SEP] b [SEP]` (a single segment: cut to
            `sequence_length - 2`), then padded with `pad_id`.
        cls_id, sep_id, pad_id: The ids of `[CLS]`, `[SEP]` and padding.
        truncation_rule: "bert" or "huggingface" (module docstring).

    Returns:
        {"token_ids", "segment_ids", "padding_mask"}: int32 `(sequence_length,)`
        (or `(B, sequence_length)`); segment 0 covers `[CLS] a [SEP]`,
        segment 1 covers `b [SEP]`; `padding_mask` is 1 on real tokens.
    """
    if isinstance(ids_a, tf.RaggedTensor):
        return _pack_batch(ids_a, ids_b, sequence_length, cls_id, sep_id, pad_id, truncation_rule)
    ids_a = tf.cast(ids_a, tf.int32)
    cls = tf.constant([cls_id], tf.int32)
    sep = tf.constant([sep_id], tf.int32)
    if ids_b is None:
        ids_a = ids_a[: sequence_length - 2]
        token_ids = tf.concat([cls, ids_a, sep], 0)
        segment_ids = tf.zeros_like(token_ids)
    else:
        ids_b = tf.cast(ids_b, tf.int32)
        length_a, length_b = truncate_pair_lengths(
            tf.size(ids_a), tf.size(ids_b), sequence_length - 3, rule=truncation_rule
        )
        ids_a, ids_b = ids_a[:length_a], ids_b[:length_b]
        token_ids = tf.concat([cls, ids_a, sep, ids_b, sep], 0)
        segment_ids = tf.concat([tf.zeros([length_a + 2], tf.int32), tf.ones([length_b + 1], tf.int32)], 0)
    real = tf.size(token_ids)
    pad = [[0, sequence_length - real]]
    token_ids = tf.ensure_shape(tf.pad(token_ids, pad, constant_values=pad_id), [sequence_length])
    segment_ids = tf.ensure_shape(tf.pad(segment_ids, pad), [sequence_length])
    return {
        "token_ids": token_ids,
        "segment_ids": segment_ids,
        "padding_mask": tf.cast(tf.range(sequence_length) < real, tf.int32),
    }


def _pack_batch(ids_a, ids_b, sequence_length, cls_id, sep_id, pad_id, truncation_rule):
    ids_a = tf.cast(ids_a, tf.int32)
    batch = ids_a.nrows()
    cls = tf.fill([batch, 1], tf.constant(cls_id, tf.int32))
    sep = tf.fill([batch, 1], tf.constant(sep_id, tf.int32))
    if ids_b is None:
        ids_a = ids_a[:, : sequence_length - 2]
        token_ids = tf.concat([cls, ids_a, sep], axis=1)
        segment_ids = tf.zeros_like(token_ids)
    else:
        ids_b = tf.cast(ids_b, tf.int32)
        length_a, length_b = truncate_pair_lengths(
            ids_a.row_lengths(), ids_b.row_lengths(), sequence_length - 3, rule=truncation_rule
        )
        keep_a = tf.ragged.range(tf.cast(ids_a.row_lengths(), tf.int32)) < length_a[:, tf.newaxis]
        keep_b = tf.ragged.range(tf.cast(ids_b.row_lengths(), tf.int32)) < length_b[:, tf.newaxis]
        ids_a = tf.ragged.boolean_mask(ids_a, keep_a)
        ids_b = tf.ragged.boolean_mask(ids_b, keep_b)
        token_ids = tf.concat([cls, ids_a, sep, ids_b, sep], axis=1)
        segment_ids = tf.concat(
            [tf.zeros_like(cls), tf.zeros_like(ids_a), tf.zeros_like(sep), tf.ones_like(ids_b), tf.ones_like(sep)],
            axis=1,
        )
    shape = [None, sequence_length]
    return {
        "token_ids": token_ids.to_tensor(default_value=pad_id, shape=shape),
        "segment_ids": segment_ids.to_tensor(default_value=0, shape=shape),
        "padding_mask": tf.ones_like(token_ids).to_tensor(default_value=0, shape=shape),
    }
