"""REST JSON <-> tensors, as TF Serving's `util/json_tensor.cc` converts them.

Requests
    `predict_request_tensors(doc, input_dtypes)` turns a parsed `:predict`
    body into one NumPy array per signature input:

    * row format, `{"instances": [...]}`: one list element per batch row,
      either plain values (a one-input signature) or objects keyed by input
      name; each row's shape comes from its first entries and every row must
      have the first row's size and shape;
    * columnar format, `{"inputs": ...}`: a value for a one-input signature,
      or an object with every input name (extra keys are ignored);
    * dtypes are the signature's; DT_STRING takes JSON strings (their raw
      bytes) or `{"b64": "..."}`; float inputs take any number, `NaN` and
      `Infinity`; integer inputs take integers only; bool takes true/false.

    Every rejection raises `StatusError` with TF Serving's exact message.
    `classify_regress_examples(doc)` turns a `:classify`/`:regress` body into
    serialized `tf.Example`s.

Responses
    `predict_response_json(outputs, row_format)` writes `{"predictions": ...}`
    (row format: one entry per batch row; a single output is unnamed, several
    are objects keyed by output name) or `{"outputs": ...}` (columnar: the
    whole tensors), with rapidjson's pretty layout; floats use TF Serving's
    `WriteDecimal` (`4.0`, `0.333333343`, bare `NaN`/`Infinity`), strings are
    written as raw bytes (so non-UTF-8 bytes go out as they are), except
    outputs whose name ends in `_bytes`, written as `{"b64": "..."}`.
"""

import base64
import binascii
import itertools
import math

import numpy as np

from kerasnets.serving import json_codec
from kerasnets.serving.json_codec import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    UINT32_MAX,
    UINT64_MAX,
    is_base64_object,
    value_to_string,
)
from kerasnets.serving.status import StatusError, invalid_argument, unimplemented

# tensorflow.DataType numbers (types.proto) used below.
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8, DT_INT16, DT_INT8, DT_STRING = 1, 2, 3, 4, 5, 6, 7
DT_INT64, DT_BOOL, DT_UINT32, DT_UINT64 = 9, 10, 22, 23

# TF's DataTypeString() (lower-case names as they appear in TF Serving's messages).
_DATA_TYPE_STRINGS = {
    1: "float", 2: "double", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32",
    14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16", 18: "complex128", 19: "half",
    20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
}

ROW_FORMAT_KEY = "instances"
COLUMNAR_FORMAT_KEY = "inputs"
BYTES_SUFFIX = "_bytes"


def data_type_string(dtype):
    """TF's `DataTypeString(dtype)` for a `tensorflow.DataType` number."""
    if dtype in _DATA_TYPE_STRINGS:
        return _DATA_TYPE_STRINGS[dtype]
    import tensorflow as tf

    try:
        return tf.dtypes.as_dtype(dtype).name
    except TypeError:
        return f"unknown dtype enum ({dtype})"


def _numpy_dtype(dtype):
    if dtype == DT_STRING:
        return object
    import tensorflow as tf

    return tf.dtypes.as_dtype(dtype).as_numpy_dtype


def format_error(doc, *parts):
    """TF Serving's `FormatError`: 'JSON Value: <whole document> <parts>'."""
    return invalid_argument("JSON Value: " + value_to_string(doc) + " " + "".join(parts))


def signature_name_from(doc):
    """The optional `signature_name` (TF Serving's `FillSignature`); "" when absent."""
    if "signature_name" not in doc:
        return ""
    name = doc["signature_name"]
    if type(name) is not str:
        raise invalid_argument(
            "JSON Value: " + value_to_string(doc)
            + " not formatted correctly. 'signature_name' key must be a string value."
        )
    return name


def check_is_object(doc):
    """TF Serving's `ParseJson` rejects a document that is not a JSON object."""
    if type(doc) is not dict:
        raise format_error(doc, "Is not object")


# --------------------------------------------------------------------------
# JSON value -> tensor values (AddValueToTensor / FillTensorProto)
# --------------------------------------------------------------------------


def _type_error(value, dtype):
    return invalid_argument(
        f"JSON Value: {value_to_string(value)} Type: {json_codec.json_type_name(value)}"
        f" is not of expected type: {data_type_string(dtype)}"
    )


def decode_base64_object(value):
    """The bytes of `{"b64": "..."}` (absl::Base64Unescape accepts missing padding and whitespace)."""
    if not is_base64_object(value):
        raise invalid_argument(f"JSON Value: {value_to_string(value)} not formatted correctly for base64 data")
    text = "".join(value["b64"].split())
    if len(text) % 4:
        text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_argument("Unable to base64 decode") from None


# Which JSON numbers each integer dtype accepts (rapidjson's IsInt/IsInt64/IsUint/IsUint64).
_INTEGER_RANGES = {
    DT_INT32: (INT32_MIN, INT32_MAX),
    DT_INT16: (INT32_MIN, INT32_MAX),
    DT_INT8: (INT32_MIN, INT32_MAX),
    DT_UINT8: (INT32_MIN, INT32_MAX),
    DT_INT64: (INT64_MIN, INT64_MAX),
    DT_UINT32: (0, UINT32_MAX),
    DT_UINT64: (0, UINT64_MAX),
}


# TensorShape::MaxDimensions(); a deeper tensor fails Tensor::FromProto in TF Serving.
# NumPy holds at most 64 dimensions, so kerasnets answers the same beyond that.
MAX_TENSOR_RANK = min(254, getattr(np, "MAXDIMS", 64))
# kerasnets' bound on the tensor elements one request may decode (TF Serving has none).
MAX_ELEMENTS_PER_REQUEST = json_codec.MAX_DOCUMENT_VALUES


class _ElementBudget:
    """The tensor elements a request may still decode."""

    def __init__(self, max_elements):
        self.max_elements = max_elements
        self.left = max_elements

    def take(self, count):
        if self.max_elements is None:
            return
        self.left -= count
        if self.left < 0:
            raise invalid_argument(
                f"Request has more than {self.max_elements} tensor elements, "
                "the most kerasnets serve decodes per request"
            )


def _rectangular(value):
    """(leaves, shape, leaf types) of a nest of lists that is a perfect box, else None.

    One C-level pass per nesting level (no per-element Python code); a box
    passes every size/level check of TF Serving's FillTensorProto.
    """
    shape = []
    level = [value]
    while True:
        kinds = set(map(type, level))
        if list not in kinds:
            return level, shape, kinds
        if len(kinds) != 1:
            return None
        sizes = set(map(len, level))
        if len(sizes) != 1:
            return None
        shape.append(sizes.pop())
        if len(shape) > MAX_TENSOR_RANK:
            return None
        level = list(itertools.chain.from_iterable(level))


class _TensorFiller:
    """Converts JSON values to the flat values of a tensor of one dtype."""

    def __init__(self, dtype, budget=None):
        self.dtype = dtype
        self.budget = budget if budget is not None else _ElementBudget(MAX_ELEMENTS_PER_REQUEST)
        if dtype in (DT_FLOAT, DT_DOUBLE):
            self._leaf_list_ok = self._numbers_ok
        elif dtype in _INTEGER_RANGES:
            self._low, self._high = _INTEGER_RANGES[dtype]
            self._leaf_list_ok = self._integers_ok
        elif dtype == DT_BOOL:
            self._leaf_list_ok = lambda values: set(map(type, values)) <= {bool}
        elif dtype == DT_STRING:
            self._leaf_list_ok = lambda values: set(map(type, values)) <= {str}
        else:
            self._leaf_list_ok = lambda values: not values

    @staticmethod
    def _numbers_ok(values):
        return set(map(type, values)) <= {int, float}

    def _integers_ok(self, values):
        if not values:
            return True
        return set(map(type, values)) == {int} and min(values) >= self._low and max(values) <= self._high

    def scalar(self, value):
        """One leaf value (TF Serving's AddValueToTensor, plus the b64-object case)."""
        dtype = self.dtype
        if type(value) is dict:
            if dtype == DT_STRING:
                return decode_base64_object(value)
            raise _type_error(value, dtype)
        if dtype in (DT_FLOAT, DT_DOUBLE):
            if type(value) not in (int, float):
                raise _type_error(value, dtype)
            return value
        if dtype in _INTEGER_RANGES:
            low, high = _INTEGER_RANGES[dtype]
            if type(value) is not int or not low <= value <= high:
                raise _type_error(value, dtype)
            return value
        if dtype == DT_BOOL:
            if type(value) is not bool:
                raise _type_error(value, dtype)
            return value
        if dtype == DT_STRING:
            if type(value) is not str:
                raise _type_error(value, dtype)
            return json_codec.to_bytes(value)
        raise unimplemented(
            f"Conversion of JSON Value: {value_to_string(value)} to type: {data_type_string(dtype)}"
        )

    def _leaf_values(self, values):
        if self.dtype == DT_STRING:
            return [json_codec.to_bytes(value) for value in values]
        return values

    def fill(self, value):
        """(flat values, shape) of one JSON value (GetDenseTensorShape + FillTensorProto).

        `flat` is a NumPy array when the fast path (a box of valid leaves) took
        it, else a list; `to_array` takes either.
        """
        box = _rectangular(value)
        if box is not None:
            leaves, shape, kinds = box
            array = self._box_array(leaves, kinds)
            if array is not None:
                self.budget.take(len(leaves))
                return array, shape
        shape = dense_shape(value)
        flat = []
        self._walk(value, shape, flat)
        self.budget.take(len(flat))
        return flat, shape

    def _box_array(self, leaves, kinds):
        """The leaves as a flat array of this dtype if every one is valid for it, else None."""
        dtype = self.dtype
        if not leaves:
            return None
        if dtype in (DT_FLOAT, DT_DOUBLE):
            if not kinds <= {int, float}:
                return None
            with np.errstate(over="ignore"):  # a double beyond float range is inf, as static_cast gives
                return np.array(leaves, dtype=np.float32 if dtype == DT_FLOAT else np.float64)
        if dtype in _INTEGER_RANGES:
            if kinds != {int}:
                return None
            try:
                array = np.array(leaves, dtype=np.uint64 if dtype == DT_UINT64 else np.int64)
            except OverflowError:
                return None
            low, high = _INTEGER_RANGES[dtype]
            if array.min() < low or array.max() > high:
                return None
            return array
        if dtype == DT_BOOL:
            return np.array(leaves, dtype=bool) if kinds == {bool} else None
        if dtype == DT_STRING and kinds == {str}:
            array = np.empty(len(leaves), dtype=object)
            array[:] = [json_codec.to_bytes(value) for value in leaves]
            return array
        return None

    def _walk(self, value, shape, flat):
        """TF Serving's recursive FillTensorProto, with an explicit stack (any depth)."""
        rank = len(shape)
        pending = [(value, 0)]
        while pending:
            value, level = pending.pop()
            if type(value) is not list:
                if level != rank:
                    raise invalid_argument(
                        f"JSON Value: {value_to_string(value)} found at incorrect level: {level + 1}"
                        f" in the JSON DOM. Expected at level: {rank}"
                    )
                flat.append(self.scalar(value))
                continue
            if level >= rank:
                raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
            if len(value) != shape[level]:
                raise invalid_argument(
                    f"Encountered list at unexpected size: {len(value)} at level: {level}"
                    f" expected size: {shape[level]}"
                )
            if level == rank - 1 and self._leaf_list_ok(value):
                flat.extend(self._leaf_values(value))
                continue
            pending.extend((item, level + 1) for item in reversed(value))

    def to_array(self, flat, shape, name):
        """The tensor of `shape` (TF's Tensor::FromProto fails past MAX_TENSOR_RANK dimensions)."""
        if len(shape) > MAX_TENSOR_RANK:
            raise invalid_argument(f"tensor parsing error: {name}")
        if self.dtype == DT_STRING:
            if type(flat) is not np.ndarray:
                array = np.empty(len(flat), dtype=object)
                array[:] = flat
                flat = array
            return flat.reshape(shape)
        if self.dtype in (DT_INT8, DT_INT16, DT_UINT8):
            # TF stores these in int_val (int32) and casts, so values wrap.
            return np.asarray(flat, dtype=np.int64).astype(_numpy_dtype(self.dtype)).reshape(shape)
        if self.dtype == DT_UINT64:
            return np.asarray(flat, dtype=np.uint64).reshape(shape)
        with np.errstate(over="ignore"):  # a double beyond float range is inf, as static_cast gives
            return np.asarray(flat, dtype=_numpy_dtype(self.dtype)).reshape(shape)


def dense_shape(value):
    """TF Serving's `GetDenseTensorShape`: the shape given by the first entry at each level."""
    shape = []
    while type(value) is list:
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _shape_string(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


# --------------------------------------------------------------------------
# Predict requests
# --------------------------------------------------------------------------


def predict_request_tensors(doc, input_dtypes, max_elements=MAX_ELEMENTS_PER_REQUEST):
    """TF Serving's `FillPredictRequestFromJson`, after the signature lookup.

    `doc` is the parsed body (a dict); `input_dtypes` maps each signature
    input name to its `tensorflow.DataType` number. Returns
    `(tensors, row_format)`: NumPy arrays by input name, and whether the
    request used `instances` (so the answer is `predictions`). More than
    `max_elements` tensor elements in all (None: no bound) is
    INVALID_ARGUMENT, a kerasnets bound that keeps one request's memory
    proportionate.

    Well-formed boxes of numbers (or bools, strings) become arrays in a few
    C-level passes; anything else takes the element-by-element walk, which
    reports TF Serving's exact error.
    """
    if ROW_FORMAT_KEY in doc:
        if COLUMNAR_FORMAT_KEY in doc:
            raise format_error(
                doc, "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist "
            )
        instances = doc[ROW_FORMAT_KEY]
        if type(instances) is not list:
            raise format_error(doc, "Excepting 'instances' to be an list/array")
        if not instances:
            raise format_error(doc, "No values in 'instances' array")
        return _tensors_from_instances(instances, input_dtypes, max_elements), True
    if COLUMNAR_FORMAT_KEY in doc:
        return _tensors_from_inputs(doc[COLUMNAR_FORMAT_KEY], input_dtypes, max_elements), False
    raise invalid_argument("Missing 'inputs' or 'instances' key")


def _is_element_object(value):
    return type(value) is dict and not is_base64_object(value)


def _tensors_from_instances(instances, input_dtypes, max_elements):
    names = sorted(input_dtypes)
    if type(instances[0]) is not dict and len(names) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            "required as per tensorinfo_map"
        )
    objects = _is_element_object(instances[0])
    fast = _instances_as_whole_tensors(instances, input_dtypes, names, objects, _ElementBudget(max_elements))
    if fast is not None:
        return fast
    return _instances_one_by_one(instances, input_dtypes, names, objects, _ElementBudget(max_elements))


def _instances_as_whole_tensors(instances, input_dtypes, names, objects, budget):
    """All rows at once: gives the same tensors as the row-by-row walk whenever that succeeds.

    Returns None when anything is off, so the row-by-row walk can report
    TF Serving's exact error.
    """
    if objects:
        name_set = set(names)
        if not all(_is_element_object(row) and row.keys() == name_set for row in instances):
            return None
        columns = {name: [row[name] for row in instances] for name in names}
    else:
        if any(_is_element_object(row) for row in instances):
            return None
        columns = {names[0]: instances}
    filled = {}
    for name, column in columns.items():
        filler = _TensorFiller(input_dtypes[name], budget)
        try:
            filled[name] = filler, filler.fill(column)
        except StatusError:
            if budget.left < 0:
                raise
            return None
    return {name: filler.to_array(flat, shape, name) for name, (filler, (flat, shape)) in filled.items()}


def _instances_one_by_one(instances, input_dtypes, names, objects, budget):
    """TF Serving's `FillTensorMapFromInstancesList`, element by element."""
    name_set = set(names)
    fillers = {name: _TensorFiller(input_dtypes[name], budget) for name in names}
    flats, first_sizes, first_shapes = {}, {}, {}

    def add_item(value, name):  # AddInstanceItem
        if name not in input_dtypes:
            raise invalid_argument(f"JSON object: does not have named input: {name}")
        flat, shape = fillers[name].fill(value)
        if type(flat) is np.ndarray:
            flat = flat.tolist()
        if name not in flats:
            flats[name], first_sizes[name], first_shapes[name] = flat, len(flat), shape
        elif len(flat) != first_sizes[name]:
            raise invalid_argument(f"Expecting tensor size: {first_sizes[name]} but got: {len(flat)}")
        elif shape != first_shapes[name]:
            raise invalid_argument(
                f"Expecting shape {_shape_string(first_shapes[name])} but got: {_shape_string(shape)}"
            )
        else:
            flats[name].extend(flat)

    for index, element in enumerate(instances):
        if objects:
            if not _is_element_object(element):
                raise invalid_argument(f"Expecting object but got list at item {index} of input list")
            for name, value in element.items():
                try:
                    add_item(value, name)
                except StatusError as error:
                    if budget.left < 0:
                        raise
                    raise invalid_argument(
                        f"Failed to process element: {index} key: {name} of 'instances' list."
                        f" Error: {error.status_string()}"
                    ) from None
            if set(element) != name_set:
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. JSON object: "
                    f"{value_to_string(element)} keys must be equal to: {','.join(names)}"
                )
        else:
            if _is_element_object(element):
                raise invalid_argument(f"Expecting value/list but got object at item {index} of input list")
            try:
                add_item(element, names[0])
            except StatusError as error:
                if budget.left < 0:
                    raise
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. Error: {error.status_string()}"
                ) from None

    return {
        name: fillers[name].to_array(flats[name], [len(instances)] + first_shapes[name], name)
        for name in flats
    }


def _tensors_from_inputs(value, input_dtypes, max_elements):
    """TF Serving's `FillTensorMapFromInputsMap` (the columnar format)."""
    names = sorted(input_dtypes)
    if type(value) is not dict or is_base64_object(value):
        if len(names) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input tensors "
                "required as per tensorinfo_map"
            )
        items = {names[0]: value}
    else:
        items = {}
        for name in names:
            if name not in value:
                raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
            items[name] = value[name]
    budget = _ElementBudget(max_elements)
    filled = {}
    for name, item in items.items():
        filler = _TensorFiller(input_dtypes[name], budget)
        filled[name] = filler, filler.fill(item)
    return {name: filler.to_array(flat, shape, name) for name, (filler, (flat, shape)) in filled.items()}


# --------------------------------------------------------------------------
# Classify / regress requests
# --------------------------------------------------------------------------


def _feature_kind_error(name, kind):
    return invalid_argument(f"Unexpected element type in feature: {name} expecting type: {kind}")


def _add_feature_value(value, name, feature):
    """TF Serving's `AddValueToFeature`: one JSON value into a tf.train.Feature."""
    kind = feature.WhichOneof("kind")
    if value is None or type(value) is list or (type(value) is dict and not is_base64_object(value)):
        raise invalid_argument(
            f"Feature: {name} has element with unexpected JSON type: {json_codec.json_type_name(value)}"
        )
    if type(value) is bool:
        if kind not in (None, "int64_list"):
            raise _feature_kind_error(name, _KIND_NAMES[kind])
        feature.int64_list.value.append(1 if value else 0)
    elif type(value) is dict:
        if kind not in (None, "bytes_list"):
            raise _feature_kind_error(name, _KIND_NAMES[kind])
        feature.bytes_list.value.append(decode_base64_object(value))
    elif type(value) is str:
        if kind not in (None, "bytes_list"):
            raise _feature_kind_error(name, _KIND_NAMES[kind])
        feature.bytes_list.value.append(json_codec.to_bytes(value))
    elif not json_codec.is_integer(value):  # a double (fraction, exponent or out of int range)
        if kind not in (None, "float_list"):
            raise _feature_kind_error(name, _KIND_NAMES[kind])
        number = float(value)
        if math.isfinite(number) and abs(number) > 3.4028234663852886e38:
            raise invalid_argument(f"Cannot convert JSON value: {value_to_string(value)} to float without loss of precision.")
        feature.float_list.value.append(number)
    else:
        if kind not in (None, "int64_list"):
            raise _feature_kind_error(name, _KIND_NAMES[kind])
        if value > INT64_MAX:
            raise invalid_argument(f"Feature: {name} has uint64 element. Only int64 is supported.")
        feature.int64_list.value.append(value)


_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64", None: "UNKNOWN"}


def _example_from_json(value):
    """TF Serving's `MakeExampleFromJsonObject`."""
    from tensorflow.core.example import example_pb2, feature_pb2

    if type(value) is not dict:
        raise invalid_argument(f"Example must be JSON object but got JSON {json_codec.json_type_name(value)}")
    example = example_pb2.Example()
    for name, content in value.items():
        feature = feature_pb2.Feature()
        for item in content if type(content) is list else [content]:
            _add_feature_value(item, name, feature)
        example.features.feature[name].CopyFrom(feature)
    return example


def classify_regress_examples(doc):
    """TF Serving's `FillClassifyRegressRequestFromJson` -> serialized examples.

    `doc` is the parsed body (a dict). With a `context`, each example is
    serialized after the context (protobuf merge: the example's features win),
    as TF Serving feeds `ExampleListWithContext`.
    """
    context = None
    if "context" in doc:
        context = _example_from_json(doc["context"]).SerializeToString()
    if "examples" not in doc:
        raise format_error(doc, "When method is classify, key 'examples' is expected and was not found")
    examples = doc["examples"]
    if type(examples) is not list:
        raise format_error(doc, "Expecting 'examples' value to be an list/array")
    if not examples:
        raise format_error(doc, "'examples' value is an empty array")
    serialized = [_example_from_json(example).SerializeToString() for example in examples]
    if context is not None:
        serialized = [context + example for example in serialized]
    return serialized


# --------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------


def _float_tokens(array, single_precision):
    """WriteDecimal text for every element of a float array (vectorised round-trip check)."""
    values = array.astype(np.float64).ravel().tolist()
    tokens = ["%.6g" % v for v in values]
    if not tokens:
        return tokens
    parsed = np.array(tokens, dtype=np.float64)
    reference = array.ravel()
    if single_precision:
        with np.errstate(over="ignore"):
            parsed = parsed.astype(np.float32)
    finite = np.isfinite(reference)
    long_form = "%.9g" if single_precision else "%.17g"
    for index in np.flatnonzero(finite & (parsed != reference)).tolist():
        tokens[index] = long_form % values[index]
    for index in np.flatnonzero(~finite).tolist():
        value = values[index]
        tokens[index] = "NaN" if math.isnan(value) else ("-Infinity" if value < 0 else "Infinity")
    return [
        token if ("." in token or "e" in token or token[-1] == "N" or token[-1] == "y") else token + ".0"
        for token in tokens
    ]


class OutputTensor:
    """One output tensor ready to be written: its shape and per-element JSON text."""

    def __init__(self, name, dtype, array):
        self.name = name
        self.dtype = dtype
        self.shape = tuple(array.shape)
        self._bytes_as_base64 = dtype == DT_STRING and name.endswith(BYTES_SUFFIX)
        flat = array.ravel()
        if dtype == DT_FLOAT:
            self.tokens = _float_tokens(flat, single_precision=True)
        elif dtype == DT_DOUBLE:
            self.tokens = _float_tokens(flat, single_precision=False)
        elif dtype in (DT_INT32, DT_INT16, DT_INT8, DT_UINT8, DT_INT64, DT_UINT32, DT_UINT64):
            self.tokens = [str(v) for v in flat.tolist()]
        elif dtype == DT_BOOL:
            self.tokens = ["true" if v else "false" for v in flat.tolist()]
        elif dtype == DT_STRING:
            if self._bytes_as_base64:
                self.tokens = [base64.b64encode(bytes(v)).decode("ascii") for v in flat.tolist()]
            else:
                self.tokens = [json_codec.quote(bytes(v)) for v in flat.tolist()]
        else:
            self.tokens = None  # written only if the tensor is empty

    def check_writable(self):
        if self.tokens is None and math.prod(self.shape):
            raise invalid_argument(f"Failed to write JSON value for tensor type: {data_type_string(self.dtype)}")

    def token(self, index, depth):
        """The JSON text of element `index`, written with `depth` containers open."""
        if self._bytes_as_base64:
            return ('{\n' + " " * (4 * depth + 4) + '"b64": "' + self.tokens[index] + '"\n'
                    + " " * (4 * depth) + "}")
        return self.tokens[index]

    def single_line(self, shape, start, depth):
        """The sub-tensor at flat offset `start` as a kFormatSingleLineArray value."""
        if not shape:
            return self.token(start, depth)
        count, inner = shape[0], shape[1:]
        if not inner:
            if self._bytes_as_base64:
                items = (self.token(start + i, depth + 1) for i in range(count))
            else:
                items = self.tokens[start:start + count]
            return "[" + ", ".join(items) + "]"
        step = math.prod(inner)
        return "[" + ", ".join(self.single_line(inner, start + i * step, depth + 1) for i in range(count)) + "]"

    def multi_line(self, shape, start, depth):
        """The sub-tensor at flat offset `start` in rapidjson's default (one value per line) layout."""
        if not shape:
            return self.token(start, depth)
        count, inner = shape[0], shape[1:]
        if not count:
            return "[]"
        step = math.prod(inner) if inner else 1
        indent = "\n" + " " * (4 * depth + 4)
        items = (indent + self.multi_line(inner, start + i * step, depth + 1) for i in range(count))
        return "[" + ",".join(items) + "\n" + " " * (4 * depth) + "]"


def predict_response_json(outputs, row_format):
    """TF Serving's `MakeJsonFromTensors`: the response body text.

    `outputs` maps output names to `(dtype, numpy array)`; names are written in
    sorted order (TF Serving's order is that of a protobuf map, unspecified).
    """
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    tensors = [OutputTensor(name, dtype, array) for name, (dtype, array) in sorted(outputs.items())]
    if row_format:
        return _row_format(tensors)
    return _columnar_format(tensors)


def _row_format(tensors):
    batch_size = -1
    for tensor in tensors:
        if not tensor.shape:
            raise invalid_argument(f"Tensor name: {tensor.name} has no shape information ")
        current = tensor.shape[0]
        if current < 1:
            raise invalid_argument(f"Tensor name: {tensor.name} has invalid batch size: {current}")
        if batch_size >= 0 and current != batch_size:
            raise invalid_argument(
                f"Tensor name: {tensor.name} has inconsistent batch size: {current} expecting: {batch_size}"
            )
        batch_size = current
    for tensor in tensors:
        tensor.check_writable()
    if len(tensors) == 1:
        tensor = tensors[0]
        row_shape = tensor.shape[1:]
        step = math.prod(row_shape)
        rows = (tensor.single_line(row_shape, i * step, 2) for i in range(batch_size))
        return '{\n    "predictions": [' + ", ".join(rows) + "\n    ]\n}"
    rows = []
    for i in range(batch_size):
        members = []
        for tensor in tensors:
            row_shape = tensor.shape[1:]
            value = tensor.single_line(row_shape, i * math.prod(row_shape), 3)
            members.append("\n            " + json_codec.quote(tensor.name) + ": " + value)
        rows.append("\n        {" + ",".join(members) + "\n        }")
    return '{\n    "predictions": [' + ",".join(rows) + "\n    ]\n}"


def _columnar_format(tensors):
    for tensor in tensors:
        tensor.check_writable()
    if len(tensors) == 1:
        tensor = tensors[0]
        return '{\n    "outputs": ' + tensor.multi_line(tensor.shape, 0, 1) + "\n}"
    members = (
        "\n        " + json_codec.quote(tensor.name) + ": " + tensor.multi_line(tensor.shape, 0, 2)
        for tensor in tensors
    )
    return '{\n    "outputs": {' + ",".join(members) + "\n    }\n}"


def classification_response_json(results):
    """TF Serving's `MakeJsonFromClassificationResult`.

    `results` has one list per example of `(label bytes, score float)` pairs.
    """
    if not results:
        raise invalid_argument("Cannot convert empty ClassificationResults to JSON")
    writer = json_codec.PrettyWriter()
    writer.start_object()
    writer.key("results")
    writer.start_array()
    for classes in results:
        writer.single_line_arrays = True
        writer.start_array()
        for label, score in classes:
            writer.start_array()
            writer.string(label)
            writer.raw_number(json_codec.write_decimal(score, single_precision=True))
            writer.end_array()
        writer.end_array()
        writer.single_line_arrays = False
    writer.end_array()
    writer.end_object()
    return writer.getvalue()


def regression_response_json(values):
    """TF Serving's `MakeJsonFromRegressionResult`."""
    if not values:
        raise invalid_argument("Cannot convert empty RegressionResults to JSON")
    writer = json_codec.PrettyWriter()
    writer.start_object()
    writer.key("results")
    writer.single_line_arrays = True
    writer.start_array()
    for value in values:
        writer.raw_number(json_codec.write_decimal(value, single_precision=True))
    writer.end_array()
    writer.end_object()
    return writer.getvalue()


__all__ = [
    "OutputTensor",
    "classification_response_json",
    "classify_regress_examples",
    "check_is_object",
    "data_type_string",
    "predict_request_tensors",
    "predict_response_json",
    "regression_response_json",
    "signature_name_from",
]
