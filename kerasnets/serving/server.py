"""A development server that answers TensorFlow Serving's REST API the way TF Serving does.

Routes (full-matched case-insensitively against the path *and query string*,
as TF Serving's RE2 `FullMatch` does: a query string makes the request
malformed, except after a bare model name, where `[^/:]+` takes it into the
name):

    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]            model status
    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]/metadata   signature defs
    POST /v1/models/{name}[/versions/{v} | /labels/{l}]:predict    also :classify, :regress

Every answer of the `/v1/` handler has `Content-Type: application/json`;
errors are `{"error": "<message>"}` with TF Serving's wording and its
status-code mapping (`status.http_status`): `Malformed request: <METHOD>
<path>` (400) for anything that is not one of the routes above (including
`PUT`/`DELETE`/`HEAD` and trailing slashes; `OPTIONS` is a CORS preflight,
answered 200 or 400 with an empty body), `Servable not found for request:
Latest(<name>)` (404), `Unrecognized servable version label: <label>` (400),
and so on. Paths outside `/v1/` get libevent's HTML 404 page, as from TF
Serving.

What differs from `tensorflow_model_server`, on purpose: it binds
127.0.0.1 unless told otherwise (`host`); port 0 means "pick a free port"
(TF Serving: REST disabled); request bodies larger than `max_request_bytes`
(default 16 MiB) get 413 with a JSON error (TF Serving has no limit); slow or
idle connections are closed after `header_timeout_s` / `body_timeout_s` /
`keepalive_timeout_s` and at most `max_connections` are open at once
(`kerasnets.serving.http_limits`; TF Serving's libevent server has neither);
gRPC (`grpc_port`, see `grpc_server`) runs only when asked for.

Requests are parsed and run on a thread pool (`rest_api_num_threads`), never
on the event loop; inference is bounded by `rest_api_timeout_in_ms` (504
`Deadline Exceeded` past it). Whatever a request contains, it gets an answer
and the server keeps serving.
"""

import asyncio
import concurrent.futures
import logging
import os
import re
import signal
import socket
import queue
import threading
import time
import urllib.parse

from kerasnets.serving import json_codec
from kerasnets.serving.json_tensor import (
    check_is_object,
    classification_response_json,
    classify_regress_examples,
    predict_request_tensors,
    predict_response_json,
    regression_response_json,
    signature_name_from,
)
from kerasnets.serving.model_manager import ModelManager
from kerasnets.serving.monitoring import RequestTimer, ServingMetrics, prometheus_path
from kerasnets.serving.python_runtime import (
    freeze_long_lived_objects,
    pin_current_thread,
    pin_python_threads,
    thaw_objects,
    threads_started_here_pinned,
)
from kerasnets.serving.status import Code, StatusError, invalid_argument

LOG = logging.getLogger("kerasnets.serving")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_REST_API_PORT = 8501  # tensorflow/serving's Docker image convention
DEFAULT_GRPC_PORT = 8500  # tensorflow_model_server --port (here, not in grpc_server: no protos needed)
# A JSON body costs up to 25x its size in Python objects while it decodes, and json's decode
# holds the GIL: 16 MiB bounds one request to ~0.4 GB and a < 1 s stall (README "HTTP limits").
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
DEFAULT_HEADER_TIMEOUT_S = 20.0
DEFAULT_BODY_TIMEOUT_S = 60.0
DEFAULT_KEEPALIVE_TIMEOUT_S = 75.0
MAX_ECHOED_ERROR_CHARS = 1000
DEFAULT_REST_API_TIMEOUT_IN_MS = 30000
JSON_CONTENT_TYPE = "application/json"

# The REST dispatcher claims `(?i)/v1/.*`; the handler then full-matches these.
_REST_API_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)
_PREDICTION_API = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE,
)
_MODEL_STATUS_API = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE,
)
# Methods libevent lets through to handlers (evhttp_set_allowed_methods in TF Serving).
_LIBEVENT_METHODS = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"}
_INT64_MAX = 2**63 - 1

# POST bodies up to this size are decoded on the event loop (< 1 ms), larger ones on a worker
# thread, whose Python steps give the GIL back every 5 ms so other connections are served
# between them (the C parse itself holds it). The workers then only run the model and write
# the answer for small requests: one fewer thread taking the GIL per request.
INLINE_DECODE_MAX_BYTES = 64 * 1024

# How long stop() lets in-flight requests finish; a TF call still running after it is left behind.
SHUTDOWN_GRACE_S = 2.0


def default_max_connections():
    """1024 open connections, or fewer when the process's descriptor limit leaves less than twice that."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 1024
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(1, min(1024, soft // 2))


def default_rest_api_num_threads():
    """TF Serving's default: 4 x the schedulable CPUs."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return 4 * cpus


class RestResponse:
    """An HTTP answer: `status`, `body` (bytes), `content_type`."""

    __slots__ = ("status", "body", "content_type", "code")

    def __init__(self, status, body, content_type=JSON_CONTENT_TYPE, code=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.code = code  # the status code behind the answer (for metrics); None: not from the handler

    @classmethod
    def ok(cls, text):
        return cls(200, json_codec.to_bytes(text), code=Code.OK)

    @classmethod
    def error(cls, error):
        return cls(error.http_status, json_codec.error_body(capped_error_message(error.message)), code=error.code)


MAX_REST_ERROR_CHARS = 4096


def capped_error_message(message):
    """`message` cut to MAX_REST_ERROR_CHARS, then '...TRUNCATED' (as TF Serving's gRPC answers do at
    1024 bytes): TF Serving's REST texts echo the request (a 1 MB signature name, a whole JSON
    value), which a client never needs back in full."""
    if len(message) <= MAX_REST_ERROR_CHARS:
        return message
    return message[:MAX_REST_ERROR_CHARS] + "...TRUNCATED"


def libevent_error_page(status, reason):
    """The HTML libevent's `evhttp_send_error` sends (TF Serving's answer outside /v1/)."""
    body = (
        f"<HTML><HEAD>\n<TITLE>{status} {reason}</TITLE>\n</HEAD><BODY>\n<H1>{reason}</H1>\n</BODY></HTML>\n"
    )
    return RestResponse(status, body.encode("ascii"), "text/html; charset=ISO-8859-1")


# What TF Serving's AddCORSHeaders adds to every /v1/ answer with --rest_api_enable_cors_support.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET",
    "Access-Control-Allow-Headers": "Content-Type",
}
_CORS_ORIGIN = re.compile(r"https?://")
_LIBEVENT_CONTENT_TYPE = "text/html; charset=ISO-8859-1"


def cors_preflight_answer(origin):
    """TF Serving's answer to OPTIONS on a /v1/ path (with or without CORS support): an empty body,
    200 when the Origin header contains `http://` or `https://`, else 400 (FAILED_PRECONDITION
    "Origin header is missing in CORS preflight", which TF Serving only logs)."""
    status = 200 if _CORS_ORIGIN.search(origin) else 400
    return RestResponse(status, b"", _LIBEVENT_CONTENT_TYPE)


def _dispatched(method, path):
    """Whether TF Serving's REST dispatcher (rather than libevent) answers this request."""
    return method in _LIBEVENT_METHODS and _REST_API_PATH.fullmatch(path) is not None


class _ClientGone(Exception):
    """The client hung up (or was cut off) before its request body was read."""


class Inference:
    """The model-running part of a request, run separately so it can be timed out.

    `deadline` (a `time.monotonic()` value, or None) is when the client stops
    waiting (`rest_api_timeout_in_ms`): work still queued then is skipped, as
    the client already has its 504.
    """

    def __init__(self, compute, deadline=None):
        self._compute = compute
        self.deadline = deadline

    def run(self):
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return RestResponse.error(StatusError(Code.DEADLINE_EXCEEDED, "Deadline Exceeded"))
        return _answer(lambda: RestResponse.ok(self._compute()))


class DaemonThreadExecutor(concurrent.futures.Executor):
    """A fixed pool of `max_workers` daemon threads taking work from one FIFO queue.

    Unlike `ThreadPoolExecutor`, whose threads the interpreter joins at exit,
    these threads never hold up the process's exit: a TensorFlow call cannot
    be interrupted, so a shutdown must be able to leave one running.
    """

    def __init__(self, max_workers, thread_name_prefix="worker"):
        self._work = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._shutdown = False
        self._busy = 0
        self._threads = [
            threading.Thread(target=self._serve, name=f"{thread_name_prefix}_{index}", daemon=True)
            for index in range(max(1, max_workers))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future = concurrent.futures.Future()
            self._work.put((future, fn, args, kwargs))
        return future

    def _serve(self):
        pin_current_thread()
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            with self._lock:
                self._busy += 1
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as error:
                future.set_exception(error)
            finally:
                with self._lock:
                    self._busy -= 1

    @property
    def busy(self):
        """How many workers are running a call now."""
        with self._lock:
            return self._busy

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while True:
                    try:
                        item = self._work.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            for _ in self._threads:
                self._work.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


def _answer(produce):
    """Turn whatever `produce` raises into TF Serving's JSON error answer."""
    try:
        return produce()
    except StatusError as error:
        return RestResponse.error(error)
    except json_codec.JsonParseError as error:
        return RestResponse.error(invalid_argument(str(error)))
    except RecursionError:
        return RestResponse.error(invalid_argument("JSON document is nested too deeply"))
    except MemoryError:
        return RestResponse.error(StatusError(Code.RESOURCE_EXHAUSTED, "Out of memory while handling the request"))
    except Exception as error:  # a bug here must not cost the server
        LOG.exception("Unexpected error while handling a request")
        return RestResponse.error(_unexpected(error))


def _unexpected(error):
    """INTERNAL with the exception's type and text, cut to MAX_ECHOED_ERROR_CHARS (it may echo the request)."""
    text = f"{type(error).__name__}: {error}"
    if len(text) > MAX_ECHOED_ERROR_CHARS:
        text = text[:MAX_ECHOED_ERROR_CHARS] + f"... ({len(text) - MAX_ECHOED_ERROR_CHARS} more characters)"
    return StatusError(Code.INTERNAL, text)


def _decode_path_argument(raw):
    # curl_easy_unescape: %XX decoded, '+' kept, malformed escapes left as they are.
    return urllib.parse.unquote_to_bytes(raw).decode("utf-8", "surrogateescape")


def _parse_version(text):
    """The ASCII digits `text` as an int64 (absl::SimpleAtoi); 400 beyond its range, as from TF Serving."""
    if text is None:
        return None
    digits = text.lstrip("0") or "0"
    # Checked on the length first: int() refuses strings over 4300 digits (and is slow on long ones).
    if len(digits) > len(str(_INT64_MAX)) or int(digits) > _INT64_MAX:
        raise invalid_argument(f"Failed to convert version: {text} to numeric.")
    return int(digits)


def request_metric_labels(method, path):
    """`(model_name, api)` of a request as TF Serving's ParseModelInfo fills them for metrics.

    A POST matching the prediction route gives its (decoded) model name and its
    verb as written (`predict`); a GET matching the status route its model name
    and an empty API; anything else `("", "")`.
    """
    if method == "POST":
        match = _PREDICTION_API.fullmatch(path)
        if match:
            return _decode_path_argument(match.group(1)), match.group(4)
    elif method == "GET":
        match = _MODEL_STATUS_API.fullmatch(path)
        if match and match.group(1) is not None:
            return _decode_path_argument(match.group(1)), ""
    return "", ""


class RestApiHandler:
    """TF Serving's `HttpRestApiHandler`, synchronous: (method, path, body) -> answer.

    `prepare` does everything up to running the model and returns either a
    `RestResponse` or an `Inference` whose `run()` gives the `RestResponse`.
    """

    def __init__(self, manager, enable_signature_method_name_check=False, request_observer=None):
        self.manager = manager
        self.enable_signature_method_name_check = enable_signature_method_name_check
        # request_observer(model_name, api, entrypoint, code, latency_seconds), once per request.
        self.request_observer = request_observer

    def handle(self, method, path, body):
        """The complete answer to one request (no timeout)."""
        timer = RequestTimer(self.request_observer, "REST")
        prepared = self.prepare(method, path, body)
        answer = prepared.run() if isinstance(prepared, Inference) else prepared
        self.observe(timer, method, path, answer)
        return answer

    def observe(self, timer, method, path, answer):
        """Report a finished request to the observer as TF Serving's dispatcher does; never raises."""
        if timer.observer is None:
            return
        try:
            model_name, api = request_metric_labels(method, path)
            code = answer.code if answer.code is not None else Code.UNKNOWN
        except Exception:
            LOG.exception("Could not label a request for metrics")
            return
        timer.finish(model_name, api, code)

    def prepare(self, method, path, body):
        return _answer(lambda: self._dispatch(method, path, body))

    def _dispatch(self, method, path, body):
        malformed = invalid_argument(f"Malformed request: {method} {path}")
        if method == "POST":
            match = _PREDICTION_API.fullmatch(path)
            if not match:
                raise malformed
            raw_name, version_text, raw_label, verb = match.groups()
            name = _decode_path_argument(raw_name)
            version = _parse_version(version_text)
            label = _decode_path_argument(raw_label) if raw_label is not None else None
            if verb == "predict":
                return self._predict(name, version, label, body)
            if verb in ("classify", "regress"):
                return self._classify_or_regress(verb, name, version, label, body)
            raise malformed  # the verb matched case-insensitively only
        if method == "GET":
            match = _MODEL_STATUS_API.fullmatch(path)
            if not match:
                raise malformed
            raw_name, version_text, raw_label, subresource = match.groups()
            name = _decode_path_argument(raw_name) if raw_name is not None else ""
            version = _parse_version(version_text)
            label = _decode_path_argument(raw_label) if raw_label is not None else None
            if not name:
                raise invalid_argument("Missing model name in request.")
            if subresource == "metadata":
                return RestResponse.ok(self._metadata_json(name, version, label))
            return RestResponse.ok(self._status_json(name, version))
        raise malformed

    # --- GET ---------------------------------------------------------------------

    def _status_json(self, name, version):
        """GetModelStatusResponse as TF Serving prints it (labels are ignored here, as there)."""
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_status_pb2

        response = get_model_status_pb2.GetModelStatusResponse()
        for status in self.manager.model_status(name, version):
            entry = response.model_version_status.add()
            entry.version = status.version
            entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(status.state)
            entry.status.SetInParent()
            entry.status.error_code = int(status.error_code)
            entry.status.error_message = status.error_message
        return json_format.MessageToJson(response, indent=1, always_print_fields_with_no_presence=True)

    def _metadata_json(self, name, version, label):
        """GetModelMetadataResponse (signature_def only), assembled as TF Serving's ToJsonString does."""
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2

        servable = self.manager.servable(name, version, label)
        spec = model_pb2.ModelSpec(name=servable.name)
        spec.version.value = servable.version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in servable.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature)
        options = dict(indent=1, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
        return (
            '{\n"model_spec":' + json_format.MessageToJson(spec, **options) + ',\n"metadata": {'
            + '"signature_def": ' + json_format.MessageToJson(signature_map, **options) + "}\n}\n"
        )

    # --- POST --------------------------------------------------------------------

    def _predict(self, name, version, label, body):
        doc = json_codec.parse_document(body)
        check_is_object(doc)
        signature_name = signature_name_from(doc)
        servable = self.manager.servable(name, version, label)
        signature_key = signature_name or "serving_default"
        input_dtypes = servable.input_dtypes(signature_key)
        if input_dtypes is None:
            raise invalid_argument(f'Serving signature name: "{signature_key}" not found in signature def')
        if not input_dtypes:
            raise invalid_argument(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
        tensors, row_format = predict_request_tensors(doc, input_dtypes)
        return Inference(lambda: predict_response_json(servable.predict(signature_key, tensors), row_format))

    def _classify_or_regress(self, verb, name, version, label, body):
        doc = json_codec.parse_document(body)
        check_is_object(doc)
        signature_name = signature_name_from(doc)
        examples = classify_regress_examples(doc)
        servable = self.manager.servable(name, version, label)
        check = self.enable_signature_method_name_check
        if verb == "classify":
            return Inference(
                lambda: classification_response_json(servable.classify(signature_name, examples, check))
            )
        return Inference(lambda: regression_response_json(servable.regress(signature_name, examples, check)))


def _both(metrics, observer):
    """One request observer reporting to the metrics, then to `observer`."""

    def observe(*args):
        metrics(*args)
        observer(*args)

    return observe


class ModelServer:
    """TF Serving's REST API over the models of a `ModelServerConfig`, on a background thread.

        server = ModelServer(single_model_config("half", "/abs/saved_models/half"), port=0).start()
        server.url            # "http://127.0.0.1:<the port picked>"
        ...
        server.stop()

    or `with ModelServer(config, port=0) as server: ...`. `grpc_port` (None:
    no gRPC; 0: a free port, then `grpc_port_bound`) also serves TF Serving's
    gRPC API from the same manager, on `grpc_max_threads` threads (default 4 x
    CPUs); `request_observer` is called once per finished REST or gRPC request,
    after the server's own metrics (see `grpc_server.PredictionServicer`). Pass `manager=` to
    use an existing `ModelManager`; otherwise the manager options
    (`file_system_poll_wait_seconds`, `allow_version_labels_for_unavailable_models`,
    `saved_model_tags`, `model_config_file`, `model_config_file_poll_wait_seconds`)
    build one. `header_timeout_s`, `body_timeout_s`, `keepalive_timeout_s`,
    `max_connections` bound slow and idle clients (`http_limits`; README
    "HTTP limits"); `rest_api_enable_cors_support` adds TF Serving's CORS
    headers. `monitoring_config` (a `MonitoringConfig`, see
    `kerasnets.serving.monitoring`) with Prometheus enabled serves TF
    Serving's metrics on the REST port; every finished REST or gRPC request
    is reported to `self.request_observer` (the metrics, then the optional
    `request_observer` given). `start()` raises `StatusError` for a config TF Serving would
    refuse and `OSError` when the address cannot be bound.
    """

    def __init__(
        self,
        config=None,
        *,
        manager=None,
        host=DEFAULT_HOST,
        port=DEFAULT_REST_API_PORT,
        max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
        rest_api_num_threads=None,
        rest_api_timeout_in_ms=DEFAULT_REST_API_TIMEOUT_IN_MS,
        enable_signature_method_name_check=False,
        grpc_port=None,
        grpc_max_threads=None,
        request_observer=None,
        header_timeout_s=DEFAULT_HEADER_TIMEOUT_S,
        body_timeout_s=DEFAULT_BODY_TIMEOUT_S,
        keepalive_timeout_s=DEFAULT_KEEPALIVE_TIMEOUT_S,
        max_connections=None,
        rest_api_enable_cors_support=False,
        monitoring_config=None,
        pin_python_threads=True,
        freeze_gc=False,
        **manager_options,
    ):
        # TF Serving's metrics: always recorded, served when monitoring_config enables Prometheus.
        self.metrics = ServingMetrics()
        self.request_observer = self.metrics if request_observer is None else _both(self.metrics, request_observer)
        self.monitoring_config = monitoring_config
        self.prometheus_path = prometheus_path(monitoring_config)
        if manager is None:
            if config is None:
                raise ValueError("ModelServer needs a ModelServerConfig or a ModelManager")
            manager = ModelManager(config, load_observer=self.metrics, **manager_options)
        elif manager_options:
            raise ValueError(f"manager options {sorted(manager_options)} given together with manager=")
        elif getattr(manager, "load_observer", None) is None:
            manager.load_observer = self.metrics
        self.manager = manager
        self.host = host
        self.requested_port = port
        self.port = None
        self.max_request_bytes = max_request_bytes
        self.rest_api_num_threads = rest_api_num_threads or default_rest_api_num_threads()
        self.rest_api_timeout_in_ms = rest_api_timeout_in_ms
        self.handler = RestApiHandler(manager, enable_signature_method_name_check, self.request_observer)
        self.enable_signature_method_name_check = enable_signature_method_name_check
        self.grpc_port = grpc_port
        self.grpc_max_threads = grpc_max_threads
        self.grpc_port_bound = None
        self._grpc = None
        # HTTP limits (README "HTTP limits"); <= 0 / None turns a timeout off, max_connections <= 0: no cap.
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.keepalive_timeout_s = keepalive_timeout_s
        self.max_connections = default_max_connections() if max_connections is None else max_connections
        self.rest_api_enable_cors_support = rest_api_enable_cors_support
        self.pin_python_threads = pin_python_threads
        # gc.freeze() what is alive once the models are loaded (process-wide; kerasnets serve does).
        self.freeze_gc = freeze_gc
        self._froze_gc = False
        self._executor = None
        self._loop = None
        self._thread = None
        self._runner = None
        self._socket = None
        self._stopped = threading.Event()

    @property
    def url(self):
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if self.host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def _bind(self):
        infos = socket.getaddrinfo(self.host or None, self.requested_port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    def start(self):
        """Bind, load the models (as TF Serving does before serving), then serve."""
        self._socket = self._bind()
        self.port = self._socket.getsockname()[1]
        # Only chosen here: each serving thread (batching's, started by the loads, included) pins itself.
        pin_python_threads(self.pin_python_threads)
        try:
            self._bind_grpc()
            self.manager.start()
        except BaseException:
            self._socket.close()
            self._stop_grpc()
            raise
        if self.freeze_gc:
            freeze_long_lived_objects()
            self._froze_gc = True
            self.manager.on_servables_changed = freeze_long_lived_objects
        try:
            self._executor = DaemonThreadExecutor(self.rest_api_num_threads, thread_name_prefix="httprestserver")
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._run_event_loop, name="rest-api-event-loop", daemon=True)
            self._thread.start()
            asyncio.run_coroutine_threadsafe(self._start_site(), self._loop).result()
        except BaseException:
            self.stop()
            raise
        if self._grpc is not None:
            with threads_started_here_pinned():  # grpcio's Python thread that polls for calls
                self._grpc.start()  # logs "Running gRPC ModelServer at HOST:PORT ..."
        LOG.info("Exporting HTTP/REST API at:localhost:%d ...", self.port)
        if self.prometheus_path is not None:
            LOG.info("Exporting Prometheus metrics at:localhost:%d%s", self.port, self.prometheus_path)
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            LOG.info("Listening on %s:%d", self.host, self.port)
        return self

    def _run_event_loop(self):
        pin_current_thread()
        self._loop.run_forever()

    @property
    def grpc_target(self):
        """`host:port` for `grpc.insecure_channel` (None without gRPC)."""
        if self.grpc_port_bound is None:
            return None
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"[{host}]:{self.grpc_port_bound}" if ":" in host else f"{host}:{self.grpc_port_bound}"

    def _bind_grpc(self):
        if self.grpc_port is None:
            return
        from kerasnets.serving.grpc_server import GrpcServer

        self._grpc = GrpcServer(
            self.manager,
            host=self.host,
            port=self.grpc_port,
            max_threads=self.grpc_max_threads,
            max_request_bytes=self.max_request_bytes,
            enable_signature_method_name_check=self.enable_signature_method_name_check,
            request_observer=self.request_observer,
        )
        self.grpc_port_bound = self._grpc.bind()

    def _stop_grpc(self):
        if self._grpc is not None:
            try:
                self._grpc.stop()
            except Exception:
                LOG.exception("Error while stopping the gRPC server")
            self._grpc = None

    async def _start_site(self):
        from aiohttp import web

        from kerasnets.serving.http_limits import ConnectionLimits, GuardedSockSite

        app = web.Application(client_max_size=self.max_request_bytes)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
        await self._runner.setup()
        keepalive = self.keepalive_timeout_s if self.keepalive_timeout_s and self.keepalive_timeout_s > 0 else 1e9
        limits = ConnectionLimits(
            header_timeout_s=self.header_timeout_s,
            body_timeout_s=self.body_timeout_s,
            keepalive_timeout_s=keepalive,
            max_connections=self.max_connections,
        )
        await GuardedSockSite(self._runner, self._socket, limits).start()

    async def _read_body(self, request):
        """The request body (gzip inflated); StatusError past max_request_bytes, _ClientGone if it hung up."""
        from aiohttp import web

        too_large = StatusError(
            Code.RESOURCE_EXHAUSTED,
            f"Request body is larger than this server's limit of {self.max_request_bytes} bytes "
            "(kerasnets serve --max_request_bytes)",
        )
        if request.content_length is not None and request.content_length > self.max_request_bytes:
            raise too_large
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large from None
        except Exception:
            if request.transport is None or request.transport.is_closing():  # hung up, or missed body_timeout_s
                raise _ClientGone from None
            raise

    async def _handle(self, request):
        from aiohttp import web

        try:
            answer = await self._answer(request.method, request.raw_path, request)
        except _ClientGone:
            return web.Response(status=400)  # nobody to read it; aiohttp drops it quietly
        headers = {"Content-Type": answer.content_type}
        if self.rest_api_enable_cors_support and _dispatched(request.method, request.raw_path):
            headers.update(CORS_HEADERS)
        return web.Response(status=answer.status, body=answer.body, headers=headers)

    async def _answer(self, method, path, request):
        if method not in _LIBEVENT_METHODS:
            return libevent_error_page(501, "Not Implemented")
        if self.prometheus_path is not None and path.split("?", 1)[0].split("#", 1)[0] == self.prometheus_path:
            return await self._prometheus_page(path)
        if not _REST_API_PATH.fullmatch(path):
            return libevent_error_page(404, "Not Found")
        timer = RequestTimer(self.handler.request_observer, "REST")
        answer = await self._answer_rest_api(method, path, request)
        self.handler.observe(timer, method, path, answer)
        return answer

    async def _prometheus_page(self, path):
        """TF Serving's ProcessPrometheusRequest: the page, or 400 for a path with a query."""
        if path != self.prometheus_path:
            message = f"Unexpected path: {path}. Should be {self.prometheus_path}"
            return RestResponse(400, message.encode("utf-8", "surrogateescape"), "text/plain")
        try:
            body, content_type = await asyncio.get_running_loop().run_in_executor(self._executor, self.metrics.render)
        except Exception as error:
            LOG.exception("Could not render the metrics page")
            return RestResponse(500, f"{type(error).__name__}: {error}".encode("utf-8"), "text/plain")
        return RestResponse(200, body, content_type)

    async def _answer_rest_api(self, method, path, request):
        try:
            body = await self._read_body(request)
        except StatusError as error:
            return RestResponse(413, json_codec.error_body(error.message), code=error.code)
        except _ClientGone:
            raise
        except Exception as error:  # e.g. a gzip body that does not inflate: TF Serving sees no body
            LOG.debug("Could not read a request body: %s", error)
            body = b""
        if method == "OPTIONS":
            return cors_preflight_answer(request.headers.get("Origin", ""))
        loop = asyncio.get_running_loop()
        timeout = self.rest_api_timeout_in_ms / 1000 if self.rest_api_timeout_in_ms > 0 else None
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            # One hand-off to a worker (each hop costs ~0.1-0.2 ms): for inference, after decoding
            # a small body here, or for decode + inference.
            if method == "POST" and len(body) <= INLINE_DECODE_MAX_BYTES:
                prepared = self.handler.prepare(method, path, body)
                if not isinstance(prepared, Inference):
                    return prepared
                prepared.deadline = deadline
                running = loop.run_in_executor(self._executor, prepared.run)
            else:
                running = loop.run_in_executor(self._executor, self._prepare_and_run, method, path, body, deadline)
            return await asyncio.wait_for(running, timeout)
        except asyncio.TimeoutError:
            return RestResponse.error(StatusError(Code.DEADLINE_EXCEEDED, "Deadline Exceeded"))
        except Exception as error:
            LOG.exception("Unexpected error while handling a request")
            return RestResponse.error(_unexpected(error))

    def _prepare_and_run(self, method, path, body, deadline):
        prepared = self.handler.prepare(method, path, body)
        if not isinstance(prepared, Inference):
            return prepared
        prepared.deadline = deadline
        return prepared.run()

    async def _shutdown(self):
        if self._runner is not None:
            await self._runner.cleanup()  # in-flight requests get shutdown_timeout to finish
        leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    def inference_in_flight(self):
        """Whether a REST worker is still running a call (e.g. one `stop()` left behind)."""
        return self._executor is not None and self._executor.busy > 0

    def stop(self):
        """Stop serving (in-flight requests get SHUTDOWN_GRACE_S to finish), then unload the models."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._stop_grpc()
        if self._loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=15)
            except Exception:
                LOG.exception("Error while stopping the HTTP server")
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=15)
            if not self._thread.is_alive():
                self._loop.close()
        if self._socket is not None:
            self._socket.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._froze_gc:
            self.manager.on_servables_changed = None
        self.manager.stop()
        if self._froze_gc:
            thaw_objects()
            self._froze_gc = False
        LOG.info("Server stopped.")

    def serve_forever(self):
        """Serve until SIGINT/SIGTERM (or `stop()` from another thread), then shut down cleanly."""
        stop_requested = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda *_: stop_requested.set())
        try:
            while not stop_requested.wait(0.5) and not self._stopped.is_set():
                pass
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.stop()


def serve(config, **options):
    """Start a `ModelServer` for `config` and serve until SIGINT/SIGTERM."""
    server = ModelServer(config, **options)
    server.start()
    server.serve_forever()
