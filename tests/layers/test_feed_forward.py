import keras
import numpy as np
import pytest

from kerasnets.layers import FeedForward
from tests.conftest import assert_config_round_trip, assert_reloads_identically, wrap_layer


def test_matches_numpy():
    layer = FeedForward(intermediate_dim=16)
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    out = np.asarray(layer(x))
    w1, b1, w2, b2 = (np.asarray(w) for w in layer.weights)
    np.testing.assert_allclose(out, np.maximum(x @ w1 + b1, 0) @ w2 + b2, atol=1e-5)
    assert [w.shape for w in layer.weights] == [(8, 16), (16,), (16, 8), (8,)]


def test_known_and_unknown_inner_sizes_agree():
    # Known sizes take 2-D products, unknown ones `matmul` on the 3-D/4-D input: one function.
    layer = FeedForward(intermediate_dim=16, activation="gelu")
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 8)).astype("float32")
    known = np.asarray(layer(x))
    w1, b1, w2, b2 = (np.asarray(w) for w in layer.weights)
    hidden = np.asarray(keras.activations.gelu(x @ w1 + b1))
    np.testing.assert_allclose(known, hidden @ w2 + b2, atol=1e-5)
    unknown = keras.Model(inputs := keras.Input((None, None, 8)), layer(inputs))
    np.testing.assert_allclose(unknown(x), known, atol=1e-6)
    assert known.shape == (2, 3, 4, 8) and np.asarray(layer(x[:, 0])).shape == (2, 4, 8)


def test_output_dim_and_activation():
    layer = FeedForward(intermediate_dim=4, activation="tanh", output_dim=3)
    x = np.ones((1, 2, 5), "float32")
    out = layer(x)
    w1, b1, w2, b2 = (np.asarray(w) for w in layer.weights)
    np.testing.assert_allclose(out, np.tanh(x @ w1 + b1) @ w2 + b2, atol=1e-5)
    assert out.shape == (1, 2, 3)


def test_config_and_saving(tmp_path):
    clone = assert_config_round_trip(FeedForward(32, activation="gelu", output_dim=4))
    assert clone.intermediate_dim == 32 and clone.output_dim == 4
    model = wrap_layer(FeedForward(32, activation="gelu"), {"x": ((None, 8), "float32")})
    assert_reloads_identically(model, np.ones((2, 3, 8), "float32"), tmp_path)


@pytest.mark.parametrize("bad", [dict(intermediate_dim=0), dict(intermediate_dim=2.5), dict(output_dim=-1)])
def test_rejects_bad_sizes_up_front(bad):
    with pytest.raises(ValueError, match="intermediate_dim|output_dim"):
        FeedForward(**{"intermediate_dim": 4, **bad})
