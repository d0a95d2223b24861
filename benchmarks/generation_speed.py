"""Cached GPT generation: tokens/s of kerasnets vs KerasHub's `GPT2CausalLM.generate`.

    pip install --no-deps -r benchmarks/requirements.txt
    python benchmarks/generation_speed.py                   # B = 1 and 8, 5 repeats
    python benchmarks/generation_speed.py --repeats 9 --batch-sizes 1 --threads 1

Same dimensions for both (4 layers, width 256, 4 heads, feed-forward 1024,
context 320, vocabulary 65), greedy, `--new-tokens` (256) after a
`--prompt-length` (16) token prompt. Arms, each warmed up first, run in
turn (order rotated every repeat) and each reports the median of its repeats:

* `ours generate`: `model.generate` (a `tf.function` over the sampler's loop);
* `ours exported`: the `generate` signature of the SavedModel that
  `kerasnets.export.export_model` writes, loaded with `tf.saved_model.load`
  (what TF Serving runs: no XLA; checked below);
* `keras_hub`: `GPT2CausalLM.generate` (its default, XLA-compiled on TensorFlow).

KerasHub's copy gets our weights; its GELU is the tanh approximation and ours
the exact one, so the ids are compared once more with its feed-forward
switched to the exact GELU (not timed). Also printed: the cost of one token
by recomputing the whole context (one forward pass over it, no cache) next
to the cached cost. The machine may be shared: read the ratios.
"""

import argparse
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerasnets  # noqa: E402
from kerasnets.export.saved_model import export_model  # noqa: E402
from machine_info import cpu_model  # noqa: E402  # benchmarks/ is on sys.path when run

DIMS = dict(vocabulary_size=65, num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024, max_sequence_length=320)


def machine():
    model = cpu_model(platform.processor() or "?")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} logical cores, load average {load:.2f}"


def xla_ops(saved_model_dir):
    """Op types starting with 'Xla' and nodes marked for XLA compilation, anywhere in the SavedModel."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    found = set()
    for meta in proto.meta_graphs:
        graph = meta.graph_def
        nodes = list(graph.node)
        for function in graph.library.function:
            nodes += list(function.node_def)
            if any(function.attr[a].b for a in ("_XlaMustCompile", "_noinline_xla") if a in function.attr):
                found.add(f"function {function.signature.name} marked for XLA")
        for node in nodes:
            if node.op.startswith("Xla"):
                found.add(node.op)
            for attr in ("_XlaMustCompile", "_XlaCompile"):
                if attr in node.attr and node.attr[attr].b:
                    found.add(f"{node.op} with {attr}")
    return sorted(found)


def keras_hub_model():
    import keras_hub

    backbone = keras_hub.models.GPT2Backbone(**DIMS, dropout=0.0)
    lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    lm.compile(sampler="greedy")
    return lm


def copy_weights(ours, hub):
    """Our GPT's weights into KerasHub's GPT2Backbone (same shapes, other names)."""
    names = {
        "embeddings/token_embedding/embeddings": "token_embedding/embeddings",
        "embeddings/position_embedding/embeddings": "position_embedding/embeddings",
        "final_layer_norm": "layer_norm",
        "decoder_block_": "transformer_layer_",
        "self_attention/query_kernel": "self_attention/query/kernel",
        "self_attention/query_bias": "self_attention/query/bias",
        "self_attention/key_kernel": "self_attention/key/kernel",
        "self_attention/key_bias": "self_attention/key/bias",
        "self_attention/value_kernel": "self_attention/value/kernel",
        "self_attention/value_bias": "self_attention/value/bias",
        "self_attention/output_kernel": "self_attention/attention_output/kernel",
        "self_attention/output_bias": "self_attention/attention_output/bias",
        "self_attention_norm": "self_attention_layer_norm",
        "feed_forward/intermediate_kernel": "feedforward_intermediate_dense/kernel",
        "feed_forward/intermediate_bias": "feedforward_intermediate_dense/bias",
        "feed_forward/output_kernel": "feedforward_output_dense/kernel",
        "feed_forward/output_bias": "feedforward_output_dense/bias",
        "feed_forward_norm": "feedforward_layer_norm",
    }
    theirs = {w.path: w for w in hub.backbone.weights}
    for weight in ours.weights:
        path = weight.path
        for old, new in names.items():
            path = path.replace(old, new)
        theirs.pop(path).assign(weight.numpy())
    assert not theirs, f"KerasHub weights left without a value: {sorted(theirs)}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--prompt-length", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-keras-hub", action="store_true", help="time kerasnets only")
    parser.add_argument(
        "--threads", type=int, default=None, help="TensorFlow intra- and inter-op threads for every arm (default: TF's)"
    )
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    new, width = args.new_tokens, args.prompt_length
    threads = f"{args.threads} TensorFlow threads" if args.threads else "TensorFlow's default threads"
    print(f"machine: {machine()}; {threads}")
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}", end="")

    keras.utils.set_random_seed(0)
    ours = kerasnets.models.gpt(**DIMS, dropout=0.0)
    hub = None
    if not args.no_keras_hub:
        import keras_hub

        print(f", keras_hub {keras_hub.__version__}", end="")
        hub = keras_hub_model()
        copy_weights(ours, hub)
    print()

    export_dir = tempfile.mkdtemp(prefix="kerasnets_generation_speed_")
    exported = export_model(ours, "gpt", base_dir=export_dir, generation={}, update_config=False)
    found = xla_ops(exported.path)
    assert not found, f"the exported graph needs XLA: {found}"
    print(f"exported SavedModel {exported.path}: no XLA ops, no _XlaMustCompile")
    signature = tf.saved_model.load(exported.path).signatures["generate"]

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def forward(token_ids):  # the whole context once: what one token costs without a cache
        return ours(token_ids, training=False)

    rng = np.random.default_rng(0)
    for batch_size in args.batch_sizes:
        prompts = rng.integers(1, DIMS["vocabulary_size"], size=(batch_size, width)).astype("int32")
        padded = np.zeros((batch_size, width + new), "int32")
        padded[:, :width] = prompts
        hub_inputs = {"token_ids": padded, "padding_mask": padded != 0}
        counts = tf.constant(np.full((batch_size,), new, "int32"))
        arms = {
            "ours generate": lambda: ours.generate(prompts, new),
            "ours exported": lambda: signature(token_ids=tf.constant(prompts), max_new_tokens=counts)[
                "generated_token_ids"
            ].numpy(),
        }
        if hub is not None:
            arms["keras_hub"] = lambda: hub.generate(hub_inputs, stop_token_ids=None)["token_ids"]
        results = {name: arm() for name, arm in arms.items()}  # warm-up (tracing, XLA compilation)
        results = {name: arm() for name, arm in arms.items()}
        ours_ids = results["ours generate"]
        assert np.array_equal(ours_ids[:, width:], results["ours exported"]), "exported ids differ from generate"
        times = {name: [] for name in arms}
        names = list(arms)
        for repeat in range(args.repeats):
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                start = time.perf_counter()
                arms[name]()
                times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(t) for name, t in times.items()}
        print(f"\nB={batch_size}, {new} new tokens after {width}, median of {args.repeats}:")
        for name, seconds in medians.items():
            line = f"  {name:14s} {batch_size * new / seconds:9.1f} tokens/s  {seconds / new * 1e3:7.3f} ms/step"
            if hub is not None and name != "keras_hub":
                line += f"   {medians['keras_hub'] / seconds:.2f}x keras_hub"
            print(line)
        if hub is not None:
            same = np.mean(np.all(np.asarray(results["keras_hub"]) == ours_ids, axis=1))
            print(f"  ids equal to keras_hub (tanh GELU there): {same:.0%} of rows")
        context = tf.constant(padded)
        forward(context)
        recompute = statistics.median(_timed(lambda: forward(context).numpy()) for _ in range(args.repeats))
        cached = medians["ours generate"] / new
        print(
            f"  one token by recomputing the {width + new}-token context: {recompute * 1e3:.3f} ms "
            f"= {recompute / cached:.1f}x the cached step"
        )
    if hub is not None:
        _compare_with_exact_gelu(hub, ours, rng, width, new, args.batch_sizes)


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _compare_with_exact_gelu(hub, ours, rng, width, new, batch_sizes):
    """KerasHub with our (exact) GELU must pick the same ids: the same model, not only the same dims."""
    for layer in hub.backbone.transformer_layers:
        layer._feedforward_intermediate_dense.activation = keras.activations.gelu
    hub.generate_function = None  # retrace with the new activation
    for batch_size in batch_sizes:
        prompts = rng.integers(1, DIMS["vocabulary_size"], size=(batch_size, width)).astype("int32")
        padded = np.zeros((batch_size, width + new), "int32")
        padded[:, :width] = prompts
        theirs = np.asarray(hub.generate({"token_ids": padded, "padding_mask": padded != 0}, stop_token_ids=None)["token_ids"])
        same = np.mean(np.all(theirs == ours.generate(prompts, new), axis=1))
        print(f"B={batch_size}: ids equal to keras_hub with the exact GELU: {same:.0%} of rows")


if __name__ == "__main__":
    main()
