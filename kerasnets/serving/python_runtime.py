"""The Python runtime under serving load: threads on one core, loaded models out of the GC's way.

**Threads** (Linux). Python runs one thread at a time (the GIL), so the event loop, the
REST and gRPC workers and the batching threads never run Python side by side anyway.
Spread over several cores, each hand-over of the GIL between them wakes a thread on
another core, and the objects a request builds move between the cores' caches with
it. Kept on one core, the hand-overs are switches on that core, while TensorFlow's
inter- and intra-op threads, which do the model's arithmetic without the GIL, still use
every core. The choice is process-wide: the first CPU this process may run on, or none
where it has a single CPU, where pinning is off, or where the platform cannot pin
threads (`os.sched_setaffinity` is Linux's).

    pin_python_threads(True)     # ModelServer.start() does this (kerasnets serve --pin_python_threads)
    pin_current_thread()         # first thing in each serving thread
    with threads_started_here_pinned():   # for threads a library starts (gRPC's poller)
        grpc_server.start()

**Garbage collector.** A loaded TensorFlow model leaves hundreds of thousands of
long-lived Python objects, and every full collection of the cyclic GC walks all of
them while holding the GIL: 170 ms per collection with a LeNet-5 loaded, several per
second under load, as each request's decoded JSON allocates thousands of lists.
`freeze_long_lived_objects()` (after a full collection) moves everything alive into
`gc.freeze()`'s permanent generation, which collections skip; `kerasnets serve` calls
it once the models are loaded and after every later load or unload, so what a
replaced version leaves behind is still collected.

Measured with `benchmarks/serving_throughput.py --wrk` (LeNet-5, 32 clients, 2-core
AMD EPYC, README "Server-side batching").
"""

import contextlib
import gc
import os

_core = None  # the CPU serving threads run on; None: leave them where the OS puts them


def pin_python_threads(enabled=True):
    """Choose (and return) the core for serving threads from now on; None when they stay unpinned."""
    global _core
    _core = None
    if enabled and hasattr(os, "sched_getaffinity") and hasattr(os, "sched_setaffinity"):
        cpus = os.sched_getaffinity(0)
        if len(cpus) > 1:
            _core = min(cpus)
    return _core


def serving_core():
    """The core chosen by `pin_python_threads`, or None."""
    return _core


def pin_current_thread():
    """Run the calling thread on the chosen core from now on (nothing when none is chosen).

    On Linux, affinity 0 means the calling thread, and threads it starts inherit it.
    """
    core = _core
    if core is None:
        return
    try:
        os.sched_setaffinity(0, {core})
    except OSError:  # e.g. the CPU was taken away from this process's cpuset since
        pass


@contextlib.contextmanager
def threads_started_here_pinned():
    """Threads started inside the block (e.g. gRPC's polling thread) inherit the chosen core;
    the calling thread gets its own affinity back afterwards."""
    if _core is None:
        yield
        return
    before = os.sched_getaffinity(0)
    pin_current_thread()
    try:
        yield
    finally:
        try:
            os.sched_setaffinity(0, before)
        except OSError:
            pass


def freeze_long_lived_objects():
    """Collect garbage, then keep every object alive now out of later collections (`gc.freeze`).

    Objects frozen earlier are thawed first, so cycles they formed since (an unloaded
    model's) are collected now. Returns how many objects are frozen."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw_objects():
    """Undo `freeze_long_lived_objects` (when a server stops): everything is collectable again."""
    gc.unfreeze()
