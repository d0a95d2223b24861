"""rapidjson-compatible reading and writing (no server needed)."""

import json
import math
import re

import numpy as np
import pytest

from kerasnets.serving import json_codec
from kerasnets.serving.json_codec import (
    JsonParseError,
    PrettyWriter,
    error_body,
    parse_document,
    rapidjson_double,
    to_float32,
    value_to_string,
    write_decimal,
)
from kerasnets.serving.json_tensor import (
    DT_DOUBLE,
    DT_FLOAT,
    DT_INT64,
    DT_STRING,
    OutputTensor,
    predict_response_json,
)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "JSON Parse error: The document is empty"),
        (b"  ", "JSON Parse error: The document is empty. at offset: 2"),
        (b"x", "JSON Parse error: Invalid value. at offset: 0"),
        (b"{", "JSON Parse error: Missing a name for object member. at offset: 1"),
        (b'{"a" 1}', "JSON Parse error: Missing a colon after a name of object member. at offset: 5"),
        (b'{"a": 1,}', "JSON Parse error: Missing a name for object member. at offset: 8"),
        (b'{"a": 1 "b": 2}', "JSON Parse error: Missing a comma or '}' after an object member. at offset: 8"),
        (b"[1 2]", "JSON Parse error: Missing a comma or ']' after an array element. at offset: 3"),
        (b"[1,]", "JSON Parse error: Invalid value. at offset: 3"),
        (b'{"a": tru}', "JSON Parse error: Invalid value. at offset: 9"),
        (b'{"x": 1.}', "JSON Parse error: Miss fraction part in number. at offset: 8"),
        (b'{"x": 1e}', "JSON Parse error: Miss exponent in number. at offset: 8"),
        (b'{"x": 1e400}', "JSON Parse error: Number too big to be stored in double. at offset: 6"),
        (b'{"x": "\\q"}', "JSON Parse error: Invalid escape character in string. at offset: 7"),
        (b'{"x": "\\u12g4"}', "JSON Parse error: Incorrect hex digit after \\u escape in string. at offset: 7"),
        (b'{"x": "\\ud800"}', "JSON Parse error: The surrogate pair in string is invalid. at offset: 7"),
        (b'{"x": "abc', "JSON Parse error: Missing a closing quotation mark in string. at offset: 10"),
        (b'{"x": "a\x01"}', "JSON Parse error: Invalid encoding in string. at offset: 8"),
        (b"{} x", "JSON Parse error: The document root must not be followed by other values. at offset: 3"),
        (b'{"a": Infinit}', "JSON Parse error: Invalid value. at offset: 13"),
        (b'{"a": 01}', "JSON Parse error: Missing a comma or '}' after an object member. at offset: 7"),
        (b"\xff{}", "JSON Parse error: Invalid value. at offset: 0"),
        (b"[" * 3000, "JSON Parse error: Invalid value. at offset: 3000"),
    ],
)
def test_parse_errors_are_rapidjsons(body, message):
    with pytest.raises(JsonParseError) as caught:
        parse_document(body)
    assert str(caught.value) == message


def test_rapidjson_extensions_and_quirks():
    doc = parse_document(b'\xef\xbb\xbf{"a": Inf, "b": -Inf, "c": -NaN, "d": Infinity, "e": NaN, "a": 5}')
    assert doc["a"] == math.inf and doc["b"] == -math.inf and doc["d"] == math.inf
    assert math.isnan(doc["c"]) and math.isnan(doc["e"])
    assert parse_document(b'{"a": 1, "a": 2}') == {"a": 1}  # FindMember finds the first
    assert parse_document(b"{}\x00 trailing bytes after a NUL are never read") == {}
    raw = parse_document(b'{"s": "\xff\xfeok"}')["s"]
    assert json_codec.to_bytes(raw) == b"\xff\xfeok"
    big = parse_document(b'{"n": 18446744073709551616, "m": 18446744073709551615}')
    assert not json_codec.is_integer(big["n"]) and json_codec.is_integer(big["m"])


@pytest.mark.parametrize(
    "value, single, text",
    [
        (4.0, True, "4.0"),
        (3.5, True, "3.5"),
        (9000000.0, True, "9e+06"),
        (0.00003, True, "3e-05"),
        (555557.5, True, "555557.5"),
        (1 / 3, True, "0.333333343"),
        (1 / 3, False, "0.33333333333333331"),
        (123456789.0, True, "123456792.0"),
        (-0.0, True, "-0.0"),
        (math.nan, True, "NaN"),
        (math.inf, False, "Infinity"),
        (-math.inf, True, "-Infinity"),
    ],
)
def test_write_decimal_is_tf_servings(value, single, text):
    if single:
        value = to_float32(value)
    assert write_decimal(value, single) == text


@pytest.mark.parametrize(
    "value, text",
    [(1e21, "1e21"), (1e-7, "1e-7"), (0.1, "0.1"), (100.0, "100.0"), (1e-6, "0.000001"), (1.5e300, "1.5e300")],
)
def test_rapidjson_double_layout(value, text):
    assert rapidjson_double(value) == text


def test_value_to_string_prints_like_json_value_to_string():
    assert value_to_string("x") == '"x"'
    assert value_to_string(1) == "1"
    assert value_to_string(3.14159265) == "3.14159274"  # a top-level double is written as a float
    assert value_to_string(1e300) == "1e+300"
    assert value_to_string(True) == "true"
    assert value_to_string({"instances": [1, 2.5, None, {"b64": "aa"}], "e": []}) == (
        '{\n    "instances": [\n        1,\n        2.5,\n        null,\n        {\n'
        '            "b64": "aa"\n        }\n    ],\n    "e": []\n}'
    )
    # rapidjson's writer refuses NaN inside a document and stops there.
    assert value_to_string({"instances": [1, math.nan, 3]}) == '{\n    "instances": [\n        1,\n        '


def test_error_body():
    assert error_body('a "quoted" \n\x01 \udcff') == b'{\n    "error": "a \\"quoted\\" \\n\\u0001 \xff"\n}'
    assert json.loads(error_body("Malformed request: GET /v1/x"))["error"] == "Malformed request: GET /v1/x"


# -- the fast response writer against a line-by-line port of TF Serving's writer ------


def _tf_serving_add_tensor_values(writer, tensor, dim, offset):
    """AddTensorValues, with PrettyWriter (returns the new offset)."""
    if dim > len(tensor.shape) - 1:
        _tf_serving_add_value(writer, tensor, offset)
        return offset + 1
    writer.start_array()
    for _ in range(tensor.shape[dim]):
        offset = _tf_serving_add_tensor_values(writer, tensor, dim + 1, offset)
    writer.end_array()
    return offset


def _tf_serving_add_value(writer, tensor, offset):
    if tensor.name.endswith("_bytes") and tensor.dtype == DT_STRING:
        writer.start_object()
        writer.key("b64")
        writer.string(tensor.tokens[offset])
        writer.end_object()
    else:
        writer.raw_number(tensor.tokens[offset])


def _tf_serving_row_format(tensors):
    writer = PrettyWriter()
    writer.start_object()
    writer.key("predictions")
    writer.start_array()
    offsets = {t.name: 0 for t in tensors}
    for _ in range(tensors[0].shape[0]):
        if len(tensors) > 1:
            writer.start_object()
        writer.single_line_arrays = True
        for tensor in tensors:
            if len(tensors) > 1:
                writer.key(tensor.name)
            offsets[tensor.name] = _tf_serving_add_tensor_values(writer, tensor, 1, offsets[tensor.name])
        writer.single_line_arrays = False
        if len(tensors) > 1:
            writer.end_object()
    writer.end_array()
    writer.end_object()
    return writer.getvalue()


def _tf_serving_columnar_format(tensors):
    writer = PrettyWriter()
    writer.start_object()
    writer.key("outputs")
    if len(tensors) > 1:
        writer.start_object()
    for tensor in tensors:
        if len(tensors) > 1:
            writer.key(tensor.name)
        _tf_serving_add_tensor_values(writer, tensor, 0, 0)
    if len(tensors) > 1:
        writer.end_object()
    writer.end_object()
    return writer.getvalue()


@pytest.mark.parametrize("row_format", [True, False])
@pytest.mark.parametrize(
    "shapes",
    [
        {"y": (3,)},
        {"y": (2, 3)},
        {"y": (2, 0)},
        {"y": (2, 2, 3)},
        {"a": (2,), "b_bytes": (2, 2), "c": (2, 1, 2)},
        {"s_bytes": (3,)},
        {"s_bytes": (2, 2, 1)},
    ],
)
def test_response_layout_matches_tf_servings_writer(shapes, row_format):
    rng = np.random.default_rng(0)
    outputs = {}
    for index, (name, shape) in enumerate(sorted(shapes.items())):
        if name.endswith("_bytes"):
            values = np.array([bytes([65 + i % 26]) * (i % 3 + 1) for i in range(int(np.prod(shape)))], dtype=object)
            outputs[name] = (DT_STRING, values.reshape(shape))
        else:
            dtype = (DT_FLOAT, DT_DOUBLE, DT_INT64)[index % 3]
            array = rng.normal(size=shape)
            array = array.astype(np.float32) if dtype == DT_FLOAT else (array * 100).astype(np.int64) if dtype == DT_INT64 else array
            outputs[name] = (dtype, array)
    tensors = [OutputTensor(name, dtype, array) for name, (dtype, array) in sorted(outputs.items())]
    expected = _tf_serving_row_format(tensors) if row_format else _tf_serving_columnar_format(tensors)
    assert predict_response_json(outputs, row_format) == expected


def test_the_fast_check_for_bodies_python_may_read_differently_equals_its_regex():
    import random

    from kerasnets.serving.json_codec import _python_may_differ

    regex = re.compile(rb"[0-9]{200}|[eE]\+?[0-9]{3}|\\u[dD][89a-fA-F]")
    alphabet = b'0123456789eE+-.\\uDdAf9 ["]{}:,x\xc3\xa9'
    rng = random.Random(0)
    bodies = [b"1" * 199, b"1" * 200, b"[1e308]", b"[1E+308]", b"[1e-308]", b"[1e30]", b'"\\ud83d"', b'"\\u0041"']
    bodies += [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(20000)]
    bodies += [bytes(rng.choice(b"0123456789") for _ in range(rng.randint(190, 210))) for _ in range(200)]
    for body in bodies:
        assert _python_may_differ(body) == bool(regex.search(body)), body
