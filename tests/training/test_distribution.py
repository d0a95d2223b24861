"""`train(..., strategy=…)`: mirrored over two logical CPUs and two workers on loopback give the single-process
result; a killed worker resumes; mixed precision trains and exports; a bad TF_CONFIG is one line."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from kerasnets.cli import main
from kerasnets.data import prepare
from kerasnets.training import RECIPES
from tests.data import data_root_or_skip, tfds_dir
from tests.training.test_recipes import small_overrides

# SGD: Adam's first steps move every weight by ±learning_rate whatever the gradient's size, so float
# noise in a near-zero gradient would show as a 2e-3 difference; SGD's updates are proportional to it.
LENET = dict(train_split="train[:512]", eval_split="test[:64]", batch_size=64, steps_per_epoch=4, checkpoint_steps=2,
             optimizer="sgd", learning_rate=0.05)
GPT = dict(batch_size=8, steps_per_epoch=4, checkpoint_steps=2, num_layers=1, num_heads=2, hidden_dim=16,
           intermediate_dim=32, max_sequence_length=16, sequence_length=16, optimizer="sgd", learning_rate=0.05)

# One training run in a fresh process (strategies must be set up before TensorFlow starts):
#   RUNNER recipe output strategy overrides-json weights.npz [CPU replicas]
RUNNER = """
import json, sys
import numpy as np
recipe, output, strategy, overrides, weights_path = sys.argv[1:6]
if len(sys.argv) > 6:
    from kerasnets.training.distribution import split_cpu
    split_cpu(int(sys.argv[6]))
import keras
from kerasnets.training import train

class KeepWeights(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        np.savez(weights_path, *[np.asarray(v) for v in self.model.weights])

_, metrics = train(recipe, epochs=2, overrides=json.loads(overrides), output=output, verbose=0,
                   strategy=strategy, extra_callbacks=[KeepWeights()])
print("STEPS", metrics["steps"], "REPLICAS", metrics["replicas"])
"""


def launch(recipe, output, strategy, overrides, weights, cpu_replicas=None, env=None):
    # Prepared here first: workers preparing one tfds dataset into one directory at once would collide.
    prepare(RECIPES[recipe].dataset, data_dir=tfds_dir(), download=False)
    arguments = [sys.executable, "-c", RUNNER, recipe, str(output), strategy, json.dumps(overrides), str(weights)]
    if cpu_replicas:
        arguments.append(str(cpu_replicas))
    environment = dict(os.environ, **(env or {}))
    return subprocess.Popen(arguments, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=300):
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out[-3000:]
    return out


def weights(path):
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


def assert_same_weights(a, b, atol=1e-5):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=atol)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": index}})


def history_rows(output):
    with open(output / "history.csv") as handle:
        header, *rows = [line.strip().split(",") for line in handle]
    return [dict(zip(header, map(float, row))) for row in rows]


# LeNet-5 trains without XLA (Keras' train_step on each replica); the GPT with XLA, which on CPU
# replicas compiles each replica's forward and backward pass (distribution.compiled_gradient_step).
@pytest.mark.parametrize("recipe, settings", [("lenet5-fashion_mnist", LENET), ("gpt-tiny_shakespeare", GPT)])
def test_mirrored_over_two_logical_cpus_equals_the_default_strategy(tmp_path, recipe, settings):
    data_root_or_skip()
    overrides = dict(settings, data_dir=tfds_dir())
    single = launch(recipe, tmp_path / "one", "default", overrides, tmp_path / "one.npz")
    finish(single)
    mirrored = launch(recipe, tmp_path / "two", "mirrored", overrides, tmp_path / "two.npz", 2)
    out = finish(mirrored)
    assert "STEPS 8 REPLICAS 2" in out  # the global batch split in two
    assert_same_weights(weights(tmp_path / "one.npz"), weights(tmp_path / "two.npz"))
    with open(tmp_path / "two" / "metrics.json") as handle:
        assert json.load(handle)["replicas"] == 2
    # The logged loss and metrics are the global batch's, as the single process logs them.
    one, two = history_rows(tmp_path / "one"), history_rows(tmp_path / "two")
    assert len(one) == len(two) == 2 and one[0].keys() == two[0].keys()
    for a, b in zip(one, two):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6)


SPLIT_CPU = """
import os, sys
import tensorflow as tf
from kerasnets.training.distribution import split_cpu
from kerasnets.training.errors import ConfigurationError
for replicas in (0, -1):
    try:
        split_cpu(replicas)
    except ConfigurationError as error:
        print("REFUSED", error)
split_cpu(2)
print("DEVICES", len(tf.config.list_logical_devices("CPU")), "THREADS",
      tf.config.threading.get_intra_op_parallelism_threads(), "CORES", os.cpu_count())
try:
    split_cpu(3)  # TensorFlow has started now
except ConfigurationError as error:
    print("LATE", error)
"""


def test_split_cpu_gives_each_replica_its_share_of_the_cores_and_refuses_once_tensorflow_runs():
    out = subprocess.run([sys.executable, "-c", SPLIT_CPU], capture_output=True, text=True, timeout=120).stdout
    assert out.count("REFUSED CPU replicas must be at least 1") == 2
    devices, threads, cores = (int(out.split(word)[1].split()[0]) for word in ("DEVICES", "THREADS", "CORES"))
    assert devices == 2 and threads == max(1, cores // 2)
    assert "LATE The CPU can only be split into replicas before TensorFlow starts" in out


@pytest.mark.parametrize("recipe, settings", [("lenet5-fashion_mnist", LENET), ("gpt-tiny_shakespeare", GPT)])
def test_two_workers_on_loopback_train_as_one_process_with_the_global_batch(tmp_path, recipe, settings):
    data_root_or_skip()
    overrides = dict(settings, data_dir=tfds_dir())
    ports = free_ports(2)
    workers = [
        launch(recipe, tmp_path / f"worker{i}", "multi_worker", overrides, tmp_path / f"w{i}.npz",
               env={"TF_CONFIG": tf_config(ports, i)})
        for i in range(2)
    ]  # fmt: skip
    outputs = [finish(worker) for worker in workers]
    assert all("STEPS 8 REPLICAS 2" in out for out in outputs)
    finish(launch(recipe, tmp_path / "single", "default", overrides, tmp_path / "single.npz"))
    assert_same_weights(weights(tmp_path / "w0.npz"), weights(tmp_path / "w1.npz"), atol=0)  # in lockstep
    assert_same_weights(weights(tmp_path / "w0.npz"), weights(tmp_path / "single.npz"))
    assert (tmp_path / "worker0" / "metrics.json").exists() and (tmp_path / "worker0" / "model.keras").exists()
    assert not (tmp_path / "worker1" / "metrics.json").exists()
    assert not (tmp_path / "worker1" / "model.keras").exists() and not (tmp_path / "worker1" / "backup").exists()


def test_a_killed_worker_resumes_with_the_other_to_the_same_steps(tmp_path):
    data_root_or_skip()
    overrides = dict(LENET, data_dir=tfds_dir(), steps_per_epoch=8)
    ports = free_ports(2)

    def start():
        return [
            launch("lenet5-fashion_mnist", tmp_path / f"worker{i}", "multi_worker", overrides, tmp_path / f"w{i}.npz",
                   env={"TF_CONFIG": tf_config(ports, i)})
            for i in range(2)
        ]  # fmt: skip

    workers = start()
    deadline = time.monotonic() + 240
    backup = tmp_path / "worker1" / "backup" / "worker-1"
    while not (backup.exists() and any(p.suffix == ".json" for p in backup.iterdir())):
        assert time.monotonic() < deadline and workers[1].poll() is None
        time.sleep(0.05)
    workers[1].send_signal(signal.SIGKILL)
    # The survivor waits on its peer in a collective: it is stopped too, as a cluster manager would.
    workers[0].send_signal(signal.SIGKILL)
    for worker in workers:
        worker.communicate(timeout=60)
    outputs = [finish(worker) for worker in start()]
    assert all("Resuming lenet5-fashion_mnist from step" in out for out in outputs)
    assert all("STEPS 16 REPLICAS 2" in out for out in outputs)
    assert_same_weights(weights(tmp_path / "w0.npz"), weights(tmp_path / "w1.npz"), atol=0)
    with open(tmp_path / "worker0" / "metrics.json") as handle:
        assert json.load(handle)["steps"] == 16


@pytest.mark.parametrize(
    "tf_config_value, message",
    [
        (None, "--strategy multi_worker needs TF_CONFIG"),
        ("{not json", "TF_CONFIG is not valid JSON"),
        ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}',
         "TF_CONFIG task index 3 is outside the cluster: 'worker' has 1 task(s)."),
        ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "chief", "index": 0}}',
         "TF_CONFIG task type 'chief' is not in the cluster (worker)."),
        ('{"task": {"type": "worker", "index": 0}}', 'TF_CONFIG needs "cluster"'),
    ],
)
def test_a_bad_tf_config_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, tf_config_value, message):
    if tf_config_value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config_value)
    output = tmp_path / "run"
    assert main(["train", "lenet5-mnist", "--steps", "1", "--strategy", "multi_worker", "--output", str(output)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not output.exists()


# One recipe per builder.
BUILDER_RECIPES = sorted({recipe.builder: name for name, recipe in sorted(RECIPES.items())}.values())


@pytest.mark.parametrize("name", BUILDER_RECIPES)
def test_every_builder_trains_under_mixed_bfloat16_with_float32_outputs_and_exports(name, tmp_path):
    from kerasnets.export.artifacts import load_for_export
    from kerasnets.export.saved_model import export_model

    data_root_or_skip()
    overrides = dict(small_overrides(RECIPES[name]), mixed_precision="mixed_bfloat16")
    from kerasnets.training import train

    _, metrics = train(name, steps=2, overrides=overrides, output=str(tmp_path / "run"), verbose=0)
    assert np.isfinite(metrics["loss"]) and metrics["mixed_precision"] == "mixed_bfloat16"
    model, options = load_for_export(str(tmp_path / "run"))
    def layers(layer):
        for inner in getattr(layer, "layers", []):
            yield inner
            yield from layers(inner)

    policies = {layer.name: layer.dtype_policy.name for layer in layers(model) if layer.weights}
    kept_float32 = {name for name, policy in policies.items() if policy != "mixed_bfloat16"}
    assert "mixed_bfloat16" in policies.values()  # reloaded under the policy it was trained with…
    assert all(name.endswith("probabilities") for name in kept_float32), kept_float32  # …but softmax heads
    assert all(keras.backend.standardize_dtype(output.dtype) == "float32" for output in model.outputs)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was
    exported = export_model(model, "m", base_dir=str(tmp_path / "export"), **options)
    assert os.path.exists(os.path.join(exported.path, "saved_model.pb"))
