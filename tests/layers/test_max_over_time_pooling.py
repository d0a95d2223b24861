import numpy as np

from kerasnets.layers import BiasAdd, MaxOverTimePooling
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer


def test_max_over_complete_windows_only():
    features = np.arange(2 * 4 * 1, dtype="float32").reshape(2, 4, 1)  # increasing over time
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]], bool)  # 6 tokens, bigram windows
    pooled = np.asarray(MaxOverTimePooling(3)(features, mask=mask))
    # Windows of width 3 over 6 tokens: 4. Row 0 has 4 real tokens -> windows 0,1 valid.
    np.testing.assert_array_equal(pooled, [[1.0], [4.0]])
    np.testing.assert_array_equal(np.asarray(MaxOverTimePooling(3)(features)), [[3.0], [7.0]])


def test_sequence_shorter_than_window_gives_zeros():
    pooled = MaxOverTimePooling(3)(np.full((1, 2, 2), -5.0, "float32"), mask=np.array([[1, 1, 0, 0]], bool))
    np.testing.assert_array_equal(np.asarray(pooled), [[0.0, 0.0]])


def test_bias_add():
    layer = BiasAdd(bias_initializer="ones")
    np.testing.assert_array_equal(np.asarray(layer(np.zeros((2, 3), "float32"))), np.ones((2, 3)))


def test_config_and_saving(tmp_path):
    assert assert_config_round_trip(MaxOverTimePooling(4)).ngram_size == 4
    assert_config_round_trip(BiasAdd())
    model = wrap_layer(MaxOverTimePooling(2), {"x": ((5, 3), "float32"), "mask": ((6,), "bool")})
    mask = np.array([[1, 1, 1, 1, 0, 0]], bool)
    assert_reloads_identically(model, [np.random.rand(1, 5, 3).astype("float32"), mask], tmp_path)
    model = wrap_layer(BiasAdd(), {"x": ((3,), "float32")})
    assert_reloads_identically(model, np.ones((2, 3), "float32"), tmp_path)
