"""Is the input pipeline the bottleneck? Compare training speed on the real
pipeline with training on one cached batch repeated."""

import time

import keras
import tensorflow as tf


class _StepTimer(keras.callbacks.Callback):
    """Records the wall time from the start of batch `warmup` to the end of training."""

    def __init__(self, warmup):
        super().__init__()
        self.warmup = warmup
        self.start = None
        self.end = None

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.warmup:
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.end = time.perf_counter()


def steps_per_second(model, dataset, steps=50, warmup=5):
    """Training steps per second of `model.fit` on `dataset` (repeated),
    timed after `warmup` steps (tracing, cache and shuffle-buffer filling)."""
    timer = _StepTimer(warmup)
    model.fit(dataset.repeat(), epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0)
    return steps / (timer.end - timer.start)


def measure_input_pipeline(model, dataset, steps=50, warmup=5):
    """Steps/s of `model.fit` on `dataset` vs on its first batch cached in memory.

    The model must be compiled. It trains (its weights change) for
    `2 * (warmup + steps)` steps. A `ratio` near 1 means the pipeline keeps
    up with the model; well below 1 means the input pipeline is the
    bottleneck (more `num_parallel_calls`, `cache`, `prefetch`, bigger batches).

    Returns:
        {"pipeline_steps_per_second", "cached_steps_per_second", "ratio"}.
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError("dataset must be a tf.data.Dataset.")
    cached = dataset.take(1).cache().repeat()
    # Cached first, so tracing and the first-step overhead are not charged to the pipeline.
    cached_rate = steps_per_second(model, cached, steps, warmup)
    pipeline_rate = steps_per_second(model, dataset, steps, warmup)
    return {
        "pipeline_steps_per_second": pipeline_rate,
        "cached_steps_per_second": cached_rate,
        "ratio": pipeline_rate / cached_rate,
    }
