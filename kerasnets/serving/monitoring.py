"""TF Serving's metrics, and its Prometheus endpoint (`--monitoring_config_file`).

The monitoring config is TF Serving's `MonitoringConfig` in protobuf text
format (`tensorflow_serving.config.monitoring_config_pb2` where installed):

    prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }

With `enable: true` the REST port answers `<path>` (default
`/monitoring/prometheus/metrics`, exact path, any method, no query string)
with every metric below in Prometheus' text format, written by
`prometheus_client.generate_latest` from a private `CollectorRegistry`.

Names and labels are TF Serving's: TensorFlow's metric name with each
character outside `[a-zA-Z0-9_]` replaced by `:` (prometheus_exporter.cc), so
`/tensorflow/serving/request_count` is `:tensorflow:serving:request_count`:

    :tensorflow:serving:request_count{model_name, status}         counter
    :tensorflow:serving:request_latency{model_name, API, entrypoint}   histogram, microseconds
    :tensorflow:serving:request_example_counts{model}             histogram, examples per request
    :tensorflow:serving:request_example_count_total{model}        counter
    :tensorflow:cc:saved_model:load_attempt_count{model_path, status}  counter ("success"/"fail")
    :tensorflow:cc:saved_model:load_latency{model_path}           counter, microseconds
    :tensorflow:serving:model_warmup_latency{model_path, status}  histogram, microseconds
    :tensorflow:serving:model_warmup_records_read{model_path, status}  counter

`status` of a request is the code's name (`OK`, `NOT_FOUND`, ...); latency is
recorded for successful requests only, count for all (http_server.cc,
prediction_service_impl.cc). REST requests have `API` = the URL's verb
(`predict`, `classify`, `regress`; empty for GETs) and `entrypoint="REST"`;
gRPC ones `API="Predict"`, ... and `entrypoint="GRPC"`. A warm-up's `status`
is the whole `Status::ToString()` (`OK`, or `DATA_LOSS: ...`).

Histograms keep TensorFlow's buckets: `Exponential(scale, growth, n)` has the
limits `scale * growth**i` (i < n) and a last bucket up to DBL_MAX (`+Inf`); a
value v falls into the first bucket whose limit is > v (TF's upper_bound);
`le` is the limit printed as absl's StrCat prints a double (6 significant
digits, like `%.6g`).

One difference: counters are typed `untyped` in the `# TYPE` line, because
prometheus_client's Prometheus-format writer renames every `counter` family to
`<name>_total`, which would change the sample names TF Serving exports.
"""

import bisect
import logging
import threading
import time

from kerasnets.serving.status import Code, invalid_argument, not_found

LOG = logging.getLogger("kerasnets.serving")

DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"  # PrometheusExporter::kPrometheusPath


# --------------------------------------------------------------------------
# MonitoringConfig
# --------------------------------------------------------------------------


def _monitoring_config_class():
    """`tensorflow.serving.MonitoringConfig`.

    tensorflow-serving-api 2.21.0 does not ship `monitoring_config_pb2`; then
    the message is built from monitoring_config.proto's two messages (same
    package, names and field numbers). FLAGGED for review: replace with the
    generated module once a pinned package provides it.
    """
    try:
        from tensorflow_serving.config import monitoring_config_pb2

        return monitoring_config_pb2.MonitoringConfig
    except ImportError:
        pass
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    proto = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/config/monitoring_config.proto", package="tensorflow.serving", syntax="proto3")
    prometheus = proto.message_type.add(name="PrometheusConfig")
    prometheus.field.add(name="enable", number=1, type=8, label=1, json_name="enable")
    prometheus.field.add(name="path", number=2, type=9, label=1, json_name="path")
    monitoring = proto.message_type.add(name="MonitoringConfig")
    monitoring.field.add(name="prometheus_config", number=1, type=11, label=1,
                         type_name=".tensorflow.serving.PrometheusConfig", json_name="prometheusConfig")
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig"))


def parse_monitoring_config(text, source="<string>"):
    """A `MonitoringConfig` from protobuf text; bad text raises INVALID_ARGUMENT."""
    from google.protobuf import text_format

    config = _monitoring_config_class()()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise invalid_argument(f"Invalid protobuf file: '{source}' ({error})") from None
    return config


def read_monitoring_config_file(path):
    """TF Serving's `ParseProtoTextFile<MonitoringConfig>(--monitoring_config_file)`."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise not_found(f"{path}; No such file or directory") from None
    except (OSError, UnicodeDecodeError) as error:
        raise invalid_argument(f"Invalid protobuf file: '{path}' ({error})") from None
    return parse_monitoring_config(text, source=path)


def prometheus_path(config):
    """The URL path of the metrics page a `MonitoringConfig` asks for, or None when disabled."""
    if config is None or not config.prometheus_config.enable:
        return None
    return config.prometheus_config.path or DEFAULT_PROMETHEUS_PATH


# --------------------------------------------------------------------------
# TensorFlow's metric kinds
# --------------------------------------------------------------------------


def exponential_buckets(scale, growth_factor, bucket_count):
    """`monitoring::Buckets::Exponential`: limits scale * growth^i, i < bucket_count."""
    limits = []
    bound = float(scale)
    for _ in range(bucket_count):
        limits.append(bound)
        bound *= growth_factor
    return limits


def prometheus_name(tensorflow_name):
    """`GetPrometheusMetricName`: every character outside [a-zA-Z0-9_] becomes ':'."""
    name = "".join(c if (c.isascii() and (c.isalnum() or c == "_")) else ":" for c in tensorflow_name)
    return "_" + name if name[:1].isdigit() else name


def _limit_text(limit):
    # absl::StrCat(double): six significant digits.
    return "%.6g" % limit


class _Counter:
    def __init__(self, name, documentation, labels):
        self.name = prometheus_name(name)
        self.documentation = documentation
        self.labels = tuple(labels)
        self.cells = {}

    def add(self, label_values, amount=1):
        self.cells[label_values] = self.cells.get(label_values, 0) + amount

    def family(self):
        from prometheus_client.core import UnknownMetricFamily

        family = UnknownMetricFamily(self.name, self.documentation, labels=self.labels)
        for label_values, value in sorted(self.cells.items()):
            family.add_metric(label_values, value)
        return family


class _Sampler:
    """TF's `monitoring::Sampler`: a histogram per cell (bucket counts, sum)."""

    def __init__(self, name, documentation, labels, limits):
        self.name = prometheus_name(name)
        self.documentation = documentation
        self.labels = tuple(labels)
        self.limits = list(limits)
        self.cells = {}  # label values -> [counts per bucket (len(limits) + 1), sum]

    def add(self, label_values, value):
        cell = self.cells.get(label_values)
        if cell is None:
            cell = self.cells[label_values] = [[0] * (len(self.limits) + 1), 0.0]
        cell[0][bisect.bisect_right(self.limits, value)] += 1
        cell[1] += value

    def family(self):
        from prometheus_client.core import HistogramMetricFamily

        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for label_values, (counts, total) in sorted(self.cells.items()):
            cumulative, buckets = 0, []
            for index, count in enumerate(counts):
                cumulative += count
                bound = _limit_text(self.limits[index]) if index < len(self.limits) else "+Inf"
                buckets.append((bound, cumulative))
            family.add_metric(label_values, buckets, total)
        return family


# --------------------------------------------------------------------------
# The metrics of one server
# --------------------------------------------------------------------------


def _microseconds(seconds):
    return max(0, int(round(seconds * 1e6)))


class ServingMetrics:
    """The TF Serving metrics of one server, and their Prometheus page.

    Calling it is the request observer REST and gRPC share:

        metrics(model_name, api, entrypoint, code, latency_seconds)

    counts the request under (model_name, code name) and, if `code` is OK,
    adds its latency in microseconds under (model_name, api, entrypoint).
    `record_load`, `record_warmup` and `record_example_count` are the
    model manager's / MultiInference's hooks. All methods are thread-safe and
    never raise on bad label values (they are turned into strings).
    """

    def __init__(self):
        from prometheus_client import CollectorRegistry

        latency_buckets = exponential_buckets(10, 1.8, 33)  # ~20 minutes, as TF Serving
        self._lock = threading.Lock()
        self.request_count = _Counter(
            "/tensorflow/serving/request_count", "The total number of requests.", ("model_name", "status"))
        self.request_latency = _Sampler(
            "/tensorflow/serving/request_latency",
            "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
            ("model_name", "API", "entrypoint"), latency_buckets)
        self.example_counts = _Sampler(
            "/tensorflow/serving/request_example_counts", "The number of tensorflow.Examples per request.",
            ("model",), exponential_buckets(1, 2, 15))
        self.example_count_total = _Counter(
            "/tensorflow/serving/request_example_count_total", "The total number of tensorflow.Examples.",
            ("model",))
        self.load_attempt_count = _Counter(
            "/tensorflow/cc/saved_model/load_attempt_count",
            "The number of times a SavedModel was successfully loaded.", ("model_path", "status"))
        self.load_latency = _Counter(
            "/tensorflow/cc/saved_model/load_latency",
            "Latency in microseconds for SavedModels that were successfully loaded.", ("model_path",))
        self.warmup_latency = _Sampler(
            "/tensorflow/serving/model_warmup_latency",
            "Distribution of wall time (in microseconds) for warming up the model.",
            ("model_path", "status"), latency_buckets)
        self.warmup_records_read = _Counter(
            "/tensorflow/serving/model_warmup_records_read",
            "Total number of warmup records read during model warmup.", ("model_path", "status"))
        self._metrics = (
            self.load_attempt_count, self.load_latency, self.example_counts, self.example_count_total,
            self.request_count, self.request_latency, self.warmup_latency, self.warmup_records_read,
        )
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # --- recording -------------------------------------------------------

    def __call__(self, model_name, api, entrypoint, code, latency_seconds):
        """Record one finished request (TF Serving's RecordModelRequestCount / RecordRequestLatency)."""
        try:
            status = Code(code).name
        except ValueError:
            status = Code.UNKNOWN.name
        with self._lock:
            self.request_count.add((str(model_name), status))
            if status == "OK":
                self.request_latency.add((str(model_name), str(api), str(entrypoint)), _microseconds(latency_seconds))

    def record_load(self, model_path, succeeded, latency_seconds):
        """One `LoadSavedModel` attempt of a version directory."""
        with self._lock:
            self.load_attempt_count.add((str(model_path), "success" if succeeded else "fail"))
            self.load_latency.add((str(model_path),), _microseconds(latency_seconds))

    def record_warmup(self, model_path, status, latency_seconds, records_read):
        """One warm-up replay; `status` is its `Status::ToString()` ("OK", "DATA_LOSS: ...")."""
        with self._lock:
            self.warmup_latency.add((str(model_path), str(status)), _microseconds(latency_seconds))
            self.warmup_records_read.add((str(model_path), str(status)), int(records_read))

    def record_example_count(self, model_name, count):
        """`RecordRequestExampleCount`: tf.Examples in one (MultiInference) request."""
        with self._lock:
            self.example_counts.add((str(model_name),), int(count))
            self.example_count_total.add((str(model_name),), int(count))

    # --- exporting -------------------------------------------------------

    def collect(self):
        """The metric families (prometheus_client's Collector protocol)."""
        with self._lock:
            # TF's exporter walks its metrics in name order.
            families = [metric.family() for metric in sorted(self._metrics, key=lambda metric: metric.name)]
        return families

    def render(self):
        """`(body bytes, content type)` of the Prometheus page."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestTimer:
    """Measures one request for an observer: `timer.finish(model_name, api, code)`; never raises."""

    __slots__ = ("observer", "entrypoint", "started")

    def __init__(self, observer, entrypoint):
        self.observer = observer
        self.entrypoint = entrypoint
        self.started = time.perf_counter()

    def finish(self, model_name, api, code):
        if self.observer is None:
            return
        try:
            self.observer(model_name, api, self.entrypoint, code, time.perf_counter() - self.started)
        except Exception:  # metrics must never cost a request
            LOG.exception("Request observer failed")
