"""LeNet-5, layer by layer: what each layer computes, why it has the parameters it has, what it sees.

    python examples/lenet5_layers.py            # about 50 s on 2 CPU cores (shared)
    python examples/lenet5_layers.py --smoke    # about 10 s after the imports

LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) reads a digit through
convolutions: a small filter slides over the image, and at every position
computes one neuron's sum, the same weights everywhere:

    C[i, j, k] = tanh(b_k + Σ_{u, v < 5} Σ_c X[i + u, j + v, c] · W[u, v, c, k])

    a conv layer of K filters of size 5×5 on C channels has K·(5·5·C + 1) parameters;
    a valid convolution shrinks H to H - 5 + 1, a 2×2 subsampling halves it.

    C1 conv 6@28×28 → S2 subsampling 6@14×14 → C3 conv 16@10×10 → S4 16@5×5
    → C5 conv 120@1×1 → F6 dense 84 → output 10 (softmax)

What it shows:

1. kerasnets' `lenet5()` and its `summary()`.
2. Each layer's output shape and parameter count, with the arithmetic that explains it.
3. C1, S2 and C3 recomputed by hand in NumPy from the model's weights (max |difference|).
4. Training on real MNIST for a short while; test accuracy against chance.
5. Pictures: C1's learned filters and the feature maps of C1 and C3 for one test digit,
   and the architecture diagram (kerasnets.pictures.plot_architecture, when Graphviz is installed).
"""

import argparse
import os

import keras
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kerasnets import pictures  # noqa: E402
from kerasnets.data import load_image_classification  # noqa: E402
from kerasnets.data.images import CLASS_NAMES  # noqa: E402
from kerasnets.models import lenet5  # noqa: E402

TOPIC = "lenet5_layers"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and a few steps (for the tests)")
    parser.add_argument("--output-dir", default="example_outputs", help="where the pictures go")
    parser.add_argument("--dataset", default="mnist", choices=("mnist", "fashion_mnist"))
    parser.add_argument("--epochs", type=int, default=2, help="passes over the training split")
    return parser.parse_args(argv)


# ## 2. Each layer, and the arithmetic behind its numbers
#
# A convolution's parameters do not depend on the image size: every output
# position reuses the same K filters of 5·5·C weights plus one bias each.
# That weight sharing is why LeNet-5 has fewer parameters (61,706) than an
# MLP with a single hidden layer of 128 neurons on the same digits (101,770,
# examples/neuron_and_activations.py), yet reads them better: a stroke
# detector learned in one corner works in every other. Most of the weights
# sit in C5 and F6; the convolutions that do the seeing are small.
#
# Two details differ from the 1998 paper, as in every modern version:
# * S2 and S4 here average 2×2 blocks with no parameters; the paper's
#   subsampling also had a trainable coefficient and bias per map (12 and 32
#   parameters).
# * The paper's C3 connected each of its 16 maps to only some of S2's 6 maps
#   (1,516 parameters), to break symmetry and save computation; here every
#   map sees all six (2,416). The paper's RBF output layer is a softmax here.


def explain_layer(layer, input_shape):
    """(output shape, parameter count, the arithmetic behind both) for one layer of lenet5."""
    output_shape = tuple(layer.output.shape[1:])
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        channels = input_shape[-1]
        filters = layer.filters
        params = filters * (kh * kw * channels + 1)
        if layer.padding == "same":
            pad = kh // 2
            size = f"'same' pads {pad} pixels each side: {input_shape[0]} + {2 * pad} - {kh} + 1 = {output_shape[0]}"
        else:
            size = f"{input_shape[0]} - {kh} + 1 = {output_shape[0]}"
        arithmetic = f"{filters}·({kh}·{kw}·{channels}+1) = {params:,}; {size}"
    elif isinstance(layer, keras.layers.Dense):
        inputs, units = input_shape[-1], layer.units
        params = units * (inputs + 1)
        arithmetic = f"{units}·({inputs}+1) = {params:,}"
    elif isinstance(layer, (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D)):
        params = 0
        arithmetic = f"no weights; 2×2 blocks: {input_shape[0]} / 2 = {output_shape[0]}"
    elif isinstance(layer, keras.layers.Flatten):
        params = 0
        arithmetic = f"no weights; {'·'.join(str(n) for n in input_shape)} = {int(np.prod(input_shape))}"
    else:
        raise ValueError(f"no explanation for a {type(layer).__name__} layer ({layer.name})")
    return output_shape, params, arithmetic


def layer_by_layer(model):
    rows = []
    print(f"{'layer':14s} {'output shape':14s} {'params':>7s}  arithmetic")
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            input_shape = tuple(layer.output.shape[1:])
            print(f"{layer.name + ' (input)':14s} {str(input_shape):14s} {0:7,d}  the image, 28×28 grey levels")
            continue
        output_shape, params, arithmetic = explain_layer(layer, input_shape)
        # The arithmetic is only an explanation if it agrees with what Keras counted.
        assert params == layer.count_params(), (layer.name, params, layer.count_params())
        print(f"{layer.name:14s} {str(output_shape):14s} {params:7,d}  {arithmetic}")
        rows.append({"name": layer.name, "output_shape": output_shape, "params": params, "arithmetic": arithmetic})
        input_shape = output_shape
    total = sum(row["params"] for row in rows)
    print(f"{'total':14s} {'':14s} {total:7,d}  = {' + '.join(str(row['params']) for row in rows if row['params'])}")
    return rows, total


# ## 3. C1, S2 and C3 by hand
#
# A convolution is a sliding dot product. NumPy's `sliding_window_view` cuts
# every 5×5 patch out of the (zero-padded) image; a tensor contraction with
# the kernel then gives every filter's sum at every position at once. Keras'
# Conv2D computes exactly this (a cross-correlation: the filter is not
# flipped), so with the model's own weights the two must agree.


def conv_by_hand(x, kernel, bias, padding):
    """tanh of a 2-D convolution: x (H, W, C), kernel (5, 5, C, K), bias (K,) → (H', W', K)."""
    kh, kw = kernel.shape[:2]
    if padding == "same":
        x = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    patches = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(0, 1))  # (H', W', C, kh, kw)
    return np.tanh(np.einsum("ijcuv,uvck->ijk", patches, kernel) + bias)


def subsample_by_hand(x):
    """S2/S4: the mean of each 2×2 block, (H, W, K) → (H/2, W/2, K)."""
    h, w, k = x.shape
    return x.reshape(h // 2, 2, w // 2, 2, k).mean(axis=(1, 3))


def check_by_hand(model, image):
    names = ("c1", "s2", "c3")
    probe = keras.Model(model.input, [model.get_layer(name).output for name in names])
    keras_c1, keras_s2, keras_c3 = (np.asarray(out)[0] for out in probe(image[None]))
    c1, c3 = model.get_layer("c1"), model.get_layer("c3")
    ours_c1 = conv_by_hand(image, c1.kernel.numpy(), c1.bias.numpy(), "same")
    ours_s2 = subsample_by_hand(ours_c1)
    ours_c3 = conv_by_hand(ours_s2, c3.kernel.numpy(), c3.bias.numpy(), "valid")
    differences = {}
    for name, ours, theirs in (("c1", ours_c1, keras_c1), ("s2", ours_s2, keras_s2), ("c3", ours_c3, keras_c3)):
        assert ours.shape == theirs.shape, (name, ours.shape, theirs.shape)
        differences[name] = float(np.abs(ours - theirs).max())
        print(f"{name.upper()} by hand (NumPy) vs the model, {ours.shape}, max |difference|: {differences[name]:.2e}")
    return differences


# ## 5. What C1 and C3 see
#
# Each C1 map is the image seen through one learned 5×5 filter, drawn above
# it. Ink is 1 and paper 0 in MNIST, so a filter with red rows over blue ones
# answers most where ink lies above paper, the lower edge of a stroke: edges
# of one orientation light up (tanh near +1, red) or go dark (near -1). C3
# combines all six of them over a wider window (each C3 output depends on a
# 14×14 patch of the input), responding to pieces of strokes and corners.


def draw_feature_maps(model, image, label, class_names, path):
    probe = keras.Model(model.input, [model.get_layer("c1").output, model.get_layer("c3").output])
    c1, c3 = (np.asarray(out)[0] for out in probe(image[None]))
    prediction = int(np.argmax(np.asarray(model(image[None]))[0]))
    # Left: the digit. Top row: C1's six 5×5 filters; below each, the map it
    # makes. Two rows below: the sixteen C3 maps.
    filters = model.get_layer("c1").kernel.numpy()[:, :, 0, :]  # (5, 5, 6)
    figure = plt.figure(figsize=(13, 7), layout="constrained")
    grid = figure.add_gridspec(4, 10)
    axis = figure.add_subplot(grid[1:3, 0:2])
    axis.imshow(image[..., 0], cmap="gray_r")
    axis.set_title(f"input: {class_names[label]}\npredicted: {class_names[prediction]}")
    axis.axis("off")
    limit = np.abs(filters).max()
    for k in range(6):
        axis = figure.add_subplot(grid[0, 2 + k])
        axis.imshow(filters[..., k], cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_title(f"C1 filter {k} (5×5)", fontsize=8)
        axis.axis("off")
        axis = figure.add_subplot(grid[1, 2 + k])
        axis.imshow(c1[..., k], cmap="RdBu_r", vmin=-1, vmax=1)
        axis.set_title(f"C1 map {k} (28×28)", fontsize=8)
        axis.axis("off")
    for k in range(16):
        axis = figure.add_subplot(grid[2 + k // 8, 2 + k % 8])
        axis.imshow(c3[..., k], cmap="RdBu_r", vmin=-1, vmax=1)
        axis.set_title(f"C3 map {k} (10×10)", fontsize=8)
        axis.axis("off")
    figure.suptitle(
        "LeNet-5 on one test image: C1's filters, the C1 maps they make, and the C3 maps (red +1, blue -1)"
    )
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None) -> dict:
    args = parse_args(argv)
    keras.utils.set_random_seed(0)
    os.makedirs(args.output_dir, exist_ok=True)
    epochs = args.epochs
    train_split = "train[:1000]" if args.smoke else "train"
    test_split = "test[:500]" if args.smoke else "test"

    # ## 1. The model
    #
    # The paper's digits were 32×32 with the character in the central 28×28;
    # MNIST's are 28×28, so C1 pads them ('same') to keep C1's maps 28×28 as
    # in the paper. tanh everywhere, as in 1998; a softmax over the 10 digits.
    print("## 1. LeNet-5")
    model = lenet5(input_shape=(28, 28, 1), num_classes=10)
    model.summary()

    print("## 2. Layer by layer")
    rows, total = layer_by_layer(model)
    assert total == model.count_params()

    test = load_image_classification(args.dataset, test_split, batch_size=500)
    test_images, test_labels = (np.concatenate(parts) for parts in zip(*((x.numpy(), y.numpy()) for x, y in test)))
    image, label = test_images[0], int(test_labels[0])

    print("## 3. C1, S2 and C3 by hand (untrained weights)")
    differences = check_by_hand(model, image)

    # ## 4. Training
    #
    # Cross-entropy and Adam, two passes over the 60,000 training digits
    # (about 98% on the test set; the paper reached 99.05% after 20 passes,
    # 99.2% with distorted copies added to the training set). The loader
    # shuffles the training split (seeded), so fit() need not.
    print(f"## 4. Training on {args.dataset} {train_split}, {epochs} epochs")
    train = load_image_classification(args.dataset, train_split, batch_size=64, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    initial_loss, initial_accuracy = model.evaluate(test, verbose=0)
    history = model.fit(train, epochs=epochs, shuffle=False, verbose=2)
    test_loss, test_accuracy = model.evaluate(test, verbose=0)
    print(
        f"{args.dataset} {test_split}: test accuracy {test_accuracy:.3f}, loss {test_loss:.3f} "
        f"(before training {initial_accuracy:.3f}, loss {initial_loss:.3f}; chance 0.100)"
    )
    # After training the hand computation must still agree: it used no trick that depends on the weights.
    differences_trained = check_by_hand(model, image)

    print("## 5. Pictures")
    picture_paths = [os.path.join(args.output_dir, f"{TOPIC}_feature_maps.png")]
    draw_feature_maps(model, image, label, CLASS_NAMES[args.dataset], picture_paths[0])
    architecture = os.path.join(args.output_dir, f"{TOPIC}_architecture.png")
    try:
        pictures.plot_architecture(model, architecture)
        picture_paths.append(architecture)
    except pictures.MissingDependency as error:
        print(f"architecture picture skipped: {error}")
    for path in picture_paths:
        print("picture:", path)

    return {
        "layers": rows,
        "total_params": total,
        "by_hand_max_differences": differences,
        "by_hand_max_differences_trained": differences_trained,
        "initial_loss": float(initial_loss),
        "initial_accuracy": float(initial_accuracy),
        "loss_history": [float(value) for value in history.history["loss"]],
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "chance_accuracy": 0.1,
        "pictures": picture_paths,
    }


if __name__ == "__main__":
    main()
