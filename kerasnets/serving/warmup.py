"""SavedModel warm-up: replaying `assets.extra/tf_serving_warmup_requests` at load time.

TF Serving (saved_model_warmup_util.cc) reads that file, a TFRecord of
`tensorflow.serving.PredictionLog`s, after loading a version and before
marking it AVAILABLE, and runs every record `num_request_iterations` times
(default 1) on the new servable, so lazy work (graph optimisation, kernel
selection, caches) happens before the first real request. The same rules
here:

* no file: nothing to do (logged);
* a record that is not a `PredictionLog`: INVALID_ARGUMENT `Failed to parse
  warmup record: <record> from <path>`;
* a file that is not TFRecord (bad length / CRC): DATA_LOSS `<reader error>.
  Please verify your warmup data is in TFRecord format.`;
* more than 1,000 records: INVALID_ARGUMENT `Number of warmup records exceeds
  the maximum (1000) at <path>` (raised after the 1,001st ran, as there);
* a record that fails to run: its own error;
* `predict_log`, `classify_log`, `regress_log`, `multi_inference_log` run
  (the record's model name and version are ignored; its signature is used);
  `session_run_log` / `predict_streamed_log` are UNIMPLEMENTED
  `Unsupported log_type for warmup: <field number>`; an empty record is skipped.

Any error fails the load of that version, with that status.
"""

import logging
import os
import time

from kerasnets.serving.status import Code, StatusError, invalid_argument, unimplemented

LOG = logging.getLogger("kerasnets.serving")

ASSETS_EXTRA_DIRECTORY = "assets.extra"  # kSavedModelAssetsExtraDirectory
WARMUP_REQUESTS_FILENAME = "tf_serving_warmup_requests"  # WarmupConsts::kRequestsFileName
MAX_WARMUP_RECORDS = 1000  # WarmupConsts::kMaxNumRecords


def warmup_path(export_dir):
    """`<export_dir>/assets.extra/tf_serving_warmup_requests`."""
    return os.path.join(export_dir, ASSETS_EXTRA_DIRECTORY, WARMUP_REQUESTS_FILENAME)


def _serialized_examples(model_input):
    """The serialized tf.Examples of an `Input` (context bytes prepended, as TF Serving does)."""
    kind = model_input.WhichOneof("kind")
    if kind == "example_list":
        examples = [example.SerializeToString() for example in model_input.example_list.examples]
    elif kind == "example_list_with_context":
        context = model_input.example_list_with_context.context.SerializeToString()
        examples = [context + example.SerializeToString()
                    for example in model_input.example_list_with_context.examples]
    else:
        examples = []
    if not examples:
        raise invalid_argument("Input is empty.")
    return examples


def run_warmup_record(servable, prediction_log):
    """Run one `PredictionLog`'s request on `servable` (TF Serving's RunWarmupRequest)."""
    import tensorflow as tf

    kind = prediction_log.WhichOneof("log_type")
    if kind == "predict_log":
        request = prediction_log.predict_log.request
        try:
            inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        except Exception as error:
            raise invalid_argument(f"Invalid warmup input tensor: {error}") from None
        servable.predict(request.model_spec.signature_name, inputs)
    elif kind == "classify_log":
        request = prediction_log.classify_log.request
        servable.classify(request.model_spec.signature_name, _serialized_examples(request.input))
    elif kind == "regress_log":
        request = prediction_log.regress_log.request
        servable.regress(request.model_spec.signature_name, _serialized_examples(request.input))
    elif kind == "multi_inference_log":
        request = prediction_log.multi_inference_log.request
        examples = _serialized_examples(request.input)
        for task in request.tasks:
            if task.method_name == "tensorflow/serving/classify":
                servable.classify(task.model_spec.signature_name, examples)
            elif task.method_name == "tensorflow/serving/regress":
                servable.regress(task.model_spec.signature_name, examples)
            else:
                raise unimplemented(f"Unsupported signature method_name: {task.method_name}")
    elif kind in ("session_run_log", "predict_streamed_log"):
        number = prediction_log.DESCRIPTOR.fields_by_name[kind].number
        raise unimplemented(f"Unsupported log_type for warmup: {number}")


def _records(path):
    """The raw records of a TFRecord file; reader errors as `tf.errors.OpError`."""
    import tensorflow as tf

    dataset = tf.data.TFRecordDataset(path)
    for record in dataset.as_numpy_iterator():
        yield record


def run_saved_model_warmup(servable, export_dir, num_request_iterations=1, metrics=None):
    """Replay `export_dir`'s warm-up file on `servable` (see the module docstring); raises `StatusError`.

    `metrics.record_warmup(model_path, status, seconds, records)` is told how
    it ended when TF Serving records it (the file was read to its end or to a
    reader error). Returns the number of records replayed.
    """
    import tensorflow as tf
    from google.protobuf import message
    from tensorflow_serving.apis import prediction_log_pb2

    path = warmup_path(export_dir)
    if not tf.io.gfile.exists(path):
        LOG.info("No warmup data file found at %s", path)
        return 0
    iterations = num_request_iterations if num_request_iterations and num_request_iterations > 0 else 1
    LOG.info("Starting to read warmup data for model at %s with model-warmup-options "
             "num_request_iterations: %d", path, iterations)
    started = time.monotonic()
    count = 0
    failure = None
    records = _records(path)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except tf.errors.OpError as error:
            failure = StatusError(error.error_code, error.message)
            break
        prediction_log = prediction_log_pb2.PredictionLog()
        try:
            prediction_log.ParseFromString(record)
        except message.DecodeError:
            text = record.decode("utf-8", "backslashreplace")
            raise invalid_argument(f"Failed to parse warmup record: {text} from {path}") from None
        for _ in range(iterations):
            run_warmup_record(servable, prediction_log)
        count += 1
        if count > MAX_WARMUP_RECORDS:
            raise invalid_argument(
                f"Number of warmup records exceeds the maximum ({MAX_WARMUP_RECORDS}) at {path}")
    elapsed = time.monotonic() - started
    if metrics is not None:
        status = failure.status_string() if failure is not None else "OK"
        try:
            metrics.record_warmup(export_dir, status, elapsed, count)
        except Exception:
            LOG.exception("Could not record warm-up metrics")
    if failure is not None:
        if failure.code == Code.DATA_LOSS:
            raise StatusError(Code.DATA_LOSS,
                              f"{failure.message}. Please verify your warmup data is in TFRecord format.")
        raise failure
    LOG.info("Finished reading warmup data for model at %s. Number of warmup records read: %d. "
             "Elapsed time (microseconds): %d.", path, count, int(elapsed * 1e6))
    return count
