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
axis 0, pads the batch (repeating the first row) up to the next allowed batch size,
calls `function` once, and slices the outputs back to each caller.
"""

import os
import re
import threading
import time

import numpy as np

from kerasnets.serving import disk_layout
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


def _batch_key(inputs):
    """(name, dtype, shape[1:]) of each input, or None when the inputs share no batch dimension."""
    sizes = {array.shape[0] if array.ndim else None for array in inputs.values()}
    if len(sizes) != 1 or None in sizes:
        return None, 0
    return tuple(sorted((n, a.dtype.str, a.shape[1:]) for n, a in inputs.items())), sizes.pop()


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
        for name in batch.tasks[0].inputs:
            parts = [t.inputs[name] for t in batch.tasks]
            if target > batch.size:  # pad with copies of the first row, as TF Serving does
                parts.append(np.repeat(parts[0][:1], target - batch.size, axis=0))
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
        with lock:
            scheduler = servable.batch_schedulers.get(key)
            if scheduler is None:
                scheduler = servable.batch_schedulers[key] = BatchScheduler(
                    lambda merged: unbatched(signature_name, merged), params)
        return scheduler.submit({k: np.asarray(v) for k, v in inputs.items()})

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
