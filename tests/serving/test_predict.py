""":predict, :classify and :regress over real HTTP, answers byte for byte as TF Serving writes them."""

import base64
import json

import numpy as np
import pytest

from tests.serving.conftest import error_of


def test_row_format_single_output_exact_bytes(http):
    response = http.post("/v1/models/half:predict", '{"instances": [1.0, 2.0, 5.0]}')
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == b'{\n    "predictions": [3.5, 4.0, 5.5\n    ]\n}'


def test_columnar_format_exact_bytes(http):
    response = http.post("/v1/models/half:predict", '{"inputs": [1.0, 2.0]}')
    assert response.content == b'{\n    "outputs": [\n        3.5,\n        4.0\n    ]\n}'
    # one named input given as an object
    assert http.post("/v1/models/half:predict", '{"inputs": {"x": [1.0]}}').json() == {"outputs": [3.5]}


def test_named_instances_for_a_single_input(http):
    assert http.post("/v1/models/half:predict", '{"instances": [{"x": 1.0}, {"x": 3}]}').json() == {
        "predictions": [3.5, 4.5]
    }


def test_signature_name_and_several_outputs(http):
    assert http.post("/v1/models/half:predict", '{"instances": [1.0], "signature_name": "times_three"}').json() == {
        "predictions": [3.0]
    }
    row = http.post("/v1/models/half/versions/1:predict", '{"signature_name": "both", "instances": [1.0, 2.0]}')
    assert row.json() == {"predictions": [{"x_as_double": 0.3333333333333333, "y": 2.5},
                                          {"x_as_double": 0.6666666666666666, "y": 3.0}]}
    assert b'"x_as_double": 0.33333333333333331' in row.content  # doubles: 17 digits when needed
    columnar = http.post("/v1/models/half/versions/1:predict", '{"signature_name": "both", "inputs": [3.0]}')
    assert columnar.json() == {"outputs": {"x_as_double": [1.0], "y": [3.5]}}


def test_versions_and_labels_pick_the_model(http):
    body = '{"instances": [1.0]}'
    assert http.post("/v1/models/half:predict", body).json() == {"predictions": [3.5]}  # latest = 2
    assert http.post("/v1/models/half/versions/1:predict", body).json() == {"predictions": [2.5]}
    assert http.post("/v1/models/half/versions/2:predict", body).json() == {"predictions": [3.5]}
    assert http.post("/v1/models/half/labels/stable:predict", body).json() == {"predictions": [2.5]}
    assert http.post("/v1/models/half/labels/canary:predict", body).json() == {"predictions": [3.5]}


def test_nan_and_infinity_both_ways(http):
    response = http.post("/v1/models/half:predict", '{"inputs": {"x": [NaN, Infinity, -Infinity, 0.1]}}')
    assert response.content == (
        b'{\n    "outputs": [\n        NaN,\n        Infinity,\n        -Infinity,\n        3.05\n    ]\n}'
    )
    values = json.loads(response.content)["outputs"]
    assert np.isnan(values[0]) and values[1:] == [float("inf"), float("-inf"), 3.05]
    # rapidjson also reads Inf / -Inf / -NaN
    assert http.post("/v1/models/half:predict", '{"instances": [Inf, -Inf]}').json() == {
        "predictions": [float("inf"), float("-inf")]
    }


def test_multi_input_model(http):
    rows = http.post("/v1/models/multi:predict", '{"instances": [{"a": [1, 2], "b": 3}, {"a": [3, 4], "b": 1}]}')
    assert rows.json() == {"predictions": [{"scaled": [3.0, 6.0], "sum": 6.0}, {"scaled": [3.0, 4.0], "sum": 8.0}]}
    columns = http.post("/v1/models/multi:predict", '{"inputs": {"a": [[1, 2], [3, 4]], "b": [3, 1]}}')
    assert columns.json() == {"outputs": {"scaled": [[3.0, 6.0], [3.0, 4.0]], "sum": [6.0, 8.0]}}
    plain = http.post("/v1/models/multi:predict", '{"instances": [[1, 2]]}')
    assert plain.status_code == 400
    assert error_of(plain) == (
        "instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map"
    )
    missing = http.post("/v1/models/multi:predict", '{"inputs": {"a": [[1, 2]]}}')
    assert error_of(missing) == "Missing named input: b in 'inputs' object."


def test_strings_b64_and_bytes_outputs(http):
    response = http.post("/v1/models/strings:predict", '{"instances": ["h\\u00e9llo", {"b64": "d29ybGQ="}]}')
    assert response.json() == {"predictions": [
        {"echo_bytes": {"b64": base64.b64encode("héllo".encode()).decode()}, "length": 6, "upper": "HéLLO"},
        {"echo_bytes": {"b64": "d29ybGQ="}, "length": 5, "upper": "WORLD"},
    ]}
    assert b'"echo_bytes": {\n                "b64": "d29ybGQ="\n            }' in response.content


def test_non_utf8_string_outputs_are_written_raw(http):
    response = http.post("/v1/models/strings:predict", '{"signature_name": "raw", "instances": ["ok", {"b64": "/w=="}]}')
    assert response.status_code == 200
    assert response.content == b'{\n    "predictions": ["ok\xff", "\xff\xff"\n    ]\n}'


def test_dtypes(http):
    response = http.post(
        "/v1/models/dtypes:predict",
        '{"instances": [{"i64": 1099511627776, "flag": true, "d": 0.1, "u8": 255}]}',
    )
    assert response.json() == {"predictions": [{"d": 0.2, "flag": False, "i64": 2199023255552, "u8": 0}]}
    error = http.post("/v1/models/dtypes:predict", '{"inputs": {"i64": [1.5], "flag": [true], "d": [1], "u8": [1]}}')
    assert error.status_code == 400
    assert error_of(error) == "JSON Value: 1.5 Type: Number is not of expected type: int64"
    error = http.post("/v1/models/dtypes:predict", '{"inputs": {"i64": [1], "flag": [1], "d": [1], "u8": [1]}}')
    assert error_of(error) == "JSON Value: 1 Type: Number is not of expected type: bool"


def test_keras_export_archive_model(http, saved_models):
    import keras

    response = http.post("/v1/models/keras_model:predict", '{"instances": [[1, 2, 3], [0, -1, 0.5]]}')
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert [set(row) for row in predictions] == [{"class_id", "probabilities"}] * 2
    reloaded = keras.layers.TFSMLayer(f"{saved_models['keras_model']}/1", call_endpoint="serving_default")
    expected = reloaded(np.array([[1, 2, 3], [0, -1, 0.5]], np.float32))
    np.testing.assert_allclose([row["probabilities"] for row in predictions], expected["probabilities"], rtol=1e-6)
    assert [row["class_id"] for row in predictions] == expected["class_id"].numpy().tolist()
    signature = http.get("/v1/models/keras_model/metadata").json()["metadata"]["signature_def"]["signature_def"]
    features = signature["serving_default"]["inputs"]["features"]
    assert [d["size"] for d in features["tensor_shape"]["dim"]] == ["-1", "3"]


def test_shapes_are_checked_against_the_signature(http):
    # TF Serving feeds any shape and lets the kernels fail, but some CPU kernels abort the
    # process instead (oneDNN Conv2D on the wrong rank): this server refuses first.
    response = http.post("/v1/models/half:predict", '{"instances": [[1.0, 2.0]]}')
    assert response.status_code == 400
    assert error_of(response) == "Input 'x' has shape [1,2], but signature 'serving_default' expects [-1] (-1: any size)."
    assert http.post("/v1/models/half:predict", '{"instances": [1.0, 2.0]}').json() == {"predictions": [3.5, 4.0]}
    # Shapes that fit the signature but not each other are still the model's to refuse.
    error = http.post("/v1/models/multi:predict", '{"inputs": {"a": [[1, 2], [3, 4]], "b": [1, 2, 3]}}')
    assert error.status_code == 400 and "Incompatible shapes" in error_of(error)


def test_classify_and_regress(http):
    response = http.post("/v1/models/classifier:classify", '{"examples": [{"x": 0.0}, {"x": 1.0, "bias": -1.0}]}')
    assert response.status_code == 200
    assert response.json() == {"results": [[["neg", 0.5], ["pos", 0.5]], [["neg", 0.5], ["pos", 0.5]]]}
    assert response.content == (
        b'{\n    "results": [[["neg", 0.5], ["pos", 0.5]], [["neg", 0.5], ["pos", 0.5]]\n    ]\n}'
    )
    regress = http.post(
        "/v1/models/classifier:regress",
        '{"signature_name": "regress", "context": {"bias": 1.0}, "examples": [{"x": 0.5}, {"x": 2.5, "bias": 0.0}]}',
    )
    assert regress.content == b'{\n    "results": [2.0, 5.0]\n}'
    # A JSON integer is an int64 feature, which this model's float feature rejects (a TF error, 400).
    mismatch = http.post("/v1/models/classifier:regress", '{"signature_name": "regress", "examples": [{"x": 2}]}')
    assert mismatch.status_code == 400 and "Data types don't match" in error_of(mismatch)


@pytest.mark.parametrize(
    "path, body, message",
    [
        ("/v1/models/half:classify", '{"examples": [{"x": 1.0}]}', "No classification inputs found in SignatureDef: "),
        ("/v1/models/half:regress", '{"examples": [{"x": 1.0}]}', "No regression inputs found in SignatureDef: "),
        ("/v1/models/multi:regress", '{"examples": [{"x": 1.0}]}', "Expected one input Tensor."),
        ("/v1/models/half:regress", '{"signature_name": "both", "examples": [{}]}', "Expected one output Tensor."),
        ("/v1/models/classifier:classify", '{"signature_name": "nope", "examples": [{}]}',
         "No signature was found with the name: nope"),
        ("/v1/models/classifier:regress", '{"examples": [{}]}', "Expected one output Tensor."),
        ("/v1/models/classifier:classify", '{"signature_name": "regress", "examples": [{}]}',
         'Expected classification signature outputs to contain at least one of "classes" or "scores". Signature was: '),
    ],
)
def test_classify_and_regress_on_other_signatures(http, path, body, message):
    response = http.post(path, body)
    assert response.status_code == 400
    assert error_of(response).startswith(message)


def test_classify_error_carries_the_signature_debug_string(http):
    message = error_of(http.post("/v1/models/half:regress", '{"examples": [{"x": 1.0}]}'))
    assert message.startswith('No regression inputs found in SignatureDef: inputs {\n  key: "x"\n  value {\n')
    assert message.endswith('method_name: "tensorflow/serving/predict"\n')


def test_method_name_check_flag(server):
    from kerasnets.serving import RestApiHandler

    checking = RestApiHandler(server.manager, enable_signature_method_name_check=True)
    answer = checking.handle("POST", "/v1/models/half:classify", b'{"examples": [{"x": 1.0}]}')
    assert answer.status == 400
    assert json.loads(answer.body)["error"] == (
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        "Was: tensorflow/serving/predict"
    )
