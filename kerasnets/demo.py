"""The main job, end to end: train → summary → export → serve → query over REST.

    kerasnets demo                  # LeNet-5 on Fashion-MNIST, 5 epochs
    kerasnets demo --epochs 5 --port 8501 --keep-serving

1. trains LeNet-5 on Fashion-MNIST (real data: tensorflow-datasets, offline
   from ../shared/data where present) through the `lenet5-fashion_mnist`
   recipe (`kerasnets.train`: its model, pipeline and optimizer settings,
   `compile`/`fit` on tf.data), printing `model.summary()` before the first
   epoch, then the test accuracy;
2. exports it to `saved_models/lenet5/<next version>/` (+ `models.config`);
3. starts `kerasnets serve` (TensorFlow Serving's REST API) in a subprocess,
   waits for the new version to be AVAILABLE, sends a `:predict` request with
   a few test images, prints predicted vs true labels, and stops the server.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import keras

from kerasnets.data import load_image_classification
from kerasnets.data.images import CLASS_NAMES
from kerasnets.training import train

RECIPE = "lenet5-fashion_mnist"
FASHION_MNIST_CLASSES = CLASS_NAMES["fashion_mnist"]
REQUEST_IMAGES = 8


def free_port(host="127.0.0.1"):
    """A TCP port nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class _SummaryAndModel(keras.callbacks.Callback):
    """Prints the model's summary before training; keeps the model for the export afterwards."""

    def on_train_begin(self, logs=None):
        self.model.summary()


def train_lenet5(
    epochs=5, batch_size=None, data_dir=None, train_split="train", test_split="test", output=None,
):  # fmt: skip
    """LeNet-5 on Fashion-MNIST through the recipe: returns (model, test accuracy, (test images, test labels)).

    `batch_size` None is the recipe's (128); `output` gets the run's records
    (metrics.json, history.csv, logs/), None: a temporary folder, removed.
    """
    summary_and_model = _SummaryAndModel()
    overrides = dict(train_split=train_split, eval_split=test_split, data_dir=data_dir)
    with tempfile.TemporaryDirectory(prefix="kerasnets-demo-") as scratch:
        _, metrics = train(
            RECIPE, epochs=epochs, batch_size=batch_size, overrides=overrides, output=output or scratch,
            save_model=False, extra_callbacks=[summary_and_model],
        )  # fmt: skip
    test = load_image_classification(
        "fashion_mnist", split=test_split, batch_size=REQUEST_IMAGES, shuffle=False, data_dir=data_dir
    )
    images, labels = next(iter(test))
    return summary_and_model.model, metrics["accuracy"], (images.numpy(), labels.numpy())


def wait_until_available(client, version, server, timeout=120):
    """Polls the model's status until `version` is AVAILABLE (or the server dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited early with code {server.returncode}")
        try:
            status = client.status(version=version)
            if status["model_version_status"][0]["state"] == "AVAILABLE":
                return
        except Exception:  # noqa: BLE001 - not up yet: connection refused, 404 while loading
            pass
        time.sleep(0.5)
    raise TimeoutError(f"version {version} was not AVAILABLE after {timeout} s")


def run(
    epochs=5, base_dir="saved_models", port=None, keep_serving=False, data_dir=None,
    train_split="train", test_split="test", output=None,
):  # fmt: skip
    """Runs the demo; returns (test accuracy, the served predictions). `output`: see `train_lenet5`."""
    from kerasnets.export import export_model
    from kerasnets.serving import Client

    model, accuracy, (images, labels) = train_lenet5(
        epochs=epochs, data_dir=data_dir, train_split=train_split, test_split=test_split, output=output
    )
    print(f"\nTest accuracy after {epochs} epoch(s): {accuracy:.4f}")

    exported = export_model(model, "lenet5", base_dir=base_dir, class_names=FASHION_MNIST_CLASSES)
    print(f"Exported version {exported.version} to {exported.path} (signatures: {', '.join(exported.signatures)})")

    port = port or free_port()
    command = [
        sys.executable, "-m", "kerasnets", "serve",
        f"--rest_api_port={port}", "--port=0", "--model_name=lenet5", f"--model_base_path={os.path.abspath(os.path.join(base_dir, 'lenet5'))}",
    ]  # fmt: skip
    print("\n$ " + " ".join(command[2:]).replace("-m kerasnets", "kerasnets"))
    environment = dict(os.environ)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up banner
    server = subprocess.Popen(command, env=environment)
    predictions = None
    try:
        client = Client(f"http://127.0.0.1:{port}", "lenet5")
        wait_until_available(client, exported.version, server)
        body = {"instances": images.tolist()}
        request_file = os.path.abspath(os.path.join(base_dir, "lenet5-request.json"))
        with open(request_file, "w") as handle:
            json.dump(body, handle)
        print(
            f"\n$ curl -X POST http://127.0.0.1:{port}/v1/models/lenet5:predict -d @{request_file}"
            f"    # {len(images)} test images, 28x28x1 floats"
        )
        predictions = client.predict(instances=body["instances"])
        print(json.dumps({"predictions": [{k: p[k] for k in ("label", "class_id", "score")} for p in predictions]})[:400] + " …")
        print(f"\n{'predicted':<14}{'true':<14}{'score':>6}")
        hits = 0
        for prediction, label in zip(predictions, labels):
            true_name = FASHION_MNIST_CLASSES[int(label)]
            hits += prediction["label"] == true_name
            print(f"{prediction['label']:<14}{true_name:<14}{prediction['score']:>6.3f}")
        print(f"{hits}/{len(labels)} correct over REST")
        if keep_serving:
            print(f"\nServing on http://127.0.0.1:{port}/v1/models/lenet5 — Ctrl-C to stop.")
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    return accuracy, predictions
