"""TensorFlow Serving's gRPC API over the same `ModelManager` as the REST API.

Services (the generated servicers and `add_*Servicer_to_server` of the
installed `tensorflow_serving.apis`, so the official client works unchanged):

    tensorflow.serving.PredictionService  Predict, Classify, Regress, MultiInference, GetModelMetadata
    tensorflow.serving.ModelService       GetModelStatus, HandleReloadConfigRequest

Each RPC follows the TF Serving code path of the same name
(prediction_service_impl.cc, predict_util.cc, classifier.cc, regressor.cc,
multi_inference.cc, get_model_metadata_impl.cc, get_model_status_impl.cc,
model_service_impl.cc): the same checks in the same order, with the same
status codes and message texts, e.g.

    INVALID_ARGUMENT     Missing ModelSpec / ModelSpec has no name specified. /
                         Signature input alias: x(feed name: ...) not found in request ... /
                         Expects arg[0] to be float but int32 is provided
    NOT_FOUND            Servable not found for request: Specific(half, 9)
    FAILED_PRECONDITION  Serving signature key "nope" not found.

and messages longer than 1024 bytes cut to 1024 bytes plus "...TRUNCATED"
(TF Serving's ToGRPCStatus). Request tensors are read as `Tensor::FromProto`
does (typed value fields or `tensor_content`; fewer values than elements
repeat the last one); response tensors are written as `Tensor::AsProtoField`
does (typed value fields such as `float_val`, TF Serving's default), so
`response.outputs["y"].float_val` and `tf.make_ndarray` both work.

Where this differs from `tensorflow_model_server`: a request may not carry
more than `max_request_bytes` (default 16 MiB; TF Serving allows 2 GiB) and
its inputs may not decode to more than that many bytes (a one-value
`float_val` with a huge shape would otherwise fill memory): RESOURCE_EXHAUSTED.
MultiInference runs the model once per task instead of once for all tasks
(same results). With several inputs, the `arg[i]` of a dtype error counts
inputs in sorted order (TF Serving's order is its hash map's).
"""

import logging
import os
import time

import numpy as np

from kerasnets.serving.servable import (
    CLASSIFY_METHOD,
    DEFAULT_SERVING_SIGNATURE,
    PREDICT_METHOD,
    REGRESS_METHOD,
)
from kerasnets.serving.server import DEFAULT_GRPC_PORT
from kerasnets.serving.status import (
    Code,
    StatusError,
    failed_precondition,
    internal,
    invalid_argument,
    unimplemented,
)

LOG = logging.getLogger("kerasnets.serving")

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
ENTRYPOINT = "GRPC"
_ERROR_MESSAGE_LIMIT = 1024  # grpc_status_util.cc kErrorMessageLimit
SIGNATURE_DEF_FIELD = "signature_def"  # GetModelMetadataImpl::kSignatureDef

# DataType -> the TensorProto field Tensor::AsProtoField writes.
_VALUE_FIELDS = {
    1: "float_val",      # DT_FLOAT
    2: "double_val",     # DT_DOUBLE
    3: "int_val",        # DT_INT32
    4: "int_val",        # DT_UINT8
    5: "int_val",        # DT_INT16
    6: "int_val",        # DT_INT8
    7: "string_val",     # DT_STRING
    8: "scomplex_val",   # DT_COMPLEX64, (real, imag) pairs
    9: "int64_val",      # DT_INT64
    10: "bool_val",      # DT_BOOL
    14: "half_val",      # DT_BFLOAT16, as uint16 bit patterns
    17: "int_val",       # DT_UINT16
    18: "dcomplex_val",  # DT_COMPLEX128
    19: "half_val",      # DT_HALF, as uint16 bit patterns
    22: "uint32_val",    # DT_UINT32
    23: "uint64_val",    # DT_UINT64
}
_DT_STRING = 7
# DataTypeString spellings that differ from tf.DType.name.
_DATA_TYPE_STRINGS = {"float32": "float", "float64": "double", "float16": "half"}


def default_grpc_max_threads():
    """TF Serving's `--grpc_max_threads` default: 4 x the schedulable CPUs."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return 4 * cpus


def grpc_message(message):
    """TF Serving's ToGRPCStatus text: at most 1024 bytes, then '...TRUNCATED'."""
    data = message.encode("utf-8", "surrogateescape")
    if len(data) <= _ERROR_MESSAGE_LIMIT:
        return message
    return data[:_ERROR_MESSAGE_LIMIT].decode("utf-8", "ignore") + "...TRUNCATED"


def data_type_string(dtype):
    """TensorFlow's `DataTypeString` for a DataType number ('float', 'int32', 'string', ...)."""
    import tensorflow as tf

    try:
        name = tf.dtypes.as_dtype(dtype).name
    except TypeError:
        return f"unknown dtype enum ({dtype})"
    return _DATA_TYPE_STRINGS.get(name, name)


# --------------------------------------------------------------------------
# Tensors and examples
# --------------------------------------------------------------------------


def decoded_bytes(proto):
    """Bytes a TensorProto decodes to (elements x item size; 1 per string), or None if its shape is invalid."""
    import tensorflow as tf

    if proto.tensor_shape.unknown_rank:
        return None
    count = 1
    for dim in proto.tensor_shape.dim:
        if dim.size < 0:
            return None
        count *= dim.size
    try:
        itemsize = tf.dtypes.as_dtype(proto.dtype).size
    except TypeError:
        return None
    return count * max(itemsize, 1)


def tensor_proto_to_ndarray(proto):
    """`Tensor::FromProto` for a request TensorProto; raises ValueError, TypeError, KeyError or IndexError
    when it does not parse."""
    import tensorflow as tf

    if proto.dtype == 0:  # DT_INVALID
        raise ValueError("DT_INVALID")
    return tf.make_ndarray(proto)


def ndarray_to_tensor_proto(dtype, array):
    """`Tensor::AsProtoField`: dtype, shape and every element in the dtype's typed value field."""
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2

    array = np.asarray(array)
    field = _VALUE_FIELDS.get(dtype)
    if field is None:  # quantized and other rare types: TensorFlow's own encoding
        return tf.make_tensor_proto(array, dtype=tf.dtypes.as_dtype(dtype))
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    flat = array.reshape(-1)
    if field == "half_val":
        values = flat.view(np.uint16).tolist()
    elif field in ("scomplex_val", "dcomplex_val"):
        values = np.stack([flat.real, flat.imag], axis=-1).reshape(-1).tolist()
    elif field == "string_val":
        values = [bytes(value) for value in flat]
    else:
        values = flat.tolist()
    getattr(proto, field).extend(values)
    return proto


def serialized_examples(input_proto):
    """TF Serving's `InputToSerializedExampleTensor`: one serialized tf.Example per example.

    With `example_list_with_context` each is the context's bytes followed by
    the example's (a protobuf merge: the example's features win).
    """
    kind = input_proto.WhichOneof("kind")
    if kind == "example_list":
        examples = [example.SerializeToString() for example in input_proto.example_list.examples]
    elif kind == "example_list_with_context":
        with_context = input_proto.example_list_with_context
        context = with_context.context.SerializeToString()
        examples = [context + example.SerializeToString() for example in with_context.examples]
    else:
        examples = []
    if not examples:
        raise invalid_argument("Input is empty.")
    return examples


def fill_model_spec(spec, name, signature_name, version):
    """TF Serving's `MakeModelSpec` (signature_name None: left unset; '' -> serving_default)."""
    spec.Clear()
    spec.name = name
    if signature_name is not None:
        spec.signature_name = signature_name or DEFAULT_SERVING_SIGNATURE
    if version is not None:
        spec.version.value = version


# --------------------------------------------------------------------------
# Servicers
# --------------------------------------------------------------------------


def _grpc_code(code):
    import grpc

    for status_code in grpc.StatusCode:
        if status_code.value[0] == int(code) and code != Code.OK:
            return status_code
    return grpc.StatusCode.UNKNOWN


class _Rpcs:
    """What both servicers share: the manager, the observer and the error -> gRPC status path."""

    def __init__(self, manager, request_observer=None):
        self.manager = manager
        self.request_observer = request_observer

    def _run(self, api, model_name, produce, context):
        """`produce()` the response, or abort the RPC with the StatusError's code and message."""
        started = time.perf_counter()
        try:
            response = produce()
            failure = None
        except StatusError as error:
            failure = error
        except MemoryError:
            failure = StatusError(Code.RESOURCE_EXHAUSTED, "Out of memory while handling the request")
        except Exception as error:  # a bug here must not cost the server
            LOG.exception("Unexpected error in gRPC %s", api)
            failure = internal(f"{type(error).__name__}: {error}")
        if api is not None:
            self._observe(model_name, api, failure.code if failure else Code.OK, time.perf_counter() - started)
        if failure is None:
            return response
        LOG.debug("%s failed: %s", api, failure.message)
        context.abort(_grpc_code(failure.code), grpc_message(failure.message))

    def _observe(self, model_name, api, code, latency_seconds):
        observer = self.request_observer
        if observer is None:
            return
        try:
            observer(model_name, api, ENTRYPOINT, code, latency_seconds)
        except Exception:  # monitoring must never fail a request
            LOG.exception("request_observer failed")

    def _servable(self, spec):
        """ServerCore::GetServableHandle for a ModelSpec (version, version_label or latest)."""
        if not spec.name:
            raise invalid_argument("ModelSpec has no name specified.")
        choice = spec.WhichOneof("version_choice")
        if choice == "version":
            return self.manager.servable(spec.name, version=spec.version.value)
        if choice == "version_label":
            return self.manager.servable(spec.name, label=spec.version_label)
        return self.manager.servable(spec.name)


def _check_deadline(context):
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise StatusError(Code.DEADLINE_EXCEEDED, "Deadline Exceeded")


def _prediction_service_base():
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    return prediction_service_pb2_grpc.PredictionServiceServicer


def _model_service_base():
    from tensorflow_serving.apis import model_service_pb2_grpc

    return model_service_pb2_grpc.ModelServiceServicer


class PredictionServicer(_Rpcs, _prediction_service_base()):
    """`tensorflow.serving.PredictionService` over a ModelManager.

    `request_observer(model_name, api, "GRPC", code, latency_seconds)` is
    called once per finished RPC when given; its errors are logged, never
    returned. `max_request_bytes` bounds what one Predict's inputs may decode to.
    """

    def __init__(self, manager, *, enable_signature_method_name_check=False, request_observer=None,
                 max_request_bytes=DEFAULT_MAX_MESSAGE_BYTES):
        super().__init__(manager, request_observer)
        self.enable_signature_method_name_check = enable_signature_method_name_check
        self.max_request_bytes = max_request_bytes

    # --- Predict -------------------------------------------------------------

    def Predict(self, request, context):
        return self._run("Predict", request.model_spec.name, lambda: self._predict(request, context), context)

    def _predict(self, request, context):
        from tensorflow_serving.apis import predict_pb2

        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        spec = request.model_spec
        servable = self._servable(spec)
        signature_name = spec.signature_name or DEFAULT_SERVING_SIGNATURE
        signature = servable.signature_defs.get(signature_name)
        if signature is None:
            raise failed_precondition(f'Serving signature key "{signature_name}" not found.')
        response = predict_pb2.PredictResponse()
        fill_model_spec(response.model_spec, spec.name, signature_name, servable.version)
        if self.enable_signature_method_name_check and signature.method_name not in (
            PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD
        ):
            raise internal(
                f"Expected prediction signature method_name to be one of {{{PREDICT_METHOD}, {CLASSIFY_METHOD}, "
                f"{REGRESS_METHOD}}}. Was: {signature.method_name}"
            )
        _check_input_count(signature, request.inputs)
        feeds = self._input_values(signature, request.inputs)
        aliases = _output_aliases(signature, request.output_filter)
        # Session::Run's feed check (FunctionCallFrame::SetArgs).
        for index, (alias, dtype, _) in enumerate(feeds):
            expected = signature.inputs[alias].dtype
            if dtype != expected:
                raise invalid_argument(
                    f"Expects arg[{index}] to be {data_type_string(expected)} but "
                    f"{data_type_string(dtype)} is provided"
                )
        arrays = {alias: array for alias, _, array in feeds}
        _check_deadline(context)
        outputs = servable.predict(signature_name, arrays)
        for alias in aliases:
            if alias not in outputs:
                raise StatusError(Code.UNKNOWN, "Predict internal error")
            dtype, array = outputs[alias]
            response.outputs[alias].CopyFrom(ndarray_to_tensor_proto(dtype, array))
        return response

    def _input_values(self, signature, request_inputs):
        """saved_model::GetInputValues: [(alias, DataType, ndarray)] in feed order, defaults filled in."""
        chosen = []
        seen = set()
        total = 0
        for alias in sorted(signature.inputs):
            if alias in request_inputs:
                proto = request_inputs[alias]
                seen.add(alias)
            elif alias in signature.defaults:
                proto = signature.defaults[alias]
            else:
                raise invalid_argument(
                    f"Signature input alias: {alias}(feed name: {signature.inputs[alias].name}) not found in "
                    "request and no default value provided. Inputs expected to be in the request "
                    f"{{{','.join(sorted(request_inputs))}}}, or default input alias set: "
                    f"{','.join(sorted(signature.defaults))}"
                )
            size = decoded_bytes(proto)
            if size is None:
                raise invalid_argument(f"tensor parsing error: {alias}")
            total += size
            if total > self.max_request_bytes:
                raise StatusError(
                    Code.RESOURCE_EXHAUSTED,
                    f"Input '{alias}' would decode to {size} bytes; this server's limit for a request's inputs "
                    f"is {self.max_request_bytes} bytes (kerasnets serve --max_request_bytes)",
                )
            try:
                array = tensor_proto_to_ndarray(proto)
            except (ValueError, TypeError, KeyError, IndexError):  # what make_ndarray raises on a bad proto
                raise invalid_argument(f"tensor parsing error: {alias}") from None
            chosen.append((alias, proto.dtype, array))
        if request_inputs and len(seen) != len(request_inputs):
            raise invalid_argument(
                f"Inputs contains invalid name. Used request inputs: {','.join(sorted(seen))}, "
                f"request input: {','.join(sorted(request_inputs))}"
            )
        return chosen

    # --- Classify / Regress ----------------------------------------------------

    def Classify(self, request, context):
        return self._run("Classify", request.model_spec.name, lambda: self._classify(request, context), context)

    def Regress(self, request, context):
        return self._run("Regress", request.model_spec.name, lambda: self._regress(request, context), context)

    def _examples_request(self, request, context, kind):
        """(servable, signature name, method check, serialized examples) of a Classify/Regress request."""
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        servable = self._servable(request.model_spec)
        signature_name = request.model_spec.signature_name or DEFAULT_SERVING_SIGNATURE
        check = self.enable_signature_method_name_check
        servable._checked_signature(signature_name, kind, check)  # signature errors come first
        examples = serialized_examples(request.input)
        _check_deadline(context)
        return servable, signature_name, check, examples

    def _classify(self, request, context):
        from tensorflow_serving.apis import classification_pb2

        servable, signature_name, check, examples = self._examples_request(request, context, "classify")
        response = classification_pb2.ClassificationResponse()
        _fill_classification(response.result, servable.classify(signature_name, examples, check))
        fill_model_spec(response.model_spec, request.model_spec.name, signature_name, servable.version)
        return response

    def _regress(self, request, context):
        from tensorflow_serving.apis import regression_pb2

        servable, signature_name, check, examples = self._examples_request(request, context, "regress")
        response = regression_pb2.RegressionResponse()
        _fill_regression(response.result, servable.regress(signature_name, examples, check))
        fill_model_spec(response.model_spec, request.model_spec.name, signature_name, servable.version)
        return response

    # --- MultiInference --------------------------------------------------------

    def MultiInference(self, request, context):
        name = request.tasks[0].model_spec.name if request.tasks else ""
        return self._run("MultiInference", name, lambda: self._multi_inference(request, context), context)

    def _multi_inference(self, request, context):
        """TF Serving's RunMultiInferenceWithServerCore: the first task's ModelSpec picks the servable."""
        from tensorflow_serving.apis import inference_pb2, model_pb2

        first = request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()
        servable = self._servable(first)
        check = self.enable_signature_method_name_check
        model_name = ""
        signature_names = set()
        plans = []
        for task in request.tasks:
            if not task.model_spec.name:
                raise invalid_argument("Found ModelSpec with an empty model name.")
            if not model_name:
                model_name = task.model_spec.name
            elif model_name != task.model_spec.name:
                raise invalid_argument("All ModelSpecs in a MultiInferenceRequest must access the same model name.")
            signature_name = task.model_spec.signature_name or DEFAULT_SERVING_SIGNATURE
            if signature_name in signature_names:
                raise invalid_argument(f"Duplicate evaluation of signature: {signature_name}")
            signature_names.add(signature_name)
            if signature_name not in servable.signature_defs:
                raise invalid_argument(f"Requested signature not found in model graph: {signature_name}")
            if task.method_name == CLASSIFY_METHOD:
                kind = "classify"
            elif task.method_name == REGRESS_METHOD:
                kind = "regress"
            else:
                raise unimplemented(f"Unsupported signature method_name: {task.method_name}")
            servable._checked_signature(signature_name, kind, check)
            plans.append((task, signature_name, kind))
        examples = serialized_examples(request.input)
        _check_deadline(context)
        response = inference_pb2.MultiInferenceResponse()
        for task, signature_name, kind in plans:
            result = response.results.add()
            if kind == "classify":
                _fill_classification(result.classification_result, servable.classify(signature_name, examples, check))
            else:
                _fill_regression(result.regression_result, servable.regress(signature_name, examples, check))
            fill_model_spec(result.model_spec, task.model_spec.name, task.model_spec.signature_name, servable.version)
        return response

    # --- GetModelMetadata ------------------------------------------------------

    def GetModelMetadata(self, request, context):
        return self._run("GetModelMetadata", request.model_spec.name, lambda: self._metadata(request), context)

    def _metadata(self, request):
        from tensorflow_serving.apis import get_model_metadata_pb2

        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        if not request.metadata_field:
            raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
        for field in request.metadata_field:
            if field != SIGNATURE_DEF_FIELD:
                raise invalid_argument(f"Metadata field {field} is not supported")
        servable = self._servable(request.model_spec)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in servable.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        fill_model_spec(response.model_spec, servable.name, None, servable.version)
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response


def _check_input_count(signature, request_inputs):
    """predict_util.cc VerifyRequestInputsSize."""
    sent, expected = len(request_inputs), len(signature.inputs)
    if sent > expected or (sent < expected and not signature.defaults):
        request_names, signature_names = set(request_inputs), set(signature.inputs)
        raise invalid_argument(
            f"input size does not match signature: {sent}!={expected} len({{{','.join(sorted(request_names))}}}) "
            f"!= len({{{','.join(sorted(signature_names))}}}). Sent extra: "
            f"{{{','.join(sorted(request_names - signature_names))}}}. Missing but required: "
            f"{{{','.join(sorted(signature_names - request_names))}}}."
        )


def _output_aliases(signature, output_filter):
    """predict_util.cc PreProcessPrediction's output selection."""
    aliases = []
    for alias in output_filter:
        if alias not in signature.outputs:
            raise invalid_argument(
                f"output tensor alias not found in signature: {alias} Outputs expected to be in the set "
                f"{{{','.join(sorted(signature.outputs))}}}."
            )
        if alias in aliases:
            raise invalid_argument(f"duplicate output tensor alias: {alias}")
        aliases.append(alias)
    return aliases or sorted(signature.outputs)


def _fill_classification(result, rows):
    # Class.label is a proto3 string: Python protobuf refuses bytes that are not UTF-8 (TF Serving
    # would send them raw, and Python clients could not parse the answer).
    for row in rows:
        classifications = result.classifications.add()
        for label, score in row:
            classifications.classes.add(label=label.decode("utf-8", "replace"), score=score)


def _fill_regression(result, values):
    for value in values:
        result.regressions.add(value=value)


class ModelServicer(_Rpcs, _model_service_base()):
    """`tensorflow.serving.ModelService` over a ModelManager.

    HandleReloadConfigRequest answers each requested `metric_names` entry
    with its increase during the reload; `metric_value(name) -> int` reads a
    metric (None, or a name it does not know: 0, as TF Serving answers for a
    metric it has not registered).
    """

    def __init__(self, manager, *, request_observer=None, metric_value=None):
        super().__init__(manager, request_observer)
        self.metric_value = metric_value

    def GetModelStatus(self, request, context):
        return self._run("GetModelStatus", request.model_spec.name, lambda: self._status(request), context)

    def _status(self, request):
        from tensorflow_serving.apis import get_model_status_pb2

        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None  # labels are ignored, as in TF Serving
        response = get_model_status_pb2.GetModelStatusResponse()
        for status in self.manager.model_status(spec.name, version):
            entry = response.model_version_status.add()
            entry.version = status.version
            entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(status.state)
            entry.status.error_code = int(status.error_code)
            if status.error_code != Code.OK:
                entry.status.error_message = status.error_message
        return response

    def HandleReloadConfigRequest(self, request, context):
        return self._run(None, "", lambda: self._reload(request), context)

    def _metric(self, name):
        if self.metric_value is None:
            return 0
        try:
            return int(self.metric_value(name) or 0)
        except Exception:
            LOG.exception("metric_value failed for %s", name)
            return 0

    def _reload(self, request):
        from tensorflow_serving.apis import model_management_pb2

        config = request.config
        before = {name: self._metric(name) for name in request.metric_names}
        failure = None
        if config.WhichOneof("config") != "model_config_list":
            failure = invalid_argument(
                "ServerModelConfig type not supported by HandleReloadConfigRequest. "
                "Only ModelConfigList is currently supported"
            )
        else:
            for index, model in enumerate(config.model_config_list.config):
                LOG.info("Config entry index : %d path : %s name : %s platform : %s",
                         index, model.base_path, model.name, model.model_platform)
            try:
                self.manager.reload_config(config)
            except StatusError as error:
                failure = error
        if failure is not None:
            LOG.error("ReloadConfig failed: %s", failure.message)
            raise failure
        response = model_management_pb2.ReloadConfigResponse()
        response.status.error_code = int(Code.OK)
        for name in request.metric_names:
            response.metric.add(name=name, int64_value_increase=self._metric(name) - before[name])
        return response


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


def _bind_error(host, port, reason):
    """The OS's own error for (host, port), found by binding a plain socket (grpcio only says it failed)."""
    import socket

    try:
        family, _, _, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind(address)
    except OSError as error:
        return error
    return OSError(f"gRPC could not listen on {host}:{port}: {reason}")


class GrpcServer:
    """Both services on a `grpc.server(ThreadPoolExecutor(max_threads))`.

        server = GrpcServer(manager, host="127.0.0.1", port=0)
        server.bind()      # the port bound (0 picks a free one); OSError if it cannot be bound
        server.start()     # after the models are loaded, as TF Serving does
        ...
        server.stop()
    """

    def __init__(self, manager, *, host="127.0.0.1", port=DEFAULT_GRPC_PORT, max_threads=None,
                 max_request_bytes=DEFAULT_MAX_MESSAGE_BYTES, enable_signature_method_name_check=False,
                 request_observer=None, metric_value=None):
        self.manager = manager
        self.host = host
        self.requested_port = port
        self.port = None
        self.max_threads = max_threads or default_grpc_max_threads()
        self.max_request_bytes = max_request_bytes
        self.prediction_servicer = PredictionServicer(
            manager, enable_signature_method_name_check=enable_signature_method_name_check,
            request_observer=request_observer, max_request_bytes=max_request_bytes,
        )
        self.model_servicer = ModelServicer(manager, request_observer=request_observer, metric_value=metric_value)
        self._server = None
        self._executor = None

    @property
    def address(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def bind(self):
        """Build the server and bind its port (connections wait until `start`)."""
        import concurrent.futures

        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        from kerasnets.serving.python_runtime import pin_current_thread

        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.max_threads, thread_name_prefix="grpc-model-server", initializer=pin_current_thread
        )
        limit = min(self.max_request_bytes, 2**31 - 1)
        self._server = grpc.server(
            self._executor,
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),  # a port in use is an error, not a silently shared port
            ],
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(self.prediction_servicer, self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(self.model_servicer, self._server)
        host = f"[{self.host}]" if ":" in self.host else (self.host or "0.0.0.0")
        try:
            port = self._server.add_insecure_port(f"{host}:{self.requested_port}")
        except RuntimeError as error:  # grpcio raises when the address cannot be bound
            port = 0
            reason = str(error)
        else:
            reason = "address in use or not available"
        if not port:
            self._close()
            raise _bind_error(self.host, self.requested_port, reason)
        self.port = port
        return port

    def start(self):
        if self._server is None:
            self.bind()
        self._server.start()
        LOG.info("Running gRPC ModelServer at %s ...", self.address)
        return self

    def stop(self, grace=5.0):
        """Stop accepting RPCs; in-flight ones get `grace` seconds to finish."""
        if self._server is not None:
            self._server.stop(grace).wait(grace + 10)
        self._close()

    def _close(self):
        self._server = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
