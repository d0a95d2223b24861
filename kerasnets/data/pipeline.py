"""The tf.data hygiene every task pipeline shares: parallel map, cache,
seeded shuffle, batch, prefetch."""

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def is_training_split(split):
    """True for splits that should be shuffled by default ("train", "train[:90%]")."""
    return isinstance(split, str) and split.strip().startswith("train")


def finish(
    dataset,
    *,
    batch_size,
    shuffle=False,
    seed=None,
    shuffle_buffer=10_000,
    cache=True,
    drop_remainder=False,
    repeat=False,
    prefetch=True,
):
    """`cache → shuffle(seed) → (repeat) → batch → prefetch` on an already mapped dataset.

    `cache` may be True (memory), a file path, or False. With a seed the order
    is reproducible (a different order each epoch, the same sequence of orders
    on every run).
    """
    if cache:
        dataset = dataset.cache() if cache is True else dataset.cache(str(cache))
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    if batch_size is not None:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=AUTOTUNE)
    if prefetch:
        dataset = dataset.prefetch(AUTOTUNE)
    return dataset
