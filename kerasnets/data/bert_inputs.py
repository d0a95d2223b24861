"""Packing token ids into BERT's inputs: `[CLS] a [SEP] (b [SEP])`, segment
ids and padding mask — per example, in TF ops."""

import tensorflow as tf


def truncate_pair_lengths(length_a, length_b, budget):
    """Lengths after BERT's longest-first truncation of a pair to `budget` tokens.

    Equals popping one token at a time from the longer sequence (from `b` on
    ties) until `length_a + length_b <= budget`.
    """
    length_a = tf.cast(length_a, tf.int32)
    length_b = tf.cast(length_b, tf.int32)
    budget = tf.cast(budget, tf.int32)
    half_up = (budget + 1) // 2
    half_down = budget // 2
    fits = length_a + length_b <= budget
    a_short = length_a <= half_down  # a is kept whole, b takes the rest
    b_short = length_b <= half_down
    new_a = tf.where(fits | a_short, length_a, tf.where(b_short, budget - length_b, half_up))
    new_b = tf.where(fits | b_short, length_b, tf.where(a_short, budget - length_a, half_down))
    return new_a, new_b


def pack_bert_inputs(ids_a, ids_b=None, *, sequence_length, cls_id, sep_id):
    """One example's BERT inputs from 1-D token ids.

    Args:
        ids_a: int 1-D ids of the first segment (no specials).
        ids_b: int 1-D ids of the second segment, or None.
        sequence_length: Total length; the segments are truncated longest
            first to fit `[CLS] a [SEP] b [SEP]`, then padded with 0.
        cls_id, sep_id: The ids of `[CLS]` and `[SEP]`.

    Returns:
        {"token_ids", "segment_ids", "padding_mask"}: int32 `(sequence_length,)`;
        segment 0 covers `[CLS] a [SEP]`, segment 1 covers `b [SEP]`;
        `padding_mask` is 1 on real tokens.
    """
    ids_a = tf.cast(ids_a, tf.int32)
    cls = tf.constant([cls_id], tf.int32)
    sep = tf.constant([sep_id], tf.int32)
    if ids_b is None:
        ids_a = ids_a[: sequence_length - 2]
        token_ids = tf.concat([cls, ids_a, sep], 0)
        segment_ids = tf.zeros_like(token_ids)
    else:
        ids_b = tf.cast(ids_b, tf.int32)
        length_a, length_b = truncate_pair_lengths(tf.size(ids_a), tf.size(ids_b), sequence_length - 3)
        ids_a, ids_b = ids_a[:length_a], ids_b[:length_b]
        token_ids = tf.concat([cls, ids_a, sep, ids_b, sep], 0)
        segment_ids = tf.concat([tf.zeros([length_a + 2], tf.int32), tf.ones([length_b + 1], tf.int32)], 0)
    pad = [[0, sequence_length - tf.size(token_ids)]]
    token_ids = tf.ensure_shape(tf.pad(token_ids, pad), [sequence_length])
    segment_ids = tf.ensure_shape(tf.pad(segment_ids, pad), [sequence_length])
    return {
        "token_ids": token_ids,
        "segment_ids": segment_ids,
        "padding_mask": tf.cast(tf.not_equal(token_ids, 0), tf.int32),
    }
