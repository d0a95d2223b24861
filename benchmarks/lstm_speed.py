"""Speed of `kerasnets.layers.LSTM` against `keras.layers.LSTM`, side by side.

For each shape (batch, steps, input features -> units) both layers are built
in the same one-layer model, `Input((T, F)) -> LSTM(units)`, with Keras'
weights copied into ours; the outputs are checked equal before any timing.
Each arm is compiled the same way (`model.compile(Adam, "mse",
jit_compile=...)`, once without and once with XLA) and timed on

- train: `model.train_on_batch(x, y)` (Keras' compiled train function:
  forward, gradient, Adam update);
- inference: `model.predict_on_batch(x)` (the compiled predict function).

The arms alternate (the order flips every repeat) so that load from other
processes hits both alike; each repeat times `--steps` calls, and the
reported time is the median over repeats. The ratio printed is
ours/keras speed = keras time / our time (> 1: ours is faster).

    PYTHONPATH=$PWD python benchmarks/lstm_speed.py [--repeats 21] [--steps 2] [--jit off|on|both]
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasnets.layers import LSTM  # noqa: E402
from machine_info import cpu_model  # noqa: E402  # benchmarks/ is on sys.path when run

SHAPES = [(128, 28, 28, 128), (64, 64, 256, 512)]  # (batch, steps, features, units)


def machine():
    model = cpu_model(platform.processor() or "unknown CPU")
    gpus = tf.config.list_physical_devices("GPU")
    return f"{model}, {os.cpu_count()} cores" + (f", GPUs: {len(gpus)}" if gpus else ", no GPU")


def build_pair(steps, features, units, jit_compile, seed=0):
    """Two compiled models, ours and Keras', with the same weights."""
    keras.utils.set_random_seed(seed)
    models = {}
    for name, layer in (("keras", keras.layers.LSTM(units)), ("ours", LSTM(units))):
        model = keras.Sequential([keras.Input((steps, features)), layer], name=name)
        models[name] = model
    models["ours"].set_weights(models["keras"].get_weights())
    for model in models.values():
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit_compile)
    return models


def check_equal(models, x, y):
    """Equal outputs, and equal loss after one identical train step."""
    expected = np.asarray(models["keras"].predict_on_batch(x))
    actual = np.asarray(models["ours"].predict_on_batch(x))
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    weights = models["keras"].get_weights()
    losses = [float(models[name].train_on_batch(x, y)) for name in ("keras", "ours")]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    after = [np.asarray(models[name].predict_on_batch(x)) for name in ("keras", "ours")]
    np.testing.assert_allclose(after[1], after[0], atol=1e-5)
    models["ours"].set_weights(weights)
    models["keras"].set_weights(weights)
    return float(np.abs(actual - expected).max())


def time_arms(calls, repeats, steps):
    """Median seconds per call for each arm; arms alternate, order flipping each repeat."""
    times = {name: [] for name in calls}
    names = list(calls)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            call = calls[name]
            start = time.perf_counter()
            for _ in range(steps):
                call()
            times[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(values) for name, values in times.items()}


def run(shape, jit_compile, repeats, steps):
    batch, length, features, units = shape
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, length, features)).astype("float32"))
    y = tf.constant(rng.normal(size=(batch, units)).astype("float32"))
    models = build_pair(length, features, units, jit_compile)
    max_difference = check_equal(models, x, y)  # also compiles (warms up) both functions
    for model in models.values():  # one more warm-up call each
        model.train_on_batch(x, y)
        model.predict_on_batch(x)
    train = time_arms({name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()}, repeats, steps)
    infer = time_arms(
        {name: (lambda m=m: np.asarray(m.predict_on_batch(x))) for name, m in models.items()}, repeats, steps
    )
    return {
        "max_output_difference": max_difference,
        "train_ms": {k: 1000 * v for k, v in train.items()},
        "inference_ms": {k: 1000 * v for k, v in infer.items()},
        "train_ratio": train["keras"] / train["ours"],
        "inference_ratio": infer["keras"] / infer["ours"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--steps", type=int, default=2, help="calls timed per repeat")
    parser.add_argument("--shapes", default="0,1", help="indices into SHAPES")
    parser.add_argument("--jit", choices=["off", "on", "both"], default="both")
    args = parser.parse_args()
    print(f"machine: {machine()}; keras {keras.__version__}, tensorflow {tf.__version__}")
    print(f"medians of {args.repeats} repeats x {args.steps} calls, arms alternating; ratio = ours/keras speed")
    jits = {"off": [False], "on": [True], "both": [False, True]}[args.jit]
    for shape in [SHAPES[int(i)] for i in args.shapes.split(",")]:
        for jit_compile in jits:
            result = run(shape, jit_compile, args.repeats, args.steps)
            batch, length, features, units = shape
            print(
                f"B{batch} T{length} {features}->{units} jit_compile={jit_compile}: "
                f"train {result['train_ms']['ours']:.1f} ms vs keras {result['train_ms']['keras']:.1f} ms "
                f"-> {result['train_ratio']:.2f}x; "
                f"inference {result['inference_ms']['ours']:.1f} ms vs keras {result['inference_ms']['keras']:.1f} ms "
                f"-> {result['inference_ratio']:.2f}x "
                f"(max |output difference| {result['max_output_difference']:.1e})",
                flush=True,
            )


if __name__ == "__main__":
    main()
