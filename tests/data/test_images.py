import numpy as np
import pytest
import tensorflow as tf

import kerasnets
from kerasnets import data
from tests.data import data_root_or_skip, tfds_dir


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_image_batches_from_the_offline_copy(name):
    data_root_or_skip(name)
    dataset = data.load_image_classification(name, "test[:64]", batch_size=16, data_dir=tfds_dir())
    assert dataset.element_spec[0] == tf.TensorSpec((None, 28, 28, 1), tf.float32)
    assert dataset.element_spec[1] == tf.TensorSpec((None,), tf.int32)
    images, labels = zip(*dataset.as_numpy_iterator())
    images, labels = np.concatenate(images), np.concatenate(labels)
    assert images.shape == (64, 28, 28, 1) and labels.shape == (64,)
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9
    assert set(labels) <= set(range(10)) and len(set(labels)) > 5
    # The raw tfds examples, scaled: nothing else happened to the pixels.
    raw = data.load(name, split="test[:1]", as_supervised=True, data_dir=tfds_dir())
    first = next(iter(raw))[0].numpy()
    np.testing.assert_allclose(images[0], first / 255.0, rtol=1e-6)


def test_mnist_and_fashion_mnist_are_not_confused():
    """Their upstream files share names; each must still read its own (in one tfds data_dir)."""
    data_root_or_skip("mnist", "fashion_mnist")
    means = {}
    for name in ("fashion_mnist", "mnist"):
        images = next(iter(data.load_image_classification(name, "test[:2000]", batch_size=2000, data_dir=tfds_dir())))[0]
        means[name] = float(np.mean(images))
    # Published pixel means: MNIST 0.1307, Fashion-MNIST 0.2860.
    assert abs(means["mnist"] - 0.1307) < 0.02 and abs(means["fashion_mnist"] - 0.2860) < 0.02, means


def test_shuffling_is_seeded_and_trains_lenet5():
    data_root_or_skip("fashion_mnist")

    def labels(seed):
        dataset = data.load_image_classification("fashion_mnist", "train[:256]", 64, seed=seed, data_dir=tfds_dir())
        return np.concatenate([y for _, y in dataset.as_numpy_iterator()])

    assert (labels(1) == labels(1)).all()
    assert not (labels(1) == labels(2)).all()
    named = data.load_image_classification("fashion_mnist", "test[:8]", 4, input_name="image", data_dir=tfds_dir())
    assert named.element_spec[0] == {"image": tf.TensorSpec((None, 28, 28, 1), tf.float32)}
    dataset = data.load_image_classification("fashion_mnist", "train[:64]", 32, seed=0, data_dir=tfds_dir())
    model = kerasnets.models.lenet5()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
