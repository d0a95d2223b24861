"""rapidjson-compatible reading and writing (no server needed)."""

import json
import math
import random
import time

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
from kerasnets.serving.status import Code, StatusError
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
        (b"]", "JSON Parse error: The document is empty. at offset: 0"),  # the iterative reader's start state
        (b" \n:", "JSON Parse error: The document is empty. at offset: 2"),
        (b"\xef\xbb\xbf,", "JSON Parse error: The document is empty. at offset: 3"),
        (b'["\xff", 1e400]', "JSON Parse error: Number too big to be stored in double. at offset: 6"),
        (b'["\xff", ]', "JSON Parse error: Invalid value. at offset: 6"),
        (b'{"s": "\xff", "a": [1, 2, 1e999]}', "JSON Parse error: Number too big to be stored in double. at offset: 23"),
        (b'{"a": Infinit}', "JSON Parse error: Invalid value. at offset: 13"),
        (b'{"a": 01}', "JSON Parse error: Missing a comma or '}' after an object member. at offset: 7"),
        (b"\xff{}", "JSON Parse error: Invalid value. at offset: 0"),
        (b"[" * 3000, "JSON Parse error: Invalid value. at offset: 3000"),
        (b"[" * 100_000, "JSON Parse error: Invalid value. at offset: 100000"),
        (b'{"a": ' + b"[" * 3000 + b"1" + b"]" * 2999 + b"}", "JSON Parse error: Missing a comma or ']' after an array element. at offset: 6006"),
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
    assert list(parse_document(b'{"b": 1, "a": 2, "b": 3}')) == ["b", "a"]
    assert parse_document(b"{}\x00 trailing bytes after a NUL are never read") == {}
    raw = parse_document(b'{"s": "\xff\xfeok"}')["s"]
    assert json_codec.to_bytes(raw) == b"\xff\xfeok"
    big = parse_document(b'{"n": 18446744073709551616, "m": 18446744073709551615}')
    assert not json_codec.is_integer(big["n"]) and json_codec.is_integer(big["m"])


def test_reading_stops_after_the_root_value():
    # TF Serving parses with kParseStopWhenDoneFlag: nothing after the root is read.
    assert parse_document(b'{"instances": [1.0]} \xff garbage') == {"instances": [1.0]}
    assert parse_document(b"{} x") == {}
    assert parse_document(b"123abc") == 123


def test_numbers_are_rapidjsons_doubles():
    # rapidjson's default (not full-precision) strtod rounds some long numbers
    # differently from Python's float(); both readers give rapidjson's value.
    texts = ["123456789012345678910123", "1.7976931348623157e30", "12345678.90123456790123"]
    expected = [1.2345678901234567e23, 1.7976931348623155e30, 12345678.901234569]
    assert all(float(text) != value for text, value in zip(texts, expected))  # Python's own rounding
    body = ("[" + ", ".join(texts) + "]").encode()
    assert parse_document(body) == expected
    assert parse_document(body + b' "\xff"') == expected  # the fallback reader (raw bytes follow)


def _mutations(seed, count):
    rng = random.Random(seed)
    seeds = [b'{"instances": [[1.0, 2], [3e5, -0.5]], "signature_name": "s"}',
             b'{"inputs": {"a": [true, false, null], "b": "x\\u00e9\\n"}}',
             b"[NaN, Infinity, -Infinity, Inf, -Inf, 1e308, 18446744073709551615, -9223372036854775808]",
             b'{"a": {"b": [{}, [], ""]}, "a": 2}', b'"\\ud83d\\ude00"', b"[0.1e-400, 123e-2, -0, -0.0, 1E+2]"]
    alphabet = b'[]{},:"\\ 019.eE+-NIafnu\t\x00\x01\xef\xbb\xbf'
    for _ in range(count):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(body) + 1)
            body[at:at + rng.randint(0, 1)] = bytes([rng.choice(alphabet)]) if rng.random() < 0.6 else b""
        yield bytes(body)


def _outcome(read, body):
    try:
        return "ok", repr(read(body))
    except JsonParseError as error:
        return "error", str(error)


def test_python_rapidjson_and_the_fallback_reader_agree():
    """The fast path (python-rapidjson) and the byte-level reader, on mutated bodies."""
    def fallback(body):
        return json_codec._RapidJsonReader(body).read_document()

    def char_by_char(body):
        reader = json_codec._RapidJsonReader(body)
        reader._failures = reader._MAX_SHORTCUT_FAILURES  # no Python-json shortcut
        return reader.read_document()

    checked = 0
    for body in _mutations(seed=10, count=3000):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            continue
        fast = _outcome(parse_document, body)
        assert _outcome(fallback, body) == fast, body
        assert _outcome(char_by_char, body) == fast, body
        checked += 1
    assert checked > 1000


def test_deep_nesting_is_read_iteratively_and_bounded():
    # rapidjson's iterative reader takes any depth; kerasnets reads up to MAX_NESTING_DEPTH.
    depth = json_codec.MAX_NESTING_DEPTH
    started = time.process_time()
    doc = parse_document(b'{"instances": [1], "nested": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}")
    assert doc["instances"] == [1]
    with pytest.raises(JsonParseError) as caught:
        parse_document(b"[" * depth + b"[]" + b"]" * depth)
    assert str(caught.value) == (
        f"JSON Parse error: The document is nested deeper than {depth} levels. at offset: {depth}")
    with pytest.raises(JsonParseError) as caught:
        parse_document(b'{"a": ' * (depth + 1))
    assert str(caught.value).endswith(f"levels. at offset: {6 * depth}")
    assert time.process_time() - started < 5
    message = value_to_string(doc)
    assert message.startswith('{\n    "instances": [1],\n    "nested": [[[[') and len(message) < 300


def test_too_many_values_are_refused_before_parsing():
    body = b"[" + b"0," * 200 + b"0]"
    assert len(parse_document(body, max_values=1000)) == 201
    with pytest.raises(StatusError) as caught:
        parse_document(body, max_values=100)
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert caught.value.message == (
        "JSON document is too large to decode: more than 100 values (kerasnets serve decodes at most that many per request)"
    )


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


def test_value_to_string_prints_like_json_value_to_debug_string():
    assert value_to_string("x") == '"x"'
    assert value_to_string(1) == "1"
    assert value_to_string(3.14159265) == "3.14159265"  # Writer::Double, shortest form
    assert value_to_string(1e300) == "1e300"
    assert value_to_string(2.0) == "2.0"
    assert value_to_string(True) == "true"
    assert value_to_string(math.inf) == ""  # rapidjson's Writer refuses NaN/Inf
    assert value_to_string({"instances": [1, 2.5, None, {"b64": "aa"}], "e": []}) == (
        '{\n    "instances": [1, 2.5, null, {\n            "b64": "aa"\n        }],\n    "e": []\n}'
    )
    # Writing stops at a NaN inside a document, after its separator.
    assert value_to_string({"instances": [1, math.nan, 3]}) == '{\n    "instances": [1, '


def test_value_to_string_stops_after_256_bytes():
    # JsonWriterWithLimit: each event first checks that fewer than 256 bytes are written.
    text = value_to_string({"instances": list(range(1000))})
    full = '{\n    "instances": [' + ", ".join(map(str, range(1000))) + "]\n}"
    assert full.startswith(text) and text.endswith(", 61") and len(text) == 256
    long = value_to_string(["x" * 1000, "y"])
    assert long == '["' + "x" * 1000 + '"'  # one event may pass the limit; the next is not written
    assert value_to_string(["\u00e9" * 127, "z"]) == '["' + "\u00e9" * 127 + '"'  # bytes, not characters
    assert value_to_string(["\u00e9" * 126, "z"]) == '["' + "\u00e9" * 126 + '", "z"'  # no room left for ']'


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
