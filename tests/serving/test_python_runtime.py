"""The server's Python threads share one core (TensorFlow's and the caller's keep theirs); loaded models are frozen out of the GC."""

import gc
import os
import threading
import time
import weakref

import grpc
import pytest
import requests

from kerasnets.serving import ModelServer, single_model_config
from kerasnets.serving import python_runtime
from kerasnets.serving.batching import BatchingParameters

needs_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux thread affinity and at least 2 CPUs",
)

SERVING_THREADS = ("rest-api-event-loop", "httprestserver_", "batch_threads_", "grpc-model-server")


def _affinity(thread):
    return os.sched_getaffinity(thread.native_id)


@pytest.fixture
def restore_choice():
    yield
    python_runtime.pin_python_threads(False)


@needs_affinity
def test_a_pinned_thread_runs_on_the_first_cpu_and_the_others_keep_theirs(restore_choice):
    cpus = os.sched_getaffinity(0)
    assert python_runtime.pin_python_threads(True) == min(cpus) == python_runtime.serving_core()
    seen = {}

    def pinned_worker():
        python_runtime.pin_current_thread()
        seen["worker"] = os.sched_getaffinity(0)
        child = threading.Thread(target=lambda: seen.setdefault("child", os.sched_getaffinity(0)))
        child.start()
        child.join()

    thread = threading.Thread(target=pinned_worker)
    thread.start()
    thread.join()
    assert seen == {"worker": {min(cpus)}, "child": {min(cpus)}}  # threads it starts inherit the core
    assert os.sched_getaffinity(0) == cpus

    with python_runtime.threads_started_here_pinned():
        assert os.sched_getaffinity(0) == {min(cpus)}
    assert os.sched_getaffinity(0) == cpus  # given back after the block


@needs_affinity
def test_nothing_is_pinned_when_pinning_is_off(restore_choice):
    assert python_runtime.pin_python_threads(False) is None
    seen = []
    thread = threading.Thread(target=lambda: (python_runtime.pin_current_thread(), seen.append(os.sched_getaffinity(0))))
    thread.start()
    thread.join()
    assert seen == [os.sched_getaffinity(0)]
    with python_runtime.threads_started_here_pinned():
        assert os.sched_getaffinity(0) == seen[0]


@needs_affinity
@pytest.mark.parametrize("pin", [True, False])
def test_a_servers_python_threads_share_one_core_unless_told_not_to(saved_models, restore_choice, pin):
    cpus = os.sched_getaffinity(0)
    params = BatchingParameters(max_batch_size=4, batch_timeout_micros=1000, num_batch_threads=2)
    server = ModelServer(single_model_config("half", saved_models["half"]), port=0, grpc_port=0,
                         rest_api_num_threads=3, file_system_poll_wait_seconds=0, batching_parameters=params,
                         pin_python_threads=pin)
    others = set(threading.enumerate())  # other servers of this test session have threads of these names
    with server:
        answer = requests.post(server.url + "/v1/models/half:predict", json={"instances": [2.0]}, timeout=30)
        assert answer.status_code == 200 and answer.json() == {"predictions": [4.0]}
        with grpc.insecure_channel(server.grpc_target) as channel:  # starts a gRPC worker thread
            from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = "half"
            model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, 10.0)
        serving = {t.name: _affinity(t) for t in set(threading.enumerate()) - others
                   if t.name.startswith(SERVING_THREADS)}
        caller = os.sched_getaffinity(0)
    kinds = {prefix for prefix in SERVING_THREADS for name in serving if name.startswith(prefix)}
    assert kinds == set(SERVING_THREADS), serving
    expected = {min(cpus)} if pin else cpus
    assert all(affinity == expected for affinity in serving.values()), serving
    assert caller == cpus  # the thread that started the server is left as it was


# --- the garbage collector ------------------------------------------------------------


class _Node:
    """A cycle: only the cyclic collector frees it."""

    def __init__(self):
        self.me = self


@pytest.fixture
def thawed():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_frozen_objects_are_skipped_and_a_cycle_dropped_since_is_freed_by_the_next_freeze(thawed):
    kept = _Node()
    alive = weakref.ref(kept)
    frozen = python_runtime.freeze_long_lived_objects()
    assert frozen > 0 and gc.get_freeze_count() == frozen
    del kept
    gc.collect()
    assert alive() is not None  # frozen: collections do not see it
    python_runtime.freeze_long_lived_objects()
    assert alive() is None  # thawed, collected, and only then frozen again
    python_runtime.thaw_objects()
    assert gc.get_freeze_count() == 0


def test_a_server_freezes_after_loading_refreezes_after_each_load_and_thaws_when_it_stops(saved_models, tmp_path,
                                                                                          thawed):
    import shutil

    base = tmp_path / "half"
    shutil.copytree(f"{saved_models['half']}/1", base / "1")
    server = ModelServer(single_model_config("half", str(base)), port=0, file_system_poll_wait_seconds=0.2,
                         freeze_gc=True)
    with server:
        assert gc.get_freeze_count() > 0
        left_behind = _Node()
        alive = weakref.ref(left_behind)
        gc.collect()
        gc.freeze()  # as if frozen with the first load: only a refreeze after a load can free it
        del left_behind
        shutil.copytree(f"{saved_models['half']}/2", base / "2")  # a new version: a load, then an unload
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and [s.version for s in server.manager.model_status("half")
                                               if s.state == "AVAILABLE"] != [2]:
            time.sleep(0.1)
        time.sleep(0.5)  # the unload's hook runs just after the state changes
        assert alive() is None
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_servers_leave_the_gc_alone_unless_asked(saved_models, thawed):
    with ModelServer(single_model_config("half", saved_models["half"]), port=0, file_system_poll_wait_seconds=0):
        assert gc.get_freeze_count() == 0
