"""Train-step time of the image recipes' models with and without XLA, side by side.

For each model (the `mlp`, `lenet5` and `simple_cnn` of the Fashion-MNIST
recipes) two copies with the same weights are compiled, one with
`jit_compile=True` and one with `jit_compile=False`, and
`model.train_on_batch(x, y)` (forward, gradient, Adam update) is timed on a
batch of 128 random 28×28×1 images. The arms alternate, the order flipping
every repeat, so load from other processes hits both alike; each repeat times
`--steps` calls and the reported time is the median over repeats.

    PYTHONPATH=$PWD python benchmarks/conv_speed.py [--repeats 7] [--steps 10]

This is what `jit_compile="auto"` in `kerasnets.training.tasks` follows: on
CPU, TensorFlow runs a convolution through oneDNN without XLA and through
XLA's own, slower kernels with it.
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasnets import models  # noqa: E402
from kerasnets.training.recipes import get_recipe  # noqa: E402
from machine_info import cpu_model  # noqa: E402  # benchmarks/ is on sys.path when run

RECIPES = ("mlp-fashion_mnist", "lenet5-fashion_mnist", "simple_cnn-fashion_mnist")


def build(recipe_name, jit_compile):
    recipe = get_recipe(recipe_name)
    options = {k: v for k, v in recipe.config.items() if k in models.hyperparameters(recipe.builder)}
    keras.utils.set_random_seed(0)
    model = models.build(recipe.builder, **options)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", jit_compile=jit_compile)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, args.batch_size)
    print(f"{cpu_model(platform.processor() or 'unknown CPU')}, {os.cpu_count()} cores; batch {args.batch_size}")
    print("| model | parameters | XLA ms/step | no XLA ms/step | XLA / no XLA |")
    print("|---|---:|---:|---:|---:|")
    for recipe_name in RECIPES:
        arms = {jit: build(recipe_name, jit) for jit in (True, False)}
        arms[False].set_weights(arms[True].get_weights())
        for model in arms.values():  # compile and warm up
            for _ in range(3):
                model.train_on_batch(x, y)
        times = {jit: [] for jit in arms}
        for repeat in range(args.repeats):
            for jit in (True, False) if repeat % 2 == 0 else (False, True):
                start = time.perf_counter()
                for _ in range(args.steps):
                    arms[jit].train_on_batch(x, y)
                times[jit].append((time.perf_counter() - start) / args.steps * 1000)
        with_xla, without = statistics.median(times[True]), statistics.median(times[False])
        print(f"| {recipe_name} | {arms[True].count_params():,} | {with_xla:.1f} | {without:.1f} | "
              f"{with_xla / without:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
