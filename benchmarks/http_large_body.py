"""How one large :predict body affects other clients of `kerasnets serve`, and what it costs in memory.

    PYTHONPATH=$PWD python benchmarks/http_large_body.py [MIB ...]

For each body size (default 4, 8 and 16 MiB of float instances to a
half_plus_two model, y = 0.5 x + 2) it posts the body once while another
thread sends `GET /v1/models/half` back to back on a kept-alive connection,
and prints: the large request's time, the small requests' median and worst
latency while it ran, and the growth of the process's peak RSS (ru_maxrss).
"""

import json
import os
import resource
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import requests  # noqa: E402

from kerasnets.serving import ModelServer, single_model_config  # noqa: E402
from tests.serving.conftest import save_half_model  # noqa: E402


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def body_of(mib):
    count = mib * 1024 * 1024 // len("0.123456, ")
    return json.dumps({"instances": [0.123456] * count}).encode()


def measure(server, body):
    latencies, done = [], threading.Event()

    def small_requests():
        with requests.Session() as session:
            while not done.is_set():
                start = time.perf_counter()
                assert session.get(server.url + "/v1/models/half", timeout=60).status_code == 200
                latencies.append(time.perf_counter() - start)

    thread = threading.Thread(target=small_requests)
    thread.start()
    time.sleep(0.5)
    before = len(latencies)
    start = time.perf_counter()
    response = requests.post(server.url + "/v1/models/half:predict", data=body, timeout=120)
    large = time.perf_counter() - start
    done.set()
    thread.join()
    assert response.status_code == 200, response.text[:200]
    during = sorted(latencies[before:]) or [float("nan")]
    return large, during[len(during) // 2], during[-1], len(during)


def main(sizes):
    with tempfile.TemporaryDirectory() as root:
        save_half_model(f"{root}/half/1")
        with ModelServer(single_model_config("half", f"{root}/half"), port=0, file_system_poll_wait_seconds=0,
                         max_request_bytes=64 * 1024 * 1024) as server:
            measure(server, body_of(1))  # warm up
            print(f"{'body MiB':>8} {'large s':>8} {'small p50 ms':>12} {'small max ms':>12} {'n':>5}"
                  f" {'+peak RSS MiB':>13}")
            for mib in sizes:
                body = body_of(mib)
                rss = peak_rss_mib()
                large, p50, worst, count = measure(server, body)
                print(f"{len(body) / 2**20:8.1f} {large:8.2f} {p50 * 1e3:12.1f} {worst * 1e3:12.1f} {count:5d}"
                      f" {peak_rss_mib() - rss:13.0f}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [4, 8, 16])
