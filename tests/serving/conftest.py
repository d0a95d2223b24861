"""Test SavedModels and a running development server (over real HTTP on 127.0.0.1).

The models are built once per session in a temporary `saved_models/`
directory with plain `tf.Module`s (one Keras model goes through
`keras.export.ExportArchive`); the shared server reads a TF Serving model
config file for all of them, listens on a free port (port 0) and runs in a
background thread of the test process.
"""

import contextlib
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import requests  # noqa: E402
import tensorflow as tf  # noqa: E402


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REST_STARTUP_LINE = re.compile(r"Exporting HTTP/REST API at:localhost:(\d+) \.\.\.")
GRPC_STARTUP_LINE = re.compile(r"Running gRPC ModelServer at 127\.0\.0\.1:(\d+) \.\.\.")


class ServedProcess:
    """A `kerasnets serve` subprocess: `process`, the ports of its startup lines, and its output."""

    def __init__(self, process, lines, seen, reader):
        self.process, self._lines, self._seen, self._reader = process, lines, seen, reader
        self.rest_port = self.grpc_port = None

    def wait_for_startup(self, timeout):
        deadline = time.monotonic() + timeout
        while self.rest_port is None and time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=1)
            except queue.Empty:
                assert self.process.poll() is None, "the server exited"
                continue
            for pattern, name in ((GRPC_STARTUP_LINE, "grpc_port"), (REST_STARTUP_LINE, "rest_port")):
                match = pattern.search(line)
                if match:
                    setattr(self, name, int(match.group(1)))
        assert self.rest_port, "no 'Exporting HTTP/REST API at:localhost:PORT ...' line"

    def output(self):
        """Every line printed so far (all of them once the process has ended)."""
        self._reader.join(timeout=10)
        return list(self._seen)


@contextlib.contextmanager
def serve_subprocess(arguments, timeout=90):
    """`python -m kerasnets serve ARGUMENTS` until its REST startup line; killed at the end if still running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kerasnets", "serve", *arguments], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT},
    )  # fmt: skip
    lines, seen = queue.Queue(), []

    def read():
        for line in process.stdout:
            seen.append(line)
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    served = ServedProcess(process, lines, seen, reader)
    try:
        served.wait_for_startup(timeout)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)


# --------------------------------------------------------------------------
# SavedModel builders
# --------------------------------------------------------------------------


def save_half_model(path, offset=2.0):
    """half_plus_two-like: y = 0.5 x + offset, plus `times_three` and a two-output `both`."""

    class Half(tf.Module):
        def __init__(self):
            super().__init__()
            self.offset = tf.Variable(offset, dtype=tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            return {"y": 0.5 * x + self.offset}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def times_three(self, x):
            return {"y": 3.0 * x}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def both(self, x):
            return {"y": 0.5 * x + self.offset, "x_as_double": tf.cast(x, tf.float64) / 3.0}

    module = Half()
    tf.saved_model.save(
        module, path,
        signatures={"serving_default": module.serve, "times_three": module.times_three, "both": module.both},
    )


def save_multi_input_model(path):
    """Inputs a: float32 [None, 2], b: int32 [None] -> sum [None], scaled [None, 2]."""

    class Multi(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="a"),
                                      tf.TensorSpec([None], tf.int32, name="b")])
        def serve(self, a, b):
            b_float = tf.cast(b, tf.float32)
            return {"sum": tf.reduce_sum(a, axis=1) + b_float, "scaled": a * b_float[:, None]}

    module = Multi()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def save_string_model(path):
    """text: string [None] -> upper, length (int32), echo_bytes (b64 on the wire); `raw` adds a 0xFF byte."""

    class Strings(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"upper": tf.strings.upper(text), "length": tf.strings.length(text), "echo_bytes": text}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def raw(self, text):
            return {"raw": tf.strings.join([text, tf.constant(b"\xff")])}

    module = Strings()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve, "raw": module.raw})


def save_dtypes_model(path):
    """One input per dtype TF Serving converts specially: int64, bool, float64, uint8."""

    class Dtypes(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="i64"),
                                      tf.TensorSpec([None], tf.bool, name="flag"),
                                      tf.TensorSpec([None], tf.float64, name="d"),
                                      tf.TensorSpec([None], tf.uint8, name="u8")])
        def serve(self, i64, flag, d, u8):
            return {"i64": i64 * 2, "flag": tf.logical_not(flag), "d": d * 2.0, "u8": u8 + 1}

    module = Dtypes()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def save_classifier_model(path):
    """tf.Example in: `serving_default` classifies (classes + scores), `regress` regresses, `predict_x` predicts."""
    features = {"x": tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
                "bias": tf.io.FixedLenFeature([], tf.float32, default_value=0.0)}

    class Classifier(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def classify(self, inputs):
            parsed = tf.io.parse_example(inputs, features)
            p = tf.sigmoid(parsed["x"] + parsed["bias"])
            count = tf.shape(inputs)[0]
            classes = tf.tile(tf.constant([[b"neg", b"pos"]]), [count, 1])
            return {"classes": classes, "scores": tf.stack([1.0 - p, p], axis=1)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def regress(self, inputs):
            parsed = tf.io.parse_example(inputs, features)
            return {"outputs": 2.0 * parsed["x"] + parsed["bias"]}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def predict_x(self, x):
            return {"y": x}

    module = Classifier()
    tf.saved_model.save(
        module, path,
        signatures={"serving_default": module.classify, "regress": module.regress, "predict_x": module.predict_x},
    )


def save_keras_model(path):
    """A Keras model exported with keras.export.ExportArchive, endpoint returning a dict."""
    import keras

    keras.utils.set_random_seed(7)
    inputs = keras.Input((3,), name="features")
    hidden = keras.layers.Dense(4, activation="relu")(inputs)
    probabilities = keras.layers.Dense(2, activation="softmax", name="probabilities")(hidden)
    model = keras.Model(inputs, probabilities)

    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(features):
        probs = model(features, training=False)
        return {"probabilities": probs, "class_id": tf.argmax(probs, axis=-1, output_type=tf.int32)}

    archive.add_endpoint("serving_default", serve, input_signature=[tf.TensorSpec([None, 3], tf.float32, name="features")])
    archive.write_out(path, verbose=False)
    return model


def write_broken_version(path):
    """A version directory whose saved_model.pb is not a SavedModel."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "saved_model.pb"), "wb") as handle:
        handle.write(b"this is not a protobuf \xff\xff\xff\xff")


MODEL_CONFIG_TEMPLATE = """
model_config_list {{
  config {{
    name: "half"
    base_path: "{root}/half"
    model_platform: "tensorflow"
    model_version_policy {{ all {{}} }}
    version_labels {{ key: "stable" value: 1 }}
    version_labels {{ key: "canary" value: 2 }}
    version_labels {{ key: "future" value: 7 }}
  }}
  config {{ name: "multi" base_path: "{root}/multi" model_platform: "tensorflow" }}
  config {{ name: "strings" base_path: "{root}/strings" model_platform: "tensorflow" }}
  config {{ name: "dtypes" base_path: "{root}/dtypes" model_platform: "tensorflow" }}
  config {{ name: "classifier" base_path: "{root}/classifier" model_platform: "tensorflow" }}
  config {{ name: "keras_model" base_path: "{root}/keras_model" model_platform: "tensorflow" }}
  config {{
    name: "broken"
    base_path: "{root}/broken"
    model_platform: "tensorflow"
    model_version_policy {{ all {{}} }}
  }}
}}
"""


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory):
    """{name: base path} of the test models under one saved_models/ root; also `root`, `config_file`."""
    root = str(tmp_path_factory.mktemp("saved_models"))
    save_half_model(f"{root}/half/1", offset=2.0)
    save_half_model(f"{root}/half/2", offset=3.0)
    save_multi_input_model(f"{root}/multi/1")
    save_string_model(f"{root}/strings/1")
    save_dtypes_model(f"{root}/dtypes/1")
    save_classifier_model(f"{root}/classifier/1")
    save_keras_model(f"{root}/keras_model/1")
    shutil.copytree(f"{root}/half/1", f"{root}/broken/1")
    write_broken_version(f"{root}/broken/2")
    config_file = f"{root}/models.config"
    with open(config_file, "w") as handle:
        handle.write(MODEL_CONFIG_TEMPLATE.format(root=root))
    return {"root": root, "config_file": config_file,
            **{name: f"{root}/{name}" for name in
               ("half", "multi", "strings", "dtypes", "classifier", "keras_model", "broken")}}


# The shared server refuses bodies above this many bytes (the default is 16 MiB).
MAX_REQUEST_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="session")
def server(saved_models):
    from kerasnets.serving import ModelServer, read_model_config_file

    model_server = ModelServer(
        read_model_config_file(saved_models["config_file"]),
        port=0,
        max_request_bytes=MAX_REQUEST_BYTES,
        file_system_poll_wait_seconds=0,
        allow_version_labels_for_unavailable_models=True,
        rest_api_num_threads=4,
    )
    model_server.start()
    yield model_server
    model_server.stop()


@pytest.fixture(scope="session")
def http(server):
    """A requests session plus the server's base URL: http.get("/v1/models/half")."""

    class Http:
        def __init__(self, base):
            self.base = base
            self.session = requests.Session()

        def request(self, method, path, **kwargs):
            kwargs.setdefault("timeout", 30)
            return self.session.request(method, self.base + path, **kwargs)

        def get(self, path, **kwargs):
            return self.request("GET", path, **kwargs)

        def post(self, path, body=None, **kwargs):
            if body is not None:
                kwargs["data"] = body if isinstance(body, bytes) else body.encode("utf-8")
            return self.request("POST", path, **kwargs)

    client = Http(server.url)
    yield client
    client.session.close()


def error_of(response):
    """The `error` message of a JSON error answer."""
    assert response.headers["Content-Type"] == "application/json"
    return response.json()["error"]
