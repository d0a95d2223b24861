"""TF Serving's metrics over the REST port, scraped and parsed with prometheus_client's parser."""

import grpc
import numpy as np
import requests
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from kerasnets.serving import ModelServer, single_model_config
from kerasnets.serving.monitoring import parse_monitoring_config
from tests.serving.conftest import save_half_model


def _samples(text):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_after_rest_traffic(tmp_path):
    save_half_model(str(tmp_path / "half" / "1"))
    config = parse_monitoring_config("prometheus_config { enable: true }")
    with ModelServer(single_model_config("half", str(tmp_path / "half")), port=0,
                     file_system_poll_wait_seconds=0, monitoring_config=config) as server:
        for _ in range(3):
            assert requests.post(server.url + "/v1/models/half:predict", json={"instances": [1.0]}).ok
        assert requests.post(server.url + "/v1/models/nope:predict", json={"instances": [1.0]}).status_code == 404
        page = requests.get(server.url + "/monitoring/prometheus/metrics")
        assert page.status_code == 200
        bad = requests.get(server.url + "/monitoring/prometheus/metrics?x=1")
    assert bad.status_code == 400
    samples = _samples(page.text)
    assert samples[(":tensorflow:serving:request_count", (("model_name", "half"), ("status", "OK")))] == 3
    assert samples[(":tensorflow:serving:request_count", (("model_name", "nope"), ("status", "NOT_FOUND")))] == 1
    labels = (("API", "predict"), ("entrypoint", "REST"), ("model_name", "half"))
    assert samples[(":tensorflow:serving:request_latency_count", labels)] == 3
    assert samples[(":tensorflow:serving:request_latency_bucket", tuple(sorted(labels + (("le", "+Inf"),))))] == 3
    path = str(tmp_path / "half" / "1")
    assert samples[(":tensorflow:cc:saved_model:load_attempt_count",
                    (("model_path", path), ("status", "success")))] == 1


def _grpc_predict(stub, name):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([1.0], np.float32)))
    return stub.Predict(request, 10.0)


def test_metrics_count_rest_and_grpc_traffic_apart(tmp_path):
    save_half_model(str(tmp_path / "half" / "1"))
    config = parse_monitoring_config("prometheus_config { enable: true, path: '/metrics' }")
    with ModelServer(single_model_config("half", str(tmp_path / "half")), port=0, grpc_port=0,
                     file_system_poll_wait_seconds=0, monitoring_config=config) as server:
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            for _ in range(2):
                assert list(_grpc_predict(stub, "half").outputs) == ["y"]
            try:
                _grpc_predict(stub, "nope")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
            else:
                raise AssertionError("an unknown model must be NOT_FOUND")
        assert requests.post(server.url + "/v1/models/half:predict", json={"instances": [1.0]}).ok
        page = requests.get(server.url + "/metrics")
        assert requests.get(server.url + "/monitoring/prometheus/metrics").status_code == 404
    assert page.status_code == 200
    samples = _samples(page.text)
    # request_count does not tell the entrypoints apart (TF Serving's labels: model_name, status)
    assert samples[(":tensorflow:serving:request_count", (("model_name", "half"), ("status", "OK")))] == 3
    assert samples[(":tensorflow:serving:request_count", (("model_name", "nope"), ("status", "NOT_FOUND")))] == 1
    grpc_labels = (("API", "Predict"), ("entrypoint", "GRPC"), ("model_name", "half"))
    rest_labels = (("API", "predict"), ("entrypoint", "REST"), ("model_name", "half"))
    assert samples[(":tensorflow:serving:request_latency_count", grpc_labels)] == 2
    assert samples[(":tensorflow:serving:request_latency_count", rest_labels)] == 1
    assert samples[(":tensorflow:serving:request_latency_sum", grpc_labels)] > 0
