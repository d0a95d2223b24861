"""The neuron and its activations, then a small MLP that reads handwritten digits.

    python examples/neuron_and_activations.py            # about 60 s on 2 CPU cores (shared)
    python examples/neuron_and_activations.py --smoke    # about 10 s after the imports

A neuron weighs its inputs, adds a bias and squashes the sum:

    y = σ(x·w + b)

and the activation σ is one of

    sigmoid(z) = 1 / (1 + e^-z)          sigmoid'(z) = sigmoid(z) (1 - sigmoid(z))
    tanh(z)    = (e^z - e^-z) / (e^z + e^-z)   tanh'(z) = 1 - tanh(z)²
    relu(z)    = max(0, z)               relu'(z)    = 1 if z > 0 else 0
    softmax(z)_i = e^(z_i) / Σ_j e^(z_j)  ∂softmax_i/∂z_j = p_i (δ_ij - p_j)

What it shows:

1. The neuron by hand in NumPy equals kerasnets' one-neuron `mlp` with the same weights.
2. kerasnets' activations (`kerasnets.layers.activations.get`) equal the formulas above,
   and their derivatives (by automatic differentiation) equal the closed forms;
   picture: each activation and its derivative.
3. One neuron cannot learn "is the point inside a circle?"; eight ReLU neurons in front of it can;
   picture: what each of them answers over the plane.
4. An MLP (784 → 128 ReLU → 10 softmax) trained with fit() on real MNIST digits, with its
   held-out accuracy against chance; picture: what its first-layer neurons look for, as 28×28 images.
"""

import argparse
import math
import os

import keras
import matplotlib
import numpy as np
import tensorflow as tf

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import kerasnets  # noqa: E402
from kerasnets.data import load_image_classification  # noqa: E402
from kerasnets.layers import activations  # noqa: E402

TOPIC = "neuron_and_activations"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and a few steps (for the tests)")
    parser.add_argument("--output-dir", default="example_outputs", help="where the pictures go")
    parser.add_argument("--dataset", default="mnist", choices=("mnist", "fashion_mnist"))
    return parser.parse_args(argv)


# ## 1. One neuron, by hand
#
# A neuron is a dot product, a bias and a squashing function. Three inputs
# need three weights and one bias: four numbers in all. kerasnets' `mlp` with
# no hidden layer *is* one such neuron (a Dense(1, sigmoid) layer), so giving
# it our w and b must give our y.


def sigmoid_np(z):
    return 1.0 / (1.0 + np.exp(-z))


def neuron_by_hand(rng):
    x = rng.normal(size=(5, 3)).astype("float32")  # five examples, three features each
    w = np.array([[0.5], [-1.0], [2.0]], dtype="float32")
    b = np.array([0.1], dtype="float32")
    y_by_hand = sigmoid_np(x @ w + b)

    neuron = kerasnets.models.mlp(input_shape=(3,), hidden_units=(), name="one_neuron")
    neuron.set_weights([w, b])
    y_keras = np.asarray(neuron(x))
    difference = float(np.abs(y_by_hand - y_keras).max())
    print(f"one neuron: {neuron.count_params()} parameters (3 weights + 1 bias)")
    print(f"neuron by hand vs kerasnets.models.mlp(hidden_units=()), max |difference|: {difference:.2e}")
    return difference


# ## 2. The activations and their slopes
#
# Training moves every weight against the gradient of the loss, and the chain
# rule multiplies the activation's derivative into that gradient at every
# layer. So the derivative matters as much as the curve:
#
# * sigmoid squashes into (0, 1) but its slope is at most 1/4 and vanishes for
#   large |z|: stack many sigmoid layers and the gradient fades away;
# * tanh is a sigmoid stretched to (-1, 1) (tanh(z) = 2 sigmoid(2z) - 1),
#   centred on 0, with slope 1 at the origin;
# * ReLU passes positive sums unchanged (slope exactly 1) and cuts the rest
#   to 0: cheap, and its gradient does not fade for active units;
# * softmax turns a vector of scores into probabilities that sum to one; it
#   is the output of a classifier. With two scores it is the sigmoid of their
#   difference.
#
# We check kerasnets' functions against NumPy, and the automatic derivatives
# (tf.GradientTape, as `fit()` uses them) against the closed forms.

FORMULAS = {
    "sigmoid": (sigmoid_np, lambda z: sigmoid_np(z) * (1 - sigmoid_np(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
}


def softmax_np(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))  # subtracting the max changes nothing but avoids overflow
    return e / e.sum(axis=-1, keepdims=True)


def derivative(function, z):
    """d function(z) / dz, elementwise, by automatic differentiation."""
    z = tf.convert_to_tensor(z)
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = function(z)
    return tape.gradient(y, z).numpy()


def check_activations():
    # Avoid z = 0 exactly, where ReLU has no derivative (frameworks pick 0).
    z = np.linspace(-6, 6, 400, dtype="float32") + np.float32(1e-3)
    curves, differences = {}, {}
    for name, (value, slope) in FORMULAS.items():
        function = activations.get(name)  # the function kerasnets' layers use for activation=name
        ours = np.asarray(function(z))
        our_slope = derivative(function, z)
        differences[name] = float(np.abs(ours - value(z)).max())
        differences[name + "'"] = float(np.abs(our_slope - slope(z)).max())
        curves[name] = (ours, our_slope)

    # softmax works on a whole vector: check values and the full Jacobian p_i (δ_ij - p_j).
    scores = np.array([[2.0, 1.0, 0.1, -1.0]], dtype="float32")
    p = softmax_np(scores)[0]
    ours = np.asarray(activations.get("softmax")(scores))[0]
    scores_t = tf.convert_to_tensor(scores)
    with tf.GradientTape() as tape:
        tape.watch(scores_t)
        out = activations.get("softmax")(scores_t)
    jacobian = tape.jacobian(out, scores_t).numpy()[0, :, 0, :]
    differences["softmax"] = float(np.abs(ours - p).max())
    differences["softmax'"] = float(np.abs(jacobian - (np.diag(p) - np.outer(p, p))).max())
    shown = ", ".join(f"{score:g}" for score in scores[0]), ", ".join(f"{q:.3f}" for q in ours)
    print(f"softmax({shown[0]}) = ({shown[1]}), sums to {ours.sum():.6f}")

    # Softmax over the two scores (z, 0): p_0 = sigmoid(z), the reason a binary classifier needs one neuron.
    pair = np.stack([z, np.zeros_like(z)], axis=-1)
    two_class = np.asarray(activations.get("softmax")(pair))[:, 0]
    differences["softmax(z, 0) vs sigmoid(z)"] = float(np.abs(two_class - sigmoid_np(z)).max())
    curves["softmax"] = (two_class, two_class * (1 - two_class))

    # kerasnets also names GPT-2's tanh approximation of GELU: check it against its formula.
    gelu = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))
    differences["gelu_approximate"] = float(np.abs(np.asarray(activations.get("gelu_approximate")(z)) - gelu).max())

    for name, difference in differences.items():
        print(f"  {name:28s} kerasnets vs formula, max |difference|: {difference:.2e}")
    return z, curves, differences


def draw_activations(z, curves, path):
    figure, axes = plt.subplots(1, 4, figsize=(14, 3.6))
    titles = {
        "sigmoid": "sigmoid: slope ≤ 1/4",
        "tanh": "tanh: slope 1 at 0",
        "relu": "ReLU: slope 0 or 1",
        "softmax": "softmax(z, 0)₀ = sigmoid(z)",
    }
    for axis, (name, (value, slope)) in zip(axes, curves.items()):
        axis.plot(z, value, label="f(z)", linewidth=2)
        axis.plot(z, slope, label="f'(z)", linestyle="--", linewidth=2)
        axis.axhline(0, color="gray", linewidth=0.5)
        axis.axvline(0, color="gray", linewidth=0.5)
        axis.set_title(titles[name])
        axis.set_xlabel("z")
        axis.legend(loc="upper left")
    figure.suptitle("Activations (solid) and their derivatives (dashed), from kerasnets.layers.activations")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# ## 3. Why hidden layers: one neuron cannot learn a circle
#
# One sigmoid neuron draws a straight line through the plane: σ(x·w + b) = ½
# exactly where x·w + b = 0. "Inside the circle x₁² + x₂² < ½" is not on one
# side of any line, so the best a lone neuron can do is about as well as
# always answering "outside" (61% of the square is outside). Eight ReLU
# neurons in a hidden layer each draw their own line (a ramp that is 0 on
# one side); the output neuron adds the eight ramps up into a closed region,
# a polygon around the circle. Three lines are the least that can enclose a
# region; with only five neurons a bad start that leaves one of them dead
# (never active) sometimes spoils the shape, eight are safe. The third input
# is noise that both models must learn to ignore. In the picture the lone
# neuron ends up answering "probably outside" almost everywhere: no line
# beats that by much.


def circle_data(rng, count):
    features = rng.uniform(-1, 1, size=(count, 3)).astype("float32")
    labels = (np.sum(features[:, :2] ** 2, axis=1) < 0.5).astype("float32")
    return features, labels


def circle(rng, epochs, count, path):
    features, labels = circle_data(rng, count)
    split = int(0.8 * count)
    results, models = {}, {}
    for name, hidden in (("one neuron", ()), ("3 → 8 ReLU → 1", (8,))):
        model = kerasnets.models.mlp(input_shape=(3,), hidden_units=hidden, name="circle_" + str(len(hidden)))
        model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(features[:split], labels[:split], epochs=epochs, batch_size=32, verbose=0)
        _, accuracy = model.evaluate(features[split:], labels[split:], verbose=0)
        results[name] = float(accuracy)
        models[name] = model
        print(f"circle, {name:16s} ({model.count_params():2d} parameters): held-out accuracy {accuracy:.3f}")
    outside = float(1 - labels[split:].mean())
    print(f"circle, always answering 'outside': {outside:.3f}")

    # Each model's answer over the plane (third feature set to 0), with the true circle.
    grid = np.linspace(-1, 1, 121, dtype="float32")
    g1, g2 = np.meshgrid(grid, grid)
    plane = np.stack([g1.ravel(), g2.ravel(), np.zeros(g1.size, "float32")], axis=1)
    figure, axes = plt.subplots(1, 2, figsize=(10.5, 4.6), layout="constrained")
    for axis, (name, model) in zip(axes, models.items()):
        probability = model.predict(plane, verbose=0, batch_size=len(plane)).reshape(g1.shape)
        image = axis.contourf(g1, g2, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r")
        axis.contour(g1, g2, probability, levels=[0.5], colors="black", linewidths=2)
        axis.add_patch(plt.Circle((0, 0), math.sqrt(0.5), fill=False, color="lime", linewidth=2, linestyle="--"))
        axis.set_title(f"{name}: accuracy {results[name]:.2f}")
        axis.set_aspect("equal")
        axis.set_xlabel("x₁")
        axis.set_ylabel("x₂")
    figure.colorbar(image, ax=axes, label="P(inside)")
    figure.suptitle("Black: where the model says ½. Green dashes: the true circle.")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return results["one neuron"], results["3 → 8 ReLU → 1"], outside


# ## 4. An MLP on real digits
#
# An MNIST image is 28×28 grey levels in [0, 1]; flattened, it is a vector
# of 784 inputs. One hidden layer of 128 ReLU neurons and an output layer of
# 10 neurons with a softmax make a classifier. Each layer has
# (inputs + 1) × neurons parameters: one weight per input and one bias per
# neuron. We train with fit(), minimising the cross-entropy -log p(label),
# and measure accuracy on test images the model never saw.


def mnist_mlp(args, path):
    smoke = args.smoke
    train_split = "train[:1000]" if smoke else "train[:20000]"
    test_split = "test[:500]" if smoke else "test"
    epochs = 3 if smoke else 5
    train = load_image_classification(args.dataset, train_split, batch_size=64, seed=0)
    test = load_image_classification(args.dataset, test_split, batch_size=500)

    hidden = 32 if smoke else 128
    model = kerasnets.models.mlp(input_shape=(28, 28, 1), hidden_units=(hidden,), num_classes=10, name="mnist_mlp")
    model.summary()
    expected = (784 + 1) * hidden + (hidden + 1) * 10
    print(f"parameters: (784+1)·{hidden} + ({hidden}+1)·10 = {expected:,}")
    assert model.count_params() == expected

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    initial_kernel = model.get_layer("hidden_1").kernel.numpy()  # (784, hidden), Glorot-random
    # Before training every class gets roughly 1/10, so the loss starts near ln 10.
    initial_loss, _ = model.evaluate(train, verbose=0)
    print(f"loss before training: {initial_loss:.3f} (a uniform guess over 10 classes: ln 10 = {math.log(10):.3f})")
    # The loader already shuffles the training split (seeded), hence shuffle=False here.
    history = model.fit(train, epochs=epochs, shuffle=False, verbose=2)
    final_loss = float(history.history["loss"][-1])
    test_loss, test_accuracy = model.evaluate(test, verbose=0)

    test_labels = np.concatenate([labels.numpy() for _, labels in test])
    majority = float(np.bincount(test_labels, minlength=10).max() / len(test_labels))
    print(
        f"{args.dataset} {test_split}: held-out accuracy {test_accuracy:.3f}, loss {test_loss:.3f} "
        f"(chance 0.100; always the most common class {majority:.3f})"
    )

    # What did a hidden neuron learn to look for? Its 784 weights, laid out as
    # the image they multiply: red pixels push its sum up, blue ones pull it
    # down. The weights start random, and a pixel that is always 0 (the blank
    # border) multiplies 0, gets no gradient and keeps its random start; so we
    # draw what training changed, W_after - W_before.
    kernel = model.get_layer("hidden_1").kernel.numpy() - initial_kernel
    shown = min(16, hidden)
    figure, axes = plt.subplots(2, shown // 2, figsize=(shown * 0.85 + 1, 4.2))
    limit = np.abs(kernel[:, :shown]).max()
    for unit, axis in enumerate(axes.ravel()):
        axis.imshow(kernel[:, unit].reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_title(f"neuron {unit}", fontsize=8)
        axis.axis("off")
    figure.suptitle(
        f"What training wrote into the first {shown} hidden neurons' weights (W_after − W_before), "
        f"as 28×28 images; test accuracy {test_accuracy:.3f}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return {
        "total_params": model.count_params(),
        "initial_loss": float(initial_loss),
        "final_loss": final_loss,
        "loss_history": [float(value) for value in history.history["loss"]],
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "chance_accuracy": 0.1,
        "majority_accuracy": majority,
    }


def main(argv=None) -> dict:
    args = parse_args(argv)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    os.makedirs(args.output_dir, exist_ok=True)
    pictures = [os.path.join(args.output_dir, f"{TOPIC}{suffix}.png") for suffix in ("", "_circle", "_mnist_weights")]

    print("## 1. One neuron, by hand")
    neuron_difference = neuron_by_hand(rng)

    print("## 2. Activations and their derivatives")
    z, curves, differences = check_activations()
    draw_activations(z, curves, pictures[0])

    print("## 3. One neuron vs a hidden layer, on a circle")
    neuron_accuracy, mlp_accuracy, outside = circle(
        rng, epochs=10 if args.smoke else 40, count=1000 if args.smoke else 2000, path=pictures[1]
    )

    print(f"## 4. An MLP on {args.dataset}")
    results = mnist_mlp(args, pictures[2])

    for path in pictures:
        print("picture:", path)
    results.update(
        neuron_max_difference=neuron_difference,
        activation_max_differences=differences,
        circle_neuron_accuracy=neuron_accuracy,
        circle_mlp_accuracy=mlp_accuracy,
        circle_outside_accuracy=outside,
        pictures=pictures,
    )
    return results


if __name__ == "__main__":
    main()
