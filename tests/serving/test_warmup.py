"""Warm-up replay at load: records run before AVAILABLE, a bad file fails the load, the flag disables it."""

import os

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from kerasnets.serving import ModelManager, single_model_config
from kerasnets.serving.monitoring import ServingMetrics
from kerasnets.serving.warmup import warmup_path
from tests.serving.conftest import save_half_model


def _write_warmup(version_dir, count):
    os.makedirs(os.path.dirname(warmup_path(version_dir)), exist_ok=True)
    with tf.io.TFRecordWriter(warmup_path(version_dir)) as writer:
        for _ in range(count):
            request = predict_pb2.PredictRequest()
            request.inputs["x"].CopyFrom(tf.make_tensor_proto([1.0, 2.0], tf.float32))
            writer.write(prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString())


def _load(tmp_path, **options):
    metrics = ServingMetrics()
    manager = ModelManager(single_model_config("half", str(tmp_path / "half")), file_system_poll_wait_seconds=0,
                           load_observer=metrics, **options).start()
    status = manager.model_status("half")[0]
    manager.stop()
    return status, metrics


def test_replayed_before_available(tmp_path):
    version = str(tmp_path / "half" / "1")
    save_half_model(version)
    _write_warmup(version, 3)
    status, metrics = _load(tmp_path, num_request_iterations_for_warmup=2)
    assert status.state == "AVAILABLE"
    assert metrics.warmup_records_read.cells == {(version, "OK"): 3}


def test_bad_file_fails_the_load_unless_disabled(tmp_path):
    version = str(tmp_path / "half" / "1")
    save_half_model(version)
    os.makedirs(os.path.dirname(warmup_path(version)))
    with open(warmup_path(version), "wb") as handle:
        handle.write(b"not a tfrecord at all, just bytes")
    status, _ = _load(tmp_path)
    assert status.state == "END" and status.error_code.name == "DATA_LOSS"
    assert status.error_message.endswith(". Please verify your warmup data is in TFRecord format.")
    status, metrics = _load(tmp_path, enable_model_warmup=False)
    assert status.state == "AVAILABLE" and not metrics.warmup_records_read.cells
