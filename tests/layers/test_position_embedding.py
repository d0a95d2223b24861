import numpy as np
import pytest

from kerasnets.layers import PositionEmbedding
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer


def test_adds_one_learned_row_per_position():
    layer = PositionEmbedding(sequence_length=10)
    x = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    out = np.asarray(layer(x))
    table = np.asarray(layer.embeddings)
    assert table.shape == (10, 4)
    np.testing.assert_allclose(out, x + table[:6], atol=1e-6)
    np.testing.assert_allclose(np.asarray(layer(x[:, :2], start_index=4)), x[:, :2] + table[4:6], atol=1e-6)


def test_too_long_is_an_error():
    with pytest.raises(ValueError, match="up to 4"):
        PositionEmbedding(sequence_length=4)(np.zeros((1, 5, 2), "float32"))


def test_config_and_saving(tmp_path):
    clone = assert_config_round_trip(PositionEmbedding(sequence_length=12, initializer="zeros"))
    assert clone.sequence_length == 12
    model = wrap_layer(PositionEmbedding(sequence_length=12), {"x": ((None, 4), "float32")})
    assert_reloads_identically(model, np.ones((2, 7, 4), "float32"), tmp_path)
