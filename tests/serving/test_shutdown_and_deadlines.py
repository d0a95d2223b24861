"""SIGTERM ends `kerasnets serve` within seconds while an uninterruptible TF call runs,
and requests whose deadline passed while queued are never started."""

import os
import signal
import threading
import time

import keras
import pytest
import requests

from kerasnets.export import export_model
from kerasnets.models import rnn_language_model
from kerasnets.serving import server as server_module
from kerasnets.serving.model_manager import single_model_config
from tests.serving.conftest import serve_subprocess

pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A generation request this long runs for minutes in one TF call (a tf.while_loop).
LONG = 1_000_000


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory):
    """`<base>/lm`: a tiny RNN language model whose `generate` allows LONG new tokens."""
    base = tmp_path_factory.mktemp("slow")
    keras.utils.set_random_seed(5)
    model = rnn_language_model(vocabulary_size=12, embedding_dim=4, units=4)
    export_model(model, "lm", base_dir=str(base), generation={"max_generation_length": LONG}, update_config=False)
    return str(base / "lm")


def generate_body(max_new_tokens):
    return {"signature_name": "generate", "inputs": {"token_ids": [[3, 4, 5]], "max_new_tokens": [max_new_tokens]}}


def test_sigterm_exits_within_seconds_during_inference(slow_model):
    with serve_subprocess(["--model_name=lm", f"--model_base_path={slow_model}", "--rest_api_port=0", "--port=0",
                           "--file_system_poll_wait_seconds=0"]) as served:  # fmt: skip
        url = f"http://127.0.0.1:{served.rest_port}/v1/models/lm:predict"
        # A short generation works, so the long one below is a real, running TF call.
        assert requests.post(url, json=generate_body(3), timeout=60).status_code == 200
        answers = []
        client = threading.Thread(
            target=lambda: answers.append(_post_or_error(url, generate_body(LONG))), daemon=True
        )
        client.start()
        time.sleep(2.0)
        assert client.is_alive() and not answers, "the long generation should still be running"
        sent = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        code = served.process.wait(timeout=30)
        elapsed = time.monotonic() - sent
    output = served.output()
    print(f"SIGTERM -> exit in {elapsed:.2f} s")
    assert code == 0
    assert elapsed < 5.0, f"took {elapsed:.1f} s to exit"
    assert any("Server stopped." in line for line in output)
    assert not any("Traceback" in line for line in output)


def _post_or_error(url, body):
    try:
        return requests.post(url, json=body, timeout=60).status_code
    except requests.RequestException as error:
        return error


def test_requests_past_their_deadline_in_the_queue_are_skipped(slow_model):
    """One worker: a slow first request holds it; the queued second one times out (504) and never runs."""
    started = []
    real_prepare = server_module.RestApiHandler.prepare

    def counting_prepare(self, method, path, body):
        prepared = real_prepare(self, method, path, body)
        if isinstance(prepared, server_module.Inference):
            compute = prepared._compute
            prepared._compute = lambda: (started.append(body), compute())[1]
        return prepared

    config = single_model_config("lm", slow_model)
    server = server_module.ModelServer(config, port=0, grpc_port=None, rest_api_num_threads=1, rest_api_timeout_in_ms=1500)
    server.handler.prepare = counting_prepare.__get__(server.handler)
    with server:
        url = f"{server.url}/v1/models/lm:predict"
        slow = threading.Thread(target=lambda: requests.post(url, json=generate_body(60_000), timeout=60), daemon=True)
        slow.start()
        time.sleep(0.3)
        queued = requests.post(url, json=generate_body(2), timeout=60)
        assert queued.status_code == 504
        assert queued.json() == {"error": "Deadline Exceeded"}
        slow.join(timeout=60)
        waited = time.monotonic()
        while server.inference_in_flight() and time.monotonic() - waited < 60:  # the slow one runs on, then the queue drains
            time.sleep(0.05)
        time.sleep(0.2)
        assert len(started) == 1, "the request that timed out in the queue must not run"
        assert requests.post(url, json=generate_body(2), timeout=60).status_code == 200
        assert len(started) == 2
