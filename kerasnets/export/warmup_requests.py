"""Writing `assets.extra/tf_serving_warmup_requests` into an export, as TF Serving reads it.

TF Serving (and `kerasnets serve`, see `kerasnets.serving.warmup`) replays
this TFRecord of `tensorflow.serving.PredictionLog`s after loading a version
and before marking it AVAILABLE, so the first real request does not pay for
graph optimisation and kernel creation. A record that fails to run fails the
whole load there, so every default record is run on the staged SavedModel
first and dropped if it fails.

Default records: for each signature a batch-1 `PredictRequest`, written
`DEFAULT_RECORDS_PER_SIGNATURE` times (the calls after the first still settle), with:

* string inputs: a short text (`prompt` → "ROMEO:", others → "the movie was good");
* generation controls: `max_new_tokens` 2, `temperature` 1.0, `top_k` 1, `seed` 0;
* other numeric inputs: zeros of the input's dtype and shape, batch 1, with each
  other unknown dimension 8 (a short sequence), then 1 if that fails to run.
"""

import logging
import os

import numpy as np

from kerasnets.serving.warmup import MAX_WARMUP_RECORDS, warmup_path

LOG = logging.getLogger("kerasnets.export")

_TEXTS = {"prompt": "ROMEO:"}
_DEFAULT_TEXT = "the movie was good"
_CONTROLS = {"max_new_tokens": 2, "temperature": 1.0, "top_k": 1, "seed": 0}
_UNKNOWN_LENGTHS = (8, 1)
# Calls after the first still run ~2x slower for a few calls (allocator and caches settling):
# a few copies of each record bring the first real request down to the steady-state latency.
DEFAULT_RECORDS_PER_SIGNATURE = 5


def _signature_specs(function):
    """{input name: TensorSpec} of a loaded signature function."""
    return dict(function.structured_input_signature[1])


def _default_candidates(specs):
    """Input dicts to try for one signature, best first (see the module docstring)."""
    candidates, seen = [], set()
    for length in _UNKNOWN_LENGTHS:
        inputs = {}
        for name, spec in specs.items():
            dtype = spec.dtype.as_numpy_dtype
            shape = spec.shape.as_list() if spec.shape.rank is not None else [1]
            shape = [1 if i == 0 and d is None else (length if d is None else d) for i, d in enumerate(shape)]
            if spec.dtype.name == "string":
                inputs[name] = np.full(shape, _TEXTS.get(name, _DEFAULT_TEXT).encode(), dtype=object)
            elif name in _CONTROLS and spec.shape.rank == 1:
                inputs[name] = np.array([_CONTROLS[name]], dtype=dtype)
            else:
                inputs[name] = np.zeros(shape, dtype=dtype)
        key = tuple((name, value.shape) for name, value in inputs.items())
        if key not in seen:
            seen.add(key)
            candidates.append(inputs)
    return candidates


def _runs(function, inputs, specs):
    import tensorflow as tf

    try:
        function(**{name: tf.constant(value, dtype=specs[name].dtype) for name, value in inputs.items()})
        return True
    except Exception as error:  # any failure would fail the load in tensorflow_model_server
        LOG.info("A warm-up input does not run: %s", (str(error).strip().splitlines() or [repr(error)])[0])
        return False


def _prediction_log(model_name, signature_name, inputs, specs):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=specs[name].dtype))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def _as_list(entry):
    return list(entry) if isinstance(entry, (list, tuple)) else [entry]


def write_warmup_requests(export_dir, model_name, warmup_inputs=None):
    """Writes `<export_dir>/assets.extra/tf_serving_warmup_requests`; returns the number of records.

    `warmup_inputs`: {signature name: {input name: array-like}} (or a list of such
    dicts per signature), each a batch of that signature's inputs; these must run
    (a `ValueError` says which does not). None: the default records of the module
    docstring, for every signature, keeping those that run. No record: no file.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(export_dir)
    records = []
    if warmup_inputs is not None:
        for signature_name, entries in warmup_inputs.items():
            function = loaded.signatures.get(signature_name)
            if function is None:
                raise ValueError(f"warmup_inputs names signature '{signature_name}', which the export does not have "
                                 f"(it has {sorted(loaded.signatures)}).")
            specs = _signature_specs(function)
            for inputs in _as_list(entries):
                inputs = dict(inputs)
                if set(inputs) != set(specs):
                    raise ValueError(f"A warm-up input of signature '{signature_name}' has the inputs "
                                     f"{sorted(inputs)}; the signature takes {sorted(specs)}.")
                inputs = {name: np.asarray(value, dtype=object if specs[name].dtype.name == "string"
                                           else specs[name].dtype.as_numpy_dtype) for name, value in inputs.items()}
                if not _runs(function, inputs, specs):
                    raise ValueError(f"A warm-up input of signature '{signature_name}' does not run on the export.")
                records.append(_prediction_log(model_name, signature_name, inputs, specs))
    else:
        for signature_name, function in loaded.signatures.items():
            specs = _signature_specs(function)
            for inputs in _default_candidates(specs):
                if _runs(function, inputs, specs):
                    record = _prediction_log(model_name, signature_name, inputs, specs)
                    records.extend([record] * DEFAULT_RECORDS_PER_SIGNATURE)
                    break
            else:
                LOG.warning("No warm-up record for signature '%s': no default input runs.", signature_name)
    if warmup_inputs is None:
        records = records[:MAX_WARMUP_RECORDS]
    if len(records) > MAX_WARMUP_RECORDS:
        raise ValueError(f"At most {MAX_WARMUP_RECORDS} warm-up records are read by TF Serving, got {len(records)}.")
    if not records:
        return 0
    path = warmup_path(export_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:  # inside the staging directory: published by its rename
        for record in records:
            writer.write(record.SerializeToString())
    return len(records)
