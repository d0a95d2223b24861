"""Server-side request batching, as tensorflow_model_server's `--enable_batching`.

`parse_batching_parameters(text)` reads the BatchingParameters text format
(`max_batch_size { value: 32 }` or `max_batch_size: 32`; `allowed_batch_sizes: 8`
repeated). Absent fields take TF Serving's defaults (BasicBatchScheduler options):
max_batch_size 1000, batch_timeout_micros 0, max_enqueued_batches 10,
num_batch_threads = CPU count, pad_variable_length_inputs false,
enable_large_batch_splitting false.

NOTE: the installed tensorflow-serving-api wheel does not ship
`session_bundle_config_pb2`, so the text is parsed here for the scalar fields only.

`BatchScheduler(function, params)` queues predict calls, concatenates them along
axis 0, pads the batch (repeating the last task's first row) up to the next allowed
batch size, calls `function` once, and slices the outputs back to each caller.

Inputs of one name must agree in every dimension but the batch one, as in TF
Serving's BatchingSession: a batch whose tasks differ fails with its
FAILED_PRECONDITION text, unless `pad_variable_length_inputs` is set; then each
task's tensor is padded at the end of every dimension to the batch's largest
size, with the tensor's own first element (TF Serving's `AddPadding`; ranks 1–6).
Outputs are not un-padded: a task gets its rows of the padded result.
"""

import os
import re
import threading
import time

import numpy as np

from kerasnets.serving import disk_layout
from kerasnets.serving.python_runtime import pin_current_thread
from kerasnets.serving.status import Code, StatusError

FILENAME = disk_layout.BATCHING_PARAMETERS_FILENAME

_INT_FIELDS = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads")
_BOOL_FIELDS = ("pad_variable_length_inputs", "enable_large_batch_splitting")
_STR_FIELDS = ("thread_pool_name",)
_TOKEN = re.compile(r'\s*(?:#[^\n]*\n?|([A-Za-z_]\w*)\s*(?::\s*("[^"]*"|[^\s{}]+)|\{\s*value\s*:\s*("[^"]*"|[^\s{}]+)\s*\}))')


class BatchingParameters:
    def __init__(self, **fields):
        self.max_batch_size = 1000
        self.batch_timeout_micros = 0
        self.max_enqueued_batches = 10
        self.num_batch_threads = os.cpu_count() or 1
        self.thread_pool_name = "batch_threads"
        self.pad_variable_length_inputs = False
        self.enable_large_batch_splitting = False
        self.allowed_batch_sizes = []
        for key, value in fields.items():
            setattr(self, key, value)
        self.validate()

    def validate(self):
        for name in _INT_FIELDS:
            if getattr(self, name) <= 0 and name != "batch_timeout_micros":
                raise StatusError(Code.INVALID_ARGUMENT, f"{name} must be positive")
        sizes = self.allowed_batch_sizes
        if sizes:
            if any(b <= a for a, b in zip(sizes, sizes[1:])):
                raise StatusError(Code.INVALID_ARGUMENT,
                                  "allowed_batch_sizes entries must be monotonically increasing")
            if sizes[-1] != self.max_batch_size:
                raise StatusError(Code.INVALID_ARGUMENT,
                                  "Last entry in allowed_batch_sizes must match max_batch_size")


def parse_batching_parameters(text, source="<string>"):
    fields, pos, sizes = {}, 0, []
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise StatusError(Code.INVALID_ARGUMENT, f"{source}: cannot parse BatchingParameters at offset {pos}")
        pos = match.end()
        name, value = match.group(1), match.group(2) or match.group(3)
        if name is None:
            continue
        try:
            if name == "allowed_batch_sizes":
                sizes.append(int(value))
            elif name in _INT_FIELDS:
                fields[name] = int(value)
            elif name in _BOOL_FIELDS:
                if value not in ("true", "false"):
                    raise ValueError(value)
                fields[name] = value == "true"
            elif name in _STR_FIELDS:
                fields[name] = value.strip('"')
            else:
                raise StatusError(Code.INVALID_ARGUMENT,
                                  f'{source}: Message type "tensorflow.serving.BatchingParameters" has no field named "{name}".')
        except ValueError:
            raise StatusError(Code.INVALID_ARGUMENT, f"{source}: invalid value {value!r} for {name}") from None
    fields["allowed_batch_sizes"] = sizes
    return BatchingParameters(**fields)


def read_batching_parameters_file(path):
    with open(path, encoding="utf-8") as handle:
        return parse_batching_parameters(handle.read(), path)


class _Task:
    def __init__(self, inputs, size):
        self.inputs, self.size = inputs, size
        self.done = threading.Event()
        self.result = self.error = None


class _Batch:
    def __init__(self, key):
        self.key, self.tasks, self.size, self.opened = key, [], 0, time.monotonic()


# A padded batch may hold at most this many elements per input (padding [1, 1, n] and
# [1, n, 1] together would otherwise make n² of them).
MAX_PADDED_ELEMENTS = 1 << 24
_MISMATCHED_SHAPES = (
    "Tensors with name '{}' from different tasks have different shapes and padding is turned off."
    "Set pad_variable_length_inputs to true, or ensure that all tensors with the same name"
    "have equal dimensions starting with the first dim."
)  # TF Serving's text, missing spaces included


def _batch_key(inputs):
    """(name, dtype, rank) of each input, and the batch size; (None, 0) when the inputs share no batch dimension.

    Tasks with the same key join one batch, as TF Serving batches by the signature's
    tensor names: a difference in other dimensions is found when the batch is merged.
    """
    sizes = {array.shape[0] if array.ndim else None for array in inputs.values()}
    if len(sizes) != 1 or None in sizes:
        return None, 0
    return tuple(sorted((n, a.dtype.str, a.ndim) for n, a in inputs.items())), sizes.pop()


def _pad(array, shape):
    """`array` padded at the end of each dimension to `shape`, with its first element."""
    if array.shape == shape:
        return array
    if array.size == 0:
        raise StatusError(Code.INVALID_ARGUMENT, "Got empty tensor in batch of non-empty tensors.")
    padded = np.full(shape, array.flat[0], dtype=array.dtype)
    padded[tuple(slice(0, size) for size in array.shape)] = array
    return padded


def _merge_input(name, parts, pad_variable_length_inputs):
    """The tasks' tensors of input `name`, made one shape but for axis 0 (padded or checked)."""
    if pad_variable_length_inputs:
        if not 1 <= parts[0].ndim <= 6:
            raise StatusError(Code.INVALID_ARGUMENT, "Only tensors with rank from 1 to 6 can be padded.")
        largest = tuple(max(sizes) for sizes in zip(*(part.shape for part in parts)))
        rows = sum(part.shape[0] for part in parts)
        if rows * int(np.prod(largest[1:], dtype=object)) > MAX_PADDED_ELEMENTS:
            raise StatusError(Code.RESOURCE_EXHAUSTED,
                              f"Padding input '{name}' to {list(largest[1:])} would make a batch of more than "
                              f"{MAX_PADDED_ELEMENTS} elements")
        return [_pad(part, (part.shape[0],) + largest[1:]) for part in parts]
    reference = parts[0].shape[1:]
    if any(part.shape[1:] != reference for part in parts[1:]):
        raise StatusError(Code.FAILED_PRECONDITION, _MISMATCHED_SHAPES.format(name))
    return parts


class BatchScheduler:
    """A queue of predict tasks closed into batches; `num_batch_threads` workers run one batch each.

    A batch closes when it holds max_batch_size rows, when batch_timeout_micros
    passed since it opened, or when a task that does not fit (or whose inputs differ
    in a non-batch dimension or dtype) opens the next one. At most
    max_enqueued_batches batches wait; a task that needs one more fails with
    UNAVAILABLE, as TF Serving's shared batch scheduler does.
    """

    def __init__(self, function, params):
        self.function, self.params = function, params
        self.calls = 0  # merged batches run (for tests and benchmarks)
        self._cond = threading.Condition()
        self._batches = []  # waiting _Batch objects; only the last may still grow
        self._stopped = False
        self._threads = [threading.Thread(target=self._work, name=f"{params.thread_pool_name}_{i}", daemon=True)
                         for i in range(params.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, inputs):
        """Queue `inputs` ({name: array with the batch on axis 0}); blocks and returns this task's outputs."""
        p = self.params
        key, size = _batch_key(inputs)
        if key is None:  # nothing to merge along: run alone
            return self.function(inputs)
        if size > p.max_batch_size:
            raise StatusError(Code.INVALID_ARGUMENT,
                              f"Task size {size} is larger than maximum input batch size {p.max_batch_size}")
        task = _Task(inputs, size)
        with self._cond:
            if self._stopped:
                raise StatusError(Code.UNAVAILABLE, "Servable is being unloaded")
            last = self._batches[-1] if self._batches else None
            if last is None or last.key != key or last.size + size > p.max_batch_size:
                if len(self._batches) >= p.max_enqueued_batches:
                    raise StatusError(Code.UNAVAILABLE,
                                      "The batch scheduling queue to which this task was submitted is full")
                last = _Batch(key)
                self._batches.append(last)
                opened = True
            else:
                opened = False
            last.tasks.append(task)
            last.size += size
            # Workers only act on a new batch or a full one; waking them on every
            # task costs a GIL round trip each and 32 per batch at batch 32.
            if opened or last.size >= p.max_batch_size:
                self._cond.notify_all()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.result

    def _take(self):
        p = self.params
        with self._cond:
            while not self._stopped or self._batches:
                if self._batches:
                    first = self._batches[0]
                    wait = p.batch_timeout_micros / 1e6 - (time.monotonic() - first.opened)
                    if self._stopped or first.size >= p.max_batch_size or len(self._batches) > 1 or wait <= 0:
                        return self._batches.pop(0)
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _work(self):
        pin_current_thread()
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self._run(batch)
            except Exception as error:
                for task in batch.tasks:
                    task.error = error if isinstance(error, StatusError) else StatusError(Code.INTERNAL, str(error))
            for task in batch.tasks:
                task.done.set()

    def _run(self, batch):
        target = next((s for s in self.params.allowed_batch_sizes if s >= batch.size), batch.size)
        merged = {}
        for name in sorted(batch.tasks[0].inputs):
            parts = _merge_input(name, [t.inputs[name] for t in batch.tasks], self.params.pad_variable_length_inputs)
            if target > batch.size:  # pad with copies of the last task's first row, as TF Serving does
                parts.append(np.repeat(parts[-1][:1], target - batch.size, axis=0))
            merged[name] = np.concatenate(parts, axis=0)
        self.calls += 1
        outputs = self.function(merged)
        for dtype, array in outputs.values():  # BatchingSession's SplitOutputTensors checks
            if array.ndim == 0:
                raise StatusError(Code.FAILED_PRECONDITION, "Batched output tensor has 0 dimensions")
            if array.shape[0] != target:
                raise StatusError(Code.FAILED_PRECONDITION,
                                  "Batched output tensor's 0th dimension does not equal the sum of "
                                  "the 0th dimension sizes of the input tensors")
        start = 0
        for task in batch.tasks:
            task.result = {k: (dtype, array[start:start + task.size]) for k, (dtype, array) in outputs.items()}
            start += task.size

    def shutdown(self):
        """Run what is queued, then stop the worker threads."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


def enable_batching(servable, params):
    """Route `servable.predict` through one BatchScheduler per signature (classify/regress stay unbatched)."""
    servable.batch_schedulers = {}
    unbatched = servable.predict
    lock = threading.Lock()

    def predict(signature_name, inputs):
        from kerasnets.serving.servable import DEFAULT_SERVING_SIGNATURE

        key = signature_name or DEFAULT_SERVING_SIGNATURE
        # Checked alone first, so a malformed request fails by itself and never joins a batch.
        _, feeds = servable.checked_predict_feeds(signature_name, inputs)
        with lock:
            scheduler = servable.batch_schedulers.get(key)
            if scheduler is None:
                scheduler = servable.batch_schedulers[key] = BatchScheduler(
                    lambda merged: unbatched(signature_name, merged), params)
        return scheduler.submit({name: tensor.numpy() for name, tensor in feeds.items()})

    servable.predict = predict
    return servable


def batching_parameters_text(max_batch_size=32, batch_timeout_micros=2000, num_batch_threads=None,
                             max_enqueued_batches=None, allowed_batch_sizes=None):
    """BatchingParameters text for CPU serving: batches up to `max_batch_size`, closed after ~2 ms,
    padded to powers of two (so the graph sees few distinct shapes), one thread per core, and a
    queue deep enough for a few batches per thread."""
    threads = num_batch_threads or os.cpu_count() or 1
    if allowed_batch_sizes is None:
        allowed_batch_sizes = [s for s in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if s < max_batch_size]
        allowed_batch_sizes.append(max_batch_size)
    lines = [
        f"max_batch_size {{ value: {max_batch_size} }}",
        f"batch_timeout_micros {{ value: {batch_timeout_micros} }}",
        f"max_enqueued_batches {{ value: {max_enqueued_batches or 4 * threads} }}",
        f"num_batch_threads {{ value: {threads} }}",
        *(f"allowed_batch_sizes: {size}" for size in allowed_batch_sizes),
    ]
    text = "\n".join(lines) + "\n"
    parse_batching_parameters(text)  # the values must be ones the server accepts
    return text


def write_batching_parameters(base_dir, **options):
    """Write `<base_dir>/batching_parameters.txt` (atomically); returns its path."""
    from kerasnets.files import write_text

    path = disk_layout.batching_parameters_path(base_dir)
    write_text(path, batching_parameters_text(**options))
    return path
