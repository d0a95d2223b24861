"""TF Serving's gRPC API, through the official client (generated stubs, tf.make_tensor_proto) over 127.0.0.1.

Most tests talk to a gRPC server on the shared REST server's `ModelManager`
(one set of loaded servables for both APIs); the ModelServer hook, the
request observer and HandleReloadConfigRequest use a small server of their own.
"""

import concurrent.futures
import logging
import os

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from kerasnets.serving import Code, ModelServer, single_model_config
from kerasnets.serving.grpc_server import GrpcServer

from tests.serving.conftest import MAX_REQUEST_BYTES

TIMEOUT = 10.0


@pytest.fixture(scope="module")
def grpc_server(server):
    """gRPC on the shared server's manager."""
    calls = []
    grpc_server = GrpcServer(server.manager, host="127.0.0.1", port=0, max_threads=4,
                             max_request_bytes=MAX_REQUEST_BYTES, request_observer=lambda *call: calls.append(call))
    grpc_server.calls = calls
    grpc_server.start()
    yield grpc_server
    grpc_server.stop()


@pytest.fixture(scope="module")
def channel(grpc_server):
    with grpc.insecure_channel(f"127.0.0.1:{grpc_server.port}") as channel:
        yield channel


@pytest.fixture(scope="module")
def predictions(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def models(channel):
    return model_service_pb2_grpc.ModelServiceStub(channel)


def predict_request(name, inputs, signature_name=None, version=None, label=None, output_filter=()):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if signature_name is not None:
        request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(value if isinstance(value, tensor_pb2.TensorProto)
                                     else tf.make_tensor_proto(value))
    request.output_filter.extend(output_filter)
    return request


def rpc_error(call, request):
    with pytest.raises(grpc.RpcError) as caught:
        call(request, TIMEOUT)
    return caught.value.code(), caught.value.details()


def outputs_of(response):
    return {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}


def feed_name(server, model, alias, signature="serving_default"):
    return server.manager.servable(model).signature_defs[signature].inputs[alias].name


# --------------------------------------------------------------------------
# Predict
# --------------------------------------------------------------------------


def test_predict_equals_the_signature_called_in_process(predictions, saved_models):
    features = np.array([[0.1, -2.0, 3.0], [1.5, 0.0, -0.5]], np.float32)
    response = predictions.Predict(predict_request("keras_model", {"features": features}), TIMEOUT)
    expected = tf.saved_model.load(f"{saved_models['keras_model']}/1").signatures["serving_default"](
        features=tf.constant(features))
    got = outputs_of(response)
    assert sorted(got) == sorted(expected) == ["class_id", "probabilities"]
    for key, tensor in expected.items():
        assert got[key].dtype == tensor.numpy().dtype
        np.testing.assert_array_equal(got[key], tensor.numpy())
    # TF Serving's default encoding: typed value fields (Tensor::AsProtoField), not tensor_content.
    probabilities = response.outputs["probabilities"]
    assert not probabilities.tensor_content
    assert [d.size for d in probabilities.tensor_shape.dim] == [2, 2]
    np.testing.assert_array_equal(np.array(probabilities.float_val, np.float32), expected["probabilities"].numpy().ravel())
    assert (response.model_spec.name, response.model_spec.version.value, response.model_spec.signature_name) == (
        "keras_model", 1, "serving_default")


def test_strings_and_special_dtypes_round_trip(predictions):
    text = np.array([b"abc", b"\xff\x00z"], dtype=object)
    got = outputs_of(predictions.Predict(predict_request("strings", {"text": text}), TIMEOUT))
    assert got["upper"].tolist() == [b"ABC", b"\xff\x00Z"]
    assert got["echo_bytes"].tolist() == text.tolist()
    assert got["length"].dtype == np.int32 and got["length"].tolist() == [3, 3]
    inputs = {"i64": np.array([2**40, -3], np.int64), "flag": np.array([True, False]),
              "d": np.array([0.1, 1e300]), "u8": np.array([0, 254], np.uint8)}
    got = outputs_of(predictions.Predict(predict_request("dtypes", inputs), TIMEOUT))
    assert got["i64"].dtype == np.int64 and got["i64"].tolist() == [2**41, -6]
    assert got["flag"].tolist() == [False, True]
    assert got["d"].dtype == np.float64 and got["d"].tolist() == [0.2, 2e300]
    assert got["u8"].dtype == np.uint8 and got["u8"].tolist() == [1, 255]
    got = outputs_of(predictions.Predict(
        predict_request("multi", {"a": np.array([[1, 2], [3, 4]], np.float32), "b": np.array([10, -1], np.int32)}),
        TIMEOUT))
    assert got["sum"].tolist() == [13.0, 6.0]
    assert got["scaled"].tolist() == [[10.0, 20.0], [-3.0, -4.0]]


def test_typed_value_fields_and_fill_are_read_like_tensor_from_proto(predictions):
    proto = tf.make_tensor_proto(np.zeros(0, np.float32))
    proto.tensor_shape.dim[0].size = 4
    proto.float_val.extend([1.0, 2.0])  # fewer values than elements: the last one repeats
    got = outputs_of(predictions.Predict(predict_request("half", {"x": proto}, version=1), TIMEOUT))
    assert got["y"].tolist() == [2.5, 3.0, 3.0, 3.0]


@pytest.mark.parametrize(
    "spec, offset, version",
    [({}, 3.0, 2), ({"version": 1}, 2.0, 1), ({"version": 2}, 3.0, 2),
     ({"label": "stable"}, 2.0, 1), ({"label": "canary"}, 3.0, 2)],
)
def test_version_and_version_label(predictions, spec, offset, version):
    response = predictions.Predict(predict_request("half", {"x": np.array([2.0], np.float32)}, **spec), TIMEOUT)
    assert outputs_of(response)["y"].tolist() == [1.0 + offset]
    assert response.model_spec.version.value == version
    assert response.model_spec.name == "half"


def test_signature_name_and_output_filter(predictions):
    x = np.array([3.0, 6.0], np.float32)
    response = predictions.Predict(predict_request("half", {"x": x}, signature_name="times_three"), TIMEOUT)
    assert outputs_of(response)["y"].tolist() == [9.0, 18.0]
    assert response.model_spec.signature_name == "times_three"
    response = predictions.Predict(
        predict_request("half", {"x": x}, signature_name="both", version=1, output_filter=["x_as_double"]), TIMEOUT)
    assert list(response.outputs) == ["x_as_double"]
    assert response.outputs["x_as_double"].dtype == tf.float64.as_datatype_enum
    assert outputs_of(response)["x_as_double"].tolist() == [1.0, 2.0]


def test_not_found(predictions):
    x = {"x": np.array([1.0], np.float32)}
    assert rpc_error(predictions.Predict, predict_request("nope", x)) == (
        grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)")
    assert rpc_error(predictions.Predict, predict_request("half", x, version=9)) == (
        grpc.StatusCode.NOT_FOUND, "Servable not found for request: Specific(half, 9)")
    assert rpc_error(predictions.Predict, predict_request("half", x, label="nightly")) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Unrecognized servable version label: nightly")
    assert rpc_error(predictions.Predict, predict_request("half", x, signature_name="nope")) == (
        grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "nope" not found.')


def test_invalid_arguments(predictions, server):
    x = np.array([1.0], np.float32)
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error(predictions.Predict, predict_pb2.PredictRequest()) == (invalid, "Missing ModelSpec")
    assert rpc_error(predictions.Predict, predict_request("", {"x": x})) == (
        invalid, "ModelSpec has no name specified.")
    assert rpc_error(predictions.Predict, predict_request("half", {"z": x})) == (
        invalid,
        f"Signature input alias: x(feed name: {feed_name(server, 'half', 'x')}) not found in request and no default "
        "value provided. Inputs expected to be in the request {z}, or default input alias set: ",
    )
    assert rpc_error(predictions.Predict, predict_request("half", {"x": x, "z": x})) == (
        invalid,
        "input size does not match signature: 2!=1 len({x,z}) != len({x}). Sent extra: {z}. Missing but required: {}.",
    )
    assert rpc_error(predictions.Predict, predict_request("half", {"x": np.array([1, 2], np.int32)})) == (
        invalid, "Expects arg[0] to be float but int32 is provided")
    assert rpc_error(predictions.Predict, predict_request("strings", {"text": x})) == (
        invalid, "Expects arg[0] to be string but float is provided")
    assert rpc_error(predictions.Predict, predict_request("half", {"x": x}, output_filter=["q"])) == (
        invalid, "output tensor alias not found in signature: q Outputs expected to be in the set {y}.")
    assert rpc_error(predictions.Predict,
                     predict_request("half", {"x": x}, signature_name="both", output_filter=["y", "y"])) == (
        invalid, "duplicate output tensor alias: y")
    short = tf.make_tensor_proto(np.zeros(3, np.float32))
    short.tensor_content = short.tensor_content[:5]
    assert rpc_error(predictions.Predict, predict_request("half", {"x": short})) == (
        invalid, "tensor parsing error: x")
    code, message = rpc_error(predictions.Predict, predict_request("half", {"x": np.ones((2, 2), np.float32)}))
    assert code == invalid and message.startswith("Input 'x' has shape [2,2], but signature")


def test_oversized_requests_are_refused_and_the_server_keeps_serving(predictions):
    huge = tf.make_tensor_proto(np.zeros(0, np.float32))
    huge.tensor_shape.dim[0].size = 2**40
    huge.float_val.append(1.0)  # 4 TiB once filled
    code, message = rpc_error(predictions.Predict, predict_request("half", {"x": huge}))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert message == (f"Input 'x' would decode to {4 * 2**40} bytes; this server's limit for a request's inputs is "
                       f"{MAX_REQUEST_BYTES} bytes (kerasnets serve --max_request_bytes)")
    big = np.zeros(MAX_REQUEST_BYTES // 4 + 16, np.float32)  # a message above the server's receive limit
    code, _ = rpc_error(predictions.Predict, predict_request("half", {"x": big}))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    response = predictions.Predict(predict_request("half", {"x": np.array([4.0], np.float32)}), TIMEOUT)
    assert outputs_of(response)["y"].tolist() == [5.0]


def test_long_messages_are_truncated_as_tf_serving_does(predictions):
    label = "L" * 2000
    code, message = rpc_error(predictions.Predict, predict_request("half", {"x": np.ones(1, np.float32)}, label=label))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message == ("Unrecognized servable version label: " + label)[:1024] + "...TRUNCATED"


def test_concurrent_predicts_get_their_own_answers(predictions):
    def one(i):
        response = predictions.Predict(predict_request("half", {"x": np.full(i + 1, i, np.float32)}, version=1), TIMEOUT)
        return outputs_of(response)["y"].tolist()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(16)))
    assert results == [[0.5 * i + 2.0] * (i + 1) for i in range(16)]


# --------------------------------------------------------------------------
# Classify, Regress, MultiInference
# --------------------------------------------------------------------------


def example(**features):
    result = tf.train.Example()
    for key, value in features.items():
        result.features.feature[key].float_list.value.append(value)
    return result


def sigmoid(value):
    return 1.0 / (1.0 + np.exp(-value))


def test_classify_and_regress(predictions):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "classifier"
    request.input.example_list.examples.extend([example(x=0.5, bias=0.25), example(x=-2.0)])
    response = predictions.Classify(request, TIMEOUT)
    assert (response.model_spec.name, response.model_spec.version.value, response.model_spec.signature_name) == (
        "classifier", 1, "serving_default")
    rows = [[(c.label, c.score) for c in classification.classes] for classification in response.result.classifications]
    assert [[label for label, _ in row] for row in rows] == [["neg", "pos"]] * 2
    for row, logit in zip(rows, (0.75, -2.0)):
        np.testing.assert_allclose([score for _, score in row], [1 - sigmoid(logit), sigmoid(logit)], rtol=1e-6)

    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "classifier"
    request.model_spec.signature_name = "regress"
    with_context = request.input.example_list_with_context
    with_context.context.CopyFrom(example(bias=1.0))
    with_context.examples.extend([example(x=3.0), example(x=1.0, bias=-1.0)])  # the example's own bias wins
    response = predictions.Regress(request, TIMEOUT)
    np.testing.assert_allclose([r.value for r in response.result.regressions], [7.0, 1.0])
    assert response.model_spec.signature_name == "regress"


def test_classify_errors(predictions):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "half"
    request.input.example_list.examples.append(example(x=1.0))
    code, message = rpc_error(predictions.Classify, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith("No classification inputs found in SignatureDef: ")
    request.model_spec.signature_name = "nope"
    assert rpc_error(predictions.Classify, request) == (
        grpc.StatusCode.INVALID_ARGUMENT, "No signature was found with the name: nope")
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "classifier"
    assert rpc_error(predictions.Classify, request) == (grpc.StatusCode.INVALID_ARGUMENT, "Input is empty.")
    assert rpc_error(predictions.Regress, regression_pb2.RegressionRequest()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


def test_multi_inference(predictions):
    request = inference_pb2.MultiInferenceRequest()
    classify = request.tasks.add()
    classify.model_spec.name = "classifier"
    classify.method_name = "tensorflow/serving/classify"
    regress = request.tasks.add()
    regress.model_spec.name = "classifier"
    regress.model_spec.signature_name = "regress"
    regress.method_name = "tensorflow/serving/regress"
    request.input.example_list.examples.extend([example(x=1.0), example(x=0.0, bias=2.0)])
    response = predictions.MultiInference(request, TIMEOUT)
    first, second = response.results
    assert first.model_spec.signature_name == "serving_default" and first.model_spec.version.value == 1
    np.testing.assert_allclose([c.classes[1].score for c in first.classification_result.classifications],
                               sigmoid(np.array([1.0, 2.0])), rtol=1e-6)
    assert second.model_spec.signature_name == "regress"
    np.testing.assert_allclose([r.value for r in second.regression_result.regressions], [2.0, 2.0])

    regress.model_spec.signature_name = ""
    assert rpc_error(predictions.MultiInference, request) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Duplicate evaluation of signature: serving_default")
    regress.model_spec.signature_name = "predict_x"
    regress.method_name = "tensorflow/serving/predict"
    assert rpc_error(predictions.MultiInference, request) == (
        grpc.StatusCode.UNIMPLEMENTED, "Unsupported signature method_name: tensorflow/serving/predict")
    regress.model_spec.name = "half"
    assert rpc_error(predictions.MultiInference, request) == (
        grpc.StatusCode.INVALID_ARGUMENT, "All ModelSpecs in a MultiInferenceRequest must access the same model name.")
    assert rpc_error(predictions.MultiInference, inference_pb2.MultiInferenceRequest()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified.")


# --------------------------------------------------------------------------
# GetModelMetadata, GetModelStatus
# --------------------------------------------------------------------------


def test_get_model_metadata_signature_def(predictions, saved_models):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "half"
    request.model_spec.version_label = "stable"
    request.metadata_field.append("signature_def")
    response = predictions.GetModelMetadata(request, TIMEOUT)
    assert (response.model_spec.name, response.model_spec.version.value, response.model_spec.signature_name) == (
        "half", 1, "")
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_map)
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_models["half"], "1", "saved_model.pb"), "rb") as handle:
        saved_model.ParseFromString(handle.read())
    assert dict(signature_map.signature_def) == dict(saved_model.meta_graphs[0].signature_def)
    assert {"serving_default", "times_three", "both"} <= set(signature_map.signature_def)

    request.ClearField("metadata_field")
    assert rpc_error(predictions.GetModelMetadata, request) == (
        grpc.StatusCode.INVALID_ARGUMENT, "GetModelMetadataRequest must specify at least one metadata_field")
    request.metadata_field.append("graph")
    assert rpc_error(predictions.GetModelMetadata, request) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Metadata field graph is not supported")


def test_get_model_status_matches_rest(models, http):
    request = get_model_status_pb2.GetModelStatusRequest()
    for name in ("half", "broken"):
        request.model_spec.name = name
        response = models.GetModelStatus(request, TIMEOUT)
        as_json = json_format.MessageToDict(response, always_print_fields_with_no_presence=True)
        assert as_json == http.get(f"/v1/models/{name}").json()
    request.model_spec.name = "half"
    states = [(s.version, s.state, s.status.error_code) for s in models.GetModelStatus(request, TIMEOUT).model_version_status]
    available = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert states == [(2, available, 0), (1, available, 0)]
    request.model_spec.version.value = 1
    assert [s.version for s in models.GetModelStatus(request, TIMEOUT).model_version_status] == [1]
    request.model_spec.version.value = 9
    assert rpc_error(models.GetModelStatus, request) == (
        grpc.StatusCode.NOT_FOUND, "Could not find version 9 of model half")
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "nope"
    assert rpc_error(models.GetModelStatus, request) == (
        grpc.StatusCode.NOT_FOUND, "Could not find any versions of model nope")
    assert rpc_error(models.GetModelStatus, get_model_status_pb2.GetModelStatusRequest()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


def test_request_observer_sees_every_finished_rpc(grpc_server, predictions):
    before = len(grpc_server.calls)
    predictions.Predict(predict_request("half", {"x": np.ones(1, np.float32)}), TIMEOUT)
    rpc_error(predictions.Predict, predict_request("nope", {"x": np.ones(1, np.float32)}))
    new = grpc_server.calls[before:]
    assert [call[:4] for call in new] == [("half", "Predict", "GRPC", Code.OK), ("nope", "Predict", "GRPC", Code.NOT_FOUND)]
    assert all(isinstance(call[4], float) and 0 < call[4] < TIMEOUT for call in new)


# --------------------------------------------------------------------------
# ModelServer(grpc_port=0) and HandleReloadConfigRequest
# --------------------------------------------------------------------------


def test_model_server_grpc_port_0_reload_and_stop(saved_models, caplog):
    def observer(*call):
        calls.append(call)
        raise RuntimeError("a broken observer must not fail the request")

    calls = []
    with caplog.at_level(logging.INFO, logger="kerasnets.serving"):
        server = ModelServer(single_model_config("half", saved_models["half"]), port=0, grpc_port=0,
                             file_system_poll_wait_seconds=0, request_observer=observer).start()
    try:
        port = server.grpc_port_bound
        assert port and port != server.port and server.grpc_target == f"127.0.0.1:{port}"
        assert f"Running gRPC ModelServer at 127.0.0.1:{port} ..." in caplog.messages
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        response = predictions.Predict(predict_request("half", {"x": np.array([2.0], np.float32)}), TIMEOUT)
        assert outputs_of(response)["y"].tolist() == [4.0]
        assert [call[:4] for call in calls] == [("half", "Predict", "GRPC", Code.OK)]

        reload = model_management_pb2.ReloadConfigRequest()
        for name in ("half", "multi"):
            model = reload.config.model_config_list.config.add()
            model.name, model.base_path, model.model_platform = name, saved_models[name], "tensorflow"
        reload.metric_names.append(":tensorflow:cc:saved_model:load_attempt_count")
        answer = models.HandleReloadConfigRequest(reload, TIMEOUT)
        assert answer.status.error_code == 0 and answer.status.error_message == ""
        assert [m.name for m in answer.metric] == [":tensorflow:cc:saved_model:load_attempt_count"]
        status = get_model_status_pb2.GetModelStatusRequest()
        status.model_spec.name = "multi"
        assert [s.state for s in models.GetModelStatus(status, TIMEOUT).model_version_status] == [
            get_model_status_pb2.ModelVersionStatus.AVAILABLE]
        response = predictions.Predict(
            predict_request("multi", {"a": np.ones((1, 2), np.float32), "b": np.array([2], np.int32)}), TIMEOUT)
        assert outputs_of(response)["sum"].tolist() == [4.0]

        reload.config.model_config_list.config[1].base_path = "relative/multi"
        assert rpc_error(models.HandleReloadConfigRequest, reload) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "Expected model multi to have an absolute path or URI; got base_path()=relative/multi")
        assert rpc_error(models.HandleReloadConfigRequest, model_management_pb2.ReloadConfigRequest()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is currently "
            "supported")
        assert models.GetModelStatus(status, TIMEOUT).model_version_status[0].version == 1  # kept the good config
    finally:
        server.stop()
    with pytest.raises(grpc.RpcError) as caught:
        predictions.Predict(predict_request("half", {"x": np.ones(1, np.float32)}), 2.0)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    channel.close()


def test_signature_method_name_check(server):
    checked = GrpcServer(server.manager, host="127.0.0.1", port=0, max_threads=2,
                         enable_signature_method_name_check=True).start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{checked.port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request = classification_pb2.ClassificationRequest()
            request.model_spec.name = "classifier"
            request.input.example_list.examples.append(example(x=1.0))
            assert rpc_error(stub.Classify, request) == (
                grpc.StatusCode.INVALID_ARGUMENT,
                "Expected classification signature method_name to be tensorflow/serving/classify. "
                "Was: tensorflow/serving/predict")
            response = stub.Predict(predict_request("half", {"x": np.ones(1, np.float32)}, version=1), TIMEOUT)
            assert outputs_of(response)["y"].tolist() == [2.5]  # predict signatures pass the check
    finally:
        checked.stop()
