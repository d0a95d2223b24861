"""Next-token language modelling pipelines (tiny_shakespeare, characters) for
`rnn_language_model` and `gpt`."""

import tensorflow as tf

from kerasnets.data.pipeline import AUTOTUNE, finish, is_training_split
from kerasnets.data.tfds_loading import load
from kerasnets.tokenizers import CharacterTokenizer


def load_text(name="tiny_shakespeare", split="train", *, feature="text", data_root=None, data_dir=None, download=True):
    """A tf.data of raw strings (the `feature` of each example) of a tfds text dataset."""
    dataset = load(name, split=split, data_root=data_root, data_dir=data_dir, download=download)
    return dataset.map(lambda example: example[feature], num_parallel_calls=AUTOTUNE)


def adapt_character_tokenizer(texts, **tokenizer_kwargs):
    """A `CharacterTokenizer` adapted on a tf.data of strings (e.g. the train split)."""
    return CharacterTokenizer(**tokenizer_kwargs).adapt(texts)


def next_token_windows(token_ids, sequence_length, stride=None):
    """Cut 1-D token ids into `(inputs, targets)` next-token pairs, all in TF ops.

    Windows of `sequence_length + 1` tokens start every `stride` tokens
    (default `sequence_length`, so every transition is a target exactly once);
    `inputs = window[:-1]`, `targets = window[1:]`. A tail shorter than a
    window is dropped.

    Returns:
        A `tf.data.Dataset` of `(inputs, targets)`, each int32 `(sequence_length,)`.
    """
    stride = sequence_length if stride is None else stride
    token_ids = tf.convert_to_tensor(token_ids)
    windows = tf.signal.frame(token_ids, sequence_length + 1, stride, axis=0)
    return tf.data.Dataset.from_tensor_slices(windows).map(
        lambda w: (w[:-1], w[1:]), num_parallel_calls=AUTOTUNE
    )


def language_modeling_dataset(
    texts,
    tokenizer,
    sequence_length=100,
    batch_size=64,
    *,
    stride=None,
    shuffle=True,
    seed=None,
    shuffle_buffer=10_000,
    cache=True,
    drop_remainder=True,
    repeat=False,
    input_name=None,
):
    """Batches of next-token pairs from a tf.data of strings (documents).

    Each document is tokenized and cut into windows of its own (no window
    crosses a document boundary); see `next_token_windows`.

    Returns:
        A `tf.data.Dataset` of `(ids, targets)` (or `({input_name: ids},
        targets)`): `ids` int32 `(B, sequence_length)`,
        `targets` int32 `(B, sequence_length)` with `targets[:, t] == ids[:, t + 1]`.
    """
    stride = sequence_length if stride is None else stride

    def windows(text):
        ids = tokenizer.tokenize_ragged(text)  # a scalar string gives 1-D ids
        frames = tf.signal.frame(ids, sequence_length + 1, stride, axis=0)
        return tf.data.Dataset.from_tensor_slices(frames)

    dataset = texts.flat_map(windows)

    def split(window):
        inputs, targets = window[:-1], window[1:]
        return ({input_name: inputs} if input_name else inputs), targets

    dataset = dataset.map(split, num_parallel_calls=AUTOTUNE)
    return finish(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
        cache=cache,
        drop_remainder=drop_remainder,
        repeat=repeat,
    )


def load_language_modeling(
    name="tiny_shakespeare",
    split="train",
    sequence_length=100,
    batch_size=64,
    *,
    tokenizer=None,
    stride=None,
    shuffle=None,
    seed=None,
    shuffle_buffer=10_000,
    cache=True,
    drop_remainder=True,
    repeat=False,
    input_name=None,
    feature="text",
    data_root=None,
    data_dir=None,
    download=True,
):
    """Character-level next-token batches of a tfds text dataset.

    Args:
        name: A tfds dataset of documents in `feature` ("tiny_shakespeare":
            one long string per split).
        split: "train", "validation", "test" (tfds slicing works, but a slice
            of tiny_shakespeare is the whole split: it has one example).
        sequence_length: Tokens per example (the model's context).
        batch_size: Batch size.
        tokenizer: A `CharacterTokenizer` (or any tokenizer of this package);
            None: a `CharacterTokenizer` adapted on the "train" split. Pass the
            train tokenizer when loading validation / test.
        stride: Tokens between window starts (default `sequence_length`).
        shuffle: Shuffle the windows; None: only for "train…" splits.
        seed, shuffle_buffer, cache, drop_remainder, repeat: tf.data options.
        input_name: Wrap the inputs as `{input_name: ids}` ("token_ids" is
            the input of `gpt` and `rnn_language_model`); None: bare tensors,
            which single-input models take without a warning.
        data_root, data_dir, download: See `kerasnets.data.load`.

    Returns:
        `(dataset, tokenizer)`: batches `(ids int32 (B, L), targets int32 (B, L))`
        with targets equal to the inputs shifted left by one.
    """
    kwargs = dict(feature=feature, data_root=data_root, data_dir=data_dir, download=download)
    if tokenizer is None:
        tokenizer = adapt_character_tokenizer(load_text(name, "train", **kwargs))
    if shuffle is None:
        shuffle = is_training_split(split)
    dataset = language_modeling_dataset(
        load_text(name, split, **kwargs),
        tokenizer,
        sequence_length,
        batch_size,
        stride=stride,
        shuffle=shuffle,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
        cache=cache,
        drop_remainder=drop_remainder,
        repeat=repeat,
        input_name=input_name,
    )
    return dataset, tokenizer
