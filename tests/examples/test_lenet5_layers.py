"""examples/lenet5_layers.py in smoke mode: the layer arithmetic, the hand-computed layers, training, pictures.

One smoke run (about 10 s) is checked section by section in one test."""

import math
import shutil

from tests.examples.conftest import assert_png

# name: (output shape, parameters), as LeNet-5's layers must come out on 28×28 digits.
EXPECTED = {
    "c1": ((28, 28, 6), 6 * (5 * 5 * 1 + 1)),
    "s2": ((14, 14, 6), 0),
    "c3": ((10, 10, 16), 16 * (5 * 5 * 6 + 1)),
    "s4": ((5, 5, 16), 0),
    "c5": ((1, 1, 120), 120 * (5 * 5 * 16 + 1)),
    "flatten": ((120,), 0),
    "f6": ((84,), 84 * (120 + 1)),
    "probabilities": ((10,), 10 * (84 + 1)),
}


def test_lenet5_layers(run_example):
    results, printed, output_dir = run_example("lenet5_layers")

    # 1-2. The summary, and each layer's shape and parameter count with its arithmetic printed.
    assert "Total params" in printed and "61,706" in printed
    layers = {row["name"]: (row["output_shape"], row["params"]) for row in results["layers"]}
    assert layers == EXPECTED
    assert results["total_params"] == 61_706 == sum(params for _, params in EXPECTED.values())
    for line in ("6·(5·5·1+1) = 156", "16·(5·5·6+1) = 2,416", "14 - 5 + 1 = 10", "120·(5·5·16+1) = 48,120",
                 "84·(120+1) = 10,164", "10·(84+1) = 850"):
        assert line in printed, line

    # 3. C1, S2 and C3 recomputed in NumPy agree with the model, before and after training.
    for differences in (results["by_hand_max_differences"], results["by_hand_max_differences_trained"]):
        assert set(differences) == {"c1", "s2", "c3"}
        assert max(differences.values()) < 1e-5, differences
    assert printed.count("max |difference|") == 6

    # 4. Training: the loss starts near ln 10 and falls; test accuracy rises from chance to well above it.
    assert abs(results["initial_loss"] - math.log(10)) < 0.3
    assert all(math.isfinite(loss) for loss in results["loss_history"])
    assert results["loss_history"][-1] < results["loss_history"][0] < results["initial_loss"]
    assert results["test_loss"] < results["initial_loss"] - 1.0
    assert results["initial_accuracy"] < 0.25
    assert results["test_accuracy"] > 0.6 > 5 * results["chance_accuracy"]
    assert "test accuracy" in printed

    # 5. The feature maps picture; the architecture picture where Graphviz is installed, else one skip line.
    feature_maps = output_dir / "lenet5_layers_feature_maps.png"
    assert str(feature_maps) in results["pictures"]
    assert_png(feature_maps, min_size=(800, 400))
    architecture = output_dir / "lenet5_layers_architecture.png"
    if shutil.which("dot"):
        assert str(architecture) in results["pictures"]
        assert_png(architecture)
    else:
        assert not architecture.exists() and len(results["pictures"]) == 1
        assert printed.count("architecture picture skipped:") == 1
