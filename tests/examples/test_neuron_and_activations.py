"""examples/neuron_and_activations.py in smoke mode: the checks hold, the models learn, the pictures are drawn.

One smoke run (about 10 s) is checked section by section in one test."""

import math

from tests.examples.conftest import assert_png


def test_neuron_and_activations(run_example):
    results, printed, output_dir = run_example("neuron_and_activations")

    # 1-2. The neuron and the activations equal their formulas; so do the automatic derivatives.
    assert results["neuron_max_difference"] < 1e-6
    differences = results["activation_max_differences"]
    for name in ("sigmoid", "tanh", "relu", "softmax"):
        assert differences[name] < 1e-5, name
        assert differences[name + "'"] < 1e-5, name + "'"
    assert differences["softmax(z, 0) vs sigmoid(z)"] < 1e-5
    assert differences["gelu_approximate"] < 1e-5
    assert printed.count("max |difference|") >= 11

    # 3. A straight line does little better than always answering "outside"; a hidden layer learns the circle.
    assert results["circle_neuron_accuracy"] < results["circle_outside_accuracy"] + 0.1
    assert results["circle_mlp_accuracy"] > 0.85
    assert results["circle_mlp_accuracy"] > results["circle_neuron_accuracy"] + 0.2

    # 4. The MNIST MLP: its summary, its parameter count, a loss that starts near ln 10 and falls every
    # epoch, and held-out accuracy far above chance and above always guessing the most common class.
    assert "Total params" in printed
    assert results["total_params"] == (784 + 1) * 32 + (32 + 1) * 10
    assert abs(results["initial_loss"] - math.log(10)) < 0.5
    assert all(math.isfinite(loss) for loss in results["loss_history"])
    assert results["loss_history"] == sorted(results["loss_history"], reverse=True)
    assert results["final_loss"] < results["initial_loss"] - 0.5
    assert results["chance_accuracy"] == 0.1
    assert results["test_accuracy"] > 0.5
    assert results["test_accuracy"] > results["majority_accuracy"] + 0.3
    assert "held-out accuracy" in printed

    # The three pictures, in the output directory, readable and of a readable size.
    assert sorted(path.name for path in output_dir.glob("*.png")) == [
        "neuron_and_activations.png",
        "neuron_and_activations_circle.png",
        "neuron_and_activations_mnist_weights.png",
    ]
    assert len(results["pictures"]) == 3
    for path in results["pictures"]:
        assert_png(path, min_size=(400, 300))
