"""GPT training speed on nanoGPT's CPU configuration, as a fraction of this CPU's matmul peak.

    python benchmarks/training_speed.py                  # fp32 and mixed_bfloat16, default strategy
    python benchmarks/training_speed.py --mirrored       # also MirroredStrategy over 2 CPU replicas

nanoGPT's `shakespeare_char` CPU settings: 4 layers, 4 heads, width 128,
context 64, batch 12, no dropout. One train step (`model.train_on_batch`
on token ids, AdamW, `jit_compile=True` as the recipe) does about

    6 · N · T + 12 · L · T · C · d   FLOP   (N non-embedding parameters, T = B·C tokens)

(forward + backward of the matmuls, plus attention's QKᵀ and AV; Kaplan et
al. 2020, nanoGPT's `estimate_mfu`). The peak is measured in the same run:
2048³ `tf.matmul` in float32 and in bfloat16. Medians over `--repeats` timings of
`--steps` steps; the arms alternate. Last, the same matrix products alone
(`matmuls_alone`) give the ceiling these shapes allow on each path.

`--mirrored` times the training loops themselves, each arm in its own process
(thread settings are per process), the processes alternated: the default
strategy (Keras `fit`, the whole step under XLA, all cores) against
`MirroredStrategy` over `split_cpu(2)` (kerasnets' `fit_distributed`, each
replica's forward and backward pass under XLA on its own core, 8 steps per
call), and the mirrored run as Keras' `fit` would do it without kerasnets (no
XLA, every op on all cores). A step's time is the median interval between
batch ends per step.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine_info import cpu_model  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CONFIG = dict(vocabulary_size=65, num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=512,
              max_sequence_length=64, dropout=0.0)  # fmt: skip
BATCH, CONTEXT = 12, 64


def matmul_peak(dtype, size=2048, repeats=15):
    import tensorflow as tf

    a = tf.random.normal((size, size), dtype=tf.float32)
    a = tf.cast(a, dtype)
    run = tf.function(lambda x: tf.matmul(x, x))
    run(a).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(a).numpy()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times) / 1e9  # the peak: the best of the repeats


def matmuls_alone(dtype, jit_compile):
    """One step of the GPT's matrix products and nothing else: the ceiling the shapes allow.

    Per block: x·W_qkv, the heads' QKᵀ and AV, the output projection and both
    feed-forward products, then the LM head, forward and backward (gradients
    of every weight and input, SGD update), with only the reshapes, the
    residual adds and a squared-logit loss in between: no layer norm, GELU,
    softmax, embedding or Adam. Its FLOP count is the model's.
    """
    import tensorflow as tf

    layers, heads, width, inner = CONFIG["num_layers"], CONFIG["num_heads"], CONFIG["hidden_dim"], CONFIG["intermediate_dim"]
    tokens, head_width = BATCH * CONTEXT, width // heads
    init = tf.random.Generator.from_seed(0)
    shapes = [(width, 3 * width), (width, width), (width, inner), (inner, width)] * layers + [(width, 65)]
    weights = [tf.Variable(init.normal(shape) * 0.05) for shape in shapes]
    x = init.normal((tokens, width))

    def split_heads(t):
        return tf.transpose(tf.reshape(t, (BATCH, CONTEXT, heads, head_width)), (0, 2, 1, 3))

    def step():
        with tf.GradientTape() as tape:
            h = tf.cast(x, dtype)
            w = [tf.cast(v, dtype) for v in weights]
            for i in range(layers):
                qkv, out, up, down = w[4 * i : 4 * i + 4]
                q, k, v = (split_heads(t) for t in tf.split(h @ qkv, 3, axis=-1))
                heads_out = tf.matmul(tf.matmul(q, k, transpose_b=True), v)
                h = h + tf.reshape(tf.transpose(heads_out, (0, 2, 1, 3)), (tokens, width)) @ out
                h = h + (h @ up) @ down
            loss = tf.reduce_mean(tf.cast(h @ w[-1], tf.float32) ** 2)
        for variable, gradient in zip(weights, tape.gradient(loss, weights)):
            variable.assign_sub(1e-6 * gradient)
        return loss

    return tf.function(step, jit_compile=jit_compile)


def time_calls(function, steps):
    function()
    start = time.perf_counter()
    for _ in range(steps):
        result = function()
    result.numpy()
    return (time.perf_counter() - start) / steps


def step_flops(model):
    non_embedding = sum(int(w.numpy().size) for w in model.trainable_weights if "embedding" not in w.path)
    tokens = BATCH * CONTEXT
    return 6 * non_embedding * tokens + 12 * CONFIG["num_layers"] * tokens * CONTEXT * CONFIG["hidden_dim"]


def build(policy, strategy=None, jit_compile=True):
    import keras
    import tensorflow as tf

    import kerasnets

    keras.config.set_dtype_policy(policy)
    with (strategy or tf.distribute.get_strategy()).scope():
        model = kerasnets.models.gpt(**CONFIG)
        model.compile(keras.optimizers.AdamW(1e-3), "sparse_categorical_crossentropy", jit_compile=jit_compile and strategy is None)
    keras.config.set_dtype_policy("float32")
    return model


def time_steps(model, steps):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.integers(1, 65, (BATCH, CONTEXT)).astype("int32")
    y = rng.integers(1, 65, (BATCH, CONTEXT)).astype("int32")
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return (time.perf_counter() - start) / steps


LOOPS = ("default", "mirrored", "mirrored, Keras fit")


def loop_step_time(loop, steps, warmup=10):
    """Median seconds between batch ends over `steps` steps of one training loop (in a fresh process)."""
    import numpy as np

    from kerasnets.training import distribution

    if loop != "default":
        # kerasnets' split gives each replica one of the two cores; Keras alone leaves every op on all of them.
        distribution.split_cpu(2) if loop == "mirrored" else _two_logical_cpus()
    import keras
    import tensorflow as tf

    ends = []

    class BatchEnds(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):  # once per call of several steps in fit_distributed
            ends.append((batch, time.perf_counter()))

    strategy = distribution.make_strategy("default" if loop == "default" else "mirrored")
    model = build("float32", None if loop == "default" else strategy, jit_compile=loop == "default")
    rng = np.random.default_rng(0)
    batch = tuple(rng.integers(1, 65, (BATCH, CONTEXT)).astype("int32") for _ in range(2))
    data = tf.data.Dataset.from_tensors(batch).repeat()
    arguments = dict(epochs=1, steps_per_epoch=warmup + steps, callbacks=[BatchEnds()], verbose=0)
    if loop == "mirrored":
        distribution.fit_distributed(model, strategy, data, initial_epoch=0, compile_gradients=True, **arguments)
    else:
        model.fit(data, **arguments)
    batches, times = np.array([end for end in ends if end[0] >= warmup]).T
    return statistics.median(np.diff(times) / np.diff(batches))


def _two_logical_cpus():
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def measure(arms, steps, repeats):
    for model in arms.values():
        time_steps(model, 3)  # compile
    times = {name: [] for name in arms}
    names = list(arms)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            times[name].append(time_steps(arms[name], steps))
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--mirrored", action="store_true", help="also compare MirroredStrategy on 2 logical CPUs")
    parser.add_argument("--loop-child", choices=LOOPS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.loop_child:
        print(f"LOOP {loop_step_time(args.loop_child, args.steps * args.repeats)}")
        return

    import keras
    import tensorflow as tf

    print(f"machine: {cpu_model(platform.processor() or 'unknown CPU')}, {os.cpu_count()} cores; tensorflow {tf.__version__}, "
          f"keras {keras.__version__}; GPT {CONFIG}, batch {BATCH}")  # fmt: skip
    peak32, peak16 = matmul_peak(tf.float32), matmul_peak(tf.bfloat16)
    print(f"matmul peak (2048³): float32 {peak32:.0f} GFLOP/s, bfloat16 {peak16:.0f} GFLOP/s")
    # XLA and oneDNN (TensorFlow's kernels without XLA) take different matmul paths, in bfloat16 above all.
    arms = {"float32": build("float32"), "mixed_bfloat16": build("mixed_bfloat16"),
            "float32, no XLA": build("float32", jit_compile=False),
            "mixed_bfloat16, no XLA": build("mixed_bfloat16", jit_compile=False)}  # fmt: skip
    flops = step_flops(arms["float32"])
    result = measure(arms, args.steps, args.repeats)
    for name, seconds in result.items():
        achieved = flops / seconds / 1e9
        print(f"{name:>22}: {seconds * 1e3:6.1f} ms/step, {BATCH * CONTEXT / seconds:8.0f} tokens/s, "
              f"{achieved:5.0f} GFLOP/s = {achieved / peak32:.0%} of the float32 peak")  # fmt: skip
    print(f"mixed_bfloat16 / float32 speed: {result['float32'] / result['mixed_bfloat16']:.2f}x with XLA, "
          f"{result['float32, no XLA'] / result['mixed_bfloat16, no XLA']:.2f}x without; "
          f"best bfloat16 arm / best float32 arm: "
          f"{min(result['float32'], result['float32, no XLA']) / min(result['mixed_bfloat16'], result['mixed_bfloat16, no XLA']):.2f}x")
    # The same products alone, each dtype on its faster path: what these shapes allow at best.
    for dtype, jit_compile in ((tf.float32, True), (tf.float32, False), (tf.bfloat16, True), (tf.bfloat16, False)):
        function = matmuls_alone(dtype, jit_compile)
        time_calls(function, 3)
        seconds = statistics.median(time_calls(function, args.steps) for _ in range(args.repeats))
        achieved = flops / seconds / 1e9
        print(f"matmuls alone, {dtype.name}{'' if jit_compile else ', no XLA'}: {seconds * 1e3:5.1f} ms/step, "
              f"{achieved:5.0f} GFLOP/s = {achieved / peak32:.0%} of the float32 peak")  # fmt: skip
    if args.mirrored:
        times = {loop: [] for loop in LOOPS}
        for round_ in range(3):
            for loop in LOOPS if round_ % 2 == 0 else LOOPS[::-1]:
                out = subprocess.run([sys.executable, __file__, "--loop-child", loop, "--steps", str(args.steps),
                                      "--repeats", str(args.repeats)], capture_output=True, text=True, check=True).stdout  # fmt: skip
                times[loop].append(float(out.split("LOOP")[1].split()[0]))
        result = {loop: statistics.median(values) for loop, values in times.items()}
        for loop, seconds in result.items():
            print(f"{loop:>40}: {seconds * 1e3:6.1f} ms/step (rounds: {', '.join(f'{t * 1e3:.1f}' for t in times[loop])})")
        print(f"mirrored over 2 CPU replicas / default speed: {result['default'] / result['mirrored'] :.2f}x; "
              f"Keras fit's mirrored, without XLA: {result['default'] / result['mirrored, Keras fit'] :.2f}x")


if __name__ == "__main__":
    main()
