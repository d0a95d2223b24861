import math

import keras
import numpy as np
import pytest

from kerasnets.layers import PositionalEncoding
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer


def formula(length, dim, start=0):
    table = np.zeros((length, dim))
    for pos in range(length):
        for i in range(0, dim, 2):
            angle = (pos + start) / 10000 ** (i / dim)
            table[pos, i] = math.sin(angle)
            if i + 1 < dim:
                table[pos, i + 1] = math.cos(angle)
    return table


@pytest.mark.parametrize("dim", [8, 7])
def test_matches_the_paper_formula(dim):
    x = np.random.default_rng(0).normal(size=(2, 11, dim)).astype("float32")
    out = PositionalEncoding(sequence_length=32)(x)
    np.testing.assert_allclose(np.asarray(out) - x, np.broadcast_to(formula(11, dim), x.shape), atol=1e-5)


def test_start_index_continues_the_sequence():
    x = np.zeros((1, 4, 6), "float32")
    layer = PositionalEncoding(sequence_length=32)
    np.testing.assert_allclose(layer(x, start_index=5)[0], formula(4, 6, start=5), atol=1e-5)
    np.testing.assert_allclose(layer(np.zeros((1, 9, 6), "float32"))[0, 5:], formula(4, 6, start=5), atol=1e-5)


def test_any_length_up_to_the_maximum():
    layer = PositionalEncoding(sequence_length=16)
    assert layer(np.zeros((1, 16, 4), "float32")).shape == (1, 16, 4)
    assert layer(np.zeros((1, 3, 4), "float32")).shape == (1, 3, 4)
    with pytest.raises(ValueError, match="up to 16"):
        layer(np.zeros((1, 17, 4), "float32"))


def test_keeps_the_mask_and_reloads(tmp_path):
    embedding = keras.layers.Embedding(10, 6, mask_zero=True)
    out = PositionalEncoding(sequence_length=8)(embedding(np.array([[3, 1, 0]])))
    np.testing.assert_array_equal(out._keras_mask, [[True, True, False]])
    clone = assert_config_round_trip(PositionalEncoding(sequence_length=8, max_wavelength=500.0))
    assert clone.max_wavelength == 500.0
    model = wrap_layer(PositionalEncoding(sequence_length=8), {"x": ((None, 6), "float32")})
    assert_reloads_identically(model, np.ones((2, 5, 6), "float32"), tmp_path)
