"""Sequence-to-sequence pipelines with teacher forcing (spa_eng,
ted_hrlr_translate/*) for `seq2seq` and `transformer`."""

import tensorflow as tf

from kerasnets.data.pipeline import AUTOTUNE, finish, is_training_split
from kerasnets.data.tfds_loading import load
from kerasnets.tokenizers import DEFAULT_PUNCTUATION, SEQ2SEQ_SPECIAL_TOKENS, WordTokenizer

# TextVectorization's punctuation plus Spanish / Portuguese opening marks and typographic quotes.
TRANSLATION_PUNCTUATION = DEFAULT_PUNCTUATION[:-1] + "¿¡«»“”‘’…]"


def teacher_forcing(target_ids, sequence_length, start_id, end_id):
    """`[start] y_1 … y_n [end]` → (decoder inputs, targets), each padded to `sequence_length`.

    The content is truncated to `sequence_length - 1` tokens so that `[end]`
    always survives. `decoder = [start, y_1, …, y_n]`, `targets = [y_1, …,
    y_n, end]`: the targets are the decoder inputs shifted left by one.
    """
    target_ids = tf.cast(target_ids, tf.int32)[: sequence_length - 1]
    full = tf.concat([[start_id], target_ids, [end_id]], 0)
    pad = [[0, sequence_length - (tf.size(full) - 1)]]
    decoder = tf.ensure_shape(tf.pad(full[:-1], pad), [sequence_length])
    targets = tf.ensure_shape(tf.pad(full[1:], pad), [sequence_length])
    return decoder, targets


def translation_dataset(
    pairs,
    source_tokenizer,
    target_tokenizer,
    batch_size=64,
    *,
    sequence_length=20,
    target_sequence_length=None,
    sample_weight=False,
    shuffle=True,
    seed=None,
    shuffle_buffer=10_000,
    cache=True,
    drop_remainder=False,
    repeat=False,
):
    """Batches for teacher-forced training from a tf.data of `(source, target)` strings.

    Returns:
        A `tf.data.Dataset` of `({"encoder_token_ids": (B, S), "decoder_token_ids":
        (B, T)}, targets (B, T))`, all int32 and 0-padded (S = `sequence_length`,
        T = `target_sequence_length` or S); with `sample_weight`, a third
        element float32 `(B, T)`: 1 on real target tokens, 0 on padding.
    """
    target_sequence_length = target_sequence_length or sequence_length
    specials = target_tokenizer.special_token_ids
    if "[start]" not in specials or "[end]" not in specials:
        raise ValueError("The target tokenizer needs special_tokens including '[start]' and '[end]'.")
    start_id, end_id = specials["[start]"], specials["[end]"]

    def encode(source, target):
        encoder = source_tokenizer.tokenize(source, sequence_length=sequence_length)
        decoder, targets = teacher_forcing(
            target_tokenizer.tokenize_ragged(target), target_sequence_length, start_id, end_id
        )
        inputs = {"encoder_token_ids": encoder, "decoder_token_ids": decoder}
        if sample_weight:
            return inputs, targets, tf.cast(tf.not_equal(targets, 0), tf.float32)
        return inputs, targets

    return finish(
        pairs.map(encode, num_parallel_calls=AUTOTUNE),
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
        cache=cache,
        drop_remainder=drop_remainder,
        repeat=repeat,
    )


def load_pairs(name="spa_eng", split="train", *, reverse=False, data_root=None, data_dir=None, download=True):
    """A tf.data of `(source, target)` strings: the dataset's supervised keys
    (spa_eng: en → es; ted_hrlr_translate/pt_to_en: pt → en), swapped by `reverse`."""
    pairs = load(name, split=split, as_supervised=True, data_root=data_root, data_dir=data_dir, download=download)
    return pairs.map(lambda s, t: (t, s)) if reverse else pairs


def load_translation(
    name="spa_eng",
    split="train",
    batch_size=64,
    *,
    sequence_length=20,
    target_sequence_length=None,
    source_tokenizer=None,
    target_tokenizer=None,
    max_tokens=15_000,
    shared_vocabulary=False,
    tokenizer_split="train",
    reverse=False,
    sample_weight=False,
    shuffle=None,
    seed=None,
    shuffle_buffer=10_000,
    cache=True,
    drop_remainder=False,
    repeat=False,
    data_root=None,
    data_dir=None,
    download=True,
):
    """Teacher-forced translation batches of a tfds dataset.

    Args:
        name: "spa_eng" (English → Spanish; train / validation / test) or a
            "ted_hrlr_translate/<src>_to_<tgt>" config.
        split: A tfds split.
        batch_size: Batch size.
        sequence_length, target_sequence_length: Source / target lengths.
        source_tokenizer, target_tokenizer: `WordTokenizer`s (the target one
            with "[start]", "[end]"); None: adapted on `tokenizer_split` with
            `max_tokens` (both sides the same tokenizer when `shared_vocabulary`,
            as `transformer(target_vocabulary_size=None)` expects).
        reverse: Translate the other way.
        sample_weight: Also yield a 0/1 weight per target token.
        shuffle: None: only for "train…" splits.
        seed, shuffle_buffer, cache, drop_remainder, repeat: tf.data options.
        data_root, data_dir, download: See `kerasnets.data.load`.

    Returns:
        `(dataset, (source_tokenizer, target_tokenizer))`; batches as in
        `translation_dataset`.
    """
    kwargs = dict(reverse=reverse, data_root=data_root, data_dir=data_dir, download=download)
    if source_tokenizer is None or target_tokenizer is None:
        train_pairs = load_pairs(name, tokenizer_split, **kwargs).batch(1024)

        def new(specials):
            return WordTokenizer(special_tokens=specials, max_tokens=max_tokens, punctuation=TRANSLATION_PUNCTUATION)

        if shared_vocabulary:
            shared = new(SEQ2SEQ_SPECIAL_TOKENS).adapt(train_pairs.map(lambda s, t: tf.concat([s, t], 0)))
            source_tokenizer = source_tokenizer or shared
            target_tokenizer = target_tokenizer or shared
        else:
            if source_tokenizer is None:
                source_tokenizer = new(()).adapt(train_pairs.map(lambda s, t: s))
            if target_tokenizer is None:
                target_tokenizer = new(SEQ2SEQ_SPECIAL_TOKENS).adapt(train_pairs.map(lambda s, t: t))
    if shuffle is None:
        shuffle = is_training_split(split)
    dataset = translation_dataset(
        load_pairs(name, split, **kwargs),
        source_tokenizer,
        target_tokenizer,
        batch_size,
        sequence_length=sequence_length,
        target_sequence_length=target_sequence_length,
        sample_weight=sample_weight,
        shuffle=shuffle,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
        cache=cache,
        drop_remainder=drop_remainder,
        repeat=repeat,
    )
    return dataset, (source_tokenizer, target_tokenizer)
