"""REST JSON -> tensors with TF Serving's exact rejections (no server needed)."""

import numpy as np
import pytest

from kerasnets.serving.json_codec import parse_document
from kerasnets.serving.json_tensor import (
    DT_BOOL,
    DT_DOUBLE,
    DT_FLOAT,
    DT_INT8,
    DT_INT32,
    DT_INT64,
    DT_STRING,
    DT_UINT8,
    classify_regress_examples,
    predict_request_tensors,
    signature_name_from,
)
from kerasnets.serving.status import Code, StatusError

DT_HALF = 19
FLOAT_X = {"x": DT_FLOAT}
TWO_INPUTS = {"a": DT_FLOAT, "b": DT_INT32}


def tensors(body, dtypes=FLOAT_X):
    return predict_request_tensors(parse_document(body.encode()), dtypes)


def rejection(body, dtypes=FLOAT_X):
    with pytest.raises(StatusError) as caught:
        tensors(body, dtypes)
    return caught.value


def test_row_and_columnar_formats():
    result, row = tensors('{"instances": [1.0, 2, 3]}')
    assert row and result["x"].dtype == np.float32 and result["x"].tolist() == [1.0, 2.0, 3.0]
    result, row = tensors('{"instances": [{"x": [1, 2]}, {"x": [3, 4]}]}')
    assert row and result["x"].shape == (2, 2)
    result, row = tensors('{"inputs": {"x": [[1], [2]]}, "ignored": true}')
    assert not row and result["x"].shape == (2, 1)
    result, _ = tensors('{"inputs": 3}', {"x": DT_INT64})
    assert result["x"].shape == () and result["x"] == 3
    result, _ = tensors('{"instances": [{"a": [1, 2], "b": 3}, {"a": [3, 4], "b": 1}]}', TWO_INPUTS)
    assert result["a"].shape == (2, 2) and result["b"].tolist() == [3, 1]
    result, _ = tensors('{"instances": [[]]}')
    assert result["x"].shape == (1, 0)


def test_dtype_conversions():
    result, _ = tensors('{"inputs": [NaN, Infinity, -Infinity, 1]}')
    assert np.isnan(result["x"][0]) and result["x"][1:].tolist() == [np.inf, -np.inf, 1.0]
    result, _ = tensors('{"inputs": [300, -1]}', {"x": DT_INT8})  # stored as int32 then cast: wraps
    assert result["x"].tolist() == [44, -1]
    result, _ = tensors('{"inputs": [9007199254740993]}', {"x": DT_INT64})
    assert result["x"].tolist() == [9007199254740993]
    result, _ = tensors('{"inputs": [true, false]}', {"x": DT_BOOL})
    assert result["x"].tolist() == [True, False]
    result, _ = tensors('{"inputs": ["h\\u00e9", {"b64": "aGVsbG8="}, {"b64": "aGk"}]}', {"x": DT_STRING})
    assert result["x"].tolist() == ["hé".encode(), b"hello", b"hi"]
    result, _ = tensors('{"instances": [{"b64": "AAE="}]}', {"x": DT_STRING})
    assert result["x"].tolist() == [b"\x00\x01"]
    result, _ = tensors('{"inputs": [0.1]}', {"x": DT_DOUBLE})
    assert result["x"].dtype == np.float64 and result["x"][0] == 0.1


@pytest.mark.parametrize(
    "body, dtypes, message",
    [
        ("{}", FLOAT_X, "Missing 'inputs' or 'instances' key"),
        ('{"instances": 1}', FLOAT_X, "JSON Value: {\n    \"instances\": 1\n} Excepting 'instances' to be an list/array"),
        ('{"instances": []}', FLOAT_X, "JSON Value: {\n    \"instances\": []\n} No values in 'instances' array"),
        (
            '{"instances": [1], "inputs": [1]}',
            FLOAT_X,
            'JSON Value: {\n    "instances": [1],\n    "inputs": [1]\n}'
            " Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ",
        ),
        (
            '{"instances": [[1,2],[3,4],[5,6,7]]}',
            FLOAT_X,
            "Failed to process element: 2 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: 2 but got: 3",
        ),
        (
            '{"instances": [1, [1]]}',
            FLOAT_X,
            "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting shape [] but got: [1]",
        ),
        (
            '{"instances": [[[1], [2, 3]]]}',
            FLOAT_X,
            "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
            "Encountered list at unexpected size: 2 at level: 1 expected size: 1",
        ),
        (
            '{"instances": [[1, [2]]]}',
            FLOAT_X,
            "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
            "Encountered list at unexpected level: 1 expected < 1",
        ),
        (
            '{"instances": [[[1], 2]]}',
            FLOAT_X,
            "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
            "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 2",
        ),
        (
            '{"instances": ["a"]}',
            FLOAT_X,
            "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
            'JSON Value: "a" Type: String is not of expected type: float',
        ),
        (
            '{"instances": [1.5]}',
            {"x": DT_INT32},
            "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
            "JSON Value: 1.5 Type: Number is not of expected type: int32",
        ),
        (
            '{"instances": [1]}',
            {"x": DT_BOOL},
            "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
            "JSON Value: 1 Type: Number is not of expected type: bool",
        ),
        (
            '{"inputs": [true]}',
            FLOAT_X,
            "JSON Value: true Type: True is not of expected type: float",
        ),
        ('{"inputs": [2147483648]}', {"x": DT_INT32}, "JSON Value: 2147483648 Type: Number is not of expected type: int32"),
        ('{"inputs": [-1]}', {"x": 23}, "JSON Value: -1 Type: Number is not of expected type: uint64"),
        ('{"inputs": [1]}', {"x": DT_STRING}, "JSON Value: 1 Type: Number is not of expected type: string"),
        ('{"inputs": [null]}', {"x": DT_UINT8}, "JSON Value: null Type: Null is not of expected type: uint8"),
        ('{"inputs": [{"b64": "aGk="}]}', FLOAT_X, 'JSON Value: {\n    "b64": "aGk="\n} Type: Object is not of expected type: float'),
        ('{"inputs": [{"b64": "%%%"}]}', {"x": DT_STRING}, "Unable to base64 decode"),
        ('{"inputs": [{"b64": "aGk=", "x": 1}]}', {"x": DT_STRING},
         'JSON Value: {\n    "b64": "aGk=",\n    "x": 1\n} not formatted correctly for base64 data'),
        (
            '{"instances": [{"a": [1, 2], "b": 1}, {"a": [1, 2], "c": 1}]}',
            TWO_INPUTS,
            "Failed to process element: 1 key: c of 'instances' list. Error: INVALID_ARGUMENT: "
            "JSON object: does not have named input: c",
        ),
        (
            '{"instances": [{"a": [1, 2]}]}',
            TWO_INPUTS,
            "Failed to process element: 0 of 'instances' list. JSON object: {\n    \"a\": [1, 2]\n} keys must be equal to: a,b",
        ),
        ('{"instances": [1, 2]}', TWO_INPUTS,
         "instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map"),
        ('{"instances": [{"x": 1}, 2]}', FLOAT_X, "Expecting object but got list at item 1 of input list"),
        ('{"instances": [2, {"x": 1}]}', FLOAT_X, "Expecting value/list but got object at item 1 of input list"),
        ('{"inputs": [1, 2]}', TWO_INPUTS,
         "inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map"),
        ('{"inputs": {"a": [[1, 2]]}}', TWO_INPUTS, "Missing named input: b in 'inputs' object."),
        ('{"inputs": {"y": 1}}', FLOAT_X, "Missing named input: x in 'inputs' object."),
    ],
)
def test_rejections_use_tf_servings_wording(body, dtypes, message):
    error = rejection(body, dtypes)
    assert error.code == Code.INVALID_ARGUMENT
    assert error.message == message


def test_unsupported_dtype_is_unimplemented():
    error = rejection('{"inputs": [1.0]}', {"x": DT_HALF})
    assert error.code == Code.UNIMPLEMENTED and error.http_status == 501
    assert error.message == "Conversion of JSON Value: 1.0 to type: half"
    wrapped = rejection('{"instances": [1.0]}', {"x": DT_HALF})
    assert wrapped.code == Code.INVALID_ARGUMENT
    assert wrapped.message.endswith("Error: UNIMPLEMENTED: Conversion of JSON Value: 1.0 to type: half")


def test_signature_name_must_be_a_string():
    assert signature_name_from({"instances": [1]}) == ""
    with pytest.raises(StatusError) as caught:
        signature_name_from({"signature_name": 1})
    assert caught.value.message == (
        "JSON Value: {\n    \"signature_name\": 1\n} not formatted correctly. 'signature_name' key must be a string value."
    )


def test_classify_examples():
    from tensorflow.core.example import example_pb2

    serialized = classify_regress_examples(
        parse_document(b'{"context": {"c": "ctx"}, "examples": [{"x": 1.5, "n": [1, 2], "flag": true, "s": {"b64": "aGk="}}]}')
    )
    example = example_pb2.Example.FromString(serialized[0])
    features = example.features.feature
    assert features["x"].float_list.value == [1.5]
    assert features["n"].int64_list.value == [1, 2]
    assert features["flag"].int64_list.value == [1]
    assert features["s"].bytes_list.value == [b"hi"]
    assert features["c"].bytes_list.value == [b"ctx"]


@pytest.mark.parametrize(
    "body, message",
    [
        ('{"examples": [{"x": [1, "a"]}]}', "Unexpected element type in feature: x expecting type: int64"),
        ('{"examples": [{"x": null}]}', "Feature: x has element with unexpected JSON type: Null"),
        ('{"examples": [{"x": [[1]]}]}', "Feature: x has element with unexpected JSON type: Array"),
        ('{"examples": [{"x": 18446744073709551615}]}', "Feature: x has uint64 element. Only int64 is supported."),
        ('{"examples": [1]}', "Example must be JSON object but got JSON Number"),
        ('{"examples": []}', "JSON Value: {\n    \"examples\": []\n} 'examples' value is an empty array"),
        ('{"examples": {}}', "JSON Value: {\n    \"examples\": {}\n} Expecting 'examples' value to be an list/array"),
        ('{"instances": [1]}',
         "JSON Value: {\n    \"instances\": [1]\n} When method is classify, key 'examples' is expected and was not found"),
    ],
)
def test_classify_rejections(body, message):
    with pytest.raises(StatusError) as caught:
        classify_regress_examples(parse_document(body.encode()))
    assert caught.value.message == message


@pytest.mark.parametrize(
    "outputs, row_format, message",
    [
        ({}, True, "Cannot convert empty tensor map to JSON"),
        ({"y": (DT_FLOAT, np.float32(1.0))}, True, "Tensor name: y has no shape information "),
        ({"y": (DT_FLOAT, np.zeros((0, 2), np.float32))}, True, "Tensor name: y has invalid batch size: 0"),
        ({"a": (DT_FLOAT, np.zeros(2, np.float32)), "b": (DT_FLOAT, np.zeros(3, np.float32))}, True,
         "Tensor name: b has inconsistent batch size: 3 expecting: 2"),
        ({"h": (DT_HALF, np.zeros(2, np.float16))}, False, "Failed to write JSON value for tensor type: half"),
    ],
)
def test_response_rejections(outputs, row_format, message):
    from kerasnets.serving.json_tensor import predict_response_json

    with pytest.raises(StatusError) as caught:
        predict_response_json(outputs, row_format)
    assert caught.value.code == Code.INVALID_ARGUMENT and caught.value.message == message


def test_response_scalars_and_empty_tensors():
    from kerasnets.serving.json_tensor import predict_response_json

    assert predict_response_json({"y": (DT_DOUBLE, np.float64(0.5))}, False) == '{\n    "outputs": 0.5\n}'
    assert predict_response_json({"y": (DT_INT64, np.zeros((2, 0), np.int64))}, True) == (
        '{\n    "predictions": [[], []\n    ]\n}'
    )
    assert predict_response_json({"y": (DT_HALF, np.zeros((0,), np.float16))}, False) == '{\n    "outputs": []\n}'


# -- the fast path (whole boxes through NumPy) against the element-by-element walk ------


def _exact_only(monkeypatch):
    from kerasnets.serving import json_tensor

    monkeypatch.setattr(json_tensor, "_rectangular", lambda value: None)


def _result(body, dtypes):
    try:
        found, row = predict_request_tensors(parse_document(body.encode()), dtypes)
    except StatusError as error:
        return "error", error.code, error.message
    return "ok", row, {name: (array.dtype.str, array.shape, array.tolist()) for name, array in found.items()}


def _random_value(rng, depth=0):
    choice = rng.random()
    if depth < 3 and choice < 0.45:
        width = rng.choice([0, 1, 2, 2, 3])
        if rng.random() < 0.7:  # mostly boxes
            item = _random_value(rng, depth + 1)
            return [item if rng.random() < 0.9 else _random_value(rng, depth + 1) for _ in range(width)]
        return [_random_value(rng, depth + 1) for _ in range(width)]
    return rng.choice([0, 1, -1, 7, 300, 2**31, 2**63, 2**64 - 1, 0.5, -2.25, 1e300, "NaN", "Infinity",
                       "true", "false", "null", '"s"', '"\\u00e9"', '{"b64": "aGk="}', '{"x": 1}'])


def _render(value):
    if isinstance(value, list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    return str(value)


@pytest.mark.parametrize("dtype", [DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64, DT_UINT8, DT_BOOL, DT_STRING, 23])
def test_fast_path_matches_the_exact_walk(dtype, monkeypatch):
    import random

    rng = random.Random(dtype)
    bodies = []
    for _ in range(300):
        value = _render(_random_value(rng))
        bodies.append('{"instances": [' + value + ", " + value + "]}")
        bodies.append('{"inputs": ' + value + "}")
    fast = [_result(body, {"x": dtype}) for body in bodies]
    _exact_only(monkeypatch)
    exact = [_result(body, {"x": dtype}) for body in bodies]
    for body, got, expected in zip(bodies, fast, exact):
        assert repr(got) == repr(expected), body  # repr: NaN == NaN
    assert sum(outcome[0] == "ok" for outcome in fast) > 50


def test_bools_among_numbers_are_still_refused():
    error = rejection('{"instances": [[1.0, true]]}')
    assert error.message == (
        "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
        "JSON Value: true Type: True is not of expected type: float"
    )
    assert rejection('{"inputs": [1, 2.5, null]}').message == "JSON Value: null Type: Null is not of expected type: float"


def test_a_box_becomes_one_array():
    result, _ = tensors('{"instances": [[[0.5], [1]], [[2], [1e300]]]}')
    assert result["x"].dtype == np.float32 and result["x"].shape == (2, 2, 1)
    assert result["x"].ravel().tolist() == [0.5, 1.0, 2.0, np.inf]  # static_cast<float> of a double
    result, _ = tensors('{"inputs": [18446744073709551615, 0]}', {"x": 23})
    assert result["x"].dtype == np.uint64 and result["x"].tolist() == [2**64 - 1, 0]
    result, _ = tensors('{"inputs": [["a", "\\u00e9"]]}', {"x": DT_STRING})
    assert result["x"].shape == (1, 2) and result["x"].tolist() == [[b"a", "é".encode()]]


def test_elements_per_request_are_bounded():
    doc = parse_document(b'{"instances": [[1, 2, 3], [4, 5, 6]]}')
    assert predict_request_tensors(doc, FLOAT_X, max_elements=6)[0]["x"].shape == (2, 3)
    for max_elements in (5, 1):
        with pytest.raises(StatusError) as caught:
            predict_request_tensors(doc, FLOAT_X, max_elements=max_elements)
        assert caught.value.code == Code.INVALID_ARGUMENT
        assert caught.value.message == (
            f"Request has more than {max_elements} tensor elements, the most kerasnets serve decodes per request"
        )
    two = parse_document(b'{"inputs": {"a": [[1, 2]], "b": [3, 4]}}')
    with pytest.raises(StatusError):
        predict_request_tensors(two, TWO_INPUTS, max_elements=3)  # counted over all inputs
    with pytest.raises(StatusError) as caught:  # the element walk counts too (b64 objects)
        predict_request_tensors(parse_document(b'{"instances": [{"b64": "aGk="}, "x", "y"]}'), {"x": DT_STRING},
                                max_elements=2)
    assert caught.value.message.startswith("Request has more than 2 tensor elements")


def test_deep_tensors_fail_as_tf_tensor_from_proto_does():
    from kerasnets.serving.json_tensor import MAX_TENSOR_RANK

    deep = "[" * 5000 + "1.0" + "]" * 5000
    for body in ('{"instances": [' + deep + "]}", '{"inputs": ' + deep + "}"):
        error = rejection(body)
        assert error.code == Code.INVALID_ARGUMENT and error.message == "tensor parsing error: x"
    ok = "[" * (MAX_TENSOR_RANK - 1) + "1.0" + "]" * (MAX_TENSOR_RANK - 1)
    assert tensors('{"instances": [' + ok + "]}")[0]["x"].ndim == MAX_TENSOR_RANK
    error = rejection('{"instances": [' + "[" * 3000 + "1.0" + "]" * 3000 + ", 2]}")
    assert error.message.startswith("Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: "
                                    "Expecting shape [1,1,1,")
