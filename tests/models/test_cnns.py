import numpy as np
import pytest

from kerasnets.models import lenet5, simple_cnn
from tests.conftest import assert_reloads_identically, assert_trains

IMAGES = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
LABELS = np.arange(8) % 10


def test_lenet5_has_the_published_shape():
    model = lenet5()
    assert model.count_params() == 61706
    shapes = {name: model.get_layer(name).output.shape[1:] for name in ("c1", "s2", "c3", "s4", "c5", "f6")}
    assert shapes == {
        "c1": (28, 28, 6),
        "s2": (14, 14, 6),
        "c3": (10, 10, 16),
        "s4": (5, 5, 16),
        "c5": (1, 1, 120),
        "f6": (84,),
    }
    assert model.get_layer("c1").activation.__name__ == "tanh"
    assert lenet5(activation="relu", pooling="max").get_layer("f6").activation.__name__ == "relu"
    with pytest.raises(ValueError, match="pooling"):
        lenet5(pooling="median")


def test_simple_cnn_default_and_options():
    assert simple_cnn().count_params() == 32 * 9 + 32 + 13 * 13 * 32 * 10 + 10
    bigger = simple_cnn(filters=(32, 64), dense_units=(128,), dropout=0.3, batch_norm=True, padding="same")
    assert bigger.get_layer("conv_2").output.shape[1:] == (14, 14, 64)
    assert bigger.output_shape == (None, 10)


@pytest.mark.parametrize("builder", [lenet5, simple_cnn])
def test_trains_and_reloads(builder, tmp_path):
    model = builder()
    assert_trains(model, IMAGES, LABELS, steps=25, learning_rate=3e-3)
    assert_reloads_identically(model, IMAGES, tmp_path)
