import numpy as np

from kerasnets.models import text_cnn
from tests.conftest import assert_reloads_identically, assert_trains

TOKENS = np.array([[4, 8, 15, 16, 23, 42, 0, 0], [7, 3, 9, 1, 0, 0, 0, 0], [2, 2, 5, 6, 7, 8, 9, 10], [11, 12, 13, 0, 0, 0, 0, 0]])
LABELS = np.array([0, 1, 0, 1])


def test_shape_and_parameters():
    model = text_cnn(vocabulary_size=50, embedding_dim=16, ngram_sizes=(2, 3), filters=4)
    expected = 50 * 16 + 4 * (2 * 16 + 1) + 4 * (3 * 16 + 1) + 8 * 2 + 2
    assert model.count_params() == expected
    assert model.output_shape == (None, 2)


def test_padding_does_not_change_the_prediction():
    model = text_cnn(vocabulary_size=50, embedding_dim=16, filters=4)
    short = np.asarray(model(TOKENS[:, :6]))
    padded = np.asarray(model(np.pad(TOKENS, ((0, 0), (0, 5)))))
    np.testing.assert_allclose(padded, np.asarray(model(TOKENS)), atol=1e-6)
    np.testing.assert_allclose(short[:2], np.asarray(model(TOKENS))[:2], atol=1e-6)  # rows 0, 1 end within 6


def test_trains_and_reloads(tmp_path):
    model = text_cnn(vocabulary_size=50, embedding_dim=16, filters=8, dropout=0.0)
    assert_trains(model, TOKENS, LABELS, steps=20)
    assert_reloads_identically(model, TOKENS, tmp_path)


def test_max_norm_keeps_each_class_weight_vector_within_the_bound(tmp_path):
    """Kim 2014's l2 constraint: after every update, ‖W[:, k]‖₂ ≤ s for each class k of the output layer."""
    import keras

    model = text_cnn(vocabulary_size=50, embedding_dim=16, filters=8, dropout=0.0, max_norm=0.5)
    unconstrained = text_cnn(vocabulary_size=50, embedding_dim=16, filters=8, dropout=0.0)
    for each in (model, unconstrained):
        each.compile(optimizer=keras.optimizers.SGD(5.0), loss="sparse_categorical_crossentropy")
        each.fit(TOKENS, LABELS, epochs=10, batch_size=4, verbose=0)
    norms = np.linalg.norm(model.get_layer("probabilities").kernel.numpy(), axis=0)
    assert norms.shape == (2,) and np.all(norms <= 0.5 + 1e-5)
    assert np.linalg.norm(unconstrained.get_layer("probabilities").kernel.numpy(), axis=0).max() > 0.5  # it binds
    reloaded = assert_reloads_identically(model, TOKENS, tmp_path)
    assert reloaded.get_layer("probabilities").kernel_constraint.get_config()["max_value"] == 0.5
