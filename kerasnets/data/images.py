"""Image classification pipelines (MNIST, Fashion-MNIST) for `lenet5`,
`simple_cnn`, `mlp(input_shape=(28, 28, 1))`."""

import tensorflow as tf

from kerasnets.data.pipeline import AUTOTUNE, finish, is_training_split
from kerasnets.data.tfds_loading import load

IMAGE_DATASETS = ("mnist", "fashion_mnist")
CLASS_NAMES = {
    "mnist": tuple(str(i) for i in range(10)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}


def preprocess_image(image, label):
    """uint8 images `(…, 28, 28, 1)` → float32 in [0, 1]; labels → int32 (examples or batches)."""
    return tf.cast(image, tf.float32) / 255.0, tf.cast(label, tf.int32)


def load_image_classification(
    name="fashion_mnist",
    split="train",
    batch_size=32,
    *,
    shuffle=None,
    seed=None,
    shuffle_buffer=10_000,
    cache=True,
    drop_remainder=False,
    repeat=False,
    input_name=None,
    data_root=None,
    data_dir=None,
    download=True,
):
    """A batched `tf.data.Dataset` of `(image, label)` for MNIST / Fashion-MNIST.

    Batches: `image` float32 `(B, 28, 28, 1)` in [0, 1] (or `{input_name: image}`
    when `input_name` is given, e.g. "image"), `label` int32 `(B,)` in 0…9.

    Args:
        name: "mnist" or "fashion_mnist" (any tfds image dataset with
            `as_supervised` works too).
        split: A tfds split ("train", "test", "train[:90%]", "test[:64]").
        batch_size: Batch size (None: unbatched examples).
        shuffle: Shuffle the examples; None: only for "train…" splits.
        seed: Shuffle seed, for a reproducible order.
        shuffle_buffer: Shuffle buffer size.
        cache: Cache the decoded uint8 images in memory (True), in a file (a
            path), or not; scaling to float32 happens per batch after the cache.
        drop_remainder: Drop a last partial batch.
        repeat: Repeat forever (then pass `steps_per_epoch` to `fit`).
        input_name: Wrap the images in a dict under this key.
        data_root, data_dir, download: See `kerasnets.data.load`.
    """
    if shuffle is None:
        shuffle = is_training_split(split)
    dataset = load(
        name,
        split=split,
        as_supervised=True,
        data_root=data_root,
        data_dir=data_dir,
        download=download,
    )
    # Cache the decoded uint8 images (a quarter of the float32 size), then
    # scale whole batches at once.
    dataset = finish(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
        cache=cache,
        drop_remainder=drop_remainder,
        repeat=repeat,
        prefetch=False,
    )
    dataset = dataset.map(preprocess_image, num_parallel_calls=AUTOTUNE)
    if input_name:
        dataset = dataset.map(lambda x, y: ({input_name: x}, y), num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)
