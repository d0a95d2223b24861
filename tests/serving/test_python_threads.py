"""The server's Python threads share one core; TensorFlow's threads and the caller's keep theirs."""

import os
import threading

import grpc
import pytest
import requests

from kerasnets.serving import ModelServer, single_model_config
from kerasnets.serving import python_threads
from kerasnets.serving.batching import BatchingParameters

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux thread affinity and at least 2 CPUs",
)

SERVING_THREADS = ("rest-api-event-loop", "httprestserver_", "batch_threads_", "grpc-model-server")


def _affinity(thread):
    return os.sched_getaffinity(thread.native_id)


@pytest.fixture
def restore_choice():
    yield
    python_threads.pin_python_threads(False)


def test_a_pinned_thread_runs_on_the_first_cpu_and_the_others_keep_theirs(restore_choice):
    cpus = os.sched_getaffinity(0)
    assert python_threads.pin_python_threads(True) == min(cpus) == python_threads.serving_core()
    seen = {}

    def pinned_worker():
        python_threads.pin_current_thread()
        seen["worker"] = os.sched_getaffinity(0)
        child = threading.Thread(target=lambda: seen.setdefault("child", os.sched_getaffinity(0)))
        child.start()
        child.join()

    thread = threading.Thread(target=pinned_worker)
    thread.start()
    thread.join()
    assert seen == {"worker": {min(cpus)}, "child": {min(cpus)}}  # threads it starts inherit the core
    assert os.sched_getaffinity(0) == cpus

    with python_threads.threads_started_here_pinned():
        assert os.sched_getaffinity(0) == {min(cpus)}
    assert os.sched_getaffinity(0) == cpus  # given back after the block


def test_nothing_is_pinned_when_pinning_is_off(restore_choice):
    assert python_threads.pin_python_threads(False) is None
    seen = []
    thread = threading.Thread(target=lambda: (python_threads.pin_current_thread(), seen.append(os.sched_getaffinity(0))))
    thread.start()
    thread.join()
    assert seen == [os.sched_getaffinity(0)]
    with python_threads.threads_started_here_pinned():
        assert os.sched_getaffinity(0) == seen[0]


@pytest.mark.parametrize("pin", [True, False])
def test_a_servers_python_threads_share_one_core_unless_told_not_to(saved_models, restore_choice, pin):
    cpus = os.sched_getaffinity(0)
    params = BatchingParameters(max_batch_size=4, batch_timeout_micros=1000, num_batch_threads=2)
    server = ModelServer(single_model_config("half", saved_models["half"]), port=0, grpc_port=0,
                         rest_api_num_threads=3, file_system_poll_wait_seconds=0, batching_parameters=params,
                         pin_python_threads=pin)
    with server:
        answer = requests.post(server.url + "/v1/models/half:predict", json={"instances": [2.0]}, timeout=30)
        assert answer.status_code == 200 and answer.json() == {"predictions": [4.0]}
        with grpc.insecure_channel(server.grpc_target) as channel:  # starts a gRPC worker thread
            from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = "half"
            model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, 10.0)
        serving = {t.name: _affinity(t) for t in threading.enumerate() if t.name.startswith(SERVING_THREADS)}
        caller = os.sched_getaffinity(0)
    kinds = {prefix for prefix in SERVING_THREADS for name in serving if name.startswith(prefix)}
    assert kinds == set(SERVING_THREADS), serving
    expected = {min(cpus)} if pin else cpus
    assert all(affinity == expected for affinity in serving.values()), serving
    assert caller == cpus  # the thread that started the server is left as it was
