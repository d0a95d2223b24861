import numpy as np

from kerasnets.models import mlp
from tests.conftest import assert_reloads_identically, assert_trains


def test_default_is_the_classic_neuron_example():
    model = mlp()
    assert model.count_params() == 26
    assert model.input_shape == (None, 3) and model.output_shape == (None, 1)
    assert model.get_layer("hidden_1").activation.__name__ == "relu"
    assert model.get_layer("probabilities").activation.__name__ == "sigmoid"
    out = np.asarray(model(np.random.rand(4, 3).astype("float32")))
    assert np.all((out > 0) & (out < 1))


def test_image_input_is_flattened_and_softmax_for_many_classes():
    model = mlp(input_shape=(28, 28), hidden_units=(32, 16), num_classes=10, dropout=0.1)
    assert model.count_params() == 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    out = np.asarray(model(np.random.rand(2, 28, 28).astype("float32")))
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-5)


def test_learns_xor_like_toy_problem(tmp_path):
    features = np.random.default_rng(0).uniform(-1, 1, size=(32, 3)).astype("float32")
    labels = (features[:, 0] * features[:, 1] > 0).astype("float32")
    model = mlp(hidden_units=(16,))
    assert_trains(model, features, labels, loss="binary_crossentropy", steps=60, learning_rate=3e-2)
    assert_reloads_identically(model, features, tmp_path)
